//! What the load balancer's pooled connections to one target did, reconstructed from the log.
//!
//! A target-wide gap (time since the target's last response) is only a lower bound of the racing
//! connection's idle time as soon as a target has several pooled connections. So every entry of
//! a target becomes a [`Span`] (dispatch and end), and the spans are replayed through a model of
//! the pool: a request takes an idle connection, an answered request gives its connection back
//! at `time`, a race or a closed request loses it, a refused connect empties the pool. Which idle
//! connection is taken is not documented, so both orders are replayed:
//!
//! * **most recently used (LIFO)**: the replay needs no keep-alive value, because a LIFO pool
//!   always takes its youngest connection, and a connection the backend already closed is only
//!   taken when every younger one is busy, which is exactly when the real pool opened a new one;
//!   the idle age it gives each race is exact;
//! * **least recently used (FIFO)**: the real pool drops connections idle for the backend's
//!   keep-alive K, and which connection is oldest depends on that. The candidates for K are the
//!   idle ages of every idle connection at each race in a replay that never drops any (that pool
//!   holds a superset of the real one, so the racing connection is among them); the candidates
//!   that most races share are then replayed with K.
//!
//! A model at K is scored by how many races it explains (the connection taken was idle for K)
//! minus how many answered requests it contradicts (they would have raced). The load balancer
//! keeps the order that explains more, and estimates K from the idle ages under it.
//!
//! Spans wait in a bounded per-target buffer (the reorder window: lines are not sorted); when it
//! fills, the older half is replayed and the oldest quarter dropped, so memory is bounded by
//! [`TARGET_SPANS`] per target and [`BUFFERED_SPANS`] in all.
//!
//! A **shutdown** closes every idle connection at once: a burst of race-shaped 502s on one
//! target whose idle ages agree under neither order, usually followed by refused connections or
//! by the target leaving the log. Those races get their own class and no keep-alive estimate.

use std::collections::VecDeque;

/// An idle age within `[K - below, K + above)` counts as "idle for K": dispatch times are
/// written in milliseconds, the race window itself is about a millisecond.
pub(crate) const AGE_BELOW_US: i64 = 2_000;
pub(crate) const AGE_ABOVE_US: i64 = 3_000;
/// Spans buffered per target before the older half is replayed.
pub(crate) const TARGET_SPANS: usize = 1 << 15;
/// Spans buffered over all targets before the target being written to is compacted.
pub(crate) const BUFFERED_SPANS: usize = 1 << 21;
/// Races at most this far apart on one target belong to one burst.
const BURST_GAP_US: i64 = 1_000_000;
/// A refused connect this soon after a burst marks it as a shutdown.
const AFTER_BURST_US: i64 = 10_000_000;
/// Races and idle connections per race that vote for the FIFO candidates.
const VOTE_RACES: usize = 32;
const VOTE_AGES: usize = 2048;
const FIFO_CANDIDATES: usize = 4;
/// Below this an idle age is not a plausible keep-alive timeout.
const MIN_KEEPALIVE_US: i64 = 100_000;

/// How an entry used its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The target answered: the connection went back to the pool at `time`.
    Answered,
    /// The connection was used and then closed (504, 460, closed mid-request, WebSocket).
    Closed,
    /// A keep-alive-race-shaped 502 not yet replayed.
    Race,
    /// A race already replayed in an earlier window (kept as history).
    RaceResolved,
    /// A refused connect: the target's pooled connections are gone.
    Refused,
}

/// One entry on one target: when it was written to a connection and how long it held it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub dispatch_us: i64,
    pub busy_us: u32,
    pub outcome: Outcome,
}

impl Span {
    fn end_us(self) -> i64 {
        self.dispatch_us + i64::from(self.busy_us)
    }

    fn is_race(self) -> bool {
        matches!(self.outcome, Outcome::Race | Outcome::RaceResolved)
    }
}

/// How well one reuse order explains the races of a window.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ModelFit {
    /// Races whose connection was idle for the model's K.
    pub explained: u64,
    /// Answered or closed requests whose connection was idle for K (they should have raced).
    pub contradicted: u64,
    /// Idle age of every keep-alive race under this model, ms (`None`: no idle connection).
    pub ages_ms: Vec<Option<u32>>,
}

/// The outcome of replaying one window of one target.
#[derive(Clone, Debug, Default)]
pub(crate) struct Analysis {
    /// Races replayed in this window, shutdown ones included.
    pub races: u64,
    /// Races that belong to a shutdown burst.
    pub shutdown: u64,
    pub lifo: ModelFit,
    pub fifo: ModelFit,
}

/// The reorder window of one target.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeline {
    /// In dispatch order, ties in the order they came (as a stable sort leaves them), unless
    /// `unsorted`.
    spans: Vec<Span>,
    /// A span came too far out of order to be put in its place on arrival.
    unsorted: bool,
    unresolved: usize,
    /// Leading spans (after sorting) already accounted for in an earlier window.
    accounted: usize,
}

/// How many of the last spans a new one is compared with to find its place.
const PLACE_REACH: usize = 16;

impl Timeline {
    /// Adds a span in its place. Lines come nearly in dispatch order, so the place is almost
    /// always at the end or a few spans before it, and the buffer needs no sort when it is
    /// replayed; a span that belongs further back is appended and the buffer sorted then.
    pub fn push(&mut self, span: Span) {
        if span.outcome == Outcome::Race {
            self.unresolved += 1;
        }
        // Nearly always: after the last one.
        if self.spans.last().is_none_or(|last| last.dispatch_us <= span.dispatch_us) {
            self.spans.push(span);
            return;
        }
        let reach = self.spans.len().saturating_sub(PLACE_REACH);
        let after =
            self.spans[reach..].iter().rposition(|kept| kept.dispatch_us <= span.dispatch_us);
        match after {
            Some(offset) => self.spans.insert(reach + offset + 1, span),
            None if reach == 0 => self.spans.insert(0, span),
            None => {
                self.unsorted = true;
                self.spans.push(span);
            }
        }
    }

    /// Puts the spans in dispatch order, ties in arrival order.
    fn sort(&mut self) {
        if self.unsorted {
            self.spans.sort_by_key(|s| s.dispatch_us);
            self.unsorted = false;
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Replays the older half and forgets the oldest quarter; returns the analysis (if the
    /// older half held races) and how many spans were dropped.
    pub fn compact(&mut self) -> (Option<Analysis>, usize) {
        self.sort();
        let half = self.spans.len().div_ceil(2);
        let analysis = self.resolve(half);
        let drop = self.spans.len() / 4;
        self.spans.drain(..drop);
        self.accounted = half.saturating_sub(drop);
        (analysis, drop)
    }

    /// Replays everything still unresolved and empties the buffer.
    pub fn finish(&mut self) -> Option<Analysis> {
        self.sort();
        let analysis = self.resolve(self.spans.len());
        self.spans = Vec::new();
        self.accounted = 0;
        analysis
    }

    /// Replays the spans (sorted by dispatch) and resolves the races among the first `upto`.
    fn resolve(&mut self, upto: usize) -> Option<Analysis> {
        if self.unresolved == 0 {
            return None;
        }
        let races: Vec<usize> =
            (0..upto).filter(|&i| self.spans[i].outcome == Outcome::Race).collect();
        if races.is_empty() {
            return None;
        }
        let window = Window {
            spans: &self.spans,
            lifo_events: events(&self.spans, Order::Lifo),
            fifo_events: events(&self.spans, Order::Fifo),
            accounted: self.accounted.min(upto),
            upto,
        };
        let mut analysis = window.analyse(&races);
        let shutdown = window.shutdown_races(&races, &analysis);
        analysis.races = races.len() as u64;
        analysis.shutdown = shutdown.iter().filter(|&&s| s).count() as u64;
        for fit in [&mut analysis.lifo, &mut analysis.fifo] {
            let mut kept = shutdown.iter();
            fit.ages_ms.retain(|_| !kept.next().copied().unwrap_or(false));
        }
        for &i in &races {
            self.spans[i].outcome = Outcome::RaceResolved;
        }
        self.unresolved -= races.len();
        Some(analysis)
    }
}

/// Dispatches and releases in time order: `(time, order, index | DISPATCH)`. A release at the
/// same instant as a dispatch comes first (the connection is free by then). The log cannot
/// order requests dispatched in the same instant (a burst); of the connections such a batch
/// takes, the races get the oldest: last in a LIFO pool, first in a FIFO pool.
const DISPATCH: u32 = 1 << 31;

fn events(spans: &[Span], order: Order) -> Vec<(i64, u8, u32)> {
    let mut events = Vec::with_capacity(spans.len() * 2);
    for (i, span) in spans.iter().enumerate() {
        let i = i as u32; // spans per target are bounded far below 2^31
        let rank = match (order, span.is_race()) {
            (Order::Lifo, false) | (Order::Fifo, true) => 1,
            (Order::Lifo, true) | (Order::Fifo, false) => 2,
        };
        events.push((span.dispatch_us, rank, i | DISPATCH));
        if span.outcome == Outcome::Answered {
            // A connection is given back after it was taken, even when written as instant.
            events.push((span.end_us().max(span.dispatch_us + 1), 0, i));
        }
    }
    events.sort_unstable();
    events
}

struct Window<'a> {
    spans: &'a [Span],
    lifo_events: Vec<(i64, u8, u32)>,
    fifo_events: Vec<(i64, u8, u32)>,
    accounted: usize,
    upto: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Lifo,
    Fifo,
}

impl Window<'_> {
    /// Replays the pool; `on_take(span, idle pool before the take, idle age taken)`.
    fn replay(
        &self,
        order: Order,
        expiry_us: i64,
        mut on_take: impl FnMut(usize, &VecDeque<i64>, i64, Option<i64>),
    ) {
        let mut idle: VecDeque<i64> = VecDeque::new();
        let events = match order {
            Order::Lifo => &self.lifo_events,
            Order::Fifo => &self.fifo_events,
        };
        for &(at, _, tag) in events {
            if tag & DISPATCH == 0 {
                idle.push_back(at);
                continue;
            }
            let index = (tag & !DISPATCH) as usize;
            if self.spans[index].outcome == Outcome::Refused {
                idle.clear();
                continue;
            }
            while idle.front().is_some_and(|&since| at - since >= expiry_us) {
                idle.pop_front();
            }
            let taken = match order {
                Order::Lifo => idle.back().copied(),
                Order::Fifo => idle.front().copied(),
            };
            on_take(index, &idle, at, taken.map(|since| at - since));
            match order {
                Order::Lifo => idle.pop_back(),
                Order::Fifo => idle.pop_front(),
            };
        }
    }

    /// Replays one order at K: ages of the races, explained and contradicted counts.
    fn fit(&self, order: Order, k_us: i64, expiry_us: i64, races: &[usize]) -> (ModelFit, i64) {
        let mut fit = ModelFit::default();
        let mut ages = vec![None; self.spans.len()];
        self.replay(order, expiry_us, |index, _, _, age| ages[index] = age);
        let in_window = |age: i64| age >= k_us - AGE_BELOW_US && age < k_us + AGE_ABOVE_US;
        // The idle ages at which connections did race under this model: an answered request
        // whose connection was idle that long should have raced too.
        let (mut raced_from, mut raced_to) = (i64::MAX, i64::MIN);
        for &i in races {
            if let Some(age) = ages[i].filter(|&age| in_window(age)) {
                fit.explained += 1;
                raced_from = raced_from.min(age);
                raced_to = raced_to.max(age);
            }
        }
        // Requests dispatched in the same millisecond cannot be told apart: which of them got
        // which connection is a guess, so none of them contradicts a model.
        let same_ms = |a: usize, b: usize| {
            self.spans[a].dispatch_us / 1000 == self.spans[b].dispatch_us / 1000
        };
        let batched = |i: usize| {
            (i > 0 && same_ms(i - 1, i)) || (i + 1 < self.spans.len() && same_ms(i, i + 1))
        };
        for (index, age) in ages.iter().enumerate().take(self.upto).skip(self.accounted) {
            let contradicts = age.is_some_and(|age| (raced_from..=raced_to).contains(&age));
            if contradicts && !self.spans[index].is_race() && !batched(index) {
                fit.contradicted += 1;
            }
        }
        fit.ages_ms = races.iter().map(|&i| ages[i].map(to_ms)).collect();
        let score = fit_score(&fit);
        (fit, score)
    }

    fn analyse(&self, races: &[usize]) -> Analysis {
        // LIFO: exact ages without knowing K; K is where most of them agree.
        let mut lifo_ages = vec![None; self.spans.len()];
        self.replay(Order::Lifo, i64::MAX, |index, _, _, age| {
            if self.spans[index].outcome == Outcome::Race {
                lifo_ages[index] = age;
            }
        });
        let mut known: Vec<i64> = races.iter().filter_map(|&i| lifo_ages[i]).collect();
        let lifo = match densest(&mut known, AGE_BELOW_US + AGE_ABOVE_US) {
            // Replayed again with K: a burst may take more connections than are still open,
            // and only the expiry tells which of them the race got.
            Some(k) => self.fit(Order::Lifo, k, k + AGE_ABOVE_US, races).0,
            None => ModelFit { ages_ms: vec![None; races.len()], ..ModelFit::default() },
        };

        // FIFO: candidates voted by the idle ages at each race in a pool that never expires.
        let mut votes: Vec<i64> = Vec::new();
        let mut voters = 0;
        self.replay(Order::Fifo, i64::MAX, |index, idle, at, _| {
            if self.spans[index].outcome == Outcome::Race
                && index < self.upto
                && voters < VOTE_RACES
            {
                voters += 1;
                votes.extend(
                    idle.iter()
                        .rev()
                        .take(VOTE_AGES)
                        .map(|&since| at - since)
                        .filter(|&age| age >= MIN_KEEPALIVE_US),
                );
            }
        });
        let mut fifo: Option<(ModelFit, i64)> = None;
        for k in candidates(&mut votes, FIFO_CANDIDATES) {
            let (fit, score) = self.fit(Order::Fifo, k, k + AGE_ABOVE_US, races);
            if fifo.as_ref().is_none_or(|(_, best)| score > *best) {
                fifo = Some((fit, score));
            }
        }
        let fifo = fifo.map(|(fit, _)| fit).unwrap_or_else(|| ModelFit {
            ages_ms: vec![None; races.len()],
            ..ModelFit::default()
        });
        Analysis { races: 0, shutdown: 0, lifo, fifo }
    }

    /// For each race (in `races` order): whether it belongs to a shutdown burst.
    fn shutdown_races(&self, races: &[usize], analysis: &Analysis) -> Vec<bool> {
        let mut shutdown = vec![false; races.len()];
        let mut start = 0;
        while start < races.len() {
            let mut end = start + 1;
            while end < races.len()
                && self.spans[races[end]].dispatch_us - self.spans[races[end - 1]].dispatch_us
                    <= BURST_GAP_US
            {
                end += 1;
            }
            let size = end - start;
            if size >= 2
                && !common_age(&analysis.lifo.ages_ms[start..end])
                && !common_age(&analysis.fifo.ages_ms[start..end])
                && (size >= 3 || self.followed_by_refusal_or_silence(races[end - 1]))
            {
                shutdown[start..end].iter_mut().for_each(|s| *s = true);
            }
            start = end;
        }
        shutdown
    }

    fn followed_by_refusal_or_silence(&self, last_race: usize) -> bool {
        let after = self.spans[last_race].dispatch_us;
        let later = &self.spans[last_race + 1..];
        let refused = later
            .iter()
            .any(|s| s.outcome == Outcome::Refused && s.dispatch_us - after <= AFTER_BURST_US);
        refused || !later.iter().any(|s| s.outcome == Outcome::Answered)
    }
}

fn to_ms(age_us: i64) -> u32 {
    u32::try_from(age_us.max(0) / 1000).unwrap_or(u32::MAX)
}

fn fit_score(fit: &ModelFit) -> i64 {
    i64::try_from(fit.explained).unwrap_or(i64::MAX)
        - i64::try_from(fit.contradicted).unwrap_or(i64::MAX)
}

/// Whether the ages agree within 10 % (and every race had an idle connection).
fn common_age(ages: &[Option<u32>]) -> bool {
    let mut min = u32::MAX;
    let mut max = 0;
    for age in ages {
        let Some(age) = *age else { return false };
        min = min.min(age);
        max = max.max(age);
    }
    max - min <= (max / 10).max(5)
}

/// The middle of the window of width `width` that holds the most values.
pub(crate) fn densest(values: &mut [i64], width: i64) -> Option<i64> {
    values.sort_unstable();
    let (mut best, mut best_count, mut lo) = ((0, 0), 0, 0);
    for hi in 0..values.len() {
        while values[hi] - values[lo] > width {
            lo += 1;
        }
        if hi + 1 - lo > best_count {
            best_count = hi + 1 - lo;
            best = (lo, hi);
        }
    }
    (best_count > 0).then(|| values[(best.0 + best.1) / 2])
}

/// Up to `n` distinct values around which the most votes cluster, best first.
fn candidates(votes: &mut [i64], n: usize) -> Vec<i64> {
    let width = AGE_BELOW_US + AGE_ABOVE_US;
    votes.sort_unstable();
    let mut windows: Vec<(usize, i64)> = Vec::new();
    let mut lo = 0;
    for hi in 0..votes.len() {
        while votes[hi] - votes[lo] > width {
            lo += 1;
        }
        windows.push((hi + 1 - lo, votes[(lo + hi) / 2]));
    }
    windows.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<i64> = Vec::with_capacity(n);
    for (_, value) in windows {
        if chosen.len() == n {
            break;
        }
        if chosen.iter().all(|&c| (c - value).abs() > width) {
            chosen.push(value);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(dispatch_ms: i64, busy_ms: u32, outcome: Outcome) -> Span {
        Span { dispatch_us: dispatch_ms * 1000, busy_us: busy_ms * 1000, outcome }
    }

    #[test]
    fn spans_are_kept_in_the_order_a_stable_sort_gives_them() {
        // Nearly in order with jitter, ties (told apart by their busy time), spans that belong
        // far back, and a reversed run longer than the reach.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut dispatches = Vec::new();
        for i in 0..3000i64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let dispatch = match seed % 10 {
                0 => i * 10 - (seed % 500) as i64,
                1 => (i / 7) * 70,
                _ => i * 10 - (seed % 40) as i64,
            };
            dispatches.push(dispatch);
        }
        dispatches.extend((0..40).map(|i| 40_000 - i * 3));
        let spans: Vec<Span> = dispatches
            .iter()
            .enumerate()
            .map(|(i, &d)| Span { dispatch_us: d, busy_us: i as u32, outcome: Outcome::Answered })
            .collect();
        let mut timeline = Timeline::default();
        for &span in &spans {
            timeline.push(span);
        }
        assert!(timeline.unsorted, "some spans belong further back than the reach");
        timeline.sort();
        let mut expected = spans.clone();
        expected.sort_by_key(|s| s.dispatch_us);
        let order = |spans: &[Span]| spans.iter().map(|s| s.busy_us).collect::<Vec<_>>();
        assert_eq!(order(&timeline.spans), order(&expected));

        // In order up to the reach: kept sorted without a sort.
        let mut timeline = Timeline::default();
        for (i, d) in [5i64, 3, 9, 9, 1, 12, 4, 20].into_iter().enumerate() {
            timeline.push(Span { dispatch_us: d, busy_us: i as u32, outcome: Outcome::Closed });
        }
        assert!(!timeline.unsorted);
        let dispatches: Vec<i64> = timeline.spans.iter().map(|s| s.dispatch_us).collect();
        assert_eq!(dispatches, [1, 3, 4, 5, 9, 9, 12, 20]);
        assert_eq!(timeline.spans[4].busy_us, 2, "ties keep their arrival order");
    }

    #[test]
    fn lifo_age_is_the_youngest_idle_connection_not_the_target_wide_gap() {
        let mut t = Timeline::default();
        // Two connections: one answers until 100 ms, one is busy 200-9000 ms (slow request);
        // background request at 6000 lasts to 6010; race at 10000 on the youngest idle one.
        t.push(span(0, 100, Outcome::Answered));
        t.push(span(200, 8800, Outcome::Answered));
        t.push(span(5000, 10, Outcome::Answered));
        t.push(span(9010, 1, Outcome::Answered));
        t.push(span(14_011, 0, Outcome::Race));
        let a = t.finish().unwrap();
        assert_eq!(a.races, 1);
        assert_eq!(a.lifo.ages_ms, [Some(5000)]);
        assert_eq!(a.lifo.explained, 1);
    }

    #[test]
    fn densest_window_ignores_a_stray_value() {
        let mut v = vec![5000, 11_551, 5001, 4999, 5000];
        assert_eq!(densest(&mut v, 5), Some(5000));
        assert_eq!(densest(&mut [], 5), None);
    }

    #[test]
    fn candidates_are_distinct_and_best_first() {
        let mut v = vec![1, 2, 3, 100_000, 100_001, 100_002, 100_003, 50_000];
        let c = candidates(&mut v, 3);
        assert_eq!(c.len(), 3);
        assert!((100_000..=100_003).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn burst_with_scattered_ages_and_then_silence_is_a_shutdown() {
        let mut t = Timeline::default();
        for (i, d) in [0i64, 700, 1500, 2600].iter().enumerate() {
            t.push(span(*d, 10 + i as u32, Outcome::Answered));
        }
        t.push(span(3000, 1, Outcome::Race));
        t.push(span(3200, 1, Outcome::Race));
        t.push(span(3500, 1, Outcome::Race));
        let a = t.finish().unwrap();
        assert_eq!(a.races, 3);
        assert_eq!(a.shutdown, 3);
        assert!(a.lifo.ages_ms.is_empty());
    }
}
