//! The discrete-event simulation: request arrivals, routing, the ALB's backend connection
//! pools, and the outcome of every request as a compact [`Rec`].
//!
//! Kept separate from text formatting so that the physics (when is a request written onto a
//! connection the backend is closing?) can be read and tested on its own. The simulation emits
//! records in the order the node writes them, by `time`, through a heap: a record can only be
//! released once no later arrival could still produce an earlier `time`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io;

use crate::rng::Rng;
use crate::scenario::{PollerKind, ReusePolicy, Routing, Scenario};
use crate::vocab::{self, Agent, ENDPOINTS};

/// What happened to a request; decides the shape of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ok,
    Race,
    Refused,
    App502,
    Lambda,
    Timeout504,
    Closed460,
    Malformed,
}

/// Listener protocol, the `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Http,
    Https,
    H2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
}

/// One client TCP connection to the ALB (what `client:port` and `conn_trace_id` identify).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client {
    pub ip: Ip,
    pub port: u16,
    pub tid: u128,
    pub proto: Proto,
    pub ua: u8,
    pub tls: u8,
    pub session_reused: bool,
}

pub(crate) const NO_TARGET: u32 = u32::MAX;
pub(crate) const LAMBDA_TG: u16 = u16::MAX;
pub(crate) const NO_TG: u16 = u16::MAX - 1;

/// Everything needed to print one line; times are unix µs, durations µs (negative = `-1`).
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub time_us: i64,
    pub seq: u64,
    pub rct_us: i64,
    pub kind: Kind,
    pub client: Client,
    pub target: u32,
    pub tg: u16,
    pub rpt_us: i64,
    pub tpt_us: i64,
    pub resp_us: i64,
    pub elb_status: u16,
    /// 0 = `-`.
    pub target_status: u16,
    pub received: u32,
    pub sent: u32,
    pub endpoint: u8,
    pub param: u32,
    pub space_in_uri: bool,
    pub trace: (u64, u32),
}

// BinaryHeap is a max-heap: invert so that the earliest (time, seq) pops first.
impl Ord for Rec {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time_us, other.seq).cmp(&(self.time_us, self.seq))
    }
}
impl PartialOrd for Rec {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Rec {
    fn eq(&self, other: &Self) -> bool {
        (self.time_us, self.seq) == (other.time_us, other.seq)
    }
}
impl Eq for Rec {}

/// Counts the simulation keeps for the summary.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    pub races: u64,
    pub shutdown_races: u64,
    pub refused: u64,
    pub app_502: u64,
    pub lambda: u64,
    pub timeout_504: u64,
    pub closed_460: u64,
    pub malformed: u64,
    pub connections_opened: u64,
    pub race_gaps_us: Vec<u64>,
}

/// Backend connections the ALB holds to one target.
#[derive(Debug, Default)]
struct TargetState {
    /// `idle_since` (µs) of each idle connection: the `time` of the response that freed it.
    idle: Vec<i64>,
    /// (`free_at`, reusable) of connections carrying a request.
    busy: Vec<(i64, bool)>,
}

/// Result of asking a target's pool for a connection at dispatch time.
enum Take {
    Reused,
    New,
    /// Written onto a connection the backend already closed; carries its idle time.
    Race(i64),
    /// Written onto a connection the shutting-down backend closed.
    ShutdownRace,
    /// The shutting-down backend refused a new connection.
    Refused,
}

struct BurstState {
    next_us: i64,
    n: u64,
    rng: Rng,
}

struct PollerState {
    next_us: i64,
    n: u64,
    rng: Rng,
    sticky: Option<usize>,
    client: Client,
}

/// Source ids mixed into per-request seeds.
const SRC_BACKGROUND: u64 = 1;
const SRC_POLLER: u64 = 2;
const SRC_BURST: u64 = 4;

/// Share of background requests that come from a client connection not seen before.
const P_NEW_CLIENT: f64 = 0.2;
/// Share of background requests whose search term carries a raw space (SpaceInUri).
const P_SPACE_IN_URI: f64 = 0.02;

pub(crate) struct Sim<'s> {
    sc: &'s Scenario,
    start_us: i64,
    end_us: i64,
    alb_idle_us: i64,
    /// Per target: the backend keep-alive and when the ALB has forgotten a connection.
    k_us: Vec<i64>,
    close_after_us: Vec<i64>,
    /// Per target: the shutdown window `[closing, gone)`, absolute µs.
    shutdown: Vec<Option<(i64, i64)>>,
    bursts: Vec<BurstState>,
    targets: Vec<TargetState>,
    tg_base: Vec<usize>,
    rr: Vec<usize>,
    tg_cum: Vec<f64>,
    ep_cum: Vec<u32>,
    ua_cum: Vec<u32>,
    tls_cum: Vec<u32>,
    clients: Vec<Client>,
    pollers: Vec<PollerState>,
    bg_next_us: f64,
    bg_n: u64,
    bg_rng: Rng,
    heap: BinaryHeap<Rec>,
    seq: u64,
    pub counts: Counts,
}

const YEAR_S: u64 = 366 * 86_400;
/// Requests per second; far beyond what one ALB node serves.
const MAX_RATE: f64 = 200_000.0;
/// 9998-01-01T00:00:00Z: a start after which a year-long run could leave 4-digit years.
const LAST_START_S: i64 = 253_339_228_800;

/// A drawn duration in µs, capped at an hour so that sums of durations never overflow.
fn dur(us: f64) -> i64 {
    us.clamp(0.0, 3.6e9) as i64
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Checks what the simulation relies on, so bad input is an error rather than a panic.
pub(crate) fn validate(sc: &Scenario) -> io::Result<()> {
    if sc.target_groups.is_empty() {
        return Err(invalid("scenario has no target group".into()));
    }
    if sc.target_groups.len() >= usize::from(NO_TG) {
        return Err(invalid("too many target groups".into()));
    }
    let mut n_targets = 0usize;
    for tg in &sc.target_groups {
        if tg.targets.is_empty() {
            return Err(invalid(format!("target group {} has no target", tg.name)));
        }
        if !(tg.traffic_weight.is_finite() && tg.traffic_weight >= 0.0) {
            return Err(invalid(format!("target group {} has a bad traffic weight", tg.name)));
        }
        n_targets += tg.targets.len();
    }
    if n_targets >= NO_TARGET as usize {
        return Err(invalid("too many targets".into()));
    }
    // An upper bound too: a runaway rate would never advance the clock.
    if !(sc.request_rate.is_finite() && (0.0..=MAX_RATE).contains(&sc.request_rate)) {
        return Err(invalid(format!("bad request rate {}", sc.request_rate)));
    }
    if sc.request_rate > 0.0 && sc.target_groups.iter().all(|t| t.traffic_weight == 0.0) {
        return Err(invalid("background traffic but every traffic weight is 0".into()));
    }
    if sc.pollers.iter().any(|p| p.period_ms == 0) {
        return Err(invalid("a poller has period 0".into()));
    }
    let f = &sc.failures;
    let rates = [
        f.connection_refused,
        f.app_502,
        f.lambda_error,
        f.gateway_timeout,
        f.client_closed,
        f.malformed,
    ];
    if rates.iter().any(|r| !(r.is_finite() && *r >= 0.0)) || rates.iter().sum::<f64>() > 1.0 {
        return Err(invalid("failure rates must be in [0, 1] and sum to at most 1".into()));
    }
    let median_ok = sc.response_median_ms.is_finite() && sc.response_median_ms > 0.0;
    let sigma_ok = sc.response_sigma.is_finite() && sc.response_sigma >= 0.0;
    if !(median_ok && sigma_ok) {
        return Err(invalid("bad response time distribution".into()));
    }
    // Bounds keep every µs computation far from i64 overflow and the timestamps in 4 digits.
    if sc.duration_s > YEAR_S {
        return Err(invalid("duration over a year".into()));
    }
    if !(0..=LAST_START_S).contains(&sc.start_unix_s) {
        return Err(invalid(format!("start {} is not in 1970..9998", sc.start_unix_s)));
    }
    if sc.backend_keepalive_ms > YEAR_S * 1000
        || sc.alb_idle_timeout_s > YEAR_S
        || sc.fin_delta_us > 60_000_000
    {
        return Err(invalid("keep-alive, idle timeout or FIN delay out of range".into()));
    }
    let poller_ok = |p: &crate::scenario::Poller| {
        p.period_ms <= YEAR_S * 1000 && p.offset_ms <= YEAR_S * 1000 && p.jitter_us <= 3_600_000_000
    };
    if !sc.pollers.iter().all(poller_ok) {
        return Err(invalid("a poller period, offset or jitter is out of range".into()));
    }
    let burst_ok = |b: &crate::scenario::Burst| {
        b.period_ms > 0
            && b.period_ms <= YEAR_S * 1000
            && b.offset_ms <= YEAR_S * 1000
            && b.jitter_us <= 3_600_000_000
            && (1..=10_000).contains(&b.size)
    };
    if !sc.bursts.iter().all(burst_ok) {
        return Err(invalid("a burst size, period, offset or jitter is out of range".into()));
    }
    let shutdown_ok =
        |d: &crate::scenario::Shutdown| d.at_ms <= YEAR_S * 1000 && d.drain_ms <= 3_600_000;
    let group_keepalive_ok =
        sc.target_groups.iter().all(|t| t.backend_keepalive_ms.is_none_or(|k| k <= YEAR_S * 1000));
    if !sc.shutdowns.iter().all(shutdown_ok) || !group_keepalive_ok {
        return Err(invalid("a shutdown or a target group keep-alive is out of range".into()));
    }
    if sc.response_median_ms > 600_000.0 || sc.response_sigma > 3.0 {
        return Err(invalid("response times beyond 10 minutes / sigma 3".into()));
    }
    Ok(())
}

impl<'s> Sim<'s> {
    pub(crate) fn new(sc: &'s Scenario) -> io::Result<Self> {
        validate(sc)?;
        let start_us = sc.start_unix_s.saturating_mul(1_000_000);
        // validate() bounded every input, so these conversions cannot overflow.
        let alb_idle_us = sc.alb_idle_timeout_s as i64 * 1_000_000;
        let mut tg_base = Vec::with_capacity(sc.target_groups.len());
        let mut k_us = Vec::new();
        let mut n = 0;
        for tg in &sc.target_groups {
            tg_base.push(n);
            n += tg.targets.len();
            let k = tg.backend_keepalive_ms.unwrap_or(sc.backend_keepalive_ms) as i64 * 1000;
            k_us.extend(std::iter::repeat_n(k, tg.targets.len()));
        }
        let close_after_us =
            k_us.iter().map(|k| (k + sc.fin_delta_us as i64).min(alb_idle_us)).collect();
        let mut shutdown = vec![None; n];
        for d in &sc.shutdowns {
            let tg = d.target_group % sc.target_groups.len();
            let target = tg_base[tg] + d.target % sc.target_groups[tg].targets.len();
            let at = start_us + d.at_ms as i64 * 1000;
            shutdown[target] = Some((at, at + d.drain_ms as i64 * 1000));
        }
        let tg_cum = sc
            .target_groups
            .iter()
            .scan(0.0, |acc, t| {
                *acc += t.traffic_weight;
                Some(*acc)
            })
            .collect();
        let mut sim = Sim {
            sc,
            start_us,
            end_us: start_us.saturating_add((sc.duration_s as i64) * 1_000_000),
            alb_idle_us,
            k_us,
            close_after_us,
            shutdown,
            bursts: (0..sc.bursts.len())
                .map(|i| BurstState {
                    next_us: sc.bursts[i].offset_ms as i64 * 1000,
                    n: 0,
                    rng: Rng::derive(sc.seed, SRC_BURST, i as u64),
                })
                .collect(),
            targets: (0..n).map(|_| TargetState::default()).collect(),
            tg_base,
            rr: vec![0; sc.target_groups.len()],
            tg_cum,
            ep_cum: vocab::endpoint_cumulative(),
            ua_cum: vocab::user_agent_cumulative(),
            tls_cum: vocab::tls_cumulative(),
            clients: Vec::new(),
            pollers: Vec::new(),
            bg_next_us: 0.0,
            bg_n: 0,
            bg_rng: Rng::derive(sc.seed, SRC_BACKGROUND, u64::MAX),
            heap: BinaryHeap::new(),
            seq: 0,
            counts: Counts::default(),
        };
        // Returning visitors: a pool of client connections that background requests reuse.
        let pool = (sc.request_rate * 20.0).clamp(8.0, 1024.0) as usize;
        let mut r = Rng::derive(sc.seed, 3, 0);
        sim.clients = (0..pool).map(|_| sim.new_client(&mut r)).collect();
        sim.bg_next_us = sim.bg_interarrival();
        for (i, p) in sc.pollers.iter().enumerate() {
            let mut rng = Rng::derive(sc.seed, SRC_POLLER, i as u64);
            let client = sim.poller_client(p.kind, &mut rng);
            sim.pollers.push(PollerState {
                next_us: p.offset_ms as i64 * 1000,
                n: 0,
                rng,
                sticky: None,
                client,
            });
        }
        Ok(sim)
    }

    fn bg_interarrival(&mut self) -> f64 {
        if self.sc.request_rate > 0.0 {
            self.bg_rng.exp(1e6 / self.sc.request_rate)
        } else {
            f64::INFINITY
        }
    }

    /// Runs to the end; `sink` writes a record and returns the total bytes written so far.
    pub(crate) fn run(&mut self, sink: &mut dyn FnMut(&Rec) -> io::Result<u64>) -> io::Result<()> {
        let span = self.end_us - self.start_us;
        let mut written = 0u64;
        loop {
            // Earliest source; ties go to the background stream, then poller, then burst order.
            let mut src: Option<usize> = None;
            let mut t = if self.bg_next_us.is_finite() { self.bg_next_us as i64 } else { i64::MAX };
            for (i, p) in self.pollers.iter().enumerate() {
                if p.next_us < t {
                    t = p.next_us;
                    src = Some(i);
                }
            }
            let polls = self.pollers.len();
            for (i, b) in self.bursts.iter().enumerate() {
                if b.next_us < t {
                    t = b.next_us;
                    src = Some(polls + i);
                }
            }
            if t >= span || self.sc.max_bytes.is_some_and(|m| written >= m) {
                break;
            }
            // The ALB stamps request_creation_time with millisecond resolution.
            let arrival = self.start_us + t / 1000 * 1000;
            while self.heap.peek().is_some_and(|r| r.time_us <= arrival) {
                if let Some(rec) = self.heap.pop() {
                    written = sink(&rec)?;
                }
            }
            match src {
                None => {
                    self.background(arrival);
                    self.bg_n += 1;
                    self.bg_next_us += self.bg_interarrival();
                }
                Some(i) if i >= polls => {
                    let i = i - polls;
                    self.burst(i, arrival);
                    let b = &self.sc.bursts[i];
                    let st = &mut self.bursts[i];
                    let late = st.rng.below(b.jitter_us) as i64;
                    st.next_us += b.period_ms as i64 * 1000 + late;
                    st.n += 1;
                }
                Some(i) => {
                    let answered = self.poll(i, arrival);
                    let p = &self.sc.pollers[i];
                    let st = &mut self.pollers[i];
                    let late = st.rng.below(p.jitter_us) as i64;
                    let from =
                        if p.waits_for_answer { answered - self.start_us } else { st.next_us };
                    st.next_us = from + p.period_ms as i64 * 1000 + late;
                    st.n += 1;
                    if p.max_requests.is_some_and(|m| st.n >= m) {
                        st.next_us = i64::MAX;
                    }
                }
            }
        }
        while let Some(rec) = self.heap.pop() {
            sink(&rec)?;
        }
        Ok(())
    }

    fn new_client(&self, r: &mut Rng) -> Client {
        const FIRST_OCTETS: [u8; 24] = [
            3, 18, 24, 31, 37, 46, 52, 62, 66, 73, 77, 81, 86, 89, 92, 98, 104, 109, 142, 151, 176,
            185, 203, 217,
        ];
        let ip = if r.chance(0.12) {
            let prefix: [u16; 2] = match r.below(3) {
                0 => [0x2a02, 0xa33c],
                1 => [0x2600, 0x1700],
                _ => [0x2001, 0x0db8],
            };
            let mut g = [0u16; 8];
            g[0] = prefix[0];
            g[1] = prefix[1];
            for x in &mut g[2..] {
                *x = r.below(0x1_0000) as u16;
            }
            Ip::V6(g)
        } else {
            Ip::V4([
                FIRST_OCTETS[r.below(FIRST_OCTETS.len() as u64) as usize],
                r.below(256) as u8,
                r.below(256) as u8,
                r.range(1, 254) as u8,
            ])
        };
        let ua = r.weighted(&self.ua_cum) as u8;
        let proto = match vocab::USER_AGENTS.get(usize::from(ua)).map(|u| u.1) {
            Some(Agent::Browser) if r.chance(0.9) => Proto::H2,
            _ => Proto::Https,
        };
        Client {
            ip,
            port: r.range(1024, 65535) as u16,
            tid: u128::from(r.next_u64()) << 64 | u128::from(r.next_u64()),
            proto,
            ua,
            tls: r.weighted(&self.tls_cum) as u8,
            session_reused: r.chance(0.25),
        }
    }

    fn poller_client(&self, kind: PollerKind, r: &mut Rng) -> Client {
        let mut c = self.new_client(r);
        match kind {
            PollerKind::Dashboard => {
                c.ip = Ip::V4([198, 51, 100, r.range(10, 250) as u8]);
                c.ua = vocab::UA_CHROME;
                c.proto = Proto::H2;
                c.tls = 0;
            }
            PollerKind::HealthCheck => {
                c.ip = Ip::V4([10, 0, r.range(0, 2) as u8, r.range(100, 250) as u8]);
                c.ua = vocab::UA_HEALTH;
                c.proto = Proto::Http;
            }
            PollerKind::MobileApi => {
                c.ua = vocab::UA_OKHTTP_APP;
                c.proto = Proto::Https;
            }
        }
        c
    }

    fn pick_client(&mut self, r: &mut Rng) -> Client {
        let slot = r.below(self.clients.len() as u64) as usize;
        if r.chance(P_NEW_CLIENT) {
            let c = self.new_client(r);
            self.clients[slot] = c;
        }
        self.clients[slot]
    }

    fn route(&mut self, tg: usize, r: &mut Rng, at: i64) -> usize {
        let n = self.sc.target_groups[tg].targets.len();
        let i = match self.sc.target_groups[tg].routing {
            Routing::RoundRobin => {
                let i = self.rr[tg] % n;
                self.rr[tg] = (i + 1) % n;
                i
            }
            Routing::Random => r.below(n as u64) as usize,
        };
        self.registered(tg, self.tg_base[tg] + i, at)
    }

    /// `target`, or the next target of its group that is still registered at `at` (a target
    /// is deregistered once its shutdown is over). If none is left, `target` itself.
    fn registered(&self, tg: usize, target: usize, at: i64) -> usize {
        let base = self.tg_base[tg];
        let n = self.sc.target_groups[tg].targets.len();
        (0..n)
            .map(|step| base + (target - base + step) % n)
            .find(|&t| self.shutdown[t].is_none_or(|(_, gone)| at < gone))
            .unwrap_or(target)
    }

    /// The pool step, at the moment the ALB writes the request (`dispatch`, µs).
    fn take_conn(&mut self, target: usize, dispatch: i64) -> Take {
        let close_after = self.close_after_us[target];
        let k_us = self.k_us[target];
        let closing = self.shutdown[target].is_some_and(|(at, _)| dispatch >= at);
        let st = &mut self.targets[target];
        let mut i = 0;
        while i < st.busy.len() {
            if st.busy[i].0 <= dispatch {
                let (free_at, reusable) = st.busy.swap_remove(i);
                if reusable {
                    st.idle.push(free_at);
                }
            } else {
                i += 1;
            }
        }
        // Idle >= K + delta: the ALB has processed the backend's FIN. Idle >= its own idle
        // timeout: the ALB closed it. Either way the connection is gone, cleanly.
        st.idle.retain(|&since| dispatch - since < close_after);
        let pick = match self.sc.reuse_policy {
            ReusePolicy::MostRecentlyUsed => {
                st.idle.iter().enumerate().max_by_key(|(_, s)| **s).map(|(i, _)| i)
            }
            ReusePolicy::LeastRecentlyUsed => {
                st.idle.iter().enumerate().min_by_key(|(_, s)| **s).map(|(i, _)| i)
            }
        };
        match pick {
            None if closing => Take::Refused,
            None => {
                self.counts.connections_opened += 1;
                Take::New
            }
            Some(i) if closing => {
                st.idle.swap_remove(i);
                Take::ShutdownRace
            }
            Some(i) => {
                let idle = dispatch - st.idle.swap_remove(i);
                if idle >= k_us && idle < self.alb_idle_us {
                    Take::Race(idle)
                } else {
                    Take::Reused
                }
            }
        }
    }

    fn push(&mut self, mut rec: Rec) {
        rec.seq = self.seq;
        self.seq += 1;
        self.heap.push(rec);
    }

    fn base_rec(&self, r: &mut Rng, arrival: i64, client: Client, endpoint: u8) -> Rec {
        let e = &ENDPOINTS[usize::from(endpoint)];
        let headers = match client.proto {
            Proto::H2 => r.range(30, 140),
            Proto::Https => r.range(180, 900),
            Proto::Http => r.range(90, 160),
        } as u32;
        let body = if e.body > 0 { e.body / 2 + r.below(u64::from(e.body)) as u32 } else { 0 };
        Rec {
            time_us: arrival,
            seq: 0,
            rct_us: arrival,
            kind: Kind::Ok,
            client,
            target: NO_TARGET,
            tg: NO_TG,
            rpt_us: -1,
            tpt_us: -1,
            resp_us: -1,
            elb_status: 200,
            target_status: 0,
            received: headers + body,
            sent: 0,
            endpoint,
            param: r.next_u64() as u32,
            space_in_uri: false,
            trace: (r.next_u64(), r.next_u64() as u32),
        }
    }

    fn background(&mut self, arrival: i64) {
        let mut r = Rng::derive(self.sc.seed, SRC_BACKGROUND, self.bg_n);
        let f = self.sc.failures;
        let u = r.f64();
        let mut edge = 0.0;
        let mut class = Kind::Ok;
        for (rate, kind) in [
            (f.malformed, Kind::Malformed),
            (f.lambda_error, Kind::Lambda),
            (f.connection_refused, Kind::Refused),
            (f.app_502, Kind::App502),
            (f.gateway_timeout, Kind::Timeout504),
            (f.client_closed, Kind::Closed460),
        ] {
            edge += rate;
            if u < edge {
                class = kind;
                break;
            }
        }
        let client = self.pick_client(&mut r);
        let endpoint = r.weighted(&self.ep_cum) as u8;
        let mut rec = self.base_rec(&mut r, arrival, client, endpoint);
        if matches!(ENDPOINTS[usize::from(endpoint)].param, vocab::Param::Word) {
            rec.space_in_uri = r.chance(P_SPACE_IN_URI);
        }
        match class {
            Kind::Malformed => {
                self.counts.malformed += 1;
                rec.kind = Kind::Malformed;
                rec.client.proto = Proto::Http;
                rec.received = r.range(0, 80) as u32;
                rec.sent = 272;
                rec.elb_status = 400;
                rec.time_us = arrival + r.range(40, 900) as i64;
                self.push(rec);
                return;
            }
            Kind::Lambda => {
                self.counts.lambda += 1;
                rec.kind = Kind::Lambda;
                rec.tg = LAMBDA_TG;
                rec.rpt_us = 0;
                rec.tpt_us = dur(r.lognormal(120_000.0, 0.6)) + 1000;
                rec.resp_us = 0;
                rec.elb_status = 502;
                rec.sent = r.range(272, 420) as u32;
                rec.time_us = arrival + rec.tpt_us + r.range(20, 500) as i64;
                self.push(rec);
                return;
            }
            _ => {}
        }
        let tg = self.pick_tg(&mut r);
        let target = self.route(tg, &mut r, arrival);
        rec.tg = tg as u16;
        rec.target = target as u32;
        if class == Kind::Refused {
            self.counts.refused += 1;
            // The app is restarting: its keep-alive connections died with it.
            self.targets[target].idle.clear();
            rec.kind = Kind::Refused;
            rec.elb_status = 502;
            rec.sent = r.range(272, 700) as u32;
            rec.time_us = arrival + r.range(200, 1500) as i64;
            self.push(rec);
            return;
        }
        self.forward(&mut r, rec, target, class);
    }

    fn pick_tg(&self, r: &mut Rng) -> usize {
        let total = self.tg_cum.last().copied().unwrap_or(0.0);
        let x = r.f64() * total;
        self.tg_cum.partition_point(|&c| c <= x).min(self.tg_cum.len() - 1)
    }

    /// One poll; returns when its response ended.
    fn poll(&mut self, i: usize, arrival: i64) -> i64 {
        let p = &self.sc.pollers[i];
        let kind = p.kind;
        let tg = p.target_group % self.sc.target_groups.len();
        let mut r = Rng::derive(self.sc.seed, SRC_POLLER, (i as u64) << 40 | self.pollers[i].n);
        let mut client = self.pollers[i].client;
        let endpoint = match kind {
            PollerKind::Dashboard => vocab::EP_DASHBOARD,
            PollerKind::HealthCheck => {
                // Health checks open a fresh connection every time.
                client.port = r.range(1024, 65535) as u16;
                client.tid = u128::from(r.next_u64()) << 64 | u128::from(r.next_u64());
                vocab::EP_HEALTH
            }
            PollerKind::MobileApi => vocab::EP_FEED,
        };
        let mut rec = self.base_rec(&mut r, arrival, client, endpoint);
        if kind == PollerKind::MobileApi {
            // "since" is a recent unix time, not an id.
            rec.param = (arrival / 1_000_000 - 5) as u32;
        }
        let target = if self.sc.target_groups[tg].sticky && kind != PollerKind::HealthCheck {
            match self.pollers[i].sticky {
                Some(t) => {
                    let t = self.registered(tg, t, arrival);
                    self.pollers[i].sticky = Some(t);
                    t
                }
                None => {
                    let t = self.route(tg, &mut r, arrival);
                    self.pollers[i].sticky = Some(t);
                    t
                }
            }
        } else {
            self.route(tg, &mut r, arrival)
        };
        rec.tg = tg as u16;
        rec.target = target as u32;
        self.forward(&mut r, rec, target, Kind::Ok)
    }

    /// One burst: `size` requests to one target in the same millisecond.
    fn burst(&mut self, i: usize, arrival: i64) {
        let b = &self.sc.bursts[i];
        let (size, tg) = (b.size, b.target_group % self.sc.target_groups.len());
        let target = self.tg_base[tg] + b.target % self.sc.target_groups[tg].targets.len();
        let target = self.registered(tg, target, arrival);
        let n = self.bursts[i].n;
        for j in 0..u64::from(size) {
            let mut r = Rng::derive(self.sc.seed, SRC_BURST, (i as u64) << 40 | n << 14 | j);
            let client = self.pick_client(&mut r);
            let mut rec = self.base_rec(&mut r, arrival, client, vocab::EP_FEED);
            rec.tg = tg as u16;
            rec.target = target as u32;
            self.forward(&mut r, rec, target, Kind::Ok);
        }
    }

    /// Dispatches a request that reached a target group onto a backend connection; returns
    /// when its line is written (`time`).
    fn forward(&mut self, r: &mut Rng, mut rec: Rec, target: usize, class: Kind) -> i64 {
        let arrival = rec.rct_us;
        let rpt = if r.chance(0.92) { 0 } else { 1000 };
        let dispatch = arrival + rpt;
        rec.rpt_us = rpt;
        let take = self.take_conn(target, dispatch);
        let connect = match take {
            Take::Race(idle) => {
                self.counts.races += 1;
                self.counts.race_gaps_us.push(idle.max(0) as u64);
                rec.kind = Kind::Race;
                rec.tpt_us = r.range(0, 2999) as i64;
                rec.elb_status = 502;
                rec.sent = r.range(272, 700) as u32;
                rec.time_us = dispatch + rec.tpt_us;
                let time = rec.time_us;
                self.push(rec);
                return time;
            }
            Take::ShutdownRace => {
                self.counts.shutdown_races += 1;
                rec.kind = Kind::Race;
                rec.tpt_us = r.range(0, 2999) as i64;
                rec.elb_status = 502;
                rec.sent = r.range(272, 700) as u32;
                rec.time_us = dispatch + rec.tpt_us;
                let time = rec.time_us;
                self.push(rec);
                return time;
            }
            Take::Refused => {
                self.counts.refused += 1;
                rec.kind = Kind::Refused;
                rec.rpt_us = -1;
                rec.elb_status = 502;
                rec.sent = r.range(272, 700) as u32;
                rec.time_us = arrival + r.range(200, 1500) as i64;
                let time = rec.time_us;
                self.push(rec);
                return time;
            }
            Take::New => r.range(200, 900) as i64,
            Take::Reused => 0,
        };
        let e = &ENDPOINTS[usize::from(rec.endpoint)];
        let median_us = self.sc.response_median_ms * 1000.0 * e.time_factor;
        match class {
            Kind::Timeout504 => {
                self.counts.timeout_504 += 1;
                rec.kind = Kind::Timeout504;
                rec.rpt_us = -1;
                rec.elb_status = 504;
                rec.sent = r.range(200, 320) as u32;
                rec.time_us = arrival + self.alb_idle_us + r.range(0, 1500) as i64;
                self.targets[target].busy.push((rec.time_us, false));
            }
            Kind::Closed460 => {
                self.counts.closed_460 += 1;
                rec.kind = Kind::Closed460;
                rec.rpt_us = -1;
                rec.elb_status = 460;
                let wait = dur(r.lognormal(2_500_000.0, 0.9)).min(self.alb_idle_us - 1000);
                rec.time_us = arrival + wait.max(1000);
                self.targets[target].busy.push((rec.time_us, false));
            }
            Kind::App502 => {
                self.counts.app_502 += 1;
                rec.kind = Kind::App502;
                rec.elb_status = 502;
                rec.target_status = 502;
                // Apps answer 502 when their own upstream failed, which takes a while.
                rec.tpt_us = connect + dur(r.lognormal((median_us * 2.0).max(15_000.0), 0.8));
                rec.resp_us = r.range(15, 400) as i64;
                rec.sent = r.range(300, 700) as u32;
                rec.time_us = dispatch + rec.tpt_us + rec.resp_us;
                self.targets[target].busy.push((rec.time_us, true));
            }
            _ => {
                let status = if e.method == "GET" && r.chance(e.p_304) {
                    304
                } else if r.chance(e.p_4xx) {
                    if e.prefix.starts_with("/api") { 401 } else { 404 }
                } else {
                    e.ok_status
                };
                let (median, sigma) = if status == 304 || rec.endpoint == vocab::EP_HEALTH {
                    (median_us.max(900.0), 0.45)
                } else {
                    (median_us.max(300.0), self.sc.response_sigma)
                };
                rec.tpt_us = connect + dur(r.lognormal(median, sigma)) + 150;
                rec.sent = match status {
                    304 => r.range(140, 260),
                    204 => r.range(130, 190),
                    302 => r.range(280, 420),
                    401 | 404 => r.range(250, 700),
                    _ => r.range(250, 450) + r.lognormal(e.sent_median.max(1.0), 0.5) as u64,
                } as u32;
                rec.resp_us = r.range(15, 400) as i64
                    + if rec.sent > 100_000 { r.range(0, 1500) as i64 } else { 0 };
                rec.elb_status = status;
                rec.target_status = status;
                rec.time_us = dispatch + rec.tpt_us + rec.resp_us;
                self.targets[target].busy.push((rec.time_us, true));
            }
        }
        let time = rec.time_us;
        self.push(rec);
        time
    }
}
