//! The record parser on arbitrary bytes: it must never panic, an accepted line must hold values
//! of the types the diagnosis reads, the block splitter must agree with the exact one, and a
//! `LineParser` must give every line what `parse_line` gives it, whatever lines came before.
#![no_main]

use alb_records::{Field, parse_line, split_host_port};
use libfuzzer_sys::fuzz_target;

/// A valid line, parsed first so that the parser remembers its minute and load balancer.
const KNOWN: &[u8] = br#"https 2026-11-27T09:30:05.123456Z app/shop-web/50dc6c495c0c9188 203.0.113.9:51234 10.0.1.23:3000 0.000 0.003 0.000 304 304 723 679 "GET https://shop.example.com:443/ HTTP/1.1" "curl/8.0" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067 "Root=1-6746e5a5-0123456789abcdef01234567" "shop.example.com" "session-reused" 10 2026-11-27T09:30:05.120000Z "forward" "-" "-" "10.0.1.23:3000" "304" "-" "-" TID_0123456789abcdef0123456789abcdef "-" "-" "-" 10.0.1.5"#;

fuzz_target!(|line: &[u8]| {
    assert!(alb_records::splitters_agree(line), "the block splitter disagrees");
    let mut parser = alb_records::LineParser::default();
    for piece in std::iter::once(KNOWN).chain(line.split(|&byte| byte == b'\n')).chain([line]) {
        assert_eq!(parser.parse(piece), parse_line(piece), "the line parser disagrees");
    }
    let Ok(record) = parse_line(line) else { return };
    let stripped = line.strip_suffix(b"\r").unwrap_or(line);
    assert_eq!(record.line(), stripped);
    assert!((alb_records::MIN_FIELDS..=Field::COUNT).contains(&record.field_count()));
    for field in Field::ALL {
        if let Some(value) = record.get_raw(field) {
            // Every value is a slice of the line (quotes excluded).
            let start = value.as_ptr() as usize - stripped.as_ptr() as usize;
            assert!(start + value.len() <= stripped.len(), "{field} outside the line");
        }
    }
    if let Some(target) = record.target() {
        assert!(split_host_port(target).is_some(), "accepted target {target:?} is not addr:port");
    }
    let elb = record.elb();
    assert!(elb.starts_with(b"app/") && elb.iter().filter(|&&b| b == b'/').count() == 2);
    let _ = (record.kind(), record.time(), record.request_creation_time());
    let _ = (record.received_bytes(), record.sent_bytes(), record.matched_rule_priority());
    let _ = (record.request_processing_time_ms(), record.target_processing_time_ms());
    let _ = (
        record.response_processing_time_ms(),
        record.elb_status_code(),
        record.target_status_code(),
    );
    if let Some(warning) = record.warning() {
        assert!(record.field_count() >= alb_records::LENIENT_FROM.index(), "{warning}");
    }
});
