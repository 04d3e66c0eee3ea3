//! Idle gaps before keep-alive races, and the backend keep-alive timeout they reveal.
//!
//! For every race the pool replay (see `pool`) gives the idle age of the connection it hit. The
//! race happens when a pooled connection has been idle for exactly the backend's keep-alive
//! timeout, so the ages pile up at that value; the estimate is the densest cluster of them.
//!
//! Memory is fixed: at most [`GapSample::CAPACITY`] gaps are kept, chosen by reservoir sampling
//! when there are more.

use serde::Serialize;

/// A bounded, uniform sample of idle gaps in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GapSample {
    seen: u64,
    values: Vec<u32>,
    rng: u64,
}

impl GapSample {
    /// Gaps kept at most; enough for a stable upper quantile.
    pub const CAPACITY: usize = 512;

    /// Adds one gap.
    pub fn push(&mut self, gap_ms: u32) {
        self.seen += 1;
        if self.values.len() < Self::CAPACITY {
            self.values.push(gap_ms);
            return;
        }
        // Reservoir sampling (algorithm R) with a fixed-seed generator: reproducible reports.
        let slot = self.next_random() % self.seen;
        if let Some(kept) = self.values.get_mut(slot as usize) {
            *kept = gap_ms;
        }
    }

    /// Adds every gap of `other`, keeping the sample uniform over both.
    pub fn merge(&mut self, other: &GapSample) {
        let total = self.seen + other.seen;
        if self.values.len() + other.values.len() <= Self::CAPACITY {
            self.values.extend_from_slice(&other.values);
            self.seen = total;
            return;
        }
        // Draw from each side in proportion to how many gaps it stands for.
        let (mut mine, mut theirs) = (self.values.clone(), other.values.clone());
        let mut merged = Vec::with_capacity(Self::CAPACITY);
        while merged.len() < Self::CAPACITY && !(mine.is_empty() && theirs.is_empty()) {
            let pick_mine = theirs.is_empty()
                || (!mine.is_empty() && self.next_random() % total.max(1) < self.seen);
            let side = if pick_mine { &mut mine } else { &mut theirs };
            let index = (self.next_random() % side.len() as u64) as usize;
            merged.push(side.swap_remove(index));
        }
        self.values = merged;
        self.seen = total;
    }

    /// How many gaps were measured in all.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The kept gaps, in arrival order.
    pub fn values(&self) -> &[u32] {
        &self.values
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Estimates the backend keep-alive timeout from the idle ages; `None` without any.
    ///
    /// The estimate is the middle of the densest cluster (ages within 5 % + 5 ms of each
    /// other), not the top or the mean: a keep-alive race recurs at one idle age, so one stray
    /// age, however long, is outvoted, and line order does not matter.
    pub fn estimate(&self) -> Option<KeepaliveEstimate> {
        if self.values.is_empty() {
            return None;
        }
        let mut sorted = self.values.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        let (mut best, mut best_count, mut lo) = ((0, 0), 0, 0);
        for hi in 0..n {
            while sorted[hi] - sorted[lo] > sorted[lo] / 20 + 5 {
                lo += 1;
            }
            if hi + 1 - lo > best_count {
                best_count = hi + 1 - lo;
                best = (lo, hi);
            }
        }
        let estimate = sorted[(best.0 + best.1) / 2];
        let near = sorted.iter().filter(|&&g| g.abs_diff(estimate) <= estimate / 10).count();
        let agreement = near as f64 / n as f64;
        let confidence = agreement * (self.seen as f64 / (self.seen as f64 + 2.0));
        Some(KeepaliveEstimate {
            backend_keepalive_ms: estimate,
            confidence: (confidence * 100.0).round() / 100.0,
            gaps: self.seen,
            gaps_near_estimate: near as u64,
            min_gap_ms: sorted[0],
            max_gap_ms: sorted[n - 1],
            reuse_order: ReuseOrder::MostRecentlyUsed,
            model_fit: 1.0,
        })
    }
}

/// Which idle connection the load balancer's pool reuses, as far as the log tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReuseOrder {
    /// The connection idle the shortest time (LIFO).
    #[serde(rename = "lifo")]
    MostRecentlyUsed,
    /// The connection idle the longest time (FIFO).
    #[serde(rename = "fifo")]
    LeastRecentlyUsed,
}

/// The backend keep-alive timeout inferred from race gaps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KeepaliveEstimate {
    /// The estimated timeout.
    pub backend_keepalive_ms: u32,
    /// 0 to 1: the share of gaps within 10 % of the estimate, discounted when there are few.
    pub confidence: f64,
    /// How many gaps were measured.
    pub gaps: u64,
    /// How many sampled gaps lie within 10 % of the estimate.
    pub gaps_near_estimate: u64,
    /// Smallest sampled gap.
    pub min_gap_ms: u32,
    /// Largest sampled gap.
    pub max_gap_ms: u32,
    /// The pool model whose replay explains the races best (`lifo` or `fifo`).
    pub reuse_order: ReuseOrder,
    /// 0 to 1: the share of races that model explains, less the answered requests it
    /// contradicts; already part of `confidence`.
    pub model_fit: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(gaps: &[u32]) -> GapSample {
        let mut s = GapSample::default();
        gaps.iter().for_each(|&g| s.push(g));
        s
    }

    #[test]
    fn identical_gaps_give_that_value_with_high_confidence() {
        let e = sample(&[5000; 8]).estimate().unwrap();
        assert_eq!(e.backend_keepalive_ms, 5000);
        assert_eq!(e.gaps, 8);
        assert!(e.confidence >= 0.8, "{e:?}");
    }

    #[test]
    fn one_gap_is_an_estimate_with_low_confidence() {
        let e = sample(&[2001]).estimate().unwrap();
        assert_eq!(e.backend_keepalive_ms, 2001);
        assert!(e.confidence < 0.5, "{e:?}");
    }

    #[test]
    fn lower_bound_gaps_from_busy_targets_do_not_drag_the_estimate_down() {
        // Busy target: the target-wide gap is often shorter than the racing connection's idle.
        let mut gaps = vec![5000, 4998, 5001, 4990, 4970, 4999, 5002];
        gaps.extend([3100, 2500, 4200, 1200, 3900]);
        let e = sample(&gaps).estimate().unwrap();
        assert!((4500..=5500).contains(&e.backend_keepalive_ms), "{e:?}");
        assert!(e.confidence < 0.7, "scattered gaps lower the confidence: {e:?}");
    }

    #[test]
    fn a_stray_long_gap_is_ignored_once_there_are_enough() {
        let mut gaps = vec![5000u32; 40];
        gaps.push(90_000);
        assert_eq!(sample(&gaps).estimate().unwrap().backend_keepalive_ms, 5000);
    }

    #[test]
    fn empty_sample_has_no_estimate() {
        assert_eq!(GapSample::default().estimate(), None);
    }

    #[test]
    fn memory_is_bounded_and_merge_keeps_counts() {
        let mut big = GapSample::default();
        for i in 0..100_000u32 {
            big.push(5000 + i % 3);
        }
        assert_eq!(big.values().len(), GapSample::CAPACITY);
        assert_eq!(big.seen(), 100_000);
        let mut merged = sample(&[2000, 2000]);
        merged.merge(&sample(&[2000]));
        assert_eq!(merged.seen(), 3);
        assert_eq!(merged.estimate().unwrap().backend_keepalive_ms, 2000);
        let mut from_big = GapSample::default();
        from_big.merge(&big);
        assert_eq!(from_big.seen(), 100_000);
        assert!((5000..=5002).contains(&from_big.estimate().unwrap().backend_keepalive_ms));
    }
}
