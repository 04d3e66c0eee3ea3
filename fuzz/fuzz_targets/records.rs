//! The record parser on arbitrary bytes: it must never panic, an accepted line must hold values
//! of the types the diagnosis reads, and the block splitter must agree with the exact one.
#![no_main]

use alb_records::{Field, parse_line, split_host_port};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    assert!(alb_records::splitters_agree(line), "the block splitter disagrees");
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
