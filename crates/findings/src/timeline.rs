//! Load-balancer 502s by class over time, in 5-minute buckets (the interval of one ALB log
//! object), for reports that show *when* things happened.
//!
//! Memory is bounded: at most [`ClassTimeline::MAX_BUCKETS`] buckets (about two weeks) are
//! kept; 502s outside them are counted in [`ClassTimeline::outside`].

use std::collections::BTreeMap;

use crate::classify::Elb502Class;
use crate::report::ClassCounts;

/// Counts of 502s per class and per 5-minute bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassTimeline {
    buckets: BTreeMap<i64, ClassCounts>,
    outside: u64,
}

impl ClassTimeline {
    /// Bucket width in seconds.
    pub const BUCKET_SECONDS: i64 = 300;
    /// Buckets kept at most: 14 days of 5-minute buckets.
    pub const MAX_BUCKETS: usize = 14 * 24 * 12;

    /// Counts one 502 of `class` at `micros` (µs since the Unix epoch, UTC).
    pub fn add(&mut self, micros: i64, class: Elb502Class) {
        let start = micros.div_euclid(Self::BUCKET_SECONDS * 1_000_000) * Self::BUCKET_SECONDS;
        self.add_counts(start, |counts| counts.add(class), 1);
    }

    fn add_counts(&mut self, start: i64, apply: impl FnOnce(&mut ClassCounts), total: u64) {
        if let Some(counts) = self.buckets.get_mut(&start) {
            apply(counts);
        } else if self.buckets.len() < Self::MAX_BUCKETS {
            apply(self.buckets.entry(start).or_default());
        } else {
            self.outside += total;
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &ClassTimeline) {
        for (&start, theirs) in &other.buckets {
            self.add_counts(start, |mine| mine.merge(theirs), theirs.total());
        }
        self.outside += other.outside;
    }

    /// `(bucket start in seconds since the epoch, counts)`, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, &ClassCounts)> {
        self.buckets.iter().map(|(&start, counts)| (start, counts))
    }

    /// 502s that fell outside the kept buckets.
    pub fn outside(&self) -> u64 {
        self.outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fall_into_five_minute_buckets_and_merge() {
        let minute = 60_000_000;
        let mut a = ClassTimeline::default();
        a.add(0, Elb502Class::KeepaliveRace);
        a.add(4 * minute + 59_999_999, Elb502Class::KeepaliveRace);
        a.add(5 * minute, Elb502Class::ConnectionFailure);
        let mut b = ClassTimeline::default();
        b.add(6 * minute, Elb502Class::KeepaliveRace);
        b.add(-1, Elb502Class::TargetSent);
        a.merge(&b);
        let buckets: Vec<(i64, u64, u64)> = a
            .buckets()
            .map(|(start, c)| {
                (start, c.get(Elb502Class::KeepaliveRace), c.get(Elb502Class::ConnectionFailure))
            })
            .collect();
        assert_eq!(buckets, [(-300, 0, 0), (0, 2, 0), (300, 1, 1)]);
        assert_eq!(a.outside(), 0);
    }

    #[test]
    fn buckets_are_bounded() {
        let mut timeline = ClassTimeline::default();
        let bucket = ClassTimeline::BUCKET_SECONDS * 1_000_000;
        for i in 0..(ClassTimeline::MAX_BUCKETS as i64 + 10) {
            timeline.add(i * bucket, Elb502Class::KeepaliveRace);
        }
        assert_eq!(timeline.buckets().count(), ClassTimeline::MAX_BUCKETS);
        assert_eq!(timeline.outside(), 10);
        let mut other = ClassTimeline::default();
        other.add(-bucket, Elb502Class::KeepaliveRace);
        timeline.merge(&other);
        assert_eq!(timeline.outside(), 11);
    }
}
