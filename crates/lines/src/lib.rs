//! Object -> lines: streams an ALB access-log object as lines, in constant memory.
//!
//! This is the first stage of the data path (**object -> lines** -> records -> findings -> plan).
//! [`LineReader`] takes any [`std::io::Read`] (a file, stdin, an S3 body bridged to `Read`),
//! recognises gzip by its magic bytes rather than by a file name, reads multi-member gzip to the
//! very end, and hands out one line at a time from a single reused buffer.
//!
//! # Brief overview
//!
//! * [`LineReader::new`] peeks at the first two bytes and picks plain text or gzip
//!   ([`Compression`] can insist on gzip, as the Lambda does for `.log.gz` objects).
//! * [`LineReader::next_line`] yields [`Line`]s: the bytes without the terminator and the
//!   1-based line number. Memory is bounded by [`Options::max_line_bytes`], not by the object.
//! * [`LineReader::pipelined`] decompresses on a second thread, handing over a fixed set of
//!   buffers, so a scan with a spare core runs at the speed of decompression alone.
//! * [`access_log_name`] tells ALB access-log objects from the other objects ALB writes beside
//!   them (test file, connection and health-check logs), by name.
//! * [`Options::max_uncompressed_bytes`] caps the decompressed size so a gzip bomb is an error,
//!   not an out-of-memory kill or a Lambda timeout.
//!
//! # Errors
//!
//! A truncated or corrupt gzip stream, a non-gzip object when gzip is required, the size cap and
//! I/O failures are [`ReadError`]s: the object could not be read to the end, and the caller must
//! not act on a partial picture. A line longer than [`Options::max_line_bytes`] is not an error:
//! it comes back with [`Line::oversized`] set, cut to the limit, and reading goes on.
//!
//! # Example
//!
//! ```
//! use alb_lines::{LineReader, Options};
//!
//! let text = b"first line\nsecond line\n";
//! let mut lines = LineReader::new(&text[..], Options::default())?;
//! let mut seen = vec![];
//! while let Some(line) = lines.next_line()? {
//!     seen.push((line.number, line.bytes.to_vec()));
//! }
//! assert_eq!(seen, vec![(1, b"first line".to_vec()), (2, b"second line".to_vec())]);
//! assert!(!lines.is_gzip());
//! # Ok::<(), alb_lines::ReadError>(())
//! ```

#![deny(missing_docs)]

mod object_name;
mod reader;

pub use crate::object_name::{AccessLogName, SkipReason, access_log_name};
pub use crate::reader::{Compression, Line, LineReader, Options, Pipeline, ReadError};
