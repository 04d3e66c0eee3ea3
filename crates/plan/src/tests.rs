//! Planner rules: the arithmetic of both remedies, bounds, idempotence and the no-evidence case.

use super::*;

const RACE: Evidence = Evidence { keepalive_502: 3, estimated_backend_keepalive_ms: Some(5000) };

fn current(idle: u32, ka: Option<u64>, headers: Option<u64>) -> CurrentSettings {
    CurrentSettings {
        alb_idle_timeout_s: idle,
        keepalive_timeout_ms: ka,
        headers_timeout_ms: headers,
    }
}

fn ssm(evidence: &Evidence, now: &CurrentSettings) -> Plan {
    plan(Strategy::SsmParameters, evidence, now, &Policy::default()).unwrap()
}

fn alb(evidence: &Evidence, now: &CurrentSettings, policy: &Policy) -> Plan {
    plan(Strategy::AlbIdleTimeout, evidence, now, policy).unwrap()
}

fn set(parameter: Parameter, before: Option<u64>, after: u64) -> Change {
    Change::SetParameter { parameter, before, after }
}

#[test]
fn default_alb_gives_65000_and_66000() {
    let p = ssm(&RACE, &current(60, Some(5000), None));
    assert_eq!(
        p.changes,
        [
            set(Parameter::KeepAliveTimeout, Some(5000), 65000),
            set(Parameter::HeadersTimeout, None, 66000)
        ]
    );
}

#[test]
fn keepalive_follows_the_idle_timeout() {
    let p = ssm(&RACE, &current(120, None, None));
    assert_eq!(
        p.changes,
        [
            set(Parameter::KeepAliveTimeout, None, 125_000),
            set(Parameter::HeadersTimeout, None, 126_000)
        ]
    );
}

#[test]
fn consistent_settings_give_an_empty_plan() {
    let p = ssm(&RACE, &current(60, Some(65000), Some(66000)));
    assert!(p.changes.is_empty(), "{p:?}");
    assert_eq!(p.notes.len(), 2);
    let p = alb(&RACE, &current(4, None, None), &Policy::default());
    assert!(p.changes.is_empty(), "{p:?}");
}

#[test]
fn values_are_never_lowered() {
    let p = ssm(&RACE, &current(60, Some(90_000), Some(95_000)));
    assert!(p.changes.is_empty(), "both already above what is needed: {p:?}");
    let p = ssm(&RACE, &current(60, Some(5_000), Some(400_000)));
    assert_eq!(
        p.changes,
        [set(Parameter::KeepAliveTimeout, Some(5_000), 65_000)],
        "headers 400000 kept"
    );
}

#[test]
fn higher_current_keepalive_is_kept_and_headers_follow_it() {
    let p = ssm(&RACE, &current(60, Some(90_000), None));
    assert_eq!(p.changes, [set(Parameter::HeadersTimeout, None, 91_000)]);
}

#[test]
fn headers_timeout_stays_within_request_timeout() {
    let p = ssm(&RACE, &current(3600, None, None));
    assert_eq!(
        p.changes,
        [
            set(Parameter::KeepAliveTimeout, None, 3_605_000),
            set(Parameter::HeadersTimeout, None, 300_000)
        ]
    );
    assert!(p.notes.iter().any(|n| n.contains("requestTimeout")), "{:?}", p.notes);
    let no_limit = Policy { request_timeout_ms: 0, ..Policy::default() };
    let p = plan(Strategy::SsmParameters, &RACE, &current(3600, None, None), &no_limit).unwrap();
    assert_eq!(p.changes[1], set(Parameter::HeadersTimeout, None, 3_606_000));
}

#[test]
fn idle_timeout_goes_strictly_below_the_backend_keepalive() {
    for (backend_ms, expected) in
        [(5000, 4), (2000, 1), (20_000, 19), (5500, 4), (4600, 4), (1000, 1), (300, 1)]
    {
        let evidence =
            Evidence { keepalive_502: 1, estimated_backend_keepalive_ms: Some(backend_ms) };
        let p = alb(&evidence, &current(60, None, None), &Policy::default());
        assert_eq!(
            p.changes,
            [Change::SetIdleTimeout { before: 60, after: expected }],
            "{backend_ms} ms"
        );
    }
}

#[test]
fn idle_timeout_margin_is_configurable_and_override_beats_estimate() {
    let wide = Policy { idle_timeout_margin_ms: 2000, ..Policy::default() };
    assert_eq!(
        alb(&RACE, &current(60, None, None), &wide).changes,
        [Change::SetIdleTimeout { before: 60, after: 2 }]
    );
    let configured = Policy { backend_keepalive_ms: Some(30_000), ..Policy::default() };
    assert_eq!(
        alb(&RACE, &current(60, None, None), &configured).changes,
        [Change::SetIdleTimeout { before: 60, after: 29 }]
    );
    let no_estimate = Evidence { keepalive_502: 1, estimated_backend_keepalive_ms: None };
    assert_eq!(
        alb(&no_estimate, &current(60, None, None), &Policy::default()).changes,
        [Change::SetIdleTimeout { before: 60, after: 4 }],
        "defaults to Node's 5000 ms"
    );
}

#[test]
fn idle_timeout_is_never_raised() {
    let puma7 = Evidence { keepalive_502: 1, estimated_backend_keepalive_ms: Some(65_000) };
    let p = alb(&puma7, &current(60, None, None), &Policy::default());
    assert!(p.changes.is_empty());
    assert!(p.notes[0].contains("never raised"), "{:?}", p.notes);
    let r = remedies(&puma7, &current(60, None, None), &Policy::default()).unwrap();
    assert_eq!(r.alb_idle_timeout_seconds, 60);
}

#[test]
fn no_evidence_means_no_change() {
    let none = Evidence::default();
    for strategy in [Strategy::SsmParameters, Strategy::AlbIdleTimeout] {
        let p = plan(strategy, &none, &current(60, None, None), &Policy::default()).unwrap();
        assert!(p.changes.is_empty());
        assert!(p.notes[0].contains("no keep-alive race"));
    }
}

#[test]
fn out_of_range_settings_are_refused() {
    assert_eq!(
        plan(Strategy::AlbIdleTimeout, &RACE, &current(0, None, None), &Policy::default())
            .unwrap_err(),
        PlanError::IdleTimeoutOutOfRange(0)
    );
    assert_eq!(
        remedies(&RACE, &current(4001, None, None), &Policy::default()).unwrap_err(),
        PlanError::IdleTimeoutOutOfRange(4001)
    );
    let tight = Policy { keepalive_margin_ms: 10, ..Policy::default() };
    assert!(matches!(
        remedies(&RACE, &current(60, None, None), &tight),
        Err(PlanError::MarginTooSmall { .. })
    ));
    let zero_headers = Policy { headers_margin_ms: 0, ..Policy::default() };
    assert!(matches!(
        remedies(&RACE, &current(60, None, None), &zero_headers),
        Err(PlanError::MarginTooSmall { .. })
    ));
}

#[test]
fn plan_round_trips_through_json() {
    let p = ssm(&RACE, &current(60, None, None));
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"kind\":\"set-parameter\""), "{json}");
    assert!(json.contains("\"parameter\":\"keepAliveTimeout\""), "{json}");
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), p);
    let r = remedies(&RACE, &current(60, None, None), &Policy::default()).unwrap();
    assert_eq!(
        serde_json::to_value(r).unwrap(),
        serde_json::json!({"ssm_parameters": {"keepAliveTimeout": 65000, "headersTimeout": 66000}, "alb_idle_timeout_seconds": 4})
    );
}
