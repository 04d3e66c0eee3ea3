//! Planner rules: the arithmetic of both remedies, bounds, idempotence and the no-evidence case.

use super::*;

fn race() -> Evidence {
    estimated(3, 5000)
}

fn estimated(keepalive_502: u64, ms: u32) -> Evidence {
    Evidence {
        keepalive_502,
        estimated_backend_keepalive_ms: Some(ms),
        confidence: Some(0.9),
        ..Evidence::default()
    }
}

fn current(idle: u32, ka: Option<u64>, headers: Option<u64>) -> CurrentSettings {
    CurrentSettings {
        alb_idle_timeout_s: idle,
        keepalive_timeout_ms: ka,
        headers_timeout_ms: headers,
        request_timeout_ms: None,
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
    let p = ssm(&race(), &current(60, Some(5000), None));
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
    let p = ssm(&race(), &current(120, None, None));
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
    let p = ssm(&race(), &current(60, Some(65000), Some(66000)));
    assert!(p.changes.is_empty(), "{p:?}");
    assert_eq!(p.notes.len(), 2);
    let p = alb(&race(), &current(4, None, None), &Policy::default());
    assert!(p.changes.is_empty(), "{p:?}");
}

#[test]
fn values_are_never_lowered() {
    let p = ssm(&race(), &current(60, Some(90_000), Some(95_000)));
    assert!(p.changes.is_empty(), "both already above what is needed: {p:?}");
    let p = ssm(&race(), &current(60, Some(5_000), Some(400_000)));
    assert_eq!(
        p.changes,
        [
            set(Parameter::KeepAliveTimeout, Some(5_000), 65_000),
            set(Parameter::RequestTimeout, None, 400_000)
        ],
        "headers 400000 kept, and Node's default requestTimeout raised to allow it"
    );
}

#[test]
fn higher_current_keepalive_is_kept_and_headers_follow_it() {
    let p = ssm(&race(), &current(60, Some(90_000), None));
    assert_eq!(p.changes, [set(Parameter::HeadersTimeout, None, 91_000)]);
}

#[test]
fn request_timeout_is_raised_rather_than_headers_capped() {
    // ALB at 300 s: 305000 / 306000, and Node's default requestTimeout 300000 must follow.
    let p = ssm(&race(), &current(300, None, None));
    assert_eq!(
        p.changes,
        [
            set(Parameter::KeepAliveTimeout, None, 305_000),
            set(Parameter::HeadersTimeout, None, 306_000),
            set(Parameter::RequestTimeout, None, 306_000),
        ]
    );
    assert!(p.notes.iter().any(|n| n.contains("requestTimeout")), "{:?}", p.notes);
    // A configured requestTimeout that is large enough is left alone; a larger one is kept.
    let mut now = current(300, None, None);
    now.request_timeout_ms = Some(400_000);
    assert_eq!(ssm(&race(), &now).changes.len(), 2);
    let no_limit = Policy { request_timeout_ms: 0, ..Policy::default() };
    let p = plan(Strategy::SsmParameters, &race(), &current(3600, None, None), &no_limit).unwrap();
    assert_eq!(p.changes[1], set(Parameter::HeadersTimeout, None, 3_606_000));
    assert_eq!(p.changes.len(), 2, "no requestTimeout in force: none planned");
    // Within the default 300000 nothing changes for requestTimeout.
    assert_eq!(ssm(&race(), &current(60, None, None)).changes.len(), 2);
}

#[test]
fn idle_timeout_goes_strictly_below_the_backend_keepalive() {
    for (backend_ms, expected) in [(5000, 4), (2000, 1), (20_000, 19), (5500, 4), (4600, 4)] {
        let p = alb(&estimated(1, backend_ms), &current(60, None, None), &Policy::default());
        assert_eq!(
            p.changes,
            [Change::SetIdleTimeout { before: 60, after: expected }],
            "{backend_ms} ms"
        );
        assert!(u64::from(expected) * 1000 < u64::from(backend_ms));
    }
    // 1 s, the ALB minimum, would not be below these: refused, never proposed at or above.
    for backend_ms in [1000, 300] {
        let p = alb(&estimated(1, backend_ms), &current(60, None, None), &Policy::default());
        assert!(p.changes.is_empty(), "{backend_ms}");
        assert_eq!(p.blocked.map(|b| b.reason), Some(BlockReason::BackendKeepaliveTooShort));
    }
}

#[test]
fn idle_timeout_margin_is_configurable_and_override_beats_estimate() {
    let wide = Policy { idle_timeout_margin_ms: 2000, ..Policy::default() };
    assert_eq!(
        alb(&race(), &current(60, None, None), &wide).changes,
        [Change::SetIdleTimeout { before: 60, after: 2 }]
    );
    let configured = Policy { backend_keepalive_ms: Some(30_000), ..Policy::default() };
    assert_eq!(
        alb(&race(), &current(60, None, None), &configured).changes,
        [Change::SetIdleTimeout { before: 60, after: 29 }]
    );
}

#[test]
fn idle_timeout_from_no_or_a_low_confidence_estimate_is_refused() {
    let no_estimate = Evidence { keepalive_502: 1, ..Evidence::default() };
    let weak = Evidence { confidence: Some(0.06), ..estimated(1, 843) };
    for evidence in [&no_estimate, &weak] {
        let p = alb(evidence, &current(60, None, None), &Policy::default());
        assert!(p.changes.is_empty(), "{p:?}");
        let blocked = p.blocked.expect("refused");
        assert_eq!(blocked.reason, BlockReason::LowConfidence);
        assert!(blocked.message.contains("configure"), "{}", blocked.message);
        let r = remedies(evidence, &current(60, None, None), &Policy::default()).unwrap();
        assert_eq!(r.alb_idle_timeout_seconds, None);
    }
    // A configured backend keep-alive is not an estimate: allowed.
    let configured = Policy { backend_keepalive_ms: Some(5000), ..Policy::default() };
    assert_eq!(
        alb(&no_estimate, &current(60, None, None), &configured).changes,
        [Change::SetIdleTimeout { before: 60, after: 4 }]
    );
}

#[test]
fn idle_timeout_that_would_cut_requests_seen_in_the_logs_is_refused() {
    // 5 % of the responses take 8-25 s on a racing target: 4 s would turn them into 504s.
    let mut evidence = race();
    for ms in (0..95).map(|i| 5 + i).chain((0..5).map(|i| 8_000 + 4_000 * i)) {
        evidence.target_processing_seconds.record_ms(ms);
    }
    let p = alb(&evidence, &current(60, None, None), &Policy::default());
    assert!(p.changes.is_empty());
    let blocked = p.blocked.clone().expect("refused");
    assert_eq!(blocked.reason, BlockReason::WouldCutRequests);
    assert_eq!(
        (blocked.idle_timeout_seconds, blocked.requests_cut, blocked.long_lived_cut),
        (4, 5, 0)
    );
    assert!(blocked.message.contains("5 requests"), "{}", blocked.message);
    let json = serde_json::to_value(
        remedies(&evidence, &current(60, None, None), &Policy::default()).unwrap(),
    )
    .unwrap();
    assert_eq!(json["alb_idle_timeout_seconds"], serde_json::Value::Null);
    assert_eq!(json["alb_idle_timeout_blocked"]["reason"], "would-cut-requests");
    assert_eq!(json["alb_idle_timeout_blocked"]["requests_cut"], 5);
    // WebSockets that stay open longer are cut too.
    let mut sockets = race();
    sockets.long_lived_seconds.record_ms(120_000);
    let blocked = alb(&sockets, &current(60, None, None), &Policy::default()).blocked.unwrap();
    assert_eq!((blocked.requests_cut, blocked.long_lived_cut), (0, 1));
    // An explicit override lowers it anyway.
    let allow = Policy { allow_idle_timeout_cuts: true, ..Policy::default() };
    assert_eq!(
        alb(&evidence, &current(60, None, None), &allow).changes,
        [Change::SetIdleTimeout { before: 60, after: 4 }]
    );
}

#[test]
fn huge_margins_are_refused_not_wrapped() {
    for policy in [
        Policy { keepalive_margin_ms: 18_446_744_073_709_500_000, ..Policy::default() },
        Policy { headers_margin_ms: u64::MAX, ..Policy::default() },
        Policy { idle_timeout_margin_ms: u64::MAX, ..Policy::default() },
        Policy { backend_keepalive_ms: Some(u64::MAX), ..Policy::default() },
        Policy { request_timeout_ms: u64::MAX, ..Policy::default() },
    ] {
        let err = remedies(&race(), &current(60, None, None), &policy).unwrap_err();
        assert!(matches!(err, PlanError::ValueTooLarge { .. }), "{err}");
        assert!(plan(Strategy::SsmParameters, &race(), &current(60, None, None), &policy).is_err());
    }
    // The largest accepted values plan sanely at the largest idle timeout.
    let widest = Policy {
        keepalive_margin_ms: MAX_MARGIN_MS,
        headers_margin_ms: MAX_MARGIN_MS,
        ..Policy::default()
    };
    let r = remedies(&race(), &current(4000, None, None), &widest).unwrap();
    assert_eq!(r.ssm_parameters.keep_alive_timeout_ms, 4_600_000);
    assert_eq!(r.ssm_parameters.headers_timeout_ms, 5_200_000);
    assert_eq!(r.ssm_parameters.request_timeout_ms, Some(5_200_000));
    // A configured value near u64::MAX cannot wrap the headers timeout.
    let err =
        remedies(&race(), &current(60, Some(u64::MAX), None), &Policy::default()).unwrap_err();
    assert!(matches!(err, PlanError::Invariant(_)), "{err}");
}

#[test]
fn invariants_are_checked_before_values_leave_the_planner() {
    let good = ParameterValues {
        keep_alive_timeout_ms: 65_000,
        headers_timeout_ms: 66_000,
        request_timeout_ms: None,
    };
    assert!(check_invariants(60, &good, 300_000).is_ok());
    for (idle, values, request) in [
        (60, ParameterValues { keep_alive_timeout_ms: 8_384, ..good }, 300_000),
        (60, ParameterValues { headers_timeout_ms: 0, ..good }, 300_000),
        (60, ParameterValues { headers_timeout_ms: 65_000, ..good }, 300_000),
        (
            300,
            ParameterValues {
                keep_alive_timeout_ms: 305_000,
                headers_timeout_ms: 306_000,
                request_timeout_ms: None,
            },
            300_000,
        ),
    ] {
        assert!(
            matches!(check_invariants(idle, &values, request), Err(PlanError::Invariant(_))),
            "{values:?}"
        );
    }
}

#[test]
fn cures_cover_every_stack_with_the_values_in_force() {
    let r = remedies(&race(), &current(60, None, None), &Policy::default()).unwrap();
    let setting = |stack: &str| {
        r.cures
            .iter()
            .find(|c| c.stack.starts_with(stack))
            .unwrap_or_else(|| panic!("{stack}"))
            .setting
            .clone()
    };
    assert_eq!(
        setting("Node.js"),
        "server.keepAliveTimeout = 65000; server.headersTimeout = 66000;"
    );
    assert!(
        setting("Next.js").contains("KEEP_ALIVE_TIMEOUT=65000")
            && setting("Next.js").contains("--keepAliveTimeout 65000")
    );
    assert!(setting("Fastify").contains("keepAliveTimeout: 65000"));
    assert!(setting("gunicorn").starts_with("--keep-alive 65"));
    assert_eq!(setting("uvicorn"), "--timeout-keep-alive 65");
    assert!(setting("Hypercorn").contains("65"));
    assert_eq!(setting("Go"), "http.Server{IdleTimeout: 65 * time.Second}");
    assert_eq!(setting("Puma"), "persistent_timeout 65");
    assert_eq!(setting("Apache"), "KeepAliveTimeout 65");
    assert_eq!(setting("nginx"), "keepalive_timeout 65s;");
    assert!(setting("Tomcat").contains("keepAliveTimeout=\"65000\""));
    assert_eq!(setting("Spring Boot"), "server.tomcat.keep-alive-timeout=65000ms");
    assert!(setting("ASP.NET Core Kestrel").contains("FromSeconds(65)"));
    for stack in ["Express", "NestJS"] {
        assert!(setting(stack).contains("keepAliveTimeout = 65000"), "{stack}");
    }
    let gunicorn = r.cures.iter().find(|c| c.stack == "gunicorn").unwrap();
    assert!(gunicorn.note.as_deref().unwrap_or("").contains("sync workers"));
    // ALB at 300 s: the third Node parameter appears, never a capped headersTimeout.
    let r = remedies(&race(), &current(300, None, None), &Policy::default()).unwrap();
    let node = &r.cures[0].setting;
    assert_eq!(
        node,
        "server.keepAliveTimeout = 305000; server.headersTimeout = 306000; server.requestTimeout = 306000;"
    );
    assert_eq!(r.backend_default.as_deref().map(|d| d.starts_with("Node.js")), Some(true));
}

#[test]
fn estimates_matching_known_defaults_are_named() {
    assert!(known_default(2_000).unwrap().starts_with("gunicorn"));
    assert!(known_default(5_010).unwrap().contains("uvicorn"));
    assert!(known_default(6_001).unwrap().contains("keepAliveTimeoutBuffer"));
    assert!(known_default(20_000).unwrap().starts_with("Puma"));
    assert!(known_default(60_000).unwrap().starts_with("Tomcat"));
    assert_eq!(known_default(11_551), None);
}

#[test]
fn idle_timeout_is_never_raised() {
    let puma7 = estimated(1, 65_000);
    let p = alb(&puma7, &current(60, None, None), &Policy::default());
    assert!(p.changes.is_empty());
    assert!(p.notes[0].contains("never raised"), "{:?}", p.notes);
    assert_eq!(p.blocked.as_ref().map(|b| b.reason), Some(BlockReason::AlreadyBelow));
    let r = remedies(&puma7, &current(60, None, None), &Policy::default()).unwrap();
    assert_eq!(r.alb_idle_timeout_seconds, None);
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
        plan(Strategy::AlbIdleTimeout, &race(), &current(0, None, None), &Policy::default())
            .unwrap_err(),
        PlanError::IdleTimeoutOutOfRange(0)
    );
    assert_eq!(
        remedies(&race(), &current(4001, None, None), &Policy::default()).unwrap_err(),
        PlanError::IdleTimeoutOutOfRange(4001)
    );
    let tight = Policy { keepalive_margin_ms: 10, ..Policy::default() };
    assert!(matches!(
        remedies(&race(), &current(60, None, None), &tight),
        Err(PlanError::MarginTooSmall { .. })
    ));
    let zero_headers = Policy { headers_margin_ms: 0, ..Policy::default() };
    assert!(matches!(
        remedies(&race(), &current(60, None, None), &zero_headers),
        Err(PlanError::MarginTooSmall { .. })
    ));
}

#[test]
fn plan_round_trips_through_json() {
    let p = ssm(&race(), &current(60, None, None));
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"kind\":\"set-parameter\""), "{json}");
    assert!(json.contains("\"parameter\":\"keepAliveTimeout\""), "{json}");
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), p);
    let r = remedies(&race(), &current(60, None, None), &Policy::default()).unwrap();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["ssm_parameters"],
        serde_json::json!({"keepAliveTimeout": 65000, "headersTimeout": 66000})
    );
    assert_eq!(json["alb_idle_timeout_seconds"], 4);
    assert!(json.get("alb_idle_timeout_blocked").is_none());
    assert_eq!(json["cures"].as_array().map(Vec::len), Some(15));
    assert_eq!(serde_json::from_value::<Remedies>(json).unwrap(), r);
}
