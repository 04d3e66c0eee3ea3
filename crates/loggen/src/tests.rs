//! Behaviour tests of the generator as a whole: what a detector downstream relies on
//! (field layout, ordering, the race's timing signature, ground-truth counts, determinism).
//!
//! Lines are re-parsed here with a deliberately small tokenizer so that these tests do not
//! depend on the project's parser crates, which are tested against this generator instead.

use super::*;

/// Quote-aware split: a token is a bare word or a whole `"..."` string (quotes kept).
fn tokens(line: &str) -> Option<Vec<&str>> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(36);
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += 1;
            }
            if i == b.len() {
                return None; // unbalanced quote
            }
            i += 1;
        } else {
            while i < b.len() && b[i] != b' ' {
                if b[i] == b'"' {
                    return None; // quote inside a bare token
                }
                i += 1;
            }
        }
        out.push(&line[start..i]);
        if i < b.len() {
            if b[i] != b' ' {
                return None;
            }
            i += 1;
        }
    }
    Some(out)
}

/// `yyyy-mm-ddThh:mm:ss.ffffffZ` -> unix µs.
fn micros(ts: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| ts[r].parse::<u32>().expect("digits");
    assert_eq!(ts.len(), 27, "{ts}");
    assert!(ts.ends_with('Z'), "{ts}");
    unix_seconds(i64::from(n(0..4)), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19)) * 1_000_000
        + i64::from(n(20..26))
}

/// Printed seconds -> µs; `-1` -> None.
fn secs(s: &str) -> Option<i64> {
    if s == "-1" {
        return None;
    }
    let (whole, frac) = s.split_once('.').expect("seconds with decimals");
    assert_eq!(frac.len(), 3, "{s}");
    Some(whole.parse::<i64>().expect("int") * 1_000_000 + frac.parse::<i64>().expect("ms") * 1000)
}

struct Line<'a> {
    f: Vec<&'a str>,
    time: i64,
    rct: i64,
}

fn parse(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .map(|l| {
            let f = tokens(l).unwrap_or_else(|| panic!("unbalanced quotes: {l}"));
            assert!(f.len() >= 34, "{} fields: {l}", f.len());
            let time = micros(f[1]);
            let rct = micros(f[21]);
            Line { f, time, rct }
        })
        .collect()
}

/// Section 1.7 strong signature: 502, target status `-`, target present, error_reason `-`,
/// rpt >= 0, tpt >= 0 and small, resp -1.
fn is_race(l: &Line<'_>) -> bool {
    l.f[8] == "502"
        && l.f[9] == "-"
        && l.f[4] != "-"
        && l.f[24] == "\"-\""
        && secs(l.f[5]).is_some()
        && secs(l.f[6]).is_some_and(|t| t <= 3_000)
        && l.f[7] == "-1"
}

fn generate(sc: &Scenario) -> (String, Summary) {
    let mut out = Vec::new();
    let summary = write_log(sc, &mut out).expect("in-memory write");
    assert_eq!(summary.bytes, out.len() as u64);
    (String::from_utf8(out).expect("utf-8"), summary)
}

/// Idle gap the detector measures for each race: dispatch of the 502 minus `time` of the
/// latest earlier line on the same target.
fn race_gaps(lines: &[Line<'_>]) -> Vec<i64> {
    let mut last: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    let mut gaps = Vec::new();
    for l in lines {
        if is_race(l) {
            let dispatch = l.rct + secs(l.f[5]).unwrap_or(0);
            let prev = last.get(l.f[4]).copied().expect("a race follows a response");
            gaps.push(dispatch - prev);
        }
        if l.f[4] != "-" {
            last.insert(l.f[4], l.time);
        }
    }
    gaps
}

/// A small scenario with every failure class switched on.
fn everything() -> Scenario {
    Scenario {
        request_rate: 40.0,
        duration_s: 120,
        failures: FailureRates {
            connection_refused: 0.01,
            app_502: 0.01,
            lambda_error: 0.01,
            gateway_timeout: 0.01,
            client_closed: 0.01,
            malformed: 0.01,
        },
        ..Scenario::incident()
    }
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let (a, _) = generate(&Scenario::incident());
    let (b, _) = generate(&Scenario::incident());
    let (c, _) = generate(&Scenario { seed: 99, ..Scenario::incident() });
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn incident_races_come_exactly_one_keepalive_after_the_previous_response() {
    let sc = Scenario::incident();
    let (text, summary) = generate(&sc);
    let lines = parse(&text);
    let gaps = race_gaps(&lines);
    assert!(gaps.len() >= 3, "only {} races", gaps.len());
    assert_eq!(gaps.len() as u64, summary.keepalive_502);
    let k = sc.backend_keepalive_ms as i64 * 1000;
    for g in &gaps {
        // 5.000 s at millisecond resolution: within [K, K + fin_delta).
        assert!(*g >= k && *g < k + sc.fin_delta_us as i64, "gap {g} µs");
    }
    let mut truth: Vec<i64> = summary.race_gaps_us.iter().map(|&g| g as i64).collect();
    let mut seen = gaps.clone();
    truth.sort_unstable();
    seen.sort_unstable();
    assert_eq!(seen, truth, "log-measured gaps equal the simulated idle times");
    // The race follows a quick 304 from the dashboard poller on that same target.
    let race = lines.iter().position(is_race).expect("a race");
    let prev = lines[..race].iter().rev().find(|l| l.f[4] == lines[race].f[4]).expect("prev");
    assert_eq!((prev.f[8], prev.f[9]), ("304", "304"));
    assert_eq!(prev.f[7], "0.000");
}

#[test]
fn incident_also_has_refused_and_app_502s_that_are_not_races() {
    let (text, s) = generate(&Scenario::incident());
    assert!(s.refused_502 >= 1 && s.app_502 >= 1, "{s:?}");
    assert_eq!(s.other_502, s.refused_502 + s.app_502 + s.lambda_502);
    let lines = parse(&text);
    let all_502 = lines.iter().filter(|l| l.f[8] == "502").count() as u64;
    assert_eq!(all_502, s.keepalive_502 + s.other_502);
    let refused = lines.iter().filter(|l| l.f[8] == "502" && l.f[5..8] == ["-1", "-1", "-1"]);
    assert_eq!(refused.filter(|l| l.f[4] != "-").count() as u64, s.refused_502);
}

#[test]
fn healthy_has_no_race_but_keeps_the_other_502s() {
    let (text, s) = generate(&Scenario::healthy());
    assert_eq!(s.keepalive_502, 0);
    assert!(s.race_gaps_us.is_empty());
    assert!((1..=2).contains(&s.app_502), "{s:?}");
    assert!(s.refused_502 >= 1, "{s:?}");
    let lines = parse(&text);
    assert!(!lines.iter().any(is_race));
    assert!(lines.iter().any(|l| l.f[8] == "502" && l.f[9] == "502"));
}

#[test]
fn incident_and_healthy_send_the_same_requests() {
    let (a, _) = generate(&Scenario::incident());
    let (b, _) = generate(&Scenario::healthy());
    let traces = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = parse(t).iter().map(|l| l.f[17].to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(traces(&a), traces(&b));
}

#[test]
fn only_races_match_the_race_signature_when_every_failure_class_is_on() {
    let (text, s) = generate(&everything());
    let lines = parse(&text);
    for (what, n) in [
        ("refused", s.refused_502),
        ("app", s.app_502),
        ("lambda", s.lambda_502),
        ("504", s.gateway_timeout_504),
        ("460", s.client_closed_460),
        ("400", s.malformed_400),
    ] {
        assert!(n > 0, "no {what} generated: {s:?}");
    }
    assert_eq!(lines.iter().filter(|l| is_race(l)).count() as u64, s.keepalive_502);
    let lambda: Vec<_> = lines.iter().filter(|l| l.f[24] == "\"LambdaUnhandled\"").collect();
    assert_eq!(lambda.len() as u64, s.lambda_502);
    assert!(lambda.iter().all(|l| l.f[4] == "-" && l.f[8] == "502" && l.f[9] == "-"));
    let malformed: Vec<_> = lines.iter().filter(|l| l.f[12] == "\"- - -\"").collect();
    assert_eq!(malformed.len() as u64, s.malformed_400);
    assert!(
        malformed.iter().all(|l| l.f[4] == "-" && l.f[5..10] == ["-1", "-1", "-1", "400", "-"])
    );
    for l in lines.iter().filter(|l| l.f[8] == "504" || l.f[8] == "460") {
        assert_eq!(l.f[5..8], ["-1", "-1", "-1"]);
        assert_ne!(l.f[4], "-");
    }
    let timeouts = lines.iter().filter(|l| l.f[8] == "504");
    for l in timeouts {
        let waited = l.time - l.rct;
        assert!((60_000_000..60_002_000).contains(&waited), "504 after {waited} µs");
    }
}

#[test]
fn every_line_has_the_2026_layout() {
    let sc = everything();
    let (text, _) = generate(&sc);
    let tg = sc.target_group_arn(&sc.target_groups[0]);
    for l in parse(&text) {
        let f = &l.f;
        assert_eq!(f.len(), 34, "{f:?}");
        assert!(["http", "https", "h2"].contains(&f[0]));
        assert_eq!(f[2], "app/shop-web/50dc6c495c0c9188");
        assert_eq!(f[33], "10.0.1.5");
        assert!(f[29].starts_with("TID_") && f[29].len() == 36, "{}", f[29]);
        assert!(f[17] == "\"-\"" || (f[17].starts_with("\"Root=1-") && f[17].len() == 42));
        assert_eq!(l.rct % 1000, 0, "request_creation_time has millisecond resolution");
        assert!(f[16] == "-" || f[16] == tg || f[16].contains(":targetgroup/shop-web-fn/"));
        if let (Some(r), Some(t), Some(p)) = (secs(f[5]), secs(f[6]), secs(f[7])) {
            let slack = l.time - (l.rct + r + t + p);
            assert!((0..3_000).contains(&slack), "time vs sum of parts: {slack} µs in {f:?}");
        }
        let client = f[3];
        let (ip, port) = client.rsplit_once(':').expect("client:port");
        assert!(port.parse::<u16>().is_ok() && !ip.starts_with('['), "{client}");
    }
}

#[test]
fn lines_are_in_the_order_the_node_writes_them() {
    let (text, _) = generate(&everything());
    let lines = parse(&text);
    assert!(lines.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn another_keepalive_moves_the_gap_with_it() {
    let sc = Scenario {
        backend_keepalive_ms: 4_000,
        pollers: vec![Poller { period_ms: 4_000, ..Scenario::incident().pollers[0].clone() }],
        duration_s: 600,
        ..Scenario::incident()
    };
    let (text, s) = generate(&sc);
    let gaps = race_gaps(&parse(&text));
    assert!(!gaps.is_empty(), "{s:?}");
    assert!(gaps.iter().all(|g| (4_000_000..4_001_000).contains(g)), "{gaps:?}");
}

#[test]
fn the_alb_idle_timeout_below_the_keepalive_prevents_races() {
    let sc = Scenario { alb_idle_timeout_s: 4, ..Scenario::incident() };
    let (_, s) = generate(&sc);
    assert_eq!(s.keepalive_502, 0);
}

#[test]
fn least_recently_used_reuse_also_races_and_is_counted() {
    let sc = Scenario { reuse_policy: ReusePolicy::LeastRecentlyUsed, ..Scenario::incident() };
    let (text, s) = generate(&sc);
    let lines = parse(&text);
    assert_eq!(lines.iter().filter(|l| is_race(l)).count() as u64, s.keepalive_502);
}

#[test]
fn object_key_matches_the_documented_pattern() {
    let sc = Scenario::incident();
    let key = object_key(&sc);
    let prefix = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/\
                  123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_\
                  20261127T0935Z_10.0.1.5_";
    assert!(key.starts_with(prefix), "{key}");
    let random = key[prefix.len()..].strip_suffix(".log.gz").expect(".log.gz");
    assert_eq!(random.len(), 8);
    assert!(random.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(object_key(&sc), key, "deterministic");
    // A run ending mid-interval belongs to the interval's end; days roll over.
    let late = Scenario {
        start_unix_s: unix_seconds(2026, 12, 31, 23, 57, 0),
        duration_s: 60,
        ..Scenario::incident()
    };
    assert!(object_key(&late).contains("/2027/01/01/"), "{}", object_key(&late));
    assert!(object_key(&late).contains("_20270101T0000Z_"), "{}", object_key(&late));
}

#[test]
fn corpus_lands_near_the_requested_size_with_all_kinds_of_502() {
    let target = 3_000_000;
    let (text, s) = generate(&Scenario::corpus(target));
    let ratio = s.bytes as f64 / target as f64;
    assert!((0.97..1.05).contains(&ratio), "{} bytes for {target}", s.bytes);
    assert!(s.keepalive_502 > 0, "{s:?}");
    let lines = parse(&text);
    assert_eq!(lines.len() as u64, s.lines);
    assert_eq!(lines.iter().filter(|l| is_race(l)).count() as u64, s.keepalive_502);
    let targets: std::collections::HashSet<&str> =
        lines.iter().map(|l| l.f[4]).filter(|t| *t != "-").collect();
    assert_eq!(targets.len(), 40);
}

#[test]
fn bad_scenarios_are_rejected_not_panicked_on() {
    let cases = [
        Scenario { target_groups: Vec::new(), ..Scenario::default() },
        Scenario {
            target_groups: vec![TargetGroup {
                targets: Vec::new(),
                ..Scenario::default().target_groups[0].clone()
            }],
            ..Scenario::default()
        },
        Scenario { request_rate: f64::NAN, ..Scenario::default() },
        Scenario { request_rate: 1e300, ..Scenario::default() },
        Scenario {
            failures: FailureRates { app_502: 0.7, malformed: 0.7, ..FailureRates::default() },
            ..Scenario::default()
        },
        Scenario {
            pollers: vec![Poller { period_ms: 0, ..Scenario::incident().pollers[0].clone() }],
            ..Scenario::default()
        },
        Scenario {
            pollers: vec![Poller {
                period_ms: u64::MAX,
                ..Scenario::incident().pollers[0].clone()
            }],
            ..Scenario::default()
        },
        Scenario { backend_keepalive_ms: u64::MAX, ..Scenario::default() },
        Scenario { start_unix_s: -1, ..Scenario::default() },
        Scenario { response_median_ms: 1e300, ..Scenario::default() },
    ];
    for sc in cases {
        let err = write_log(&sc, Vec::new()).expect_err("invalid scenario");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn gzip_output_round_trips() {
    use std::io::Read;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let s = write_log(&Scenario::incident(), &mut enc).expect("write");
    let gz = enc.finish().expect("finish");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_string(&mut text).expect("gunzip");
    assert_eq!(text.len() as u64, s.bytes);
    assert_eq!(text.lines().count() as u64, s.lines);
}
