//! The line reader on arbitrary objects, plain and gzip. The first byte picks the options (line
//! limit, required gzip); the rest is the object. It must never panic, never hand out a line
//! with a `\n` or over the limit, number lines 1, 2, 3, ..., and for plain text give exactly the
//! lines a naive split gives. The same object then goes through the whole diagnosis (reader,
//! parser, diagnoser, line budget), which must account for every line it read.
#![no_main]

use alb_lines::{Compression, LineReader, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, object)) = data.split_first() else { return };
    let options = Options {
        compression: if selector & 0x80 != 0 {
            Compression::RequireGzip
        } else {
            Compression::Detect
        },
        // Small caps keep a gzip bomb from slowing the fuzzer down.
        max_uncompressed_bytes: Some(1 << 20),
        max_line_bytes: 1 + usize::from(selector & 0x7f) * 16,
        ..Options::default()
    };
    let Ok(mut reader) = LineReader::new(object, options) else { return };
    let plain = !reader.is_gzip();
    let mut expected = plain.then(|| naive_lines(object, options.max_line_bytes).into_iter());
    let mut number = 0u64;
    loop {
        let line = match reader.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(_) => {
                assert!(!plain, "plain text never fails to read from a slice");
                return;
            }
        };
        number += 1;
        assert_eq!(line.number, number);
        assert!(!line.bytes.contains(&b'\n'));
        assert!(line.bytes.len() <= options.max_line_bytes);
        if let Some(expected) = expected.as_mut() {
            assert_eq!(Some((line.bytes, line.oversized)), expected.next());
        }
    }
    if let Some(mut expected) = expected {
        assert_eq!(expected.next(), None, "lines missing at the end");
    }

    let budget = alb_findings::LineBudget {
        max_lines: 1 + u64::from(selector & 0x0f) * 64,
        max_not_entries: u64::from(selector >> 4),
        not_entries_percent: 50,
    };
    let options = alb_findings::Options { read: options, budget, ..Default::default() };
    if let Ok(diagnosis) = alb_findings::diagnose(object, &options) {
        assert!(diagnosis.lines + diagnosis.malformed_lines <= number);
        assert!(diagnosis.warning_lines <= diagnosis.lines);
    }
});

/// Lines split at `\n`, the last one without a terminator included when not empty, each cut
/// to `limit` bytes and flagged when it was longer.
fn naive_lines(object: &[u8], limit: usize) -> Vec<(&[u8], bool)> {
    let mut lines: Vec<&[u8]> = object.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|line| if line.len() > limit { (&line[..limit], true) } else { (line, false) })
        .collect()
}
