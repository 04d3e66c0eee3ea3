//! A fixed-size histogram of durations, to know how many requests a lower idle timeout would
//! have cut: whole-second buckets up to 64 s (idle timeouts are whole seconds), then doubling
//! buckets up to 4096 s and one for everything longer.

use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

const SECOND_BUCKETS: usize = 64;
const BUCKETS: usize = SECOND_BUCKETS + 7;

/// Counts of durations by bucket. Serialized as `[[from_s, count], ...]` for the non-empty
/// buckets, in order (`from_s` is the bucket's lower bound in seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationHistogram {
    counts: [u64; BUCKETS],
}

impl Default for DurationHistogram {
    fn default() -> Self {
        DurationHistogram { counts: [0; BUCKETS] }
    }
}

impl DurationHistogram {
    /// Counts one duration.
    #[inline]
    pub fn record_ms(&mut self, ms: u64) {
        let bucket = bucket_of(ms / 1000);
        self.counts[bucket] = self.counts[bucket].saturating_add(1);
    }

    /// All durations counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |sum, &c| sum.saturating_add(c))
    }

    /// Durations of at least `seconds`, counted conservatively: a bucket that straddles
    /// `seconds` counts in full, so the number is never too small.
    pub fn at_least_s(&self, seconds: u64) -> u64 {
        let first = bucket_of(seconds);
        self.counts[first..].iter().fold(0u64, |sum, &c| sum.saturating_add(c))
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &DurationHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// `(lower bound in seconds, count)` of each non-empty bucket.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, c)| (lower_bound_s(i), *c))
    }
}

#[inline]
fn bucket_of(seconds: u64) -> usize {
    if seconds < SECOND_BUCKETS as u64 {
        seconds as usize
    } else {
        // 64-127 -> 64, 128-255 -> 65, ... 4096 and more -> the last bucket.
        let doublings = (seconds / SECOND_BUCKETS as u64).ilog2() as usize;
        (SECOND_BUCKETS + doublings).min(BUCKETS - 1)
    }
}

fn lower_bound_s(bucket: usize) -> u64 {
    if bucket < SECOND_BUCKETS {
        bucket as u64
    } else {
        (SECOND_BUCKETS as u64) << (bucket - SECOND_BUCKETS)
    }
}

impl Serialize for DurationHistogram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for bucket in self.buckets() {
            seq.serialize_element(&[bucket.0, bucket.1])?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for DurationHistogram {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<[u64; 2]>::deserialize(deserializer)?;
        let mut histogram = DurationHistogram::default();
        for [from_s, count] in pairs {
            let bucket = bucket_of(from_s);
            if lower_bound_s(bucket) != from_s {
                return Err(D::Error::custom(format!("{from_s} s is not a bucket's lower bound")));
            }
            histogram.counts[bucket] = histogram.counts[bucket].saturating_add(count);
        }
        Ok(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_whole_seconds_then_doubling() {
        let mut h = DurationHistogram::default();
        for ms in [0, 999, 1000, 3999, 4000, 25_000, 70_000, 5_000_000] {
            h.record_ms(ms);
        }
        assert_eq!(h.total(), 8);
        assert_eq!(h.at_least_s(4), 4, "4.000, 25, 70 and 5000 s");
        assert_eq!(h.at_least_s(1), 6);
        assert_eq!(h.at_least_s(100), 2, "the 64-127 s bucket counts in full");
        let buckets: Vec<(u64, u64)> = h.buckets().collect();
        assert_eq!(buckets, [(0, 2), (1, 1), (3, 1), (4, 1), (25, 1), (64, 1), (4096, 1)]);
    }

    #[test]
    fn round_trips_through_json_and_merges() {
        let mut h = DurationHistogram::default();
        h.record_ms(8_500);
        h.record_ms(300_000);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, "[[8,1],[256,1]]");
        let mut back: DurationHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        back.merge(&h);
        assert_eq!(back.total(), 4);
        assert!(serde_json::from_str::<DurationHistogram>("[[100,1]]").is_err());
    }
}
