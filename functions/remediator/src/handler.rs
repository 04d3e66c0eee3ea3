//! The invocation: findings, a rollback or a review request in, a report of every action out.
//! The decisions are in `alb_plan` (what to change) and `alb_actions` (guardrails, journal,
//! events, execution).

use std::time::{SystemTime, UNIX_EPOCH};

use alb_actions::aws::{DynamoJournal, Elbv2, EventBridge, Ssm};
use alb_actions::guardrails::Mode;
use alb_actions::metrics::{self, Metric, Unit};
use alb_actions::{ClosedLoop, Finding, LoadBalancerReport, ReviewReport};
use alb_plan::Strategy;
use lambda_runtime::{Diagnostic, LambdaEvent, tracing};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Config;
use crate::events::{self, EventError, Request};

/// What the handler needs, built once at cold start.
#[derive(Debug)]
pub struct Deps {
    /// Load balancers (ELBv2).
    pub balancers: Elbv2,
    /// Parameters and Run Command (SSM).
    pub ssm: Ssm,
    /// The journal and lease (DynamoDB).
    pub journal: DynamoJournal,
    /// Notifications (EventBridge).
    pub events: EventBridge,
    /// The remediator's configuration.
    pub config: Config,
}

/// One load balancer that could not be handled; the others were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The load balancer ARN (or id) of the finding.
    pub load_balancer: String,
    /// Why, in one sentence naming the resource.
    pub error: String,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
}

/// The remediator's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `dry-run` or `apply`.
    pub mode: Mode,
    /// The remedy configured.
    pub strategy: Strategy,
    /// Per load balancer handled (or the rollback), every action and its outcome.
    pub load_balancers: Vec<LoadBalancerReport>,
    /// Load balancers that failed; each succeeds or fails on its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failure>,
    /// For a review: each journalled load balancer and what the review found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewed: Vec<ReviewReport>,
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
    /// Some load balancers failed with errors a retry may cure; the others were handled (a
    /// retry finds them done).
    #[error("{} load balancer(s) failed and will be retried: {}", .0.len(), .0.iter().map(|f| format!("{}: {}", f.load_balancer, f.error)).collect::<Vec<_>>().join("; "))]
    Partial(Vec<Failure>),
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
            HandlerError::Partial(_) => "Retryable",
            HandlerError::Result(_) => "InternalError",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Handles one invocation.
///
/// # Errors
///
/// An event of the wrong shape; a rollback or review that failed; or findings about load
/// balancers of which at least one failed with a retryable error (after every load balancer was
/// tried: a retry finds the others done). Permanent failures of a load balancer (deleted, not an
/// ALB) are reported in `failed` without failing the invocation.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let request = events::parse(&event.payload)?;
    let settings = &deps.config.settings;
    let closed_loop = ClosedLoop::new(
        settings,
        &deps.balancers,
        &deps.ssm,
        &deps.ssm,
        &deps.journal,
        &deps.events,
        &event.context.request_id,
    );
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut report = Report {
        mode: settings.mode,
        strategy: settings.strategy,
        load_balancers: Vec::new(),
        failed: Vec::new(),
        reviewed: Vec::new(),
    };
    match request {
        Request::Findings(result) => {
            if result.findings.is_empty() {
                tracing::info!(objects = result.objects.len(), "no findings: nothing to do");
            }
            for group in by_load_balancer(&result.findings) {
                let lb = group[0].load_balancer_arn.clone();
                match closed_loop.remediate(&group, now).await {
                    Ok(done) => report.load_balancers.push(done),
                    Err(error) => {
                        tracing::error!(load_balancer = %lb, %error, "load balancer failed");
                        report.failed.push(Failure {
                            load_balancer: lb,
                            retryable: error.is_retryable(),
                            error: error.to_string(),
                        });
                    }
                }
            }
        }
        Request::Rollback { load_balancer } => {
            report.load_balancers.push(closed_loop.rollback(&load_balancer, now).await?);
        }
        Request::Review => {
            report.reviewed = closed_loop.review(now).await?;
        }
    }
    emit_metrics(&deps.config.metrics_namespace, &report, now);
    if report.failed.iter().any(|f| f.retryable) {
        return Err(HandlerError::Partial(report.failed));
    }
    Ok(serde_json::to_value(report)?)
}

/// The findings grouped by load balancer, in order of first appearance.
fn by_load_balancer(findings: &[Finding]) -> Vec<Vec<Finding>> {
    let mut groups: Vec<Vec<Finding>> = Vec::new();
    for finding in findings {
        match groups.iter_mut().find(|g| g[0].load_balancer_arn == finding.load_balancer_arn) {
            Some(group) => group.push(finding.clone()),
            None => groups.push(vec![finding.clone()]),
        }
    }
    groups
}

/// One EMF document per load balancer: actions applied and skipped.
fn emit_metrics(namespace: &str, report: &Report, now: u64) {
    for lb in &report.load_balancers {
        let applied = lb.actions.iter().filter(|a| a.applied).count();
        let skipped = lb.actions.len().saturating_sub(applied);
        let document = metrics::emf_document(
            namespace,
            &lb.load_balancer,
            &[
                Metric::new("ActionsApplied", Unit::Count, applied as f64),
                Metric::new("ActionsSkipped", Unit::Count, skipped as f64),
            ],
            now.saturating_mul(1000),
            &[("mode", json!(report.mode))],
        );
        metrics::print(&document);
    }
}
