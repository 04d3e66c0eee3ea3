//! When the races happened: the log time of the first and last race and a count per UTC hour,
//! so that a scan of several days shows whether the race stopped, and the remediator can tell
//! races logged after a change from those before it.

use std::collections::BTreeMap;

use alb_records::Timestamp;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// The race times of one load balancer. Memory grows with the hours covered, not the lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaceTimeline {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    by_hour: BTreeMap<Timestamp, u64>,
}

impl RaceTimeline {
    /// Counts one race logged at `at` (the entry's `time` field).
    pub fn record(&mut self, at: Timestamp) {
        self.first = Some(self.first.map_or(at, |first| first.min(at)));
        self.last = Some(self.last.map_or(at, |last| last.max(at)));
        *self.by_hour.entry(at.hour_start()).or_default() += 1;
    }

    /// The earliest race, by log time.
    pub fn first(&self) -> Option<Timestamp> {
        self.first
    }

    /// The latest race, by log time.
    pub fn last(&self) -> Option<Timestamp> {
        self.last
    }

    /// Races per UTC hour (start of the hour, count), oldest first; hours without races are absent.
    pub fn by_hour(&self) -> impl Iterator<Item = (Timestamp, u64)> + '_ {
        self.by_hour.iter().map(|(&hour, &races)| (hour, races))
    }

    /// Adds the races of another object.
    pub fn merge(&mut self, other: &RaceTimeline) {
        for at in [other.first, other.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(at, |first| first.min(at)));
            self.last = Some(self.last.map_or(at, |last| last.max(at)));
        }
        for (&hour, &races) in &other.by_hour {
            *self.by_hour.entry(hour).or_default() += races;
        }
    }
}

/// Flattened into the load balancer's findings as `first_race_at`, `last_race_at` (RFC 3339 or
/// null) and `races_by_hour` (`[{"hour": "2026-11-27T09:00:00Z", "races": 8}]`).
impl Serialize for RaceTimeline {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("first_race_at", &self.first.map(|t| t.to_string()))?;
        map.serialize_entry("last_race_at", &self.last.map(|t| t.to_string()))?;
        map.serialize_entry("races_by_hour", &Hours(&self.by_hour))?;
        map.end()
    }
}

struct Hours<'a>(&'a BTreeMap<Timestamp, u64>);

impl Serialize for Hours<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Hour {
            hour: String,
            races: u64,
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (hour, &races) in self.0 {
            seq.serialize_element(&Hour { hour: hour.to_string(), races })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn keeps_first_last_and_hourly_counts_whatever_the_order() {
        let mut timeline = RaceTimeline::default();
        timeline.record(at("2026-11-27T10:15:00Z"));
        timeline.record(at("2026-11-27T09:30:21.260345Z"));
        timeline.record(at("2026-11-27T09:59:59Z"));
        assert_eq!(timeline.first(), Some(at("2026-11-27T09:30:21.260345Z")));
        assert_eq!(timeline.last(), Some(at("2026-11-27T10:15:00Z")));
        let hours: Vec<_> = timeline.by_hour().collect();
        assert_eq!(hours, [(at("2026-11-27T09:00:00Z"), 2), (at("2026-11-27T10:00:00Z"), 1)]);
    }

    #[test]
    fn merges_objects_and_serializes_as_rfc3339() {
        let mut day1 = RaceTimeline::default();
        day1.record(at("2026-11-27T09:30:00Z"));
        let mut day2 = RaceTimeline::default();
        day2.record(at("2026-11-28T09:30:00Z"));
        day2.record(at("2026-11-28T09:31:00Z"));
        let mut all = RaceTimeline::default();
        all.merge(&day2);
        all.merge(&day1);
        all.merge(&RaceTimeline::default());
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json["first_race_at"], "2026-11-27T09:30:00Z");
        assert_eq!(json["last_race_at"], "2026-11-28T09:31:00Z");
        assert_eq!(
            json["races_by_hour"],
            serde_json::json!([
                {"hour": "2026-11-27T09:00:00Z", "races": 1},
                {"hour": "2026-11-28T09:00:00Z", "races": 2}
            ])
        );
        let empty = serde_json::to_value(RaceTimeline::default()).unwrap();
        assert!(empty["first_race_at"].is_null());
        assert_eq!(empty["races_by_hour"], serde_json::json!([]));
    }
}
