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

/// One finding per load balancer: findings about the same load balancer (several objects in one
/// event, one per load-balancer node) are combined, so that one decision covers all its target
/// groups instead of the first change putting the others under the cooldown.
pub fn combine_by_load_balancer(findings: &[Finding]) -> Vec<Finding> {
    let mut combined: Vec<Finding> = Vec::with_capacity(findings.len());
    for finding in findings {
        match combined.iter_mut().find(|c| c.load_balancer_arn == finding.load_balancer_arn) {
            Some(existing) => existing.absorb(finding),
            None => combined.push(finding.clone()),
        }
    }
    combined
}

impl Finding {
    /// Adds the counts, target groups and evidence of `other` (same load balancer). The estimate
    /// of the finding with more races wins; the first object stays the source.
    fn absorb(&mut self, other: &Finding) {
        if other.keepalive_502 > self.keepalive_502
            && other.estimated_backend_keepalive_ms.is_some()
        {
            self.estimated_backend_keepalive_ms = other.estimated_backend_keepalive_ms;
            self.confidence = other.confidence;
        }
        self.requests += other.requests;
        self.elb_502 += other.elb_502;
        self.keepalive_502 += other.keepalive_502;
        for (class, count) in &other.elb_502_by_class {
            *self.elb_502_by_class.entry(class.clone()).or_default() += count;
        }
        for group in &other.target_groups {
            match self
                .target_groups
                .iter_mut()
                .find(|g| g.target_group_arn == group.target_group_arn)
            {
                Some(mine) => {
                    mine.requests += group.requests;
                    mine.keepalive_502 += group.keepalive_502;
                    for target in &group.targets {
                        match mine.targets.iter_mut().find(|t| t.target == target.target) {
                            Some(t) => {
                                t.requests += target.requests;
                                t.keepalive_502 += target.keepalive_502;
                            }
                            None => mine.targets.push(target.clone()),
                        }
                    }
                }
                None => self.target_groups.push(group.clone()),
            }
        }
        let room = 3usize.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.iter().take(room).cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(lb: &str, groups: &[(&str, u64)], estimate: u32) -> Finding {
        Finding {
            load_balancer: lb.rsplit("loadbalancer/").next().unwrap_or(lb).to_string(),
            load_balancer_arn: lb.to_string(),
            verdict: "keepalive-race".into(),
            requests: 100,
            elb_502: groups.iter().map(|g| g.1).sum(),
            keepalive_502: groups.iter().map(|g| g.1).sum(),
            elb_502_by_class: [("keepalive_race".to_string(), groups.iter().map(|g| g.1).sum())]
                .into(),
            target_groups: groups
                .iter()
                .map(|(arn, races)| TargetGroupFinding {
                    target_group_arn: (*arn).into(),
                    requests: 50,
                    keepalive_502: *races,
                    targets: vec![TargetFinding {
                        target: "10.0.1.23:3000".into(),
                        requests: 50,
                        keepalive_502: *races,
                    }],
                })
                .collect(),
            estimated_backend_keepalive_ms: Some(estimate),
            confidence: Some(0.5),
            samples: vec![],
            source: Source { bucket: "b".into(), key: format!("{lb}-{estimate}") },
        }
    }

    const A: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1";
    const B: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/b/2";

    #[test]
    fn findings_of_one_load_balancer_are_combined_in_order() {
        let combined = combine_by_load_balancer(&[
            finding(A, &[("tg1", 2)], 5000),
            finding(B, &[("tgb", 1)], 2000),
            finding(A, &[("tg1", 1), ("tg2", 4)], 5100),
        ]);
        assert_eq!(combined.len(), 2);
        let a = &combined[0];
        assert_eq!(a.load_balancer_arn, A);
        assert_eq!(a.keepalive_502, 7);
        assert_eq!(a.requests, 200);
        assert_eq!(a.elb_502_by_class["keepalive_race"], 7);
        let groups: Vec<(&str, u64)> = a
            .target_groups
            .iter()
            .map(|g| (g.target_group_arn.as_str(), g.keepalive_502))
            .collect();
        assert_eq!(groups, [("tg1", 3), ("tg2", 4)]);
        assert_eq!(a.target_groups[0].targets[0].keepalive_502, 3);
        assert_eq!(
            a.estimated_backend_keepalive_ms,
            Some(5100),
            "from the finding with more races"
        );
        assert_eq!(a.source.key, format!("{A}-5000"), "the first object stays the source");
        assert_eq!(combined[1].load_balancer_arn, B);
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
        /// Keep-alive race 502s of the load balancer the key names.
        keepalive_502: u64,
        /// Entries kept although a field from 26 on could not be read.
        #[serde(default)]
        warning_lines: u64,
        /// Entries whose `elb` is not the load balancer the key names: never findings.
        #[serde(default)]
        foreign_entries: u64,
        /// Those load balancers (the first few).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        foreign_load_balancers: Vec<String>,
    },
    /// Not an ALB access log, or the event is not about a new object; not read.
    Skipped {
        /// Why.
        reason: String,
    },
}
