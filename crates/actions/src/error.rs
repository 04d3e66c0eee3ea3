//! The one error type of the adapters and the remediation: every variant names the bucket and
//! key, the load balancer or the parameter it is about, so a failed invocation says what to fix.

use alb_findings::ReadError;

/// Every client's error type: the service's error or what happened on the way, over the one
/// HTTP response type all SDK clients share.
pub(crate) type SdkError<E> =
    aws_sdk_ssm::error::SdkError<E, aws_sdk_ssm::config::http::HttpResponse>;

/// Why reading an object or executing a plan failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `GetObject` found no such bucket or key.
    #[error("s3://{bucket}/{key}: object not found ({message})")]
    ObjectNotFound {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// What S3 said.
        message: String,
    },
    /// `GetObject` was refused. Without `s3:ListBucket` S3 answers a missing key this way too,
    /// so it is either a missing object or a missing permission.
    #[error(
        "s3://{bucket}/{key}: access denied, so the object is missing or the role may not read it \
         (without s3:ListBucket S3 answers 403 for a missing key) ({message})"
    )]
    ObjectAccessDenied {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// What S3 said.
        message: String,
    },
    /// The work on a resource was given up shortly before the invocation's deadline, so that
    /// the failure names it instead of Lambda's bare timeout.
    #[error("{resource}: stopped {margin_ms} ms before the invocation deadline ({what})")]
    Deadline {
        /// What was being worked on.
        resource: String,
        /// How long before the deadline.
        margin_ms: u64,
        /// What was going on.
        what: String,
    },
    /// The object was found but could not be read to its end (not gzip, truncated or corrupt
    /// gzip, over the size cap, or the connection broke).
    #[error("s3://{bucket}/{key}: {source}")]
    Read {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// What the line reader reported.
        source: ReadError,
    },
    /// An AWS call failed.
    #[error("{operation} on {resource} failed: {message}")]
    Aws {
        /// The API operation, e.g. `GetObject` or `PutParameter`.
        operation: &'static str,
        /// What it was called on (`s3://bucket/key`, an ARN, a parameter name).
        resource: String,
        /// The SDK's message with its error chain.
        message: String,
        /// Throttling, a timeout or a 5xx: trying again later may succeed.
        retryable: bool,
    },
    /// A value read from AWS that this code cannot work with.
    #[error("{resource}: {message}")]
    Invalid {
        /// Where the value came from.
        resource: String,
        /// What is wrong with it.
        message: String,
    },
    /// The planner refused the current settings.
    #[error("planning for {load_balancer} failed: {source}")]
    Plan {
        /// The load balancer ARN.
        load_balancer: String,
        /// The planner's reason.
        source: alb_plan::PlanError,
    },
    /// Another invocation holds the journal lease of this load balancer (or took it over):
    /// nothing was changed; a later attempt proceeds.
    #[error("{load_balancer}: {message}")]
    Lease {
        /// The load balancer ARN.
        load_balancer: String,
        /// What happened.
        message: String,
    },
    /// The blocking reader task died (a panic while decoding).
    #[error("s3://{bucket}/{key}: reader task failed: {message}")]
    Task {
        /// The bucket.
        bucket: String,
        /// The decoded key.
        key: String,
        /// The join error.
        message: String,
    },
}

impl Error {
    /// Whether a later attempt may succeed (S3 Batch Operations' `TemporaryFailure`): throttling,
    /// timeouts, 5xx and broken connections, but not a missing object or a corrupt one.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Aws { retryable, .. } => *retryable,
            Error::Read { source: ReadError::Io { .. }, .. }
            | Error::Task { .. }
            | Error::Lease { .. }
            | Error::Deadline { .. } => true,
            _ => false,
        }
    }
}

/// Turns an SDK error into [`Error::Aws`] with one sentence: the service's error code and
/// message (never the SDK's debug output), or what went wrong on the way.
pub(crate) fn aws<E>(
    operation: &'static str,
    resource: impl Into<String>,
    error: &SdkError<E>,
) -> Error
where
    E: std::error::Error + aws_sdk_ssm::error::ProvideErrorMetadata + 'static,
{
    Error::Aws {
        operation,
        resource: resource.into(),
        message: sdk_message(error),
        retryable: sdk_retryable(error),
    }
}

/// Error codes that mean "try again later" whatever the service: throttling, and the services'
/// own names for a failure on their side (SSM answers `InternalServerError`).
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyUpdates",
    "SlowDown",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether a later attempt may succeed: timeouts, broken connections, unreadable responses,
/// throttling and any 5xx answer.
pub(crate) fn sdk_retryable<E>(error: &SdkError<E>) -> bool
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            TRANSIENT_CODES.contains(&code) || sdk_status(error).is_some_and(|s| s >= 500)
        }
        _ => false,
    }
}

fn sdk_status<E>(error: &SdkError<E>) -> Option<u16> {
    match error {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    }
}

/// The sentence that says why an SDK call failed: `<code>: <message> (HTTP <status>)` from the
/// service, or a timeout / connection / response failure with the innermost cause.
pub(crate) fn sdk_message<E>(error: &SdkError<E>) -> String
where
    E: std::error::Error + aws_sdk_ssm::error::ProvideErrorMetadata + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status_code = sdk_status(error);
            // A body the SDK cannot parse still has its status (an IAM refusal in the emulator).
            let code = err.code().unwrap_or(match status_code {
                Some(403) => "AccessDenied",
                Some(404) => "NotFound",
                _ => "an error without a code",
            });
            let status = status_code.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
            match err.message().map(str::trim).filter(|m| !m.is_empty()) {
                Some(message) => format!("{code}: {}{status}", one_line(message)),
                None => format!("{code}{status}"),
            }
        }
        SdkError::TimeoutError(_) => {
            "timed out (the SDK's connect, attempt or operation timeout)".to_string()
        }
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                "timed out connecting"
            } else if failure.is_io() {
                "the connection failed"
            } else {
                "the request could not be sent"
            };
            format!("{kind}: {}", innermost(error))
        }
        SdkError::ResponseError(_) => format!("the response was unreadable: {}", innermost(error)),
        SdkError::ConstructionFailure(_) => {
            format!("the request could not be built: {}", innermost(error))
        }
        _ => one_line(&error.to_string()),
    }
}

/// The deepest cause in an error chain, on one line (the outer layers only say "dispatch
/// failure" or "io error").
pub(crate) fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    one_line(&current.to_string())
}

fn one_line(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    const MAX: usize = 300;
    if line.len() <= MAX {
        return line;
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_become_one_bounded_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let long = "é".repeat(400);
        let short = one_line(&long);
        assert!(short.len() <= 303 && short.ends_with("..."), "{}", short.len());
    }

    #[test]
    fn the_innermost_cause_is_reported() {
        let inner =
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer");
        let outer = std::io::Error::other(inner);
        assert_eq!(innermost(&outer), "connection reset by peer");
    }
}
