//! Splitting one line into fields.
//!
//! The tokenizer visits only the bytes that can change its state (space, double quote,
//! backslash), found 64 bytes at a time by [`structural`], so its cost grows with the number of
//! fields rather than the length of the user agent. Nothing is allocated; the fields are kept as
//! offsets into the line.

use crate::field::{Field, Quoting};
use crate::record::{Fields, MAX_LINE_BYTES, Record};
use crate::structural;
use crate::time::MinuteCache;

/// The fewest fields a line may have: the 2016 launch layout, which ended at `trace_id`.
pub const MIN_FIELDS: usize = Field::TraceId.index() + 1;

/// The first field (26, `target:port_list`) of the tail AWS keeps appending to and re-quoting.
/// A quoting surprise from here on does not drop the entry: the fields before it are kept and
/// the record carries a [`Record::warning`].
pub const LENIENT_FROM: Field = Field::TargetPortList;

/// Why a line is not a valid ALB access-log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line ends before the fields every entry has.
    #[error("only {found} fields; an entry has at least {MIN_FIELDS}")]
    TooFewFields {
        /// How many fields the line has.
        found: usize,
    },
    /// A quoted field is never closed.
    #[error("field {field}: opening quote is never closed")]
    UnterminatedQuote {
        /// The field being read.
        field: Field,
    },
    /// A closing quote is followed by something other than a space or the end of the line.
    #[error("field {field}: closing quote is not followed by a space")]
    MissingSeparator {
        /// The field that was closed.
        field: Field,
    },
    /// A double quote inside a bare field.
    #[error("field {field}: stray double quote")]
    StrayQuote {
        /// The field being read.
        field: Field,
    },
    /// Two spaces in a row, or a space at the end of the line.
    #[error("field {field}: empty")]
    EmptyField {
        /// The empty field.
        field: Field,
    },
    /// A field AWS always quotes is bare, or the other way round: the fields are misaligned.
    #[error("field {field}: {}", if *.expected_quoted { "expected a quoted value" } else { "expected a bare value" })]
    WrongQuoting {
        /// The field.
        field: Field,
        /// Whether the field should have been quoted.
        expected_quoted: bool,
    },
    /// A field the diagnosis relies on does not hold a value of its type.
    #[error("field {field}: not a valid value")]
    InvalidValue {
        /// The field.
        field: Field,
    },
    /// The line is 2 GiB or longer; offsets are kept in 31 bits.
    #[error("line of 2 GiB or more")]
    LineTooLong,
}

/// Parses one access-log line (without its line terminator; a trailing `\r` is ignored).
///
/// The fields the diagnosis reads must hold values of their type: `elb` is `app/<name>/<id>`,
/// `target:port` is an IP address and port or `-`, the times are seconds or `-1`, the status
/// codes three digits or `-`. Broken quoting from field 26 on (see [`LENIENT_FROM`]) is a
/// [`Record::warning`], not an error.
///
/// # Errors
///
/// Returns a [`ParseError`] when the line is not a valid entry: too few fields, broken quoting
/// in fields 1-25, misaligned fields, or an unreadable time, load balancer, target, processing
/// time or status code. Never panics.
pub fn parse_line(line: &[u8]) -> Result<Record<'_>, ParseError> {
    LineParser::default().parse(line)
}

/// Parses the lines of a log one after another, with the results of [`parse_line`] for each.
///
/// Consecutive lines of a log repeat the minute of their `time` (and of `request_creation_time`)
/// and, nearly always, their load balancer. The parser remembers the last of each it found valid, so the date arithmetic and
/// the load balancer check run when they change instead of on every line.
///
/// ```
/// use alb_records::{LineParser, parse_line};
///
/// let line = br#"http 2022-04-15T16:52:50.757968Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.001 4.205 -1 502 - 94 326 "GET http://example.com:80 HTTP/1.1" "curl/7.51.0" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354""#;
/// let mut parser = LineParser::default();
/// for _ in 0..2 {
///     assert_eq!(parser.parse(line)?.time(), parse_line(line)?.time());
/// }
/// # Ok::<(), alb_records::ParseError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct LineParser {
    minute: MinuteCache,
    load_balancer: KnownLoadBalancer,
}

impl LineParser {
    /// Parses one line like [`parse_line`].
    ///
    /// # Errors
    ///
    /// As [`parse_line`].
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Result<Record<'a>, ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE_BYTES {
            return Err(ParseError::LineTooLong);
        }
        let mut fields = Fields::EMPTY;
        let Split { count, warning } = match fast::split_fields(line, &mut fields) {
            Some(split) => split,
            None => split_fields(line, &mut fields)?,
        };
        if count < MIN_FIELDS {
            return Err(ParseError::TooFewFields { found: count });
        }
        let raw = |field: Field| fields.slice(line, field.index());

        let time = self
            .minute
            .parse(raw(Field::Time))
            .ok_or(ParseError::InvalidValue { field: Field::Time })?;
        if !self.load_balancer.check(raw(Field::Elb)) {
            return Err(ParseError::InvalidValue { field: Field::Elb });
        }
        if !is_target(raw(Field::Target)) {
            return Err(ParseError::InvalidValue { field: Field::Target });
        }
        let request_creation = match (count > Field::RequestCreationTime.index())
            .then(|| raw(Field::RequestCreationTime))
        {
            // Nearly always in the minute of `time`, which the cache now holds.
            Some(text) if text != b"-" => self.minute.parse(text),
            _ => None,
        };
        Ok(Record {
            line,
            fields,
            field_count: count as u8,
            warning,
            time,
            request_creation,
            request_processing_ms: processing_time(raw(Field::RequestProcessingTime))
                .ok_or(ParseError::InvalidValue { field: Field::RequestProcessingTime })?,
            target_processing_ms: processing_time(raw(Field::TargetProcessingTime))
                .ok_or(ParseError::InvalidValue { field: Field::TargetProcessingTime })?,
            response_processing_ms: processing_time(raw(Field::ResponseProcessingTime))
                .ok_or(ParseError::InvalidValue { field: Field::ResponseProcessingTime })?,
            elb_status: status_code(raw(Field::ElbStatusCode))
                .ok_or(ParseError::InvalidValue { field: Field::ElbStatusCode })?,
            target_status: status_code(raw(Field::TargetStatusCode))
                .ok_or(ParseError::InvalidValue { field: Field::TargetStatusCode })?,
        })
    }
}

/// The last `elb` found valid, kept inline: ids are at most 53 bytes (`app/`, a name of up to 32
/// characters, `/`, a 16-digit id); a longer one is checked every time.
#[derive(Clone, Debug)]
struct KnownLoadBalancer {
    id: [u8; 64],
    /// 0 while none is known (an empty `elb` is never valid).
    len: usize,
}

impl Default for KnownLoadBalancer {
    fn default() -> Self {
        KnownLoadBalancer { id: [0; 64], len: 0 }
    }
}

impl KnownLoadBalancer {
    /// [`is_load_balancer`], remembering the last id that passed.
    #[inline]
    fn check(&mut self, text: &[u8]) -> bool {
        if self.len != 0 && text == &self.id[..self.len] {
            return true;
        }
        if !is_load_balancer(text) {
            return false;
        }
        if let Some(slot) = self.id.get_mut(..text.len()) {
            slot.copy_from_slice(text);
            self.len = text.len();
        }
        true
    }
}

/// Whether the block splitter ([`fast`]) and the exact one agree on `line`: each variant of the
/// block splitter this CPU can run declines, or gives the same fields. For the tests and the
/// fuzz target.
#[doc(hidden)]
pub fn splitters_agree(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE_BYTES {
        return true;
    }
    let mut exact_fields = Fields::EMPTY;
    let exact = split_fields(line, &mut exact_fields);
    fast::variants().into_iter().all(|split| {
        let mut fast_fields = Fields::EMPTY;
        let Some(fast) = split(line, &mut fast_fields) else { return true };
        match &exact {
            Ok(exact) => {
                exact.count == fast.count
                    && exact.warning == fast.warning
                    && exact_fields.agree(&fast_fields, exact.count)
            }
            Err(_) => false,
        }
    })
}

/// How many documented fields a line has, and why the tail was cut short if it was.
#[derive(Debug)]
struct Split {
    count: usize,
    warning: Option<ParseError>,
}

/// A structural error in field `count` (0-based): fatal before [`LENIENT_FROM`], afterwards the
/// line keeps the `count` fields before it.
#[inline]
fn structural_error(count: usize, error: ParseError) -> Result<Split, ParseError> {
    if count >= LENIENT_FROM.index() {
        Ok(Split { count, warning: Some(error) })
    } else {
        Err(error)
    }
}

/// Fills `fields` with the documented fields of `line` and returns how many there are.
///
/// Walks the structural bytes block by block: outside quotes only spaces and quotes matter,
/// inside quotes only quotes and backslashes, so the spaces of a user agent cost nothing.
fn split_fields(line: &[u8], fields: &mut Fields) -> Result<Split, ParseError> {
    let mut count = 0usize;
    let mut start = 0usize;
    let mut in_quote = line.first() == Some(&b'"');
    let mut closing_quote: Option<usize> = None;
    // The next position that may hold a structural byte: skips opening quotes and escaped bytes.
    let mut resume = usize::from(in_quote);
    let mut base = 0usize;

    while base < line.len() {
        let masks = structural::classify(line, base);
        loop {
            let from = resume.saturating_sub(base);
            if from >= structural::BLOCK {
                break;
            }
            let candidates =
                if in_quote { masks.quote | masks.backslash } else { masks.space | masks.quote };
            let candidates = candidates & (!0u64 << from);
            if candidates == 0 {
                break;
            }
            // Padding beyond the line is zeros, which match nothing, so `pos` is in the line.
            let pos = base + candidates.trailing_zeros() as usize;
            resume = pos + 1;
            let field = Field::ALL[count];
            if in_quote {
                if line[pos] == b'\\' {
                    resume = pos + 2;
                } else {
                    in_quote = false;
                    closing_quote = Some(pos);
                    if line.get(pos + 1).is_some_and(|&next| next != b' ') {
                        return structural_error(count, ParseError::MissingSeparator { field });
                    }
                }
                continue;
            }
            if line[pos] != b' ' {
                return structural_error(count, ParseError::StrayQuote { field });
            }
            match close_field(field, start, pos, closing_quote) {
                Ok(quoted) => fields.close(count, pos, quoted),
                Err(error) => return structural_error(count, error),
            }
            count += 1;
            if count == Field::COUNT {
                return Ok(Split { count, warning: None });
            }
            start = pos + 1;
            closing_quote = None;
            if line.get(start) == Some(&b'"') {
                in_quote = true;
                resume = start + 1;
            }
        }
        base += structural::BLOCK;
    }
    let field = Field::ALL[count];
    if in_quote {
        return structural_error(count, ParseError::UnterminatedQuote { field });
    }
    match close_field(field, start, line.len(), closing_quote) {
        Ok(quoted) => fields.close(count, line.len(), quoted),
        Err(error) => return structural_error(count, error),
    }
    Ok(Split { count: count + 1, warning: None })
}

/// `app/<name>/<id>`: the only `elb` an Application Load Balancer writes. Names are letters,
/// digits and hyphens; ids are letters and digits (hex in AWS, placeholders in public samples).
#[inline]
fn is_load_balancer(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"app/") else { return false };
    let Some(slash) = memchr::memchr(b'/', rest) else { return false };
    let (name, id) = (&rest[..slash], &rest[slash + 1..]);
    !name.is_empty() && !id.is_empty() && all_in(name, NAME) && all_in(id, ALNUM)
}

/// `-` or `addr:port` with an IPv4 or IPv6 address (unbracketed or bracketed) and a port.
#[inline]
fn is_target(text: &[u8]) -> bool {
    if text == b"-" {
        return true;
    }
    let Some((host, _port)) = crate::split_host_port(text) else { return false };
    all_in(host, ADDRESS)
}

/// Character classes of the checked fields, one bit each. These checks run on every line; a
/// table lookup per byte with no early exit takes a third of the instructions of range tests.
const ALNUM: u8 = 1;
const NAME: u8 = 2;
const ADDRESS: u8 = 4;
static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() {
            table[byte] |= ALNUM | NAME;
        }
        if b == b'-' {
            table[byte] |= NAME;
        }
        if b.is_ascii_hexdigit() || b == b'.' || b == b':' {
            table[byte] |= ADDRESS;
        }
        byte += 1;
    }
    table
};

/// Whether every byte of `text` is in `class`.
#[inline]
fn all_in(text: &[u8], class: u8) -> bool {
    text.iter().fold(class, |all, &byte| all & CLASSES[usize::from(byte)]) == class
}

/// Checks the field that runs from `start` to the separator at `end` and says whether it is
/// quoted (its closing quote, if any, is just before `end`).
#[inline]
fn close_field(
    field: Field,
    start: usize,
    end: usize,
    closing_quote: Option<usize>,
) -> Result<bool, ParseError> {
    let quoted = closing_quote.is_some();
    match (field.quoting(), quoted) {
        (Quoting::Quoted, false) | (Quoting::Bare, true) => {
            return Err(ParseError::WrongQuoting { field, expected_quoted: !quoted });
        }
        _ => {}
    }
    match closing_quote {
        Some(quote) => {
            debug_assert_eq!(quote + 1, end, "a closing quote is followed by the separator");
            Ok(true)
        }
        None if end == start => Err(ParseError::EmptyField { field }),
        None => Ok(false),
    }
}

/// Seconds with up to millisecond precision, as whole milliseconds; `-1` (and `-`) is `None`.
/// The outer `None` means the text is not a processing time.
#[inline]
fn processing_time(text: &[u8]) -> Option<Option<u32>> {
    // What most lines hold: under ten seconds, to the millisecond.
    if let &[whole, b'.', f0, f1, f2] = text {
        let digits = [whole, f0, f1, f2].map(|b| b.wrapping_sub(b'0'));
        if digits.iter().any(|&digit| digit > 9) {
            return None;
        }
        let [whole, f0, f1, f2] = digits.map(u32::from);
        return Some(Some(whole * 1000 + f0 * 100 + f1 * 10 + f2));
    }
    if text == b"-1" || text == b"-" {
        return Some(None);
    }
    let (whole, fraction) = match memchr::memchr(b'.', text) {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    if whole.is_empty() || whole.len() > 6 {
        return None;
    }
    let mut millis = 0u32;
    for &byte in whole {
        if !byte.is_ascii_digit() {
            return None;
        }
        millis = millis * 10 + u32::from(byte - b'0');
    }
    millis *= 1000;
    let mut scale = 100;
    for &byte in fraction {
        if !byte.is_ascii_digit() {
            return None;
        }
        millis += u32::from(byte - b'0') * scale;
        scale /= 10;
    }
    Some(Some(millis))
}

/// A three-digit HTTP status code; `-` is `None`. The outer `None` means not a status code.
#[inline]
fn status_code(text: &[u8]) -> Option<Option<u16>> {
    match text {
        b"-" => Some(None),
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')))
        }
        _ => None,
    }
}

mod fast;
#[cfg(test)]
mod tests;
