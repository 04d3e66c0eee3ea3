//! One pass over small hand-built objects: counts, gaps, verdicts, malformed lines, merging.

use std::io::Write;

use alb_findings::{
    DetectOptions, Diagnosis, Elb502Class, LineBudget, Options, ReadError, Verdict, diagnose,
};

const LB: &str = "app/shop-web/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067";

/// One entry at `second` (seconds after 09:30:00) on `target`, with the given times and statuses.
fn entry(
    lb: &str,
    second: f64,
    target: &str,
    times: &str,
    statuses: &str,
    error_reason: &str,
) -> String {
    let stamp = |s: f64| {
        let micros = (s * 1e6).round() as u64;
        format!(
            "2026-11-27T09:{:02}:{:02}.{:06}Z",
            30 + micros / 60_000_000,
            micros / 1_000_000 % 60,
            micros % 1_000_000
        )
    };
    let tg = if target == "-" && error_reason == "-" { "-" } else { TG };
    // `time` is when the response ended: arrival plus the three processing times.
    let busy: f64 =
        times.split(' ').filter_map(|t| t.parse::<f64>().ok()).filter(|t| *t >= 0.0).sum();
    format!(
        "https {} {lb} 203.0.113.9:5123 {target} {times} {statuses} 723 679 \"GET https://shop.example.com:443/api/poll HTTP/1.1\" \"Mozilla/5.0 (X11; Linux x86_64)\" TLS_AES_128_GCM_SHA256 TLSv1.3 {tg} \"Root=1-6746e5a5-0123456789abcdef01234567\" \"shop.example.com\" \"session-reused\" 1 {} \"forward\" \"-\" \"{error_reason}\" \"-\" \"-\" \"-\" \"-\" TID_0123456789abcdef0123456789abcdef \"-\" \"-\" \"-\" 10.0.1.5\n",
        stamp(second),
        stamp(second - busy),
    )
}

fn ok(second: f64, target: &str) -> String {
    entry(LB, second, target, "0.000 0.003 0.000", "200 200", "-")
}

fn race(second: f64, target: &str) -> String {
    entry(LB, second, target, "0.000 0.000 -1", "502 -", "-")
}

fn run(log: &str) -> Diagnosis {
    diagnose(log.as_bytes(), &Options::default()).unwrap()
}

#[test]
fn incident_pattern_gives_race_verdict_and_exact_gap() {
    // Poller every 5 s on one target; the backend closes after 5 s idle; every other poll races.
    let mut log = String::new();
    for cycle in 0..6 {
        let t = f64::from(cycle) * 10.0;
        log += &ok(t, "10.0.1.23:3000");
        log += &race(t + 5.0, "10.0.1.23:3000");
    }
    log += &ok(100.0, "10.0.2.41:3000");
    let d = run(&log);
    assert_eq!(d.lines, 13);
    assert_eq!(d.malformed_lines, 0);
    let lb = d.load_balancer(LB).unwrap();
    assert_eq!(lb.verdict, Verdict::KeepaliveRace);
    assert_eq!(lb.requests, 13);
    assert_eq!(lb.elb_502, 6);
    assert_eq!(lb.keepalive_502, 6);
    assert_eq!(lb.keepalive_502_without_gap, 0);
    assert_eq!(lb.estimated_backend_keepalive_ms, Some(5000));
    assert!(lb.estimate.unwrap().confidence > 0.7);
    assert_eq!(lb.samples.len(), 3);
    assert_eq!(lb.samples[0].gap_ms, Some(5000));
    let tg = &lb.target_groups[0];
    assert_eq!(tg.target_group_arn, TG);
    assert_eq!(tg.requests, 13);
    assert_eq!(tg.keepalive_502, 6);
    assert_eq!(tg.targets[0].target, "10.0.1.23:3000", "most races first");
    assert_eq!(tg.targets[0].keepalive_502, 6);
    assert_eq!(tg.targets[1].requests, 1);
}

#[test]
fn other_502_classes_are_never_a_race() {
    let mut log = String::new();
    for i in 0..20 {
        let t = f64::from(i) * 5.0;
        log += &ok(t, "10.0.1.23:3000");
        log += &entry(LB, t + 5.0, "10.0.1.23:3000", "-1 -1 -1", "502 -", "-"); // refused
        log += &entry(LB, t + 1.0, "10.0.1.23:3000", "0.000 0.020 0.000", "502 502", "-"); // app
        log += &entry(LB, t + 2.0, "-", "0.000 0.001 0.000", "502 -", "LambdaUnhandled"); // lambda
        log += &entry(LB, t + 3.0, "10.0.1.23:3000", "0.001 4.205 -1", "502 -", "-"); // crash
        log += &entry(LB, t + 4.0, "10.0.1.23:3000", "-1 -1 -1", "504 -", "-");
    }
    let d = run(&log);
    let lb = d.load_balancer(LB).unwrap();
    assert_eq!(lb.verdict, Verdict::NoRace);
    assert_eq!(lb.keepalive_502, 0);
    assert_eq!(lb.estimated_backend_keepalive_ms, None);
    assert_eq!(lb.elb_502, 80);
    let counts = lb.elb_502_by_class;
    assert_eq!(counts.get(Elb502Class::ConnectionFailure), 20);
    assert_eq!(counts.get(Elb502Class::TargetSent), 20);
    assert_eq!(counts.get(Elb502Class::LambdaWafAuth), 20);
    assert_eq!(counts.get(Elb502Class::ClosedMidRequest), 20);
    assert_eq!(counts.get(Elb502Class::KeepaliveRace), 0);
}

#[test]
fn gap_is_measured_per_target_and_from_the_latest_earlier_response() {
    let mut log = String::new();
    log += &ok(0.0, "10.0.1.23:3000");
    log += &ok(3.0, "10.0.2.41:3000"); // other target: does not shorten the gap
    log += &ok(2.0, "10.0.1.23:3000"); // out of order but earlier than the race: counts
    log += &ok(9.0, "10.0.1.23:3000"); // after the race was sent: ignored
    log += &race(7.0, "10.0.1.23:3000");
    log += &race(1.0, "10.0.9.9:3000"); // no earlier response on this target: no gap
    let lb = run(&log).load_balancers.remove(0);
    assert_eq!(lb.keepalive_502, 2);
    assert_eq!(lb.keepalive_502_without_gap, 1);
    assert_eq!(lb.gaps().values(), [5000]);
}

#[test]
fn threshold_is_configurable() {
    let log = ok(0.0, "10.0.1.23:3000") + &race(5.0, "10.0.1.23:3000");
    let options = Options {
        detect: DetectOptions { race_threshold: 2, ..DetectOptions::default() },
        ..Options::default()
    };
    let d = diagnose(log.as_bytes(), &options).unwrap();
    assert_eq!(d.load_balancers[0].keepalive_502, 1);
    assert_eq!(d.load_balancers[0].verdict, Verdict::NoRace);
}

#[test]
fn malformed_lines_are_counted_with_numbers_and_blank_lines_ignored() {
    let log = format!(
        "{}\n   \ngarbage line\n{}{}\"unterminated\n",
        ok(0.0, "10.0.1.23:3000").trim_end(),
        ok(1.0, "10.0.1.23:3000"),
        ok(2.0, "10.0.1.23:3000").replace("\"forward\"", "\"forward\"x"),
    );
    let d = run(&log);
    assert_eq!(d.lines, 2);
    assert_eq!(d.malformed_lines, 3);
    let numbers: Vec<u64> = d.malformed_samples.iter().map(|m| m.line).collect();
    assert_eq!(numbers, [3, 5, 6]);
    assert!(
        d.malformed_samples[1].reason.contains("actions_executed"),
        "{:?}",
        d.malformed_samples[1]
    );
}

#[test]
fn several_load_balancers_are_kept_apart() {
    let other = "app/admin/0123456789abcdef";
    let mut log = ok(0.0, "10.0.1.23:3000") + &race(5.0, "10.0.1.23:3000");
    log += &entry(other, 1.0, "10.0.3.3:8080", "0.000 0.010 0.000", "200 200", "-");
    let d = run(&log);
    assert_eq!(d.load_balancers.len(), 2);
    assert_eq!(d.load_balancers[0].load_balancer, LB, "racing load balancer first");
    assert_eq!(d.load_balancer(other).unwrap().verdict, Verdict::NoRace);
    assert_eq!(d.load_balancer(other).unwrap().requests, 1);
}

#[test]
fn merging_objects_adds_counts_and_pools_gaps() {
    let a = run(&(ok(0.0, "10.0.1.23:3000") + &race(5.0, "10.0.1.23:3000")));
    let b = run(&(ok(0.0, "10.0.1.23:3000")
        + &race(5.0, "10.0.1.23:3000")
        + &ok(9.0, "10.0.2.41:3000")));
    let mut all = Diagnosis::empty(&DetectOptions::default());
    all.merge(a);
    all.merge(b);
    assert_eq!(all.lines, 5);
    let lb = all.load_balancer(LB).unwrap();
    assert_eq!(lb.keepalive_502, 2);
    assert_eq!(lb.requests, 5);
    assert_eq!(lb.gaps().seen(), 2);
    assert_eq!(lb.target_groups.len(), 1);
    assert_eq!(lb.target_groups[0].targets.len(), 2);
    assert_eq!(lb.verdict, Verdict::KeepaliveRace);
}

#[test]
fn gzip_objects_and_read_errors() {
    let text = ok(0.0, "10.0.1.23:3000") + &race(5.0, "10.0.1.23:3000");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    let gz = encoder.finish().unwrap();
    let d = diagnose(&gz[..], &Options::default()).unwrap();
    assert_eq!(d.load_balancers[0].keepalive_502, 1);
    let err = diagnose(&gz[..gz.len() - 10], &Options::default()).unwrap_err();
    assert!(matches!(err, ReadError::CorruptGzip { .. }), "{err}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn an_object_of_junk_lines_stops_early_with_an_error() {
    // The reported case, scaled down: 4 MiB of "a\n" (the report's was 1 GiB in 1 MB of gzip).
    let junk = gzip(&b"a\n".repeat(2 << 20));
    let err = diagnose(&junk[..], &Options::default()).unwrap_err();
    match &err {
        ReadError::NotAccessLog { lines, not_entries, first_line, first_reason } => {
            assert_eq!((*lines, *not_entries, *first_line), (1001, 1001, 1));
            assert!(first_reason.contains("fields"), "{first_reason}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("not an ALB access log"), "{err}");
    // Blank lines count too: a gzip of newlines is not an access log either.
    let blank = gzip(&vec![b'\n'; 4 << 20]);
    assert!(matches!(
        diagnose(&blank[..], &Options::default()),
        Err(ReadError::NotAccessLog { .. })
    ));
}

#[test]
fn a_log_with_some_junk_is_read_to_the_end() {
    // 1500 junk lines (over the count) among 3000 entries (under half): a genuine log.
    let mut log = String::new();
    for i in 0..3000 {
        log += &ok(f64::from(i) * 0.01, "10.0.1.23:3000");
        if i % 2 == 0 {
            log += "junk\n";
        }
    }
    let d = run(&log);
    assert_eq!((d.lines, d.malformed_lines), (3000, 1500));
    // The same junk first: past the count while over half, so it stops there.
    let junk_first = "junk\n".repeat(1500) + &log;
    assert!(matches!(
        diagnose(junk_first.as_bytes(), &Options::default()),
        Err(ReadError::NotAccessLog { lines: 1001, .. })
    ));
    // A stricter share: a third of junk is too much.
    let strict = Options {
        budget: LineBudget { not_entries_percent: 30, ..LineBudget::default() },
        ..Options::default()
    };
    assert!(matches!(diagnose(log.as_bytes(), &strict), Err(ReadError::NotAccessLog { .. })));
}

#[test]
fn the_line_budget_bounds_the_lines_read() {
    let log: String = (0..10).map(|i| ok(f64::from(i), "10.0.1.23:3000")).collect();
    let budget = |max_lines| Options {
        budget: LineBudget { max_lines, ..LineBudget::default() },
        ..Options::default()
    };
    assert_eq!(diagnose(log.as_bytes(), &budget(10)).unwrap().lines, 10);
    let err = diagnose(log.as_bytes(), &budget(9)).unwrap_err();
    assert!(matches!(err, ReadError::TooManyLines { limit: 9 }), "{err}");
}

#[test]
fn entries_with_a_quoting_surprise_after_field_25_are_kept_and_counted_as_warnings() {
    let requoted = race(5.0, "10.0.1.23:3000")
        .replace("\"-\" \"-\" \"-\" \"-\" TID_", "\"-\" \"-\" Acceptable \"-\" TID_");
    assert_ne!(requoted, race(5.0, "10.0.1.23:3000"));
    let d = run(&(ok(0.0, "10.0.1.23:3000") + &requoted));
    assert_eq!((d.lines, d.malformed_lines, d.warning_lines), (2, 0, 1));
    assert_eq!(d.warning_samples[0].line, 2);
    assert!(d.warning_samples[0].reason.contains("classification"), "{:?}", d.warning_samples);
    assert_eq!(d.load_balancer(LB).unwrap().keepalive_502, 1, "the entry still counts");
    let mut all = Diagnosis::empty(&DetectOptions::default());
    all.merge(d.clone());
    all.merge(d);
    assert_eq!(all.warning_lines, 2);
}

proptest::proptest! {
    /// Whatever the bytes, a plain-text object is read to its end: every non-blank line is either
    /// an entry or a malformed line, and nothing panics.
    #[test]
    fn arbitrary_objects_never_panic_and_every_line_is_accounted_for(
        lines in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..40),
    ) {
        let mut object: Vec<u8> = Vec::new();
        for line in &lines {
            object.extend(line.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
            object.push(b'\n');
        }
        if object.starts_with(&[0x1f, 0x8b]) {
            object[0] = b' '; // keep it plain text; gzip input has its own tests
        }
        let d = diagnose(&object[..], &Options::default()).unwrap();
        let text = String::from_utf8_lossy(&object).into_owned();
        let non_blank = object.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty()).count() as u64;
        proptest::prop_assert_eq!(d.lines + d.malformed_lines, non_blank, "{}", text);
    }

    /// Real entries with one byte changed: still no panic, and the count adds up.
    #[test]
    fn mutated_entries_never_panic(position in 0usize..2000, byte in proptest::num::u8::ANY) {
        let mut object = (ok(0.0, "10.0.1.23:3000") + &race(5.0, "10.0.1.23:3000") + &ok(6.0, "10.0.2.41:3000")).into_bytes();
        let position = position % object.len();
        object[position] = byte;
        if object.starts_with(&[0x1f, 0x8b]) {
            object[0] = b'h';
        }
        let d = diagnose(&object[..], &Options::default()).unwrap();
        let non_blank = object.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty()).count() as u64;
        proptest::prop_assert_eq!(d.lines + d.malformed_lines, non_blank);
    }
}

#[test]
fn race_times_and_timeout_statuses_are_taken_from_the_log() {
    // Races at 09:30:05 and 09:30:55, lines out of order; a 504 and a 460 beside them.
    let mut log = String::new();
    log += &race(55.0, "10.0.1.23:3000");
    log += &ok(0.0, "10.0.1.23:3000");
    log += &race(5.0, "10.0.1.23:3000");
    log += &entry(LB, 30.0, "10.0.1.23:3000", "0.000 60.001 -1", "504 -", "-");
    log += &entry(LB, 31.0, "-", "-1 -1 -1", "460 -", "-");
    let diagnosis = run(&log);
    let lb = diagnosis.load_balancer(LB).unwrap();
    assert_eq!(lb.keepalive_502, 2);
    assert_eq!((lb.elb_504, lb.elb_460), (1, 1));
    let json = serde_json::to_value(lb).unwrap();
    assert_eq!(json["first_race_at"], "2026-11-27T09:30:05Z");
    assert_eq!(json["last_race_at"], "2026-11-27T09:30:55Z");
    assert_eq!(
        json["races_by_hour"],
        serde_json::json!([{"hour": "2026-11-27T09:00:00Z", "races": 2}])
    );

    // A clean object merged in moves nothing; a later one moves the last race.
    let mut merged = run(&ok(0.0, "10.0.1.23:3000"));
    merged.merge(diagnosis);
    merged.merge(run(&race(1_500.0, "10.0.1.23:3000")));
    let lb = merged.load_balancer(LB).unwrap();
    assert_eq!(
        lb.race_times.first().map(|t| t.to_string()).as_deref(),
        Some("2026-11-27T09:30:05Z")
    );
    assert_eq!(
        lb.race_times.last().map(|t| t.to_string()).as_deref(),
        Some("2026-11-27T09:55:00Z")
    );
    assert_eq!(lb.race_times.by_hour().map(|(_, n)| n).collect::<Vec<_>>(), [3]);
}
