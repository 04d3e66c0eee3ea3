//! The invocation: findings or a rollback request in, a report of every action out. The
//! decisions are in `alb_plan` (what to change) and `alb_actions` (guardrails, execution).

use std::time::{SystemTime, UNIX_EPOCH};

use alb_actions::aws::{Elbv2, Ssm};
use alb_actions::guardrails::Mode;
use alb_actions::{LoadBalancerReport, Remediation};
use alb_plan::Strategy;
use lambda_runtime::{Diagnostic, LambdaEvent, tracing};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Config;
use crate::events::{self, EventError, Request};

/// What the handler needs, built once at cold start.
#[derive(Debug)]
pub struct Deps {
    /// Load balancers (ELBv2).
    pub balancers: Elbv2,
    /// Parameters and Run Command (SSM).
    pub ssm: Ssm,
    /// The remediator's configuration.
    pub config: Config,
}

/// The remediator's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `dry-run` or `apply`.
    pub mode: Mode,
    /// The remedy configured.
    pub strategy: Strategy,
    /// Per finding (or the rollback), every action and its outcome.
    pub load_balancers: Vec<LoadBalancerReport>,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The event has the wrong shape (retrying will not help).
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    /// Reading or changing AWS resources failed; the message names the resource.
    #[error(transparent)]
    Remediation(#[from] alb_actions::Error),
    /// The report could not be turned into JSON.
    #[error("cannot serialize the report: {0}")]
    Result(#[from] serde_json::Error),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Event(_) => "InvalidEvent",
            HandlerError::Remediation(e) if e.is_retryable() => "Retryable",
            HandlerError::Remediation(_) => "RemediationFailed",
            HandlerError::Result(_) => "InternalError",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Handles one invocation.
///
/// # Errors
///
/// An event of the wrong shape, or an AWS call that failed (the changes before it stand; a
/// retry continues where it stopped, because every change compares before it writes).
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let request = events::parse(&event.payload)?;
    let settings = &deps.config.settings;
    let remediation = Remediation::new(settings, &deps.balancers, &deps.ssm, &deps.ssm);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut report =
        Report { mode: settings.mode, strategy: settings.strategy, load_balancers: Vec::new() };
    match request {
        Request::Findings(result) => {
            if result.findings.is_empty() {
                tracing::info!(objects = result.objects.len(), "no findings: nothing to do");
            }
            for finding in &alb_actions::combine_by_load_balancer(&result.findings) {
                report.load_balancers.push(remediation.remediate(finding, now).await?);
            }
        }
        Request::Rollback { load_balancer } => {
            report.load_balancers.push(remediation.rollback(&load_balancer, now).await?);
        }
    }
    Ok(serde_json::to_value(report)?)
}
