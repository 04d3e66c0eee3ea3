//! Records -> findings: which 502s are the keep-alive race, how idle the target was when each
//! happened, what the backend's keep-alive timeout must be, and a verdict per load balancer.
//!
//! This is the third stage of the data path (object -> lines -> records -> **findings** -> plan).
//! [`diagnose`] runs the first three stages over one object in a single pass: it reads lines
//! with [`alb_lines`], parses them with [`alb_records`] and feeds a [`Diagnoser`].
//!
//! # Brief overview
//!
//! * [`classify_502`] sorts every load-balancer 502 into an [`Elb502Class`]; only
//!   [`Elb502Class::KeepaliveRace`] is cured by keep-alive settings.
//! * [`Diagnoser`] keeps counts per load balancer, target group and target, and for every race
//!   the idle gap since the previous response on the same target *in the same object* (one
//!   object is one load-balancer node's connection pool).
//! * [`GapSample::estimate`] turns the gaps into a [`KeepaliveEstimate`] of the backend timeout.
//! * [`ClassTimeline`] keeps the 502s by class in 5-minute buckets, for reports over time.
//! * [`Diagnosis`] is the result; reports of several objects [`merge`](Diagnosis::merge).
//!
//! Memory depends on the number of load balancers, target groups and targets, never on the
//! number of lines.
//!
//! # Errors
//!
//! A line that is not a valid entry is counted in [`Diagnosis::malformed_lines`] (the first few
//! with line number and reason) and skipped. Blank lines are neither entries nor malformed.
//! An object that cannot be read to its end is a [`ReadError`]: no partial diagnosis. So is an
//! object past its [`LineBudget`] (too many lines, or mostly lines that are not entries), which
//! bounds the time one object can take. An entry whose tail (field 26 on) could not be read is
//! kept and counted in [`Diagnosis::warning_lines`].
//!
//! # Example
//!
//! ```
//! use alb_findings::{diagnose, Options, Verdict};
//!
//! let log = "\
//! http 2026-11-27T09:30:00.003000Z app/web/50dc6c495c0c9188 203.0.113.9:5123 10.0.1.23:3000 0.000 0.003 0.000 304 304 723 679 \"GET http://web:80/poll HTTP/1.1\" \"curl/8.5.0\" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 \"Root=1-6746e5a5-0123456789abcdef01234567\" \"-\" \"-\" 0 2026-11-27T09:30:00.000000Z \"forward\" \"-\" \"-\"
//! http 2026-11-27T09:30:05.003000Z app/web/50dc6c495c0c9188 203.0.113.9:5124 10.0.1.23:3000 0.000 0.000 -1 502 - 723 679 \"GET http://web:80/poll HTTP/1.1\" \"curl/8.5.0\" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 \"Root=1-6746e5a5-0123456789abcdef01234568\" \"-\" \"-\" 0 2026-11-27T09:30:05.003000Z \"forward\" \"-\" \"-\"
//! ";
//! let diagnosis = diagnose(log.as_bytes(), &Options::default())?;
//! let lb = diagnosis.load_balancer("app/web/50dc6c495c0c9188").unwrap();
//! assert_eq!(lb.verdict, Verdict::KeepaliveRace);
//! assert_eq!(lb.keepalive_502, 1);
//! assert_eq!(lb.estimated_backend_keepalive_ms, Some(5000));
//! # Ok::<(), alb_findings::ReadError>(())
//! ```

#![deny(missing_docs)]

mod classify;
mod diagnoser;
mod gaps;
mod histogram;
mod pool;
mod race_times;
mod report;
mod timeline;

use std::io::Read;

pub use alb_lines::{Compression, ReadError};

pub use crate::classify::{Elb502Class, classify_502};
pub use crate::diagnoser::{DetectOptions, Diagnoser};
pub use crate::gaps::{GapSample, KeepaliveEstimate, ReuseOrder};
pub use crate::histogram::DurationHistogram;
pub use crate::race_times::RaceTimeline;
pub use crate::report::{
    ClassCounts, Diagnosis, LoadBalancerFindings, MAX_TARGET_GROUPS, MAX_TARGETS_PER_GROUP,
    MalformedLine, RaceSample, Rest, TargetFindings, TargetGroupFindings, Verdict,
};
pub use crate::timeline::ClassTimeline;

/// How to read and judge one object.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Decompression and limits.
    pub read: alb_lines::Options,
    /// Detection thresholds.
    pub detect: DetectOptions,
    /// When to give up on an object: too many lines, or mostly lines that are not entries.
    pub budget: LineBudget,
}

/// Per-object limits on lines, so that reading time is bounded like memory is: an object that
/// is mostly not access-log lines (1 GiB of `a\n` compresses to 1 MB) stops after a few
/// thousand lines with an error naming it, instead of running for tens of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineBudget {
    /// Stop with [`ReadError::TooManyLines`] after this many lines (default 100 million; an
    /// ALB node writes an object every 5 minutes, so a genuine object is far smaller).
    pub max_lines: u64,
    /// Lines that are not entries (malformed, over the line limit, or blank) tolerated before
    /// their share is checked (default 1000).
    pub max_not_entries: u64,
    /// Once past `max_not_entries`, stop with [`ReadError::NotAccessLog`] while at least this
    /// percentage of the lines read so far are not entries (default 50).
    pub not_entries_percent: u8,
}

impl Default for LineBudget {
    fn default() -> Self {
        LineBudget { max_lines: 100_000_000, max_not_entries: 1000, not_entries_percent: 50 }
    }
}

impl LineBudget {
    /// Whether `not_entries` of `lines` lines read so far say the object is not an access log.
    fn exhausted(&self, lines: u64, not_entries: u64) -> bool {
        not_entries > self.max_not_entries
            && not_entries.saturating_mul(100)
                >= u64::from(self.not_entries_percent.min(100)).saturating_mul(lines)
    }
}

const OVERSIZED: &str = "line longer than the line limit";

/// Reads one log object (plain or gzip) to the end and diagnoses it in a single pass.
///
/// # Errors
///
/// A [`ReadError`] when the object cannot be read to its end (truncated or corrupt gzip,
/// size cap, I/O) or passes its [`LineBudget`]. Malformed lines are not errors; they are
/// counted in the result.
pub fn diagnose<R: Read>(reader: R, options: &Options) -> Result<Diagnosis, ReadError> {
    diagnose_lines(alb_lines::LineReader::new(reader, options.read)?, options)
}

/// [`diagnose`] over a line reader the caller built (for example
/// [`alb_lines::LineReader::pipelined`], which decompresses on a second thread); the reader's
/// own options were given when it was built, so only `options.detect` and `options.budget`
/// apply here.
///
/// # Errors
///
/// As [`diagnose`].
pub fn diagnose_lines<R: Read>(
    mut lines: alb_lines::LineReader<R>,
    options: &Options,
) -> Result<Diagnosis, ReadError> {
    let mut diagnoser = Diagnoser::new(options.detect);
    let budget = options.budget;
    let mut parser = alb_records::LineParser::default();
    let mut not_entries = 0u64;
    let mut first_not_entry: Option<(u64, String)> = None;
    while let Some(line) = lines.next_line()? {
        if line.number > budget.max_lines {
            return Err(ReadError::TooManyLines { limit: budget.max_lines });
        }
        let is_entry = if line.oversized {
            diagnoser.observe_malformed(line.number, &OVERSIZED);
            first_not_entry.get_or_insert_with(|| (line.number, OVERSIZED.to_string()));
            false
        } else if line.bytes.trim_ascii().is_empty() {
            first_not_entry.get_or_insert_with(|| (line.number, "blank line".to_string()));
            false
        } else {
            match parser.parse(line.bytes) {
                Ok(record) => {
                    if let Some(warning) = record.warning() {
                        diagnoser.observe_warning(line.number, &warning);
                    }
                    diagnoser.observe(&record);
                    true
                }
                Err(error) => {
                    diagnoser.observe_malformed(line.number, &error);
                    first_not_entry.get_or_insert_with(|| (line.number, error.to_string()));
                    false
                }
            }
        };
        if !is_entry {
            not_entries += 1;
            if budget.exhausted(line.number, not_entries) {
                let (first_line, first_reason) = first_not_entry.unwrap_or_default();
                return Err(ReadError::NotAccessLog {
                    lines: line.number,
                    not_entries,
                    first_line,
                    first_reason,
                });
            }
        }
    }
    Ok(diagnoser.finish())
}
