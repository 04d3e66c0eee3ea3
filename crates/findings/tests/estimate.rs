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

// ---------------------------------------------------------------------------------------------
// The pool model under real traffic (issue 9): LIFO and FIFO pools, a busy target, a stray gap,
// shuffled lines, a shutdown. Each prints its error so that `cargo test -p alb-findings --test
// estimate -- --nocapture` shows the measured figures.

use alb_loggen::{Burst, Poller, PollerKind, Routing, Shutdown, TargetGroup};

/// Diagnoses `scenario`, optionally with its lines shuffled; returns the load balancer's
/// findings and the ground truth.
fn run(
    scenario: &Scenario,
    shuffle: bool,
) -> (alb_findings::LoadBalancerFindings, alb_loggen::Summary) {
    let mut log = Vec::new();
    let summary = write_log(scenario, &mut log).expect("scenario is valid");
    if shuffle {
        let mut lines: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
        // Fisher-Yates with a fixed splitmix64 stream: reproducible, and nothing stays in order.
        let mut state = 0x5eed_u64;
        for i in (1..lines.len()).rev() {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let j = ((z ^ (z >> 31)) % (i as u64 + 1)) as usize;
            lines.swap(i, j);
        }
        log = lines.concat();
    }
    let mut d = diagnose(&log[..], &Options::default()).expect("in-memory log reads");
    let lb = d.load_balancers.remove(0);
    (lb, summary)
}

/// Asserts the estimate is within 10 % of `truth_ms` and returns the error in percent.
fn within_ten_percent(name: &str, lb: &alb_findings::LoadBalancerFindings, truth_ms: u64) -> f64 {
    let estimate = u64::from(
        lb.estimated_backend_keepalive_ms.unwrap_or_else(|| panic!("{name}: no estimate")),
    );
    let error = estimate.abs_diff(truth_ms) as f64 * 100.0 / truth_ms as f64;
    eprintln!(
        "{name}: estimate {estimate} ms, truth {truth_ms} ms, error {error:.2} %, confidence {:.2}, order {:?}, races {} (shutdown {})",
        lb.estimate.map_or(0.0, |e| e.confidence),
        lb.estimate.map(|e| e.reuse_order),
        lb.keepalive_502,
        lb.shutdown_502,
    );
    eprintln!("  {:?}", lb.estimate);
    assert!(error <= 10.0, "{name}: estimated {estimate} for {truth_ms}: {:?}", lb.estimate);
    error
}

fn group(name: &str, id: &str, targets: &[&str], weight: f64, sticky: bool) -> TargetGroup {
    TargetGroup {
        name: name.into(),
        id: id.into(),
        targets: targets.iter().map(|t| (*t).to_string()).collect(),
        traffic_weight: weight,
        routing: Routing::RoundRobin,
        sticky,
        backend_keepalive_ms: None,
    }
}

/// The seed incident as a client that waits 5 s after each answer, on a LIFO or FIFO pool.
fn waiting_client(reuse: ReusePolicy) -> Scenario {
    let mut scenario = Scenario::incident();
    scenario.pollers[0].waits_for_answer = true;
    scenario.pollers[0].jitter_us = 2_000;
    scenario.reuse_policy = reuse;
    scenario
}

/// A busy target: bursts of 30 requests every ~5 s need deep pooled connections just as those
/// turn 5 s idle, while background traffic (6 req/s on two targets) keeps the target busy.
fn busy_target(reuse: ReusePolicy, seed: u64) -> Scenario {
    Scenario {
        target_groups: vec![group(
            "api",
            "1c9f0e8a5b7d3e21",
            &["10.0.4.40:8080", "10.0.5.41:8080"],
            1.0,
            false,
        )],
        request_rate: 6.0,
        bursts: vec![Burst {
            target_group: 0,
            target: 0,
            size: 30,
            period_ms: 5_020,
            jitter_us: 40_000,
            offset_ms: 700,
        }],
        backend_keepalive_ms: 5_000,
        response_median_ms: 15.0,
        response_sigma: 0.3,
        reuse_policy: reuse,
        seed,
        ..Scenario::default()
    }
}

#[test]
fn lifo_and_fifo_pools_with_a_client_that_waits_after_each_answer() {
    for reuse in [ReusePolicy::MostRecentlyUsed, ReusePolicy::LeastRecentlyUsed] {
        let (lb, truth) = run(&waiting_client(reuse), false);
        assert!(truth.keepalive_502 >= 3, "{reuse:?}: {truth:?}");
        assert_eq!(lb.keepalive_502, truth.keepalive_502);
        assert_eq!(lb.verdict, Verdict::KeepaliveRace);
        within_ten_percent(&format!("waiting client {reuse:?}"), &lb, 5_000);
    }
}

#[test]
fn busy_target_with_bursts_and_background_traffic() {
    for reuse in [ReusePolicy::MostRecentlyUsed, ReusePolicy::LeastRecentlyUsed] {
        for seed in [1, 2] {
            let (lb, truth) = run(&busy_target(reuse, seed), false);
            assert!(truth.keepalive_502 >= 3, "{reuse:?} seed {seed}: {truth:?}");
            assert_eq!(lb.keepalive_502 + lb.shutdown_502, truth.keepalive_502);
            assert_eq!(
                lb.shutdown_502, 0,
                "{reuse:?} seed {seed}: keep-alive races are not a shutdown"
            );
            within_ten_percent(&format!("busy target {reuse:?} seed {seed}"), &lb, 5_000);
            let confidence = lb.estimate.map_or(0.0, |e| e.confidence);
            assert!(confidence >= 0.5, "{reuse:?} seed {seed}: confidence {confidence}");
        }
    }
}

#[test]
fn one_stray_race_after_a_long_quiet_spell_on_another_target_is_outvoted() {
    let mut scenario = waiting_client(ReusePolicy::MostRecentlyUsed);
    let mut admin = group("admin", "0a1b2c3d4e5f6a7b", &["10.0.9.9:8000"], 0.0, false);
    admin.backend_keepalive_ms = Some(11_500);
    scenario.target_groups.push(admin);
    // A client that comes back once, 11.5 s after its first answer; the first offset at which
    // that second request races is the scenario (the log's millisecond grid decides).
    let stray = (0..20)
        .map(|i| Poller {
            kind: PollerKind::MobileApi,
            period_ms: 11_500,
            jitter_us: 1_000,
            offset_ms: 250_000 + 1_013 * i,
            target_group: 1,
            waits_for_answer: true,
            max_requests: Some(2),
        })
        .find(|poller| {
            let mut candidate = scenario.clone();
            candidate.pollers.push(poller.clone());
            let truth = write_log(&candidate, std::io::sink()).expect("valid");
            truth.race_gaps_us.iter().any(|&g| g >= 11_500_000)
        })
        .expect("one of the offsets races");
    scenario.pollers.push(stray);
    for shuffle in [false, true] {
        let (lb, truth) = run(&scenario, shuffle);
        assert!(truth.race_gaps_us.iter().any(|&g| g >= 11_500_000), "the stray race happened");
        within_ten_percent(&format!("stray gap (shuffled: {shuffle})"), &lb, 5_000);
    }
}

#[test]
fn shuffled_lines_give_the_same_estimate() {
    for (name, scenario) in [
        ("incident", Scenario::incident()),
        ("busy LIFO", busy_target(ReusePolicy::MostRecentlyUsed, 1)),
        ("busy FIFO", busy_target(ReusePolicy::LeastRecentlyUsed, 1)),
    ] {
        let (sorted, _) = run(&scenario, false);
        let (shuffled, truth) = run(&scenario, true);
        assert_eq!(shuffled.keepalive_502, sorted.keepalive_502, "{name}");
        assert!(truth.keepalive_502 > 0, "{name}");
        within_ten_percent(&format!("shuffled {name}"), &shuffled, 5_000);
        assert_eq!(
            shuffled.estimated_backend_keepalive_ms, sorted.estimated_backend_keepalive_ms,
            "{name}"
        );
    }
}

/// The incident's client waiting 5 s after each answer (on its own target group), and a busy
/// web group of three targets whose first target shuts down (a deploy) at 200 s.
fn deploy(keepalive_ms: u64) -> Scenario {
    let mut scenario = waiting_client(ReusePolicy::MostRecentlyUsed);
    scenario.target_groups[0].traffic_weight = 0.0;
    scenario.target_groups.push(group(
        "web",
        "9e8d7c6b5a493827",
        &["10.0.6.10:8080", "10.0.6.11:8080", "10.0.6.12:8080"],
        1.0,
        false,
    ));
    scenario.request_rate = 30.0;
    scenario.failures = Default::default();
    scenario.backend_keepalive_ms = keepalive_ms;
    // Pages with several assets keep a few connections per target open.
    scenario.bursts = (0..3)
        .map(|target| Burst {
            target_group: 1,
            target,
            size: 6,
            period_ms: 3_000,
            jitter_us: 50_000,
            offset_ms: 500 + 400 * target as u64,
        })
        .collect();
    scenario.shutdowns =
        vec![Shutdown { target_group: 1, target: 0, at_ms: 200_000, drain_ms: 1_000 }];
    scenario
}

#[test]
fn a_shutdown_burst_is_its_own_verdict_without_an_estimate() {
    let (lb, truth) = run(&deploy(65_000), false);
    assert_eq!(truth.keepalive_502, 0);
    assert!(truth.shutdown_502 >= 2, "{truth:?}");
    assert_eq!(lb.keepalive_502, 0);
    assert_eq!(lb.shutdown_502, truth.shutdown_502);
    assert_eq!(
        lb.elb_502_by_class.get(alb_findings::Elb502Class::ShutdownRace),
        truth.shutdown_502
    );
    assert_eq!(lb.verdict, Verdict::ShutdownRace);
    assert_eq!(
        lb.estimated_backend_keepalive_ms, None,
        "a shutdown says nothing about the keep-alive"
    );
    eprintln!("shutdown only: {} shutdown races, verdict {:?}", lb.shutdown_502, lb.verdict);
}

#[test]
fn a_shutdown_during_a_keepalive_race_does_not_move_the_estimate() {
    for shuffle in [false, true] {
        let (lb, truth) = run(&deploy(5_000), shuffle);
        assert!(truth.shutdown_502 >= 2 && truth.keepalive_502 >= 3, "{truth:?}");
        assert_eq!(lb.shutdown_502, truth.shutdown_502, "shuffled: {shuffle}");
        assert_eq!(lb.keepalive_502, truth.keepalive_502, "shuffled: {shuffle}");
        assert_eq!(lb.verdict, Verdict::KeepaliveRace);
        within_ten_percent(&format!("shutdown burst (shuffled: {shuffle})"), &lb, 5_000);
    }
}
