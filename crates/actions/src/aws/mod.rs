//! The SDK implementations: S3 as a streaming object source, ELBv2 as [`LoadBalancers`],
//! SSM as [`Parameters`] and [`Reload`]. Clients are built once by the caller and borrowed.
//!
//! [`LoadBalancers`]: crate::ports::LoadBalancers
//! [`Parameters`]: crate::ports::Parameters
//! [`Reload`]: crate::ports::Reload

mod dynamodb;
mod elbv2;
mod eventbridge;
mod s3;
mod ssm;

pub use dynamodb::DynamoJournal;
pub use elbv2::Elbv2;
pub use eventbridge::EventBridge;
pub use s3::{S3Objects, s3_client};
pub use ssm::Ssm;
