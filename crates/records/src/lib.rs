//! Line -> record: a zero-copy view of one ALB access-log entry.
//!
//! This is the second stage of the data path (object -> **lines -> records** -> findings -> plan).
//! [`parse_line`] splits one line into its fields without allocating and returns a [`Record`],
//! which gives every documented field by name (`record.target()`, `record.error_reason()`, ...).
//! Fields that AWS writes as `-` (bare or quoted) and times written as `-1` come back as `None`.
//!
//! # Brief overview
//!
//! * [`parse_line`] validates the structure of a line (field separators, quoting, the numeric
//!   fields the diagnosis relies on) and records where each field starts and ends.
//! * [`Record`] borrows the line; raw accessors return `Option<&[u8]>`, typed accessors return
//!   numbers: processing times in whole milliseconds, status codes as `u16`, timestamps as
//!   [`Timestamp`] (microseconds since the Unix epoch).
//! * [`Field`] names the 34 documented positions (reference table, section 1.2).
//! * [`LineParser`] parses a log's lines in order, with the results of [`parse_line`] for each,
//!   checking what consecutive lines repeat (the minute of `time`, the load balancer) only when it
//!   changes. The diagnosis uses it.
//!
//! # Which lines are entries
//!
//! AWS adds fields at the end over the years (25 fields in 2018, 29, 30, 33, 34, and lines with
//! 36 in 2026) and asks parsers to ignore trailing fields they do not know. The original 2016
//! layout ended at `trace_id` (field 18), so a line needs at least 18 fields; fields 19-34 are
//! optional and anything after field 34 is ignored without being looked at.
//!
//! Fields are separated by one space. Free-text and list fields are wrapped in double quotes and
//! may contain spaces and `\"` escapes. A quoted field must be followed by a space or the end of
//! the line, so the known defective fixture `"-"1` is rejected rather than misread. The two list
//! fields (26, 27) are accepted quoted or bare. Fields 26 and later are the ones AWS keeps
//! appending to and re-quoting: broken quoting there keeps the entry, with the fields before it,
//! and sets [`Record::warning`] for the caller to count.
//!
//! The fields the diagnosis reads are strict: `elb` must be `app/<name>/<id>`, `target:port` an
//! IP address and port or `-` (`-1` and `foo` are malformed), status codes three digits or `-`. IPv6 `addr:port` is unbracketed: the port follows
//! the last `:` (see [`split_host_port`]).
//!
//! # Errors
//!
//! [`parse_line`] never panics, whatever the bytes. A line that is not a valid entry yields a
//! [`ParseError`] saying why; callers count it and go on with the next line.
//!
//! # Example
//!
//! ```
//! use alb_records::parse_line;
//!
//! let line = br#"http 2022-04-15T16:52:50.757968Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.001 4.205 -1 502 - 94 326 "GET http://example.com:80 HTTP/1.1" "curl/7.51.0" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354""#;
//! let record = parse_line(line)?;
//! assert_eq!(record.elb(), b"app/my-lb/50dc6c495c0c9188");
//! assert_eq!(record.target(), Some(&b"10.0.0.1:80"[..]));
//! assert_eq!(record.target_processing_time_ms(), Some(4205));
//! assert_eq!(record.response_processing_time_ms(), None); // written as -1
//! assert_eq!(record.elb_status_code(), Some(502));
//! assert_eq!(record.target_status_code(), None); // written as -
//! assert_eq!(record.error_reason(), None); // field absent in this short line
//! # Ok::<(), alb_records::ParseError>(())
//! ```

#![deny(missing_docs)]

mod field;
mod parse;
mod record;
mod structural;
mod time;

pub use crate::field::Field;
#[doc(hidden)]
pub use crate::parse::splitters_agree;
pub use crate::parse::{LENIENT_FROM, LineParser, MIN_FIELDS, ParseError, parse_line};
pub use crate::record::{Record, split_host_port};
pub use crate::time::Timestamp;
