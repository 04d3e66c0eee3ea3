//! The detector's result and the remediator's input: one [`Finding`] per load balancer whose
//! verdict is the keep-alive race, and one [`ObjectReport`] per object looked at. These types
//! are the contract between the two functions (they travel as JSON through the detector's
//! on-success destination), so they both serialize and deserialize.

use std::collections::BTreeMap;

use std::collections::HashMap;

use alb_findings::{
    DurationHistogram, LoadBalancerFindings, MAX_TARGET_GROUPS, MAX_TARGETS_PER_GROUP,
};
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
    /// Target processing times seen (`[[from_s, count], ...]`): what a lower idle timeout would
    /// cut.
    #[serde(default)]
    pub target_processing_seconds: DurationHistogram,
    /// Durations of WebSocket and gRPC-stream entries seen.
    #[serde(default)]
    pub long_lived_seconds: DurationHistogram,
    /// Target groups left out of `target_groups` (at most 50 are listed), summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_target_groups: Option<Rest>,
    /// The object the evidence comes from.
    pub source: Source,
}

/// Targets or target groups left out of a list, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rest {
    /// How many.
    pub count: u64,
    /// Their entries.
    pub requests: u64,
    /// Their keep-alive race 502s.
    pub keepalive_502: u64,
}

impl Rest {
    fn add(&mut self, count: u64, requests: u64, keepalive_502: u64) {
        self.count += count;
        self.requests += requests;
        self.keepalive_502 += keepalive_502;
    }
}

impl From<alb_findings::Rest> for Rest {
    fn from(rest: alb_findings::Rest) -> Self {
        Rest { count: rest.count, requests: rest.requests, keepalive_502: rest.keepalive_502 }
    }
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
    /// Per target (`ip:port`), most races first; at most 20.
    #[serde(default)]
    pub targets: Vec<TargetFinding>,
    /// Targets left out of `targets`, summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more_targets: Option<Rest>,
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
                    more_targets: group.more_targets.map(Rest::from),
                })
                .collect(),
            target_processing_seconds: lb.target_processing_seconds.clone(),
            long_lived_seconds: lb.long_lived_seconds.clone(),
            more_target_groups: lb.more_target_groups.map(Rest::from),
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
            confidence: self.confidence,
            target_processing_seconds: self.target_processing_seconds.clone(),
            long_lived_seconds: self.long_lived_seconds.clone(),
        }
    }
}

/// One finding per load balancer: findings about the same load balancer (several objects in one
/// event, one per load-balancer node) are combined, so that one decision covers all its target
/// groups instead of the first change putting the others under the cooldown.
pub fn combine_by_load_balancer(findings: &[Finding]) -> Vec<Finding> {
    let mut combined: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(findings.len());
    for finding in findings {
        match index.get(finding.load_balancer_arn.as_str()) {
            Some(&i) => combined[i].absorb(finding),
            None => {
                index.insert(&finding.load_balancer_arn, combined.len());
                combined.push(finding.clone());
            }
        }
    }
    combined
}

impl TargetGroupFinding {
    fn absorb(&mut self, other: &TargetGroupFinding) {
        self.requests += other.requests;
        self.keepalive_502 += other.keepalive_502;
        if let Some(rest) = other.more_targets {
            self.more_targets.get_or_insert_with(Rest::default).add(
                rest.count,
                rest.requests,
                rest.keepalive_502,
            );
        }
        let targets: HashMap<String, usize> =
            self.targets.iter().enumerate().map(|(i, t)| (t.target.clone(), i)).collect();
        for target in &other.targets {
            match targets.get(&target.target) {
                Some(&i) => {
                    self.targets[i].requests += target.requests;
                    self.targets[i].keepalive_502 += target.keepalive_502;
                }
                None => self.targets.push(target.clone()),
            }
        }
        if self.targets.len() > MAX_TARGETS_PER_GROUP {
            self.targets.sort_by_key(|t| std::cmp::Reverse(t.keepalive_502));
            let rest = self.more_targets.get_or_insert_with(Rest::default);
            for target in self.targets.drain(MAX_TARGETS_PER_GROUP..) {
                rest.add(1, target.requests, target.keepalive_502);
            }
        }
    }
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
        self.target_processing_seconds.merge(&other.target_processing_seconds);
        self.long_lived_seconds.merge(&other.long_lived_seconds);
        if let Some(rest) = other.more_target_groups {
            self.more_target_groups.get_or_insert_with(Rest::default).add(
                rest.count,
                rest.requests,
                rest.keepalive_502,
            );
        }
        let groups: HashMap<String, usize> = self
            .target_groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.target_group_arn.clone(), i))
            .collect();
        for group in &other.target_groups {
            match groups.get(&group.target_group_arn) {
                Some(&i) => self.target_groups[i].absorb(group),
                None => self.target_groups.push(group.clone()),
            }
        }
        // Bounded like the findings: most races first, the rest summed.
        if self.target_groups.len() > MAX_TARGET_GROUPS {
            self.target_groups.sort_by_key(|g| std::cmp::Reverse(g.keepalive_502));
            let rest = self.more_target_groups.get_or_insert_with(Rest::default);
            for group in self.target_groups.drain(MAX_TARGET_GROUPS..) {
                rest.add(1, group.requests, group.keepalive_502);
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
                    more_targets: None,
                })
                .collect(),
            estimated_backend_keepalive_ms: Some(estimate),
            confidence: Some(0.5),
            samples: vec![],
            target_processing_seconds: DurationHistogram::default(),
            long_lived_seconds: DurationHistogram::default(),
            more_target_groups: None,
            source: Source { bucket: "b".into(), key: format!("{lb}-{estimate}") },
        }
    }

    #[test]
    fn combining_many_findings_stays_bounded_and_linear() {
        // 100,000 target groups over 1,000 findings of one load balancer.
        let findings: Vec<Finding> = (0..1_000)
            .map(|f| {
                let groups: Vec<(String, u64)> =
                    (0..100).map(|g| (format!("tg{}", f * 100 + g), (g % 3) as u64)).collect();
                let refs: Vec<(&str, u64)> = groups.iter().map(|(a, r)| (a.as_str(), *r)).collect();
                finding(A, &refs, 5000)
            })
            .collect();
        let combined = combine_by_load_balancer(&findings);
        assert_eq!(combined.len(), 1);
        let a = &combined[0];
        assert_eq!(a.target_groups.len(), MAX_TARGET_GROUPS);
        let rest = a.more_target_groups.expect("the rest is summed");
        assert_eq!(rest.count as usize + MAX_TARGET_GROUPS, 100_000);
        let listed: u64 = a.target_groups.iter().map(|g| g.keepalive_502).sum();
        assert_eq!(listed + rest.keepalive_502, a.keepalive_502);
        assert!(serde_json::to_vec(a).unwrap().len() < 100_000);
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
