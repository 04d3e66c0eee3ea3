//! Plan -> actions: the AWS adapters and the execution of a plan behind guardrails.
//!
//! This is the last stage of the data path (object -> lines -> records -> findings -> plan ->
//! **actions**). Reading is [`aws::S3Objects::diagnose`], which streams an S3 object through
//! [`alb_findings::diagnose`]; writing is [`Remediation`], which turns a [`Finding`] into a
//! [`alb_plan::Plan`] and executes it unless a guardrail closes the gate.
//!
//! # Brief overview
//!
//! * [`Finding`], [`DetectorResult`], [`ObjectReport`]: what the detector returns and the
//!   remediator accepts (the JSON contract between the two functions).
//! * [`ports`]: the three small traits the remediation needs ([`LoadBalancers`],
//!   [`Parameters`], [`Reload`]); [`aws`] implements them with the SDK.
//! * [`guardrails`]: allowlist, cooldown, dry-run and drift warnings, as pure decisions.
//! * [`Remediation::remediate`] and [`Remediation::rollback`] read, plan, gate, execute and
//!   return a [`LoadBalancerReport`] listing every action with `before`, `after` and `applied`
//!   or `skipped`. Dry-run is "do not execute", not a branch in every call.
//! * [`arn`]: from a log's `app/<name>/<id>` to ARNs and back.
//!
//! # Errors
//!
//! One [`Error`] type; every variant names the bucket and key, ARN or parameter involved.
//! [`Error::is_retryable`] separates throttling and timeouts from permanent failures.
//!
//! # Example
//!
//! ```
//! use alb_actions::guardrails::{gate, skip, Allowlist, Gate, Mode};
//!
//! let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188";
//! let allowlist = Allowlist::parse("shop-web").map_err(std::io::Error::other)?;
//! assert!(allowlist.allows(arn));
//! // Changed 10 minutes ago, cooldown one hour: nothing is executed.
//! assert_eq!(gate(Mode::Apply, true, Some(1_000), 1_600, Some(3_600)), Gate::Closed(skip::COOLDOWN));
//! assert_eq!(alb_actions::arn::load_balancer_arn("cn-north-1", "123456789012", "app/a/1"),
//!     "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/a/1");
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs)]

pub mod arn;
pub mod aws;
mod closed_loop;
mod error;
mod finding;
pub mod guardrails;
pub mod journal;
pub mod metrics;
pub mod notify;
pub mod ports;
mod remediate;

pub use crate::closed_loop::{ClosedLoop, LEASE_SECONDS, LoopSettings, ReviewReport, object_id};
pub use crate::error::Error;
pub use crate::finding::{
    DetectorResult, Finding, ObjectOutcome, ObjectReport, Sample, Source, TargetFinding,
    TargetGroupFinding, combine_by_load_balancer,
};
pub use crate::ports::{Events, Journal, LoadBalancers, ParameterVersion, Parameters, Reload};
pub use crate::remediate::{
    ActionKind, ActionReport, LoadBalancerReport, ROLLBACK_DESCRIPTION, Remediation,
    SET_DESCRIPTION, Settings, parameter_name,
};
