//! The one error type of the adapters and the remediation: every variant names the bucket and
//! key, the load balancer or the parameter it is about, so a failed invocation says what to fix.

use alb_findings::ReadError;

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
            | Error::Lease { .. } => true,
            _ => false,
        }
    }
}

/// Turns an SDK error into [`Error::Aws`], keeping the whole error chain in the message.
pub(crate) fn aws<E, R>(
    operation: &'static str,
    resource: impl Into<String>,
    error: &aws_sdk_ssm::error::SdkError<E, R>,
) -> Error
where
    E: std::error::Error + aws_sdk_ssm::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_ssm::error::SdkError;
    let retryable = match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            code.contains("Throttl")
                || code == "RequestLimitExceeded"
                || code == "TooManyUpdates"
                || code == "InternalError"
                || code == "InternalFailure"
                || code == "ServiceUnavailable"
                || code == "SlowDown"
        }
        _ => false,
    };
    Error::Aws {
        operation,
        resource: resource.into(),
        message: aws_sdk_ssm::error::DisplayErrorContext(error).to_string(),
        retryable,
    }
}
