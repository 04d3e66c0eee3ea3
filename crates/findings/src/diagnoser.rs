//! The one-pass state machine: feed it records, get a [`Diagnosis`].
//!
//! State is per load balancer, target group and target, never per line, so memory depends on
//! the size of the fleet, not of the log. For every target it remembers when the last few
//! responses ended, which is what the idle gap of a later race is measured from.

use std::collections::HashMap;

use ahash::RandomState;
use alb_records::Record;

use crate::classify::{Elb502Class, classify_502};
use crate::gaps::GapSample;
use crate::race_times::RaceTimeline;
use crate::report::{
    ClassCounts, Diagnosis, LoadBalancerFindings, MalformedLine, RaceSample, TargetFindings,
    TargetGroupFindings, Verdict,
};
use crate::timeline::ClassTimeline;

/// Detection settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectOptions {
    /// Strong race 502s needed for the `keepalive-race` verdict (default 1: one is evidence).
    pub race_threshold: u64,
    /// Longest `target_processing_time` that still reads as "closed on arrival" (default 1000).
    pub race_window_ms: u32,
    /// Race lines kept as evidence per load balancer (default 3).
    pub max_samples: usize,
    /// Malformed lines whose number and reason are kept (default 5).
    pub max_malformed_samples: usize,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            race_threshold: 1,
            race_window_ms: 1000,
            max_samples: 3,
            max_malformed_samples: 5,
        }
    }
}

/// How many recent response ends are kept per target to find "the latest response that ended
/// before this request was sent" even when lines are not strictly in order.
const RECENT_ENDS: usize = 16;

#[derive(Default)]
struct TargetState {
    requests: u64,
    keepalive_502: u64,
    by_class: ClassCounts,
    /// Ring of recent response end times (µs since the epoch).
    recent_ends: [i64; RECENT_ENDS],
    recorded: usize,
}

impl TargetState {
    fn record_end(&mut self, end_micros: i64) {
        self.recent_ends[self.recorded % RECENT_ENDS] = end_micros;
        self.recorded += 1;
    }

    /// Milliseconds from the latest recorded end at or before `sent_micros`.
    fn idle_gap_ms(&self, sent_micros: i64) -> Option<u32> {
        let kept = self.recorded.min(RECENT_ENDS);
        let latest =
            self.recent_ends[..kept].iter().copied().filter(|&end| end <= sent_micros).max()?;
        u32::try_from((sent_micros - latest) / 1000).ok()
    }
}

struct GroupState {
    arn: Box<[u8]>,
    requests: u64,
    keepalive_502: u64,
    by_class: ClassCounts,
    targets: HashMap<Box<[u8]>, TargetState, RandomState>,
}

struct BalancerState {
    id: Box<[u8]>,
    requests: u64,
    keepalive_502: u64,
    keepalive_502_without_gap: u64,
    by_class: ClassCounts,
    elb_504: u64,
    elb_460: u64,
    race_times: RaceTimeline,
    groups: Vec<GroupState>,
    last_group: usize,
    gaps: GapSample,
    samples: Vec<RaceSample>,
    timeline: ClassTimeline,
}

impl BalancerState {
    fn new(id: &[u8]) -> Self {
        BalancerState {
            id: id.into(),
            requests: 0,
            keepalive_502: 0,
            keepalive_502_without_gap: 0,
            by_class: ClassCounts::default(),
            elb_504: 0,
            elb_460: 0,
            race_times: RaceTimeline::default(),
            groups: Vec::new(),
            last_group: 0,
            gaps: GapSample::default(),
            samples: Vec::new(),
            timeline: ClassTimeline::default(),
        }
    }

    fn group(&mut self, arn: &[u8]) -> &mut GroupState {
        // Logs are dominated by one or a few target groups: check the last one first.
        let index = match self.groups.get(self.last_group) {
            Some(group) if *group.arn == *arn => self.last_group,
            _ => match self.groups.iter().position(|group| *group.arn == *arn) {
                Some(index) => index,
                None => {
                    self.groups.push(GroupState {
                        arn: arn.into(),
                        requests: 0,
                        keepalive_502: 0,
                        by_class: ClassCounts::default(),
                        targets: HashMap::default(),
                    });
                    self.groups.len() - 1
                }
            },
        };
        self.last_group = index;
        &mut self.groups[index]
    }
}

/// Consumes records one by one and accumulates findings.
pub struct Diagnoser {
    options: DetectOptions,
    balancers: Vec<BalancerState>,
    last_balancer: usize,
    lines: u64,
    malformed_lines: u64,
    malformed_samples: Vec<MalformedLine>,
}

impl Diagnoser {
    /// A diagnoser with nothing seen yet.
    pub fn new(options: DetectOptions) -> Self {
        Diagnoser {
            options,
            balancers: Vec::new(),
            last_balancer: 0,
            lines: 0,
            malformed_lines: 0,
            malformed_samples: Vec::new(),
        }
    }

    /// Counts a line that is not a valid entry; the first few are kept with their reason.
    pub fn observe_malformed(&mut self, line_number: u64, reason: &dyn std::fmt::Display) {
        self.malformed_lines += 1;
        if self.malformed_samples.len() < self.options.max_malformed_samples {
            self.malformed_samples.push(MalformedLine {
                source: None,
                line: line_number,
                reason: reason.to_string(),
            });
        }
    }

    /// Accounts for one valid entry.
    pub fn observe(&mut self, record: &Record<'_>) {
        self.lines += 1;
        let options = self.options;
        let balancer = self.balancer(record.elb());
        balancer.requests += 1;

        match record.elb_status_code() {
            Some(504) => balancer.elb_504 += 1,
            Some(460) => balancer.elb_460 += 1,
            _ => {}
        }
        let class = classify_502(record, options.race_window_ms);
        if let Some(class) = class {
            balancer.by_class.add(class);
            balancer.timeline.add(record.time().micros(), class);
        }
        let is_race = class == Some(Elb502Class::KeepaliveRace);
        if is_race {
            balancer.race_times.record(record.time());
        }

        let Some(arn) = record.target_group_arn() else {
            if is_race {
                balancer.keepalive_502 += 1;
                balancer.keepalive_502_without_gap += 1;
            }
            return;
        };
        let group = balancer.group(arn);
        group.requests += 1;
        if let Some(class) = class {
            group.by_class.add(class);
        }
        let Some(target_id) = record.target() else {
            return; // Lambda targets, redirects, fixed responses: never a race
        };
        let target = match group.targets.get_mut(target_id) {
            Some(target) => target,
            None => group.targets.entry(target_id.into()).or_default(),
        };
        target.requests += 1;
        if let Some(class) = class {
            target.by_class.add(class);
        }
        if record.target_status_code().is_some() {
            // The target answered, so the connection it used was busy until this moment.
            target.record_end(record.time().micros());
        }
        if !is_race {
            return;
        }
        target.keepalive_502 += 1;
        let gap = target.idle_gap_ms(sent_at(record));
        group.keepalive_502 += 1;
        balancer.keepalive_502 += 1;
        match gap {
            Some(gap) => balancer.gaps.push(gap),
            None => balancer.keepalive_502_without_gap += 1,
        }
        if balancer.samples.len() < options.max_samples {
            balancer.samples.push(RaceSample {
                target: String::from_utf8_lossy(target_id).into_owned(),
                gap_ms: gap,
                line: String::from_utf8_lossy(record.line()).into_owned(),
            });
        }
    }

    fn balancer(&mut self, id: &[u8]) -> &mut BalancerState {
        let index = match self.balancers.get(self.last_balancer) {
            Some(balancer) if *balancer.id == *id => self.last_balancer,
            _ => match self.balancers.iter().position(|balancer| *balancer.id == *id) {
                Some(index) => index,
                None => {
                    self.balancers.push(BalancerState::new(id));
                    self.balancers.len() - 1
                }
            },
        };
        self.last_balancer = index;
        &mut self.balancers[index]
    }

    /// The findings so far.
    pub fn finish(self) -> Diagnosis {
        let mut diagnosis = Diagnosis::empty(&self.options);
        diagnosis.lines = self.lines;
        diagnosis.malformed_lines = self.malformed_lines;
        diagnosis.malformed_samples = self.malformed_samples;
        diagnosis.load_balancers = self.balancers.into_iter().map(balancer_findings).collect();
        diagnosis.settle();
        diagnosis
    }
}

impl Diagnosis {
    /// A report with nothing in it, to merge object reports into.
    pub fn empty(options: &DetectOptions) -> Diagnosis {
        Diagnosis {
            lines: 0,
            malformed_lines: 0,
            malformed_samples: Vec::new(),
            load_balancers: Vec::new(),
            race_threshold: options.race_threshold,
            max_samples: options.max_samples,
        }
    }
}

/// When the failing request was written to the target: arrival plus the load balancer's own
/// processing; lines of the 2016 layout lack the arrival time, so count back from the response.
fn sent_at(record: &Record<'_>) -> i64 {
    let request_ms = i64::from(record.request_processing_time_ms().unwrap_or(0));
    match record.request_creation_time() {
        Some(arrival) => arrival.micros() + request_ms * 1000,
        None => {
            let target_ms = i64::from(record.target_processing_time_ms().unwrap_or(0));
            record.time().micros() - target_ms * 1000
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn balancer_findings(state: BalancerState) -> LoadBalancerFindings {
    let target_groups = state
        .groups
        .into_iter()
        .map(|group| TargetGroupFindings {
            target_group_arn: lossy(&group.arn),
            requests: group.requests,
            elb_502: group.by_class.total(),
            keepalive_502: group.keepalive_502,
            elb_502_by_class: group.by_class,
            targets: group
                .targets
                .into_iter()
                .map(|(id, target)| TargetFindings {
                    target: lossy(&id),
                    requests: target.requests,
                    keepalive_502: target.keepalive_502,
                    elb_502_by_class: target.by_class,
                })
                .collect(),
        })
        .collect();
    LoadBalancerFindings {
        load_balancer: lossy(&state.id),
        requests: state.requests,
        elb_502: state.by_class.total(),
        keepalive_502: state.keepalive_502,
        keepalive_502_without_gap: state.keepalive_502_without_gap,
        elb_502_by_class: state.by_class,
        elb_504: state.elb_504,
        elb_460: state.elb_460,
        race_times: state.race_times,
        verdict: Verdict::NoRace,
        estimated_backend_keepalive_ms: None,
        estimate: None,
        target_groups,
        samples: state.samples,
        gaps: state.gaps,
        timeline: state.timeline,
    }
}
