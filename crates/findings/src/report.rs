//! What the diagnosis found, as plain data: counts per load balancer, target group and target,
//! the gap estimate, the verdict and a few evidence lines. Reports of several objects merge.

use std::collections::HashMap;

use serde::{Serialize, Serializer};

use crate::classify::Elb502Class;
use crate::gaps::{GapSample, KeepaliveEstimate, ReuseOrder};
use crate::histogram::DurationHistogram;
use crate::pool::{Analysis, ModelFit};
use crate::race_times::RaceTimeline;
use crate::timeline::ClassTimeline;

/// Targets listed per target group; the rest are summed in `more_targets`.
pub const MAX_TARGETS_PER_GROUP: usize = 20;
/// Target groups listed per load balancer; the rest are summed in `more_target_groups`.
pub const MAX_TARGET_GROUPS: usize = 50;

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

    pub(crate) fn merge(&mut self, other: &ClassCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    /// Moves up to `n` counts from one class to another.
    pub(crate) fn reclassify(&mut self, from: Elb502Class, to: Elb502Class, n: u64) {
        let n = n.min(self.get(from));
        self.0[from as usize] -= n;
        self.0[to as usize] += n;
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
    /// No keep-alive race, but race-shaped 502s from targets closing their idle connections
    /// while shutting down. Keep-alive settings do not cure this; deregistration and shutdown
    /// order do.
    #[serde(rename = "shutdown-race")]
    ShutdownRace,
}

impl Verdict {
    /// `keepalive-race`, `shutdown-race` or `no-race`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::KeepaliveRace => "keepalive-race",
            Verdict::NoRace => "no-race",
            Verdict::ShutdownRace => "shutdown-race",
        }
    }
}

/// Targets or target groups left out of a list, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rest {
    /// How many were left out.
    pub count: u64,
    /// Their entries.
    pub requests: u64,
    /// Their strong keep-alive race 502s.
    pub keepalive_502: u64,
}

impl Rest {
    fn add(&mut self, other: Rest) {
        self.count += other.count;
        self.requests += other.requests;
        self.keepalive_502 += other.keepalive_502;
    }
}

/// The pool replays of one reuse order, summed over targets and objects.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct OrderEvidence {
    explained: u64,
    contradicted: u64,
    races: u64,
    without_age: u64,
    ages: GapSample,
}

impl OrderEvidence {
    fn add(&mut self, fit: &ModelFit) {
        self.explained += fit.explained;
        self.contradicted += fit.contradicted;
        for age in &fit.ages_ms {
            self.races += 1;
            match age {
                Some(age) => self.ages.push(*age),
                None => self.without_age += 1,
            }
        }
    }

    fn merge(&mut self, other: &OrderEvidence) {
        self.explained += other.explained;
        self.contradicted += other.contradicted;
        self.races += other.races;
        self.without_age += other.without_age;
        self.ages.merge(&other.ages);
    }

    fn score(&self) -> i128 {
        i128::from(self.explained) - i128::from(self.contradicted)
    }

    /// The share of races the model explains, less the requests it contradicts.
    fn fit(&self) -> f64 {
        let total = self.races + self.contradicted;
        if total == 0 { 0.0 } else { self.explained.min(self.races) as f64 / total as f64 }
    }
}

/// Both replays for one load balancer.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PoolEvidence {
    lifo: OrderEvidence,
    fifo: OrderEvidence,
}

impl PoolEvidence {
    pub(crate) fn add(&mut self, analysis: &Analysis) {
        self.lifo.add(&analysis.lifo);
        self.fifo.add(&analysis.fifo);
    }

    fn merge(&mut self, other: &PoolEvidence) {
        self.lifo.merge(&other.lifo);
        self.fifo.merge(&other.fifo);
    }

    /// The order that explains more; LIFO when they tie (the usual pool).
    fn chosen(&self) -> (ReuseOrder, &OrderEvidence) {
        if self.fifo.score() > self.lifo.score() {
            (ReuseOrder::LeastRecentlyUsed, &self.fifo)
        } else {
            (ReuseOrder::MostRecentlyUsed, &self.lifo)
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
    /// Per target, most races first; at most [`MAX_TARGETS_PER_GROUP`].
    pub targets: Vec<TargetFindings>,
    /// The targets left out of `targets`, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_targets: Option<Rest>,
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
    /// Race 502s with no idle connection in the pool replay (no earlier response on the target
    /// in the object), so no idle age.
    pub keepalive_502_without_gap: u64,
    /// Race-shaped 502s of shutdown bursts (class `shutdown_race`); not in `keepalive_502`.
    pub shutdown_502: u64,
    /// Load-balancer 502s by class.
    pub elb_502_by_class: ClassCounts,
    /// 504s the load balancer sent (the target did not answer within the idle timeout): they rise
    /// when an idle timeout is lowered below the slowest responses.
    pub elb_504: u64,
    /// 460s (the client closed the connection before the load balancer answered).
    pub elb_460: u64,
    /// When race-shaped 502s were logged: `first_race_at`, `last_race_at`, `races_by_hour`.
    #[serde(flatten)]
    pub race_times: RaceTimeline,
    /// `keepalive-race`, `shutdown-race` or `no-race`.
    pub verdict: Verdict,
    /// The backend keep-alive timeout inferred from the gaps, if any race had a gap.
    pub estimated_backend_keepalive_ms: Option<u32>,
    /// How the estimate was reached.
    pub estimate: Option<KeepaliveEstimate>,
    /// Per target group, most races first; at most [`MAX_TARGET_GROUPS`].
    pub target_groups: Vec<TargetGroupFindings>,
    /// The target groups left out of `target_groups`, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_target_groups: Option<Rest>,
    /// Target processing times (how long targets stayed silent before answering), as
    /// `[[from_s, count], ...]`: what a lower idle timeout would cut.
    pub target_processing_seconds: DurationHistogram,
    /// WebSocket entries (`ws`, `wss`).
    pub websocket_requests: u64,
    /// Long-lived entries: WebSockets and gRPC streams (`grpcs`).
    pub long_lived_requests: u64,
    /// How long the long-lived entries lasted (`time - request_creation_time`).
    pub long_lived_seconds: DurationHistogram,
    /// A few race lines as evidence.
    pub samples: Vec<RaceSample>,
    #[serde(skip)]
    pub(crate) gaps: GapSample,
    #[serde(skip)]
    pub(crate) timeline: ClassTimeline,
    #[serde(skip)]
    pub(crate) pool: PoolEvidence,
    /// Races of entries without a target group (no replay possible).
    #[serde(skip)]
    pub(crate) unplaced_502: u64,
}

impl LoadBalancerFindings {
    /// The measured idle gaps (bounded sample).
    pub fn gaps(&self) -> &GapSample {
        &self.gaps
    }

    /// Load-balancer 502s by class in 5-minute buckets.
    pub fn timeline(&self) -> &ClassTimeline {
        &self.timeline
    }

    /// Recomputes the derived fields (verdict, estimate, ordering, bounds) after counts
    /// changed.
    pub(crate) fn settle(&mut self, race_threshold: u64) {
        self.verdict = if self.keepalive_502 >= race_threshold.max(1) {
            Verdict::KeepaliveRace
        } else if self.shutdown_502 > 0 {
            Verdict::ShutdownRace
        } else {
            Verdict::NoRace
        };
        let (order, evidence) = self.pool.chosen();
        self.gaps = evidence.ages.clone();
        self.keepalive_502_without_gap = evidence.without_age + self.unplaced_502;
        let fit = evidence.fit();
        self.estimate = self.gaps.estimate().map(|mut estimate| {
            estimate.reuse_order = order;
            estimate.model_fit = (fit * 100.0).round() / 100.0;
            estimate.confidence = (estimate.confidence * fit * 100.0).round() / 100.0;
            estimate
        });
        self.estimated_backend_keepalive_ms = self.estimate.map(|e| e.backend_keepalive_ms);
        self.target_groups.sort_by(|a, b| {
            b.keepalive_502
                .cmp(&a.keepalive_502)
                .then(b.requests.cmp(&a.requests))
                .then(a.target_group_arn.cmp(&b.target_group_arn))
        });
        if self.target_groups.len() > MAX_TARGET_GROUPS {
            let rest = self.more_target_groups.get_or_insert_with(Rest::default);
            for group in self.target_groups.drain(MAX_TARGET_GROUPS..) {
                rest.add(Rest {
                    count: 1,
                    requests: group.requests,
                    keepalive_502: group.keepalive_502,
                });
            }
        }
        for group in &mut self.target_groups {
            group.settle();
        }
    }

    fn merge(&mut self, other: &LoadBalancerFindings, max_samples: usize) {
        self.requests += other.requests;
        self.elb_502 += other.elb_502;
        self.keepalive_502 += other.keepalive_502;
        self.shutdown_502 += other.shutdown_502;
        self.unplaced_502 += other.unplaced_502;
        self.elb_502_by_class.merge(&other.elb_502_by_class);
        self.elb_504 += other.elb_504;
        self.elb_460 += other.elb_460;
        self.race_times.merge(&other.race_times);
        self.timeline.merge(&other.timeline);
        self.pool.merge(&other.pool);
        self.target_processing_seconds.merge(&other.target_processing_seconds);
        self.websocket_requests += other.websocket_requests;
        self.long_lived_requests += other.long_lived_requests;
        self.long_lived_seconds.merge(&other.long_lived_seconds);
        for sample in &other.samples {
            if self.samples.len() < max_samples {
                self.samples.push(sample.clone());
            }
        }
        if let Some(rest) = other.more_target_groups {
            self.more_target_groups.get_or_insert_with(Rest::default).add(rest);
        }
        let index: HashMap<String, usize> = self
            .target_groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.target_group_arn.clone(), i))
            .collect();
        for group in &other.target_groups {
            match index.get(&group.target_group_arn) {
                Some(&i) => self.target_groups[i].merge(group),
                None => self.target_groups.push(group.clone()),
            }
        }
    }
}

impl TargetGroupFindings {
    fn settle(&mut self) {
        self.targets.sort_by(|a, b| {
            b.keepalive_502
                .cmp(&a.keepalive_502)
                .then(b.requests.cmp(&a.requests))
                .then(a.target.cmp(&b.target))
        });
        if self.targets.len() > MAX_TARGETS_PER_GROUP {
            let rest = self.more_targets.get_or_insert_with(Rest::default);
            for target in self.targets.drain(MAX_TARGETS_PER_GROUP..) {
                rest.add(Rest {
                    count: 1,
                    requests: target.requests,
                    keepalive_502: target.keepalive_502,
                });
            }
        }
    }

    fn merge(&mut self, other: &TargetGroupFindings) {
        self.requests += other.requests;
        self.elb_502 += other.elb_502;
        self.keepalive_502 += other.keepalive_502;
        self.elb_502_by_class.merge(&other.elb_502_by_class);
        if let Some(rest) = other.more_targets {
            self.more_targets.get_or_insert_with(Rest::default).add(rest);
        }
        let index: HashMap<String, usize> =
            self.targets.iter().enumerate().map(|(i, t)| (t.target.clone(), i)).collect();
        for target in &other.targets {
            match index.get(&target.target) {
                Some(&i) => {
                    let mine = &mut self.targets[i];
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
        let index: HashMap<String, usize> = self
            .load_balancers
            .iter()
            .enumerate()
            .map(|(i, lb)| (lb.load_balancer.clone(), i))
            .collect();
        for lb in other.load_balancers {
            match index.get(&lb.load_balancer) {
                Some(&i) => self.load_balancers[i].merge(&lb, self.max_samples),
                None => self.load_balancers.push(lb),
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
