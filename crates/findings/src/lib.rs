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
//! An object that cannot be read to its end is a [`ReadError`]: no partial diagnosis.
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
mod race_times;
mod report;
mod timeline;

use std::io::Read;

pub use alb_lines::{Compression, ReadError};

pub use crate::classify::{Elb502Class, classify_502};
pub use crate::diagnoser::{DetectOptions, Diagnoser};
pub use crate::gaps::{GapSample, KeepaliveEstimate};
pub use crate::race_times::RaceTimeline;
pub use crate::report::{
    ClassCounts, Diagnosis, LoadBalancerFindings, MalformedLine, RaceSample, TargetFindings,
    TargetGroupFindings, Verdict,
};
pub use crate::timeline::ClassTimeline;

/// How to read and judge one object.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Decompression and limits.
    pub read: alb_lines::Options,
    /// Detection thresholds.
    pub detect: DetectOptions,
}

/// Reads one log object (plain or gzip) to the end and diagnoses it in a single pass.
///
/// # Errors
///
/// A [`ReadError`] when the object cannot be read to its end (truncated or corrupt gzip,
/// size cap, I/O). Malformed lines are not errors; they are counted in the result.
pub fn diagnose<R: Read>(reader: R, options: &Options) -> Result<Diagnosis, ReadError> {
    diagnose_lines(alb_lines::LineReader::new(reader, options.read)?, &options.detect)
}

/// [`diagnose`] over a line reader the caller built (for example
/// [`alb_lines::LineReader::pipelined`], which decompresses on a second thread).
///
/// # Errors
///
/// As [`diagnose`].
pub fn diagnose_lines<R: Read>(
    mut lines: alb_lines::LineReader<R>,
    options: &DetectOptions,
) -> Result<Diagnosis, ReadError> {
    let mut diagnoser = Diagnoser::new(*options);
    while let Some(line) = lines.next_line()? {
        if line.oversized {
            diagnoser.observe_malformed(line.number, &"line longer than the line limit");
            continue;
        }
        if line.bytes.trim_ascii().is_empty() {
            continue;
        }
        match alb_records::parse_line(line.bytes) {
            Ok(record) => diagnoser.observe(&record),
            Err(error) => diagnoser.observe_malformed(line.number, &error),
        }
    }
    Ok(diagnoser.finish())
}
