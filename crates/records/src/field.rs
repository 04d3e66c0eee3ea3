//! The documented field positions of an ALB access-log entry, and how each one is written.
//!
//! Knowing which fields are quoted lets the parser reject a line whose quoting is off, instead of
//! silently shifting every later field by one.

/// A documented field of an ALB access-log entry, in log order (reference section 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // the variant names are the AWS field names
pub enum Field {
    Type = 0,
    Time,
    Elb,
    Client,
    Target,
    RequestProcessingTime,
    TargetProcessingTime,
    ResponseProcessingTime,
    ElbStatusCode,
    TargetStatusCode,
    ReceivedBytes,
    SentBytes,
    Request,
    UserAgent,
    SslCipher,
    SslProtocol,
    TargetGroupArn,
    TraceId,
    DomainName,
    ChosenCertArn,
    MatchedRulePriority,
    RequestCreationTime,
    ActionsExecuted,
    RedirectUrl,
    ErrorReason,
    TargetPortList,
    TargetStatusCodeList,
    Classification,
    ClassificationReason,
    ConnTraceId,
    TransformedHost,
    TransformedUri,
    RequestTransformStatus,
    IpAddress,
}

/// How a field is written on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// A bare token without spaces.
    Bare,
    /// Wrapped in double quotes; may contain spaces and `\"`.
    Quoted,
    /// Either form: the list fields are seen bare in some test data.
    Either,
}

impl Field {
    /// Number of documented fields; the parser ignores anything after them.
    pub const COUNT: usize = 34;

    /// Every field in log order.
    pub const ALL: [Field; Field::COUNT] = [
        Field::Type,
        Field::Time,
        Field::Elb,
        Field::Client,
        Field::Target,
        Field::RequestProcessingTime,
        Field::TargetProcessingTime,
        Field::ResponseProcessingTime,
        Field::ElbStatusCode,
        Field::TargetStatusCode,
        Field::ReceivedBytes,
        Field::SentBytes,
        Field::Request,
        Field::UserAgent,
        Field::SslCipher,
        Field::SslProtocol,
        Field::TargetGroupArn,
        Field::TraceId,
        Field::DomainName,
        Field::ChosenCertArn,
        Field::MatchedRulePriority,
        Field::RequestCreationTime,
        Field::ActionsExecuted,
        Field::RedirectUrl,
        Field::ErrorReason,
        Field::TargetPortList,
        Field::TargetStatusCodeList,
        Field::Classification,
        Field::ClassificationReason,
        Field::ConnTraceId,
        Field::TransformedHost,
        Field::TransformedUri,
        Field::RequestTransformStatus,
        Field::IpAddress,
    ];

    /// Zero-based position on the line.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The field's name as AWS documents it (`target:port`, `error_reason`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Time => "time",
            Field::Elb => "elb",
            Field::Client => "client:port",
            Field::Target => "target:port",
            Field::RequestProcessingTime => "request_processing_time",
            Field::TargetProcessingTime => "target_processing_time",
            Field::ResponseProcessingTime => "response_processing_time",
            Field::ElbStatusCode => "elb_status_code",
            Field::TargetStatusCode => "target_status_code",
            Field::ReceivedBytes => "received_bytes",
            Field::SentBytes => "sent_bytes",
            Field::Request => "request",
            Field::UserAgent => "user_agent",
            Field::SslCipher => "ssl_cipher",
            Field::SslProtocol => "ssl_protocol",
            Field::TargetGroupArn => "target_group_arn",
            Field::TraceId => "trace_id",
            Field::DomainName => "domain_name",
            Field::ChosenCertArn => "chosen_cert_arn",
            Field::MatchedRulePriority => "matched_rule_priority",
            Field::RequestCreationTime => "request_creation_time",
            Field::ActionsExecuted => "actions_executed",
            Field::RedirectUrl => "redirect_url",
            Field::ErrorReason => "error_reason",
            Field::TargetPortList => "target:port_list",
            Field::TargetStatusCodeList => "target_status_code_list",
            Field::Classification => "classification",
            Field::ClassificationReason => "classification_reason",
            Field::ConnTraceId => "conn_trace_id",
            Field::TransformedHost => "transformed_host",
            Field::TransformedUri => "transformed_uri",
            Field::RequestTransformStatus => "request_transform_status",
            Field::IpAddress => "ip_address",
        }
    }

    pub(crate) const fn quoting(self) -> Quoting {
        match self {
            Field::Request
            | Field::UserAgent
            | Field::TraceId
            | Field::DomainName
            | Field::ChosenCertArn
            | Field::ActionsExecuted
            | Field::RedirectUrl
            | Field::ErrorReason
            | Field::Classification
            | Field::ClassificationReason
            | Field::TransformedHost
            | Field::TransformedUri
            | Field::RequestTransformStatus => Quoting::Quoted,
            Field::TargetPortList | Field::TargetStatusCodeList => Quoting::Either,
            _ => Quoting::Bare,
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_field_at_its_own_index() {
        for (i, field) in Field::ALL.iter().enumerate() {
            assert_eq!(field.index(), i, "{field}");
        }
    }
}
