//! The keep-alive estimate on simulated realistic traffic (alb-loggen's connection-pool model):
//! it must land within 10 % of the true backend keep-alive, for the common server defaults, and
//! the other 502 causes must never be called a race.

use alb_findings::{Options, Verdict, diagnose};
use alb_loggen::{ReusePolicy, Scenario, write_log};

fn diagnose_scenario(scenario: &Scenario) -> (alb_findings::Diagnosis, alb_loggen::Summary) {
    let mut log = Vec::new();
    let summary = write_log(scenario, &mut log).expect("scenario is valid");
    (diagnose(&log[..], &Options::default()).expect("in-memory log reads"), summary)
}

fn busy(keepalive_ms: u64, seed: u64) -> Scenario {
    let mut scenario = Scenario::corpus(6_000_000);
    scenario.backend_keepalive_ms = keepalive_ms;
    scenario.seed = seed;
    scenario
}

#[test]
fn estimate_is_within_ten_percent_for_common_backend_defaults() {
    // gunicorn 2 s, Node/uvicorn/Apache 5 s, Puma 6 20 s; several traffic draws each.
    for keepalive_ms in [2_000u64, 5_000, 20_000] {
        for seed in [1, 2, 3] {
            let (d, truth) = diagnose_scenario(&busy(keepalive_ms, seed));
            let lb = &d.load_balancers[0];
            assert_eq!(lb.keepalive_502, truth.keepalive_502, "K={keepalive_ms} seed={seed}");
            if truth.keepalive_502 == 0 {
                continue;
            }
            assert_eq!(lb.verdict, Verdict::KeepaliveRace);
            let estimate = u64::from(lb.estimated_backend_keepalive_ms.expect("races have gaps"));
            assert!(
                estimate.abs_diff(keepalive_ms) * 10 <= keepalive_ms,
                "K={keepalive_ms} seed={seed}: estimated {estimate} from {:?}",
                lb.estimate
            );
        }
    }
}

#[test]
fn estimate_holds_when_the_pool_rotates_connections() {
    // Least-recently-used reuse: races also hit busy targets, where the target-wide gap is only
    // a lower bound of the connection's idle time.
    for seed in [4, 5, 6] {
        let mut scenario = busy(5_000, seed);
        scenario.reuse_policy = ReusePolicy::LeastRecentlyUsed;
        let (d, truth) = diagnose_scenario(&scenario);
        let lb = &d.load_balancers[0];
        assert_eq!(lb.keepalive_502, truth.keepalive_502);
        assert!(truth.keepalive_502 > 0, "seed {seed} produced no race");
        let estimate = u64::from(lb.estimated_backend_keepalive_ms.expect("gaps"));
        assert!(
            estimate.abs_diff(5_000) <= 500,
            "seed {seed}: estimated {estimate} from {:?}",
            lb.estimate
        );
    }
}

#[test]
fn the_fixed_service_has_no_race_but_keeps_its_other_502s() {
    let (d, truth) = diagnose_scenario(&Scenario::healthy());
    let lb = &d.load_balancers[0];
    assert_eq!(truth.keepalive_502, 0);
    assert!(truth.other_502 > 0, "the healthy sample still has refused and app 502s");
    assert_eq!(lb.verdict, Verdict::NoRace);
    assert_eq!(lb.keepalive_502, 0);
    assert_eq!(lb.elb_502, truth.other_502);
}

#[test]
fn incident_sample_is_a_race_at_five_seconds() {
    let (d, truth) = diagnose_scenario(&Scenario::incident());
    let lb = &d.load_balancers[0];
    assert_eq!(lb.verdict, Verdict::KeepaliveRace);
    assert_eq!(lb.keepalive_502, truth.keepalive_502);
    assert_eq!(lb.estimated_backend_keepalive_ms, Some(5000));
    assert_eq!(
        lb.elb_502 - lb.keepalive_502,
        truth.other_502,
        "refused and app 502s counted apart"
    );
}
