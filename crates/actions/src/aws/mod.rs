//! The SDK implementations: S3 as a streaming object source, ELBv2 as [`LoadBalancers`],
//! SSM as [`Parameters`] and [`Reload`]. Clients are built once by the caller and borrowed.
//!
//! [`Limits`] and [`load_config`] give every client the same connect, attempt and operation
//! timeouts and the same retry policy, well inside the functions' own timeouts, so that a
//! stalled call fails naming its operation instead of running into Lambda's timeout.
//!
//! [`LoadBalancers`]: crate::ports::LoadBalancers
//! [`Parameters`]: crate::ports::Parameters
//! [`Reload`]: crate::ports::Reload

mod dynamodb;
mod elbv2;
mod eventbridge;
pub mod init_error;
mod s3;
mod ssm;

use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{ConfigLoader, SdkConfig};

pub use dynamodb::DynamoJournal;
pub use elbv2::Elbv2;
pub use eventbridge::EventBridge;
pub use s3::{S3Objects, s3_client};
pub use ssm::Ssm;

/// How long SDK calls may take and how often they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Establishing a connection.
    pub connect: Duration,
    /// One attempt, from sending the request to the response's headers.
    pub attempt: Duration,
    /// All attempts of one call, with the backoff between them.
    pub operation: Duration,
    /// Attempts per call (the first one included).
    pub max_attempts: u32,
    /// The first retry's backoff (doubling, with jitter, up to `max_backoff`).
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest pause between two chunks of an object body before the read is given up.
    pub body_stall: Duration,
}

impl Default for Limits {
    /// For the functions: the remediator has 60 s, the detector 300 s. One stalled call ends
    /// after at most 25 s and names itself; the invocation's deadline bounds the rest.
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(10),
            operation: Duration::from_secs(25),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            body_stall: Duration::from_secs(15),
        }
    }
}

impl Limits {
    /// The SDK's timeout configuration.
    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.attempt)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// Standard retry: exponential backoff with jitter for throttling, 5xx, timeouts and broken
    /// connections. Not adaptive: its client-side rate limiter holds requests back after
    /// throttling, and that wait counts against the attempt timeout (the fault-injection test
    /// saw a call time out after three `ThrottlingException`s).
    pub fn retries(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// Applies the timeouts and the retry policy to a configuration loader.
    pub fn apply(&self, loader: ConfigLoader) -> ConfigLoader {
        loader.timeout_config(self.timeouts()).retry_config(self.retries())
    }
}

/// The functions' SDK configuration: the default credential and region chain with
/// [`Limits::default`].
pub async fn load_config() -> SdkConfig {
    Limits::default()
        .apply(aws_config::defaults(aws_config::BehaviorVersion::latest()))
        .load()
        .await
}

/// How long an invocation may still work: until `margin` before `deadline`. `None` when the
/// deadline is unknown and nothing bounds the work: zero, as in a hand-built context, or any
/// other value that is not a wall-clock time (before 2001; `cargo lambda watch` sends the
/// constant 600000, ten minutes after the epoch, where AWS sends epoch milliseconds).
pub fn time_left(deadline: SystemTime, now: SystemTime, margin: Duration) -> Option<Duration> {
    if deadline < SystemTime::UNIX_EPOCH + NOT_A_WALL_CLOCK_BEFORE {
        return None;
    }
    Some(deadline.duration_since(now).unwrap_or_default().saturating_sub(margin))
}

/// Deadlines before this (2001-09-09) are not wall-clock times.
const NOT_A_WALL_CLOCK_BEFORE: Duration = Duration::from_secs(1_000_000_000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_call_ends_well_inside_the_shorter_function_timeout() {
        let limits = Limits::default();
        assert!(limits.attempt < limits.operation);
        assert!(limits.operation < Duration::from_secs(60) / 2, "remediator timeout is 60 s");
        let timeouts = limits.timeouts();
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(25)));
        assert_eq!(limits.retries().max_attempts(), 4);
        assert_eq!(limits.retries().mode(), aws_config::retry::RetryMode::Standard);
    }

    #[test]
    fn time_left_stops_a_margin_before_the_deadline() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_235_200);
        let margin = Duration::from_secs(2);
        assert_eq!(time_left(SystemTime::UNIX_EPOCH, now, margin), None);
        let cargo_lambda_watch = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(time_left(cargo_lambda_watch, now, margin), None, "not a wall-clock time");
        assert_eq!(
            time_left(now + Duration::from_secs(10), now, margin),
            Some(Duration::from_secs(8))
        );
        assert_eq!(time_left(now + Duration::from_secs(1), now, margin), Some(Duration::ZERO));
        assert_eq!(time_left(now - Duration::from_secs(1), now, margin), Some(Duration::ZERO));
    }
}
