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
    /// Every load balancer of every diagnosed object, race or not: the 504s and 460s the
    /// regression guard compares after an idle-timeout change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
}

/// One load balancer in one object: the counts a lower idle timeout can raise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The load balancer's ARN.
    pub load_balancer_arn: String,
    /// Valid entries.
    pub requests: u64,
    /// ELB 504s.
    pub elb_504: u64,
    /// 460s.
    pub elb_460: u64,
    /// The object.
    pub source: Source,
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
    /// 504s the load balancer sent (responses slower than the idle timeout).
    #[serde(default)]
    pub elb_504: u64,
    /// 460s (clients that gave up before the answer).
    #[serde(default)]
    pub elb_460: u64,
    /// Log time (RFC 3339) of the first race in the evidence.
    #[serde(default)]
    pub first_race_at: Option<String>,
    /// Log time (RFC 3339) of the last race in the evidence.
    #[serde(default)]
    pub last_race_at: Option<String>,
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
            elb_504: lb.elb_504,
            elb_460: lb.elb_460,
            first_race_at: lb.race_times.first().map(|t| t.to_string()),
            last_race_at: lb.race_times.last().map(|t| t.to_string()),
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
        self.elb_504 += other.elb_504;
        self.elb_460 += other.elb_460;
        self.first_race_at = earliest_or_latest(&self.first_race_at, &other.first_race_at, false);
        self.last_race_at = earliest_or_latest(&self.last_race_at, &other.last_race_at, true);
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

/// The earlier (or later) of two RFC 3339 log times, compared as instants: the text omits a
/// zero fraction, so the strings do not sort as the times do. Unparsable text loses.
fn earliest_or_latest(a: &Option<String>, b: &Option<String>, latest: bool) -> Option<String> {
    let parse = |t: &Option<String>| {
        t.as_deref().and_then(|t| alb_records::Timestamp::parse(t.as_bytes())).zip(t.clone())
    };
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => Some(if (b.0 > a.0) == latest { b.1 } else { a.1 }),
        (Some(one), None) | (None, Some(one)) => Some(one.1),
        (None, None) => a.clone().or_else(|| b.clone()),
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
            elb_504: 1,
            elb_460: 0,
            first_race_at: Some(format!("2026-11-27T09:{:02}:00.5Z", estimate % 60)),
            last_race_at: Some(format!("2026-11-27T09:{:02}:00Z", estimate % 60)),
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
        assert_eq!(a.elb_504, 2);
        // 5000 % 60 = 20 and 5100 % 60 = 0: the races span 09:00:00.5 to 09:20:00.
        assert_eq!(a.first_race_at.as_deref(), Some("2026-11-27T09:00:00.5Z"));
        assert_eq!(a.last_race_at.as_deref(), Some("2026-11-27T09:20:00Z"));
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
