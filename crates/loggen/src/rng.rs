//! A small seeded PRNG (splitmix64) and the few distributions the simulator needs.
//!
//! The generator must be deterministic for a seed across platforms and releases, so it owns its
//! random numbers instead of depending on `rand` (whose streams may change between versions).
//! splitmix64 is tiny, fast, passes BigCrush, and can be re-seeded for free, which lets every
//! simulated request draw from its own stream (see [`Rng::derive`]).

/// splitmix64 state.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

/// Golden-ratio increment of splitmix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 output function, also used to hash seeds together.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose stream depends only on `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng(mix64(seed ^ 0x6A09_E667_F3BC_C908))
    }

    /// An independent stream for (`seed`, `a`, `b`). Used so that a request's attributes do not
    /// depend on how many numbers earlier requests consumed: the incident and the healthy
    /// scenario then send the very same requests, and only the keep-alive outcome differs.
    pub(crate) fn derive(seed: u64, a: u64, b: u64) -> Self {
        Rng::new(mix64(mix64(seed ^ a.wrapping_mul(GAMMA)) ^ b))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n); 0 when n == 0. Lemire's multiply-shift, bias negligible for our n.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi] (inclusive); `lo` when hi < lo.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.below(hi - lo + 1) }
    }

    /// True with probability p.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponential with the given mean (Poisson inter-arrival times).
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Standard normal (Box-Muller; one value per call keeps the stream simple).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Lognormal with the given median and log-space sigma: service times are right-skewed.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Index drawn from cumulative weights (last entry = total).
    pub(crate) fn weighted(&mut self, cumulative: &[u32]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0);
        let x = self.below(u64::from(total)) as u32;
        cumulative.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_different_seeds_differ() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c = Rng::new(8).next_u64();
        assert_eq!(a, b);
        assert_ne!(a[0], c);
    }

    #[test]
    fn uniform_and_range_stay_in_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            let y = r.range(3, 5);
            assert!((3..=5).contains(&y));
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn lognormal_median_is_about_right() {
        let mut r = Rng::new(3);
        let mut v: Vec<f64> = (0..20_001).map(|_| r.lognormal(20.0, 0.7)).collect();
        v.sort_by(f64::total_cmp);
        let median = v[10_000];
        assert!((18.0..22.0).contains(&median), "median {median}");
    }

    #[test]
    fn weighted_picks_every_bucket_in_proportion() {
        let mut r = Rng::new(5);
        let cum = [1, 4, 10];
        let mut n = [0u32; 3];
        for _ in 0..10_000 {
            n[r.weighted(&cum)] += 1;
        }
        assert!(n[0] > 700 && n[0] < 1300, "{n:?}");
        assert!(n[2] > 5500 && n[2] < 6500, "{n:?}");
    }
}
