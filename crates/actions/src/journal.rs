//! What the journal remembers about one load balancer, and the decisions taken from it: whether
//! an object is new evidence, whether to (re)notify, whether a change proved ineffective or
//! verified. Pure values and functions; the DynamoDB adapter is [`crate::aws::DynamoJournal`].
//!
//! One [`JournalState`] per load balancer is stored under `lb#<load balancer ARN>`; each
//! completed change is also kept as its own item (`change#<ARN>#<unix seconds>#<id>`), so the
//! history survives the state's bounded lists.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::finding::Source;
use crate::remediate::ActionReport;

/// How many object keys the state remembers to tell a redelivery from new evidence.
pub const SEEN_OBJECTS_KEPT: usize = 500;
/// How many objects of an episode are named in the state (the count goes on).
pub const EPISODE_OBJECTS_KEPT: usize = 20;
/// Unsent events kept for the next invocation; the oldest go first when more pile up.
pub const PENDING_EVENTS_KEPT: usize = 50;

/// Everything the journal keeps about one load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JournalState {
    /// The current episode of races, if one was seen.
    #[serde(default)]
    pub episode: Option<Episode>,
    /// The last `Keep-Alive Race Detected` sent.
    #[serde(default)]
    pub last_notification: Option<Notification>,
    /// The last change made (or intended: a change whose execution did not finish).
    #[serde(default)]
    pub last_change: Option<ChangeRecord>,
    /// Resource -> value before the remediator first changed it (for rollback).
    #[serde(default)]
    pub originals: BTreeMap<String, Option<u64>>,
    /// Objects already taken as evidence, newest last (bounded).
    #[serde(default)]
    pub seen_objects: VecDeque<String>,
    /// Events that could not be published; sent at the next invocation.
    #[serde(default)]
    pub pending_events: Vec<PendingEvent>,
}

/// A run of keep-alive races on one load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// When the remediator first saw it (unix seconds).
    pub opened_at: u64,
    /// Log time of the first race (unix seconds), when the findings carried it.
    #[serde(default)]
    pub first_race_at: Option<u64>,
    /// Log time of the last race (unix seconds).
    #[serde(default)]
    pub last_race_at: Option<u64>,
    /// Keep-alive race 502s in all its objects.
    pub keepalive_502: u64,
    /// Requests in all its objects.
    pub requests: u64,
    /// Objects that showed it.
    pub object_count: u64,
    /// The first few of those objects (`bucket/key`).
    pub objects: Vec<String>,
}

/// A notification sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// When (unix seconds).
    pub at: u64,
    /// The detail-type.
    pub detail_type: String,
    /// What the plan was, to renotify when it changes.
    pub plan_digest: String,
}

/// Whether a change did what it should.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verification {
    /// Written, not yet judged.
    #[default]
    Pending,
    /// Races kept coming after the grace period.
    Ineffective,
    /// No race for the verification window.
    Verified,
    /// Undone (by a rollback request or the regression guard).
    RolledBack,
}

/// Whether the writes of a change are done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeStatus {
    /// Recorded before the first write; the next delivery completes it.
    Intended,
    /// Every write done.
    Applied,
}

/// One change and why it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// Unique id.
    pub id: String,
    /// When (unix seconds).
    pub at: u64,
    /// Intended or applied.
    pub status: ChangeStatus,
    /// `set` (a remedy) or `rollback`.
    pub kind: String,
    /// The actions with before and after.
    pub actions: Vec<ActionReport>,
    /// The objects behind it.
    pub sources: Vec<Source>,
    /// Keep-alive race 502s in the evidence.
    pub keepalive_502: u64,
    /// The estimate in the evidence.
    #[serde(default)]
    pub estimated_backend_keepalive_ms: Option<u32>,
    /// Whether it worked.
    #[serde(default)]
    pub verification: Verification,
    /// When the verification status last changed.
    #[serde(default)]
    pub verified_at: Option<u64>,
    /// 504s, 460s and requests in the evidence before the change (regression guard).
    #[serde(default)]
    pub before_counts: Option<ErrorCounts>,
    /// The same, summed over objects logged after the change.
    #[serde(default)]
    pub after_counts: Option<ErrorCounts>,
}

/// Counts of the errors that a lower idle timeout can cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Requests.
    pub requests: u64,
    /// ELB 504s (target did not answer within the idle timeout).
    pub elb_504: u64,
    /// 460s (client closed the connection first).
    pub client_460: u64,
}

impl ErrorCounts {
    /// Adds `other` (saturating).
    pub fn add(&mut self, other: ErrorCounts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.elb_504 = self.elb_504.saturating_add(other.elb_504);
        self.client_460 = self.client_460.saturating_add(other.client_460);
    }
}

/// An event that failed to publish.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    /// The detail-type.
    pub detail_type: String,
    /// The detail, as JSON text.
    pub detail: String,
}

/// Fewest errors after a change that can count as a regression (a single 504 is noise).
pub const REGRESSION_MIN_ERRORS: u64 = 5;

impl JournalState {
    /// Whether the object was already taken as evidence.
    pub fn seen(&self, object: &str) -> bool {
        self.seen_objects.iter().any(|seen| seen == object)
    }

    /// Remembers objects as seen (bounded, oldest forgotten first).
    pub fn mark_seen<'a>(&mut self, objects: impl IntoIterator<Item = &'a str>) {
        for object in objects {
            if !self.seen(object) {
                self.seen_objects.push_back(object.to_string());
            }
        }
        while self.seen_objects.len() > SEEN_OBJECTS_KEPT {
            self.seen_objects.pop_front();
        }
    }

    /// Adds new evidence to the episode (opening one if there is none).
    pub fn extend_episode(&mut self, evidence: &Evidence, now: u64) {
        let episode =
            self.episode.get_or_insert_with(|| Episode { opened_at: now, ..Default::default() });
        episode.first_race_at = min_some(episode.first_race_at, evidence.first_race_at);
        episode.last_race_at = episode.last_race_at.max(evidence.last_race_at);
        episode.keepalive_502 = episode.keepalive_502.saturating_add(evidence.keepalive_502);
        episode.requests = episode.requests.saturating_add(evidence.requests);
        episode.object_count = episode.object_count.saturating_add(evidence.objects.len() as u64);
        for object in &evidence.objects {
            if episode.objects.len() < EPISODE_OBJECTS_KEPT && !episode.objects.contains(object) {
                episode.objects.push(object.clone());
            }
        }
    }

    /// Whether `Keep-Alive Race Detected` is due: none sent yet, the last one is older than
    /// `renotify_s`, or the plan changed since.
    pub fn detected_due(&self, plan_digest: &str, now: u64, renotify_s: u64) -> bool {
        match &self.last_notification {
            None => true,
            Some(last) => {
                last.plan_digest != plan_digest || now >= last.at.saturating_add(renotify_s)
            }
        }
    }

    /// The applied change that is still being judged.
    pub fn pending_verification(&self) -> Option<&ChangeRecord> {
        self.last_change.as_ref().filter(|c| {
            c.status == ChangeStatus::Applied
                && c.kind == "set"
                && c.verification == Verification::Pending
        })
    }

    /// Queues an event for the next invocation (bounded).
    pub fn queue_event(&mut self, event: PendingEvent) {
        self.pending_events.push(event);
        let excess = self.pending_events.len().saturating_sub(PENDING_EVENTS_KEPT);
        self.pending_events.drain(..excess);
    }
}

/// New evidence about one load balancer (one invocation's unseen objects).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// Log time of the first race (unix seconds).
    pub first_race_at: Option<u64>,
    /// Log time of the last race (unix seconds).
    pub last_race_at: Option<u64>,
    /// Keep-alive race 502s.
    pub keepalive_502: u64,
    /// Requests.
    pub requests: u64,
    /// `bucket/key` of the objects.
    pub objects: Vec<String>,
}

fn min_some(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether new races prove an applied change ineffective: they were logged more than
/// `grace_s` after the change, and the planned values are already in force (nothing left to
/// write). Races logged inside the grace period are the old connections draining.
pub fn ineffective(
    change: &ChangeRecord,
    last_race_at: Option<u64>,
    grace_s: u64,
    nothing_to_write: bool,
) -> bool {
    nothing_to_write
        && change.verification == Verification::Pending
        && last_race_at.is_some_and(|race| race > change.at.saturating_add(grace_s))
}

/// Whether a change can be called verified at `now`: older than `window_s`, and no race logged
/// after change + `grace_s`.
pub fn verified(
    change: &ChangeRecord,
    last_race_at: Option<u64>,
    now: u64,
    grace_s: u64,
    window_s: u64,
) -> bool {
    change.status == ChangeStatus::Applied
        && change.verification == Verification::Pending
        && now >= change.at.saturating_add(window_s)
        && last_race_at.is_none_or(|race| race <= change.at.saturating_add(grace_s))
}

/// Whether the errors a lower idle timeout causes (504, 460) grew after the change: their rate
/// per request after exceeds the rate before, with at least [`REGRESSION_MIN_ERRORS`] of them.
pub fn regressed(before: ErrorCounts, after: ErrorCounts) -> bool {
    let errors_after = after.elb_504.saturating_add(after.client_460);
    let errors_before = before.elb_504.saturating_add(before.client_460);
    if errors_after < REGRESSION_MIN_ERRORS || after.requests == 0 {
        return false;
    }
    // errors_after / after.requests > errors_before / before.requests, without division.
    let lhs = u128::from(errors_after) * u128::from(before.requests.max(1));
    let rhs = u128::from(errors_before) * u128::from(after.requests);
    lhs > rhs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: u64) -> ChangeRecord {
        ChangeRecord {
            id: "c1".into(),
            at,
            status: ChangeStatus::Applied,
            kind: "set".into(),
            actions: vec![],
            sources: vec![],
            keepalive_502: 3,
            estimated_backend_keepalive_ms: Some(5000),
            verification: Verification::Pending,
            verified_at: None,
            before_counts: None,
            after_counts: None,
        }
    }

    #[test]
    fn seen_objects_are_remembered_and_bounded() {
        let mut state = JournalState::default();
        assert!(!state.seen("b/k1"));
        state.mark_seen(["b/k1", "b/k1"]);
        assert!(state.seen("b/k1"));
        assert_eq!(state.seen_objects.len(), 1);
        let many: Vec<String> = (0..SEEN_OBJECTS_KEPT + 5).map(|i| format!("b/{i}")).collect();
        state.mark_seen(many.iter().map(String::as_str));
        assert_eq!(state.seen_objects.len(), SEEN_OBJECTS_KEPT);
        assert!(!state.seen("b/k1"), "the oldest is forgotten first");
        assert!(state.seen(&format!("b/{}", SEEN_OBJECTS_KEPT + 4)));
    }

    #[test]
    fn episode_spans_the_races_of_all_its_objects() {
        let mut state = JournalState::default();
        let first = Evidence {
            first_race_at: Some(200),
            last_race_at: Some(260),
            keepalive_502: 3,
            requests: 100,
            objects: vec!["b/k1".into()],
        };
        state.extend_episode(&first, 1000);
        let second = Evidence {
            first_race_at: Some(100),
            last_race_at: Some(250),
            keepalive_502: 2,
            requests: 50,
            objects: vec!["b/k2".into()],
        };
        state.extend_episode(&second, 1100);
        let episode = state.episode.unwrap();
        assert_eq!(episode.opened_at, 1000);
        assert_eq!((episode.first_race_at, episode.last_race_at), (Some(100), Some(260)));
        assert_eq!((episode.keepalive_502, episode.requests, episode.object_count), (5, 150, 2));
        assert_eq!(episode.objects, ["b/k1", "b/k2"]);
    }

    #[test]
    fn detected_is_sent_once_until_renotify_or_a_new_plan() {
        let mut state = JournalState::default();
        assert!(state.detected_due("p1", 100, 86_400));
        state.last_notification =
            Some(Notification { at: 100, detail_type: "x".into(), plan_digest: "p1".into() });
        assert!(!state.detected_due("p1", 100 + 86_399, 86_400));
        assert!(state.detected_due("p1", 100 + 86_400, 86_400));
        assert!(state.detected_due("p2", 101, 86_400), "the plan changed");
    }

    #[test]
    fn races_inside_the_grace_period_do_not_make_a_change_ineffective() {
        let c = change(1000);
        assert!(!ineffective(&c, Some(1000 + 900), 900, true), "at the end of the grace");
        assert!(ineffective(&c, Some(1000 + 901), 900, true));
        assert!(!ineffective(&c, Some(5000), 900, false), "something is still to be written");
        assert!(!ineffective(&c, None, 900, true), "no race time: no proof");
        let mut judged = change(1000);
        judged.verification = Verification::Ineffective;
        assert!(!ineffective(&judged, Some(5000), 900, true), "once per change");
    }

    #[test]
    fn a_change_is_verified_after_the_window_without_late_races() {
        let c = change(1000);
        assert!(!verified(&c, None, 1000 + 86_399, 900, 86_400), "window not over");
        assert!(verified(&c, None, 1000 + 86_400, 900, 86_400));
        assert!(verified(&c, Some(1000 + 900), 1000 + 86_400, 900, 86_400), "draining");
        assert!(!verified(&c, Some(1000 + 901), 1000 + 86_400, 900, 86_400));
        let mut intended = change(1000);
        intended.status = ChangeStatus::Intended;
        assert!(!verified(&intended, None, 1_000_000, 900, 86_400));
    }

    #[test]
    fn regression_needs_a_higher_rate_and_enough_errors() {
        let before = ErrorCounts { requests: 1000, elb_504: 1, client_460: 1 };
        assert!(!regressed(before, ErrorCounts { requests: 1000, elb_504: 4, client_460: 0 }));
        assert!(regressed(before, ErrorCounts { requests: 1000, elb_504: 3, client_460: 3 }));
        assert!(!regressed(before, ErrorCounts { requests: 10_000, elb_504: 10, client_460: 0 }));
        assert!(regressed(
            ErrorCounts::default(),
            ErrorCounts { requests: 10, elb_504: 5, client_460: 0 }
        ));
        assert!(!regressed(before, ErrorCounts::default()));
    }

    #[test]
    fn pending_events_are_bounded() {
        let mut state = JournalState::default();
        for i in 0..PENDING_EVENTS_KEPT + 3 {
            state.queue_event(PendingEvent { detail_type: "t".into(), detail: i.to_string() });
        }
        assert_eq!(state.pending_events.len(), PENDING_EVENTS_KEPT);
        assert_eq!(state.pending_events[0].detail, "3");
    }
}
