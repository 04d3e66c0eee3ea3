//! The one-pass state machine: feed it records, get a [`Diagnosis`].
//!
//! State is per load balancer, target group and target, never per line, so memory depends on
//! the size of the fleet, not of the log (the pool replay's reorder window is bounded per target
//! and in all, see `pool`). For every target it remembers when the last few responses ended
//! (the target-wide gap shown with each sample line) and buffers its entries for the replay.

use std::collections::HashMap;

use ahash::RandomState;
use alb_records::Record;

use crate::classify::{Elb502Class, classify_502};
use crate::gaps::GapSample;
use crate::histogram::DurationHistogram;
use crate::pool::{Analysis, BUFFERED_SPANS, Outcome, Span, TARGET_SPANS, Timeline};
use crate::race_times::RaceTimeline;
use crate::report::{
    ClassCounts, Diagnosis, LoadBalancerFindings, MalformedLine, PoolEvidence, RaceSample,
    TargetFindings, TargetGroupFindings, Verdict,
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
    timeline: Timeline,
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

/// Counts of one load balancer that a replay's shutdown races change.
#[derive(Default)]
struct BalancerCounts {
    keepalive_502: u64,
    shutdown_502: u64,
    by_class: ClassCounts,
    pool: PoolEvidence,
}

struct BalancerState {
    id: Box<[u8]>,
    requests: u64,
    counts: BalancerCounts,
    unplaced_502: u64,
    elb_504: u64,
    elb_460: u64,
    race_times: RaceTimeline,
    groups: Vec<GroupState>,
    group_index: HashMap<Box<[u8]>, usize, RandomState>,
    samples: Vec<RaceSample>,
    timeline: ClassTimeline,
    target_processing: DurationHistogram,
    websocket_requests: u64,
    long_lived_requests: u64,
    long_lived: DurationHistogram,
}

impl BalancerState {
    fn new(id: &[u8]) -> Self {
        BalancerState {
            id: id.into(),
            requests: 0,
            counts: BalancerCounts::default(),
            unplaced_502: 0,
            elb_504: 0,
            elb_460: 0,
            race_times: RaceTimeline::default(),
            groups: Vec::new(),
            group_index: HashMap::default(),
            samples: Vec::new(),
            timeline: ClassTimeline::default(),
            target_processing: DurationHistogram::default(),
            websocket_requests: 0,
            long_lived_requests: 0,
            long_lived: DurationHistogram::default(),
        }
    }

    fn group_index(&mut self, arn: &[u8]) -> usize {
        // Logs are dominated by a few target groups: look through them before hashing the ARN.
        let recent =
            self.groups.iter().take(FEW_GROUPS).position(|group| same_key(&group.arn, arn));
        match recent {
            Some(index) => index,
            None => match self.group_index.get(arn) {
                Some(&index) => index,
                None => {
                    self.groups.push(GroupState {
                        arn: arn.into(),
                        requests: 0,
                        keepalive_502: 0,
                        by_class: ClassCounts::default(),
                        targets: HashMap::default(),
                    });
                    self.group_index.insert(arn.into(), self.groups.len() - 1);
                    self.groups.len() - 1
                }
            },
        }
    }
}

/// Target groups compared one by one before the hash map is asked.
const FEW_GROUPS: usize = 4;

/// `a == b`, comparing the last eight bytes first: ARNs of one account share a long prefix and
/// differ in the id at the end, so a mismatch is found without reading the prefix.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a[a.len().saturating_sub(8)..] == b[b.len().saturating_sub(8)..] && a == b
}

/// Books a replay: shutdown races leave the keep-alive count for their own class, the idle
/// ages join the load balancer's evidence.
fn book(
    analysis: &Analysis,
    balancer: &mut BalancerCounts,
    group: &mut (u64, &mut ClassCounts),
    target: &mut TargetState,
) {
    let shutdown = analysis.shutdown;
    if shutdown > 0 {
        for (count, classes) in [
            (&mut target.keepalive_502, &mut target.by_class),
            (&mut group.0, &mut *group.1),
            (&mut balancer.keepalive_502, &mut balancer.by_class),
        ] {
            *count = count.saturating_sub(shutdown);
            classes.reclassify(Elb502Class::KeepaliveRace, Elb502Class::ShutdownRace, shutdown);
        }
        balancer.shutdown_502 += shutdown;
    }
    balancer.pool.add(analysis);
}

/// Consumes records one by one and accumulates findings.
pub struct Diagnoser {
    options: DetectOptions,
    balancers: Vec<BalancerState>,
    balancer_index: HashMap<Box<[u8]>, usize, RandomState>,
    last_balancer: usize,
    /// Spans waiting in every target's reorder window.
    buffered: usize,
    lines: u64,
    malformed_lines: u64,
    malformed_samples: Vec<MalformedLine>,
    warning_lines: u64,
    warning_samples: Vec<MalformedLine>,
}

impl Diagnoser {
    /// A diagnoser with nothing seen yet.
    pub fn new(options: DetectOptions) -> Self {
        Diagnoser {
            options,
            balancers: Vec::new(),
            balancer_index: HashMap::default(),
            last_balancer: 0,
            buffered: 0,
            lines: 0,
            malformed_lines: 0,
            malformed_samples: Vec::new(),
            warning_lines: 0,
            warning_samples: Vec::new(),
        }
    }

    /// Counts an entry that was kept although part of it could not be read (a quoting surprise
    /// from field 26 on); the first few are kept with their reason.
    pub fn observe_warning(&mut self, line_number: u64, reason: &dyn std::fmt::Display) {
        self.warning_lines += 1;
        if self.warning_samples.len() < self.options.max_malformed_samples {
            self.warning_samples.push(MalformedLine {
                source: None,
                line: line_number,
                reason: reason.to_string(),
            });
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
        let index = self.balancer_index(record.elb());
        let balancer = &mut self.balancers[index];
        balancer.requests += 1;

        match record.elb_status_code() {
            Some(504) => balancer.elb_504 += 1,
            Some(460) => balancer.elb_460 += 1,
            _ => {}
        }
        let class = classify_502(record, options.race_window_ms);
        if let Some(class) = class {
            balancer.counts.by_class.add(class);
            balancer.timeline.add(record.time().micros(), class);
        }
        let is_race = class == Some(Elb502Class::KeepaliveRace);
        if is_race {
            balancer.race_times.record(record.time());
        }
        if let Some(ms) = record.target_processing_time_ms() {
            balancer.target_processing.record_ms(u64::from(ms));
        }
        let kind = record.kind();
        let websocket = kind == b"ws" || kind == b"wss";
        if websocket || kind == b"grpcs" {
            balancer.websocket_requests += u64::from(websocket);
            balancer.long_lived_requests += 1;
            let started = record.request_creation_time().unwrap_or(record.time());
            let lasted_us = record.time().micros().saturating_sub(started.micros()).max(0);
            balancer.long_lived.record_ms(lasted_us.unsigned_abs() / 1000);
        }

        let Some(arn) = record.target_group_arn() else {
            if is_race {
                balancer.counts.keepalive_502 += 1;
                balancer.unplaced_502 += 1;
            }
            return;
        };
        let group_index = balancer.group_index(arn);
        let group = &mut balancer.groups[group_index];
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
        let dispatch_us = sent_at(record);
        let outcome = match class {
            Some(Elb502Class::KeepaliveRace) => Outcome::Race,
            Some(Elb502Class::ConnectionFailure) => Outcome::Refused,
            _ if websocket => Outcome::Closed,
            _ if record.target_status_code().is_some() => Outcome::Answered,
            _ => Outcome::Closed,
        };
        let busy_us =
            record.time().micros().saturating_sub(dispatch_us).clamp(0, i64::from(u32::MAX));
        target.timeline.push(Span { dispatch_us, busy_us: busy_us as u32, outcome });
        self.buffered += 1;
        if is_race {
            target.keepalive_502 += 1;
            group.keepalive_502 += 1;
            balancer.counts.keepalive_502 += 1;
            if balancer.samples.len() < options.max_samples {
                balancer.samples.push(RaceSample {
                    target: String::from_utf8_lossy(target_id).into_owned(),
                    gap_ms: target.idle_gap_ms(dispatch_us),
                    line: String::from_utf8_lossy(record.line()).into_owned(),
                });
            }
        }
        if target.timeline.len() >= TARGET_SPANS || self.buffered >= BUFFERED_SPANS {
            let (analysis, dropped) = target.timeline.compact();
            self.buffered -= dropped.min(self.buffered);
            if let Some(analysis) = analysis {
                let mut group_counts = (group.keepalive_502, &mut group.by_class);
                book(&analysis, &mut balancer.counts, &mut group_counts, target);
                group.keepalive_502 = group_counts.0;
            }
        }
    }

    fn balancer_index(&mut self, id: &[u8]) -> usize {
        let index = match self.balancers.get(self.last_balancer) {
            Some(balancer) if *balancer.id == *id => self.last_balancer,
            _ => match self.balancer_index.get(id) {
                Some(&index) => index,
                None => {
                    self.balancers.push(BalancerState::new(id));
                    self.balancer_index.insert(id.into(), self.balancers.len() - 1);
                    self.balancers.len() - 1
                }
            },
        };
        self.last_balancer = index;
        index
    }

    /// The findings so far.
    pub fn finish(self) -> Diagnosis {
        let mut diagnosis = Diagnosis::empty(&self.options);
        diagnosis.lines = self.lines;
        diagnosis.malformed_lines = self.malformed_lines;
        diagnosis.malformed_samples = self.malformed_samples;
        diagnosis.warning_lines = self.warning_lines;
        diagnosis.warning_samples = self.warning_samples;
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
            warning_lines: 0,
            warning_samples: Vec::new(),
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

fn balancer_findings(mut state: BalancerState) -> LoadBalancerFindings {
    // The rest of every reorder window.
    for group in &mut state.groups {
        for target in group.targets.values_mut() {
            if let Some(analysis) = target.timeline.finish() {
                let mut group_counts = (group.keepalive_502, &mut group.by_class);
                book(&analysis, &mut state.counts, &mut group_counts, target);
                group.keepalive_502 = group_counts.0;
            }
        }
    }
    let counts = state.counts;
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
            more_targets: None,
        })
        .collect();
    LoadBalancerFindings {
        load_balancer: lossy(&state.id),
        requests: state.requests,
        elb_502: counts.by_class.total(),
        keepalive_502: counts.keepalive_502,
        keepalive_502_without_gap: 0,
        shutdown_502: counts.shutdown_502,
        elb_502_by_class: counts.by_class,
        elb_504: state.elb_504,
        elb_460: state.elb_460,
        race_times: state.race_times,
        verdict: Verdict::NoRace,
        estimated_backend_keepalive_ms: None,
        estimate: None,
        target_groups,
        more_target_groups: None,
        target_processing_seconds: state.target_processing,
        websocket_requests: state.websocket_requests,
        long_lived_requests: state.long_lived_requests,
        long_lived_seconds: state.long_lived,
        samples: state.samples,
        gaps: GapSample::default(),
        pool: counts.pool,
        unplaced_502: state.unplaced_502,
        timeline: state.timeline,
    }
}
