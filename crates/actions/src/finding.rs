//! The detector's result and the remediator's input: one [`Finding`] per load balancer whose
//! verdict is the keep-alive race, and one [`ObjectReport`] per object looked at. These types
//! are the contract between the two functions (they travel as JSON through the detector's
//! on-success destination), so they both serialize and deserialize.

use std::collections::BTreeMap;

use alb_findings::LoadBalancerFindings;
use serde::{Deserialize, Serialize};

/// What the detector returns for one invocation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorResult {
    /// Load balancers with the keep-alive race, one entry per load balancer and object.
    pub findings: Vec<Finding>,
    /// Every object of the event, diagnosed or skipped.
    #[serde(default)]
    pub objects: Vec<ObjectReport>,
}

/// The object a finding came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The bucket.
    pub bucket: String,
    /// The decoded key.
    pub key: String,
}

/// A load balancer whose log shows the keep-alive race, with the evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `app/<name>/<id>` as logged.
    pub load_balancer: String,
    /// The load balancer's ARN (partition, region and account from the object key).
    pub load_balancer_arn: String,
    /// Always `keepalive-race` (other verdicts are not findings).
    #[serde(default = "keepalive_race")]
    pub verdict: String,
    /// Valid entries for this load balancer in the object.
    #[serde(default)]
    pub requests: u64,
    /// Load-balancer 502s of every class.
    #[serde(default)]
    pub elb_502: u64,
    /// Strong keep-alive race 502s.
    pub keepalive_502: u64,
    /// Load-balancer 502s by class (`keepalive_race`, `connection_failure`, ...).
    #[serde(default)]
    pub elb_502_by_class: BTreeMap<String, u64>,
    /// Per target group, most races first.
    #[serde(default)]
    pub target_groups: Vec<TargetGroupFinding>,
    /// The backend keep-alive inferred from the idle gaps before the races.
    #[serde(default)]
    pub estimated_backend_keepalive_ms: Option<u32>,
    /// Share of the gaps that agree with the estimate (0-1), when there is an estimate.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// A few race lines as evidence.
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// The object the evidence comes from.
    pub source: Source,
}

fn keepalive_race() -> String {
    "keepalive-race".to_string()
}

/// One target group of a [`Finding`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroupFinding {
    /// The target group ARN as logged.
    pub target_group_arn: String,
    /// Entries routed to it.
    #[serde(default)]
    pub requests: u64,
    /// Strong keep-alive race 502s on its targets.
    pub keepalive_502: u64,
    /// Per target (`ip:port`), most races first.
    #[serde(default)]
    pub targets: Vec<TargetFinding>,
}

/// One target of a [`TargetGroupFinding`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFinding {
    /// `ip:port`.
    pub target: String,
    /// Entries routed to it.
    #[serde(default)]
    pub requests: u64,
    /// Strong keep-alive race 502s.
    #[serde(default)]
    pub keepalive_502: u64,
}

/// A race line kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The target that closed the connection.
    pub target: String,
    /// Idle time on that target before the request, when known.
    #[serde(default)]
    pub gap_ms: Option<u32>,
    /// The log line.
    pub line: String,
}

impl Finding {
    /// The finding for one load balancer of a diagnosis.
    pub fn new(lb: &LoadBalancerFindings, load_balancer_arn: String, source: Source) -> Self {
        let by_class = serde_json::to_value(lb.elb_502_by_class)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Finding {
            load_balancer: lb.load_balancer.clone(),
            load_balancer_arn,
            verdict: lb.verdict.as_str().to_string(),
            requests: lb.requests,
            elb_502: lb.elb_502,
            keepalive_502: lb.keepalive_502,
            elb_502_by_class: by_class,
            target_groups: lb
                .target_groups
                .iter()
                .map(|group| TargetGroupFinding {
                    target_group_arn: group.target_group_arn.clone(),
                    requests: group.requests,
                    keepalive_502: group.keepalive_502,
                    targets: group
                        .targets
                        .iter()
                        .map(|t| TargetFinding {
                            target: t.target.clone(),
                            requests: t.requests,
                            keepalive_502: t.keepalive_502,
                        })
                        .collect(),
                })
                .collect(),
            estimated_backend_keepalive_ms: lb.estimated_backend_keepalive_ms,
            confidence: lb.estimate.map(|e| e.confidence),
            samples: lb
                .samples
                .iter()
                .map(|s| Sample {
                    target: s.target.clone(),
                    gap_ms: s.gap_ms,
                    line: s.line.clone(),
                })
                .collect(),
            source,
        }
    }

    /// What the planner needs from the finding.
    pub fn evidence(&self) -> alb_plan::Evidence {
        alb_plan::Evidence {
            keepalive_502: self.keepalive_502,
            estimated_backend_keepalive_ms: self.estimated_backend_keepalive_ms,
        }
    }
}

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectReport {
    /// The bucket.
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// Diagnosed or skipped.
    #[serde(flatten)]
    pub outcome: ObjectOutcome,
}

/// Whether an object was read, and what it held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ObjectOutcome {
    /// Read to the end and diagnosed.
    Diagnosed {
        /// Valid entries.
        lines: u64,
        /// Lines that are not valid entries.
        malformed_lines: u64,
        /// Keep-alive race 502s over all load balancers in the object.
        keepalive_502: u64,
    },
    /// Not an ALB access log; not read.
    Skipped {
        /// Why.
        reason: String,
    },
}
