//! The parsed entry: offsets into the borrowed line plus the few typed values every consumer
//! needs, so the line is read once and nothing is copied.

use crate::field::Field;
use crate::parse::ParseError;
use crate::time::Timestamp;

/// Where each field of a line ends and which fields are quoted: enough to cut out any field, in
/// one word per field. Fields are separated by exactly one space, so field `i` starts one byte
/// after field `i - 1` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    /// Offset of the separator (or the line's end) after each field, with [`QUOTED`] set when
    /// the field is wrapped in quotes: the splitters write both with one store per field.
    ends: [u32; Field::COUNT],
}

/// The bit of an end offset that says the field is quoted; offsets are below it because lines
/// are shorter than [`MAX_LINE_BYTES`].
pub(crate) const QUOTED: u32 = 1 << 31;

/// The longest line whose offsets fit beside the [`QUOTED`] bit.
pub(crate) const MAX_LINE_BYTES: usize = (QUOTED - 1) as usize;

impl Fields {
    pub(crate) const EMPTY: Fields = Fields { ends: [0; Field::COUNT] };

    /// Field `index` ends at `end` (of a line shorter than [`MAX_LINE_BYTES`]).
    #[inline(always)]
    pub(crate) fn close(&mut self, index: usize, end: usize, quoted: bool) {
        self.ends[index] = end as u32 | (u32::from(quoted) << 31);
    }

    /// Every end, for a splitter that writes several at once (with the [`QUOTED`] bit).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) fn ends_mut(&mut self) -> &mut [u32; Field::COUNT] {
        &mut self.ends
    }

    /// Bit `i` set when field `i` is quoted, for the first `count` fields.
    #[inline]
    pub(crate) fn quoted(&self, count: usize) -> u64 {
        self.ends
            .iter()
            .take(count)
            .enumerate()
            .fold(0, |mask, (index, &end)| mask | (u64::from(end >> 31) << index))
    }

    /// The value of field `index` (quotes excluded).
    #[inline]
    pub(crate) fn slice<'a>(&self, line: &'a [u8], index: usize) -> &'a [u8] {
        let start = match index.checked_sub(1) {
            Some(before) => self.ends.get(before).map_or(0, |&end| (end & !QUOTED) as usize + 1),
            None => 0,
        };
        let end = self.ends.get(index).copied().unwrap_or(0);
        let quote = (end >> 31) as usize;
        let end = (end & !QUOTED) as usize;
        line.get(start + quote..end.saturating_sub(quote)).unwrap_or_default()
    }

    /// The first `count` fields of both agree.
    pub(crate) fn agree(&self, other: &Fields, count: usize) -> bool {
        self.ends[..count] == other.ends[..count]
    }
}

/// One ALB access-log entry, borrowed from its line.
///
/// Raw accessors return the field's bytes exactly as written (quotes removed, escapes kept) and
/// `None` when the field is `-` or absent from a shorter, older line. Typed accessors also map
/// `-1` to `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub(crate) line: &'a [u8],
    pub(crate) fields: Fields,
    pub(crate) field_count: u8,
    pub(crate) warning: Option<ParseError>,
    pub(crate) time: Timestamp,
    pub(crate) request_creation: Option<Timestamp>,
    pub(crate) request_processing_ms: Option<u32>,
    pub(crate) target_processing_ms: Option<u32>,
    pub(crate) response_processing_ms: Option<u32>,
    pub(crate) elb_status: Option<u16>,
    pub(crate) target_status: Option<u16>,
}

macro_rules! raw_accessors {
    ($($(#[$doc:meta])* $name:ident => $field:ident;)*) => {
        $(
            $(#[$doc])*
            #[inline]
            pub fn $name(&self) -> Option<&'a [u8]> {
                self.get(Field::$field)
            }
        )*
    };
}

impl<'a> Record<'a> {
    /// The whole line, for evidence in reports.
    pub fn line(&self) -> &'a [u8] {
        self.line
    }

    /// How many documented fields the line has (18 to 34), or were read before a
    /// [`warning`](Record::warning).
    pub fn field_count(&self) -> usize {
        usize::from(self.field_count)
    }

    /// Why the line's tail (field 26 or later) could not be read, when it could not: AWS keeps
    /// appending to and re-quoting those fields, so the entry is kept with the fields before the
    /// surprise ([`Record::field_count`]) and callers count the warning.
    pub fn warning(&self) -> Option<ParseError> {
        self.warning
    }

    /// The field's value, or `None` when it is `-` (bare or quoted) or the line is too short to
    /// have it.
    #[inline]
    pub fn get(&self, field: Field) -> Option<&'a [u8]> {
        self.get_raw(field).filter(|value| *value != b"-")
    }

    /// The field's value as written, `-` included; `None` only when the line is too short.
    #[inline]
    pub fn get_raw(&self, field: Field) -> Option<&'a [u8]> {
        let index = field.index();
        (index < usize::from(self.field_count)).then(|| self.fields.slice(self.line, index))
    }

    /// `type`: `http`, `https`, `h2`, `grpcs`, `ws` or `wss` (other values are passed through).
    pub fn kind(&self) -> &'a [u8] {
        self.get_raw(Field::Type).unwrap_or_default()
    }

    /// `time`: when the load balancer generated the response (for WebSockets: closed the
    /// connection).
    pub fn time(&self) -> Timestamp {
        self.time
    }

    /// `elb`: the load balancer's resource id, `app/<name>/<id>`.
    pub fn elb(&self) -> &'a [u8] {
        self.get_raw(Field::Elb).unwrap_or_default()
    }

    /// `request_processing_time` in milliseconds; `None` when written `-1`.
    pub fn request_processing_time_ms(&self) -> Option<u32> {
        self.request_processing_ms
    }

    /// `target_processing_time` in milliseconds; `None` when written `-1`.
    pub fn target_processing_time_ms(&self) -> Option<u32> {
        self.target_processing_ms
    }

    /// `response_processing_time` in milliseconds; `None` when written `-1`.
    pub fn response_processing_time_ms(&self) -> Option<u32> {
        self.response_processing_ms
    }

    /// `elb_status_code`: the status the load balancer sent to the client.
    pub fn elb_status_code(&self) -> Option<u16> {
        self.elb_status
    }

    /// `target_status_code`: `None` unless the target sent a response.
    pub fn target_status_code(&self) -> Option<u16> {
        self.target_status
    }

    /// `received_bytes`.
    pub fn received_bytes(&self) -> Option<u64> {
        self.get(Field::ReceivedBytes).and_then(parse_u64)
    }

    /// `sent_bytes`.
    pub fn sent_bytes(&self) -> Option<u64> {
        self.get(Field::SentBytes).and_then(parse_u64)
    }

    /// `matched_rule_priority`: 0 for the default rule; `None` for `-` and for `-1` (an error
    /// during rule evaluation).
    pub fn matched_rule_priority(&self) -> Option<u32> {
        self.get(Field::MatchedRulePriority).and_then(parse_u64).and_then(|v| u32::try_from(v).ok())
    }

    /// `request_creation_time`: when the load balancer received the request.
    pub fn request_creation_time(&self) -> Option<Timestamp> {
        self.request_creation
    }

    raw_accessors! {
        /// `client:port` (IPv6 unbracketed; see [`split_host_port`]).
        client => Client;
        /// `target:port`; `None` for Lambda targets, WAF blocks, redirects and fixed responses.
        target => Target;
        /// `request`: `METHOD scheme://host:port/uri HTTP/version`, may contain spaces.
        request => Request;
        /// `user_agent`, truncated by AWS at 8 KB.
        user_agent => UserAgent;
        /// `ssl_cipher`.
        ssl_cipher => SslCipher;
        /// `ssl_protocol`.
        ssl_protocol => SslProtocol;
        /// `target_group_arn`.
        target_group_arn => TargetGroupArn;
        /// `trace_id`: the `X-Amzn-Trace-Id` header.
        trace_id => TraceId;
        /// `domain_name`: the SNI name.
        domain_name => DomainName;
        /// `chosen_cert_arn`, or `session-reused`.
        chosen_cert_arn => ChosenCertArn;
        /// `actions_executed`: comma-separated, e.g. `waf,forward`.
        actions_executed => ActionsExecuted;
        /// `redirect_url`.
        redirect_url => RedirectUrl;
        /// `error_reason`: set only for Lambda, authentication, weighted target group and WAF
        /// errors.
        error_reason => ErrorReason;
        /// `target:port_list`: space-separated.
        target_port_list => TargetPortList;
        /// `target_status_code_list`: space-separated.
        target_status_code_list => TargetStatusCodeList;
        /// `classification`: `Acceptable`, `Ambiguous` or `Severe`.
        classification => Classification;
        /// `classification_reason`.
        classification_reason => ClassificationReason;
        /// `conn_trace_id`: `TID_` and 32 hex digits.
        conn_trace_id => ConnTraceId;
        /// `transformed_host`.
        transformed_host => TransformedHost;
        /// `transformed_uri`.
        transformed_uri => TransformedUri;
        /// `request_transform_status`.
        request_transform_status => RequestTransformStatus;
        /// `ip_address`: the load balancer node that handled the request.
        ip_address => IpAddress;
    }
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &byte| {
        byte.is_ascii_digit().then(|| acc * 10 + u64::from(byte - b'0'))
    })
}

/// Splits `addr:port` at the last colon, which is how ALB writes IPv6 (without brackets); a
/// bracketed `[addr]:port` is accepted too.
///
/// ```
/// use alb_records::split_host_port;
/// assert_eq!(split_host_port(b"10.0.0.1:80"), Some((&b"10.0.0.1"[..], 80)));
/// assert_eq!(split_host_port(b"2a02:a33c::f215:50718"), Some((&b"2a02:a33c::f215"[..], 50718)));
/// assert_eq!(split_host_port(b"[fd00::1]:443"), Some((&b"fd00::1"[..], 443)));
/// assert_eq!(split_host_port(b"10.0.0.1:000080"), Some((&b"10.0.0.1"[..], 80)));
/// assert_eq!(split_host_port(b"10.0.0.1:70000"), None);
/// ```
pub fn split_host_port(text: &[u8]) -> Option<(&[u8], u16)> {
    // A port has five digits at most, so the colon is nearly always among the last six bytes:
    // looked for there first, which is cheaper than a memrchr call on every line.
    let tail = text.len().saturating_sub(6);
    let colon = match text[tail..].iter().rposition(|&byte| byte == b':') {
        Some(offset) => tail + offset,
        None => memchr::memrchr(b':', &text[..tail])?,
    };
    let port = u16::try_from(parse_u64(&text[colon + 1..])?).ok()?;
    let host = &text[..colon];
    let host = match host {
        [b'[', inner @ .., b']'] => inner,
        _ => host,
    };
    (!host.is_empty()).then_some((host, port))
}
