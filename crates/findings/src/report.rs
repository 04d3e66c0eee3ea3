//! What the diagnosis found, as plain data: counts per load balancer, target group and target,
//! the gap estimate, the verdict and a few evidence lines. Reports of several objects merge.

use serde::{Serialize, Serializer};

use crate::classify::Elb502Class;
use crate::gaps::{GapSample, KeepaliveEstimate};

/// Counts of load-balancer 502s by class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassCounts([u64; Elb502Class::ALL.len()]);

impl ClassCounts {
    /// The count of one class.
    pub fn get(&self, class: Elb502Class) -> u64 {
        self.0[class as usize]
    }

    /// Counts one more 502 of `class`.
    pub fn add(&mut self, class: Elb502Class) {
        self.0[class as usize] += 1;
    }

    /// All 502s.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn merge(&mut self, other: &ClassCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

impl Serialize for ClassCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(Elb502Class::ALL.len()))?;
        for class in Elb502Class::ALL {
            map.serialize_entry(class.name(), &self.get(class))?;
        }
        map.end()
    }
}

/// The conclusion for one load balancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// At least the configured number of strong keep-alive race 502s.
    #[serde(rename = "keepalive-race")]
    KeepaliveRace,
    /// Too few (usually zero) strong race 502s to act on.
    #[serde(rename = "no-race")]
    NoRace,
}

impl Verdict {
    /// `keepalive-race` or `no-race`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::KeepaliveRace => "keepalive-race",
            Verdict::NoRace => "no-race",
        }
    }
}

/// A line that is not a valid access-log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MalformedLine {
    /// The object the line came from, when the caller named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// 1-based line number in the decompressed object.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// A keep-alive race line kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RaceSample {
    /// The target that closed the connection.
    pub target: String,
    /// Idle gap on that target before the request, when an earlier response was seen.
    pub gap_ms: Option<u32>,
    /// The log line as written.
    pub line: String,
}

/// Findings for one target (`ip:port`) of a target group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetFindings {
    /// `ip:port`.
    pub target: String,
    /// Entries routed to this target.
    pub requests: u64,
    /// Strong keep-alive race 502s.
    pub keepalive_502: u64,
    /// All load-balancer 502s, by class.
    pub elb_502_by_class: ClassCounts,
}

/// Findings for one target group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetGroupFindings {
    /// The target group ARN as logged.
    pub target_group_arn: String,
    /// Entries routed to this target group.
    pub requests: u64,
    /// All load-balancer 502s.
    pub elb_502: u64,
    /// Strong keep-alive race 502s.
    pub keepalive_502: u64,
    /// All load-balancer 502s, by class.
    pub elb_502_by_class: ClassCounts,
    /// Per target, most races first.
    pub targets: Vec<TargetFindings>,
}

/// Findings for one load balancer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadBalancerFindings {
    /// The resource id as logged: `app/<name>/<id>`.
    pub load_balancer: String,
    /// Valid entries for this load balancer.
    pub requests: u64,
    /// Load-balancer 502s of every class.
    pub elb_502: u64,
    /// Strong keep-alive race 502s.
    pub keepalive_502: u64,
    /// Race 502s with no earlier response on the same target in the same object, so no gap.
    pub keepalive_502_without_gap: u64,
    /// Load-balancer 502s by class.
    pub elb_502_by_class: ClassCounts,
    /// `keepalive-race` or `no-race`.
    pub verdict: Verdict,
    /// The backend keep-alive timeout inferred from the gaps, if any race had a gap.
    pub estimated_backend_keepalive_ms: Option<u32>,
    /// How the estimate was reached.
    pub estimate: Option<KeepaliveEstimate>,
    /// Per target group, most races first.
    pub target_groups: Vec<TargetGroupFindings>,
    /// A few race lines as evidence.
    pub samples: Vec<RaceSample>,
    #[serde(skip)]
    pub(crate) gaps: GapSample,
}

impl LoadBalancerFindings {
    /// The measured idle gaps (bounded sample).
    pub fn gaps(&self) -> &GapSample {
        &self.gaps
    }

    /// Recomputes the derived fields (verdict, estimate, ordering) after counts changed.
    pub(crate) fn settle(&mut self, race_threshold: u64) {
        self.verdict = if self.keepalive_502 >= race_threshold.max(1) {
            Verdict::KeepaliveRace
        } else {
            Verdict::NoRace
        };
        self.estimate = self.gaps.estimate();
        self.estimated_backend_keepalive_ms = self.estimate.map(|e| e.backend_keepalive_ms);
        self.target_groups.sort_by(|a, b| {
            b.keepalive_502.cmp(&a.keepalive_502).then(a.target_group_arn.cmp(&b.target_group_arn))
        });
        for group in &mut self.target_groups {
            group.targets.sort_by(|a, b| {
                b.keepalive_502.cmp(&a.keepalive_502).then(a.target.cmp(&b.target))
            });
        }
    }

    fn merge(&mut self, other: &LoadBalancerFindings, max_samples: usize) {
        self.requests += other.requests;
        self.elb_502 += other.elb_502;
        self.keepalive_502 += other.keepalive_502;
        self.keepalive_502_without_gap += other.keepalive_502_without_gap;
        self.elb_502_by_class.merge(&other.elb_502_by_class);
        self.gaps.merge(&other.gaps);
        for sample in &other.samples {
            if self.samples.len() < max_samples {
                self.samples.push(sample.clone());
            }
        }
        for group in &other.target_groups {
            match self
                .target_groups
                .iter_mut()
                .find(|g| g.target_group_arn == group.target_group_arn)
            {
                Some(mine) => mine.merge(group),
                None => self.target_groups.push(group.clone()),
            }
        }
    }
}

impl TargetGroupFindings {
    fn merge(&mut self, other: &TargetGroupFindings) {
        self.requests += other.requests;
        self.elb_502 += other.elb_502;
        self.keepalive_502 += other.keepalive_502;
        self.elb_502_by_class.merge(&other.elb_502_by_class);
        for target in &other.targets {
            match self.targets.iter_mut().find(|t| t.target == target.target) {
                Some(mine) => {
                    mine.requests += target.requests;
                    mine.keepalive_502 += target.keepalive_502;
                    mine.elb_502_by_class.merge(&target.elb_502_by_class);
                }
                None => self.targets.push(target.clone()),
            }
        }
    }
}

/// Everything found in one or more log objects.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Valid entries.
    pub lines: u64,
    /// Lines that are not valid entries (skipped). Blank lines are neither.
    pub malformed_lines: u64,
    /// The first few malformed lines, with the reason.
    pub malformed_samples: Vec<MalformedLine>,
    /// Entries kept although a field from 26 on could not be read (AWS re-quoted or appended
    /// something): counted here, not in `malformed_lines`.
    pub warning_lines: u64,
    /// The first few of them, with the reason.
    pub warning_samples: Vec<MalformedLine>,
    /// Per load balancer, most races first.
    pub load_balancers: Vec<LoadBalancerFindings>,
    #[serde(skip)]
    pub(crate) race_threshold: u64,
    #[serde(skip)]
    pub(crate) max_samples: usize,
}

impl Diagnosis {
    /// Adds the findings of another object (each object is one load-balancer node's view; gaps
    /// were measured inside each object and are pooled here).
    pub fn merge(&mut self, other: Diagnosis) {
        self.lines += other.lines;
        self.malformed_lines += other.malformed_lines;
        for sample in other.malformed_samples {
            if self.malformed_samples.len() < self.max_samples.max(5) {
                self.malformed_samples.push(sample);
            }
        }
        self.warning_lines += other.warning_lines;
        for sample in other.warning_samples {
            if self.warning_samples.len() < self.max_samples.max(5) {
                self.warning_samples.push(sample);
            }
        }
        for lb in &other.load_balancers {
            match self.load_balancers.iter_mut().find(|l| l.load_balancer == lb.load_balancer) {
                Some(mine) => mine.merge(lb, self.max_samples),
                None => self.load_balancers.push(lb.clone()),
            }
        }
        self.settle();
    }

    /// Names the object the malformed samples came from (for multi-object reports).
    pub fn set_source(&mut self, source: &str) {
        for sample in self.malformed_samples.iter_mut().chain(&mut self.warning_samples) {
            sample.source.get_or_insert_with(|| source.to_string());
        }
    }

    /// Findings for the load balancer `app/<name>/<id>`.
    pub fn load_balancer(&self, id: &str) -> Option<&LoadBalancerFindings> {
        self.load_balancers.iter().find(|lb| lb.load_balancer == id)
    }

    pub(crate) fn settle(&mut self) {
        for lb in &mut self.load_balancers {
            lb.settle(self.race_threshold);
        }
        self.load_balancers.sort_by(|a, b| {
            b.keepalive_502.cmp(&a.keepalive_502).then(a.load_balancer.cmp(&b.load_balancer))
        });
    }
}
