//! Deterministic simulator of one ALB node writing an access-log object, with the backend
//! keep-alive race modelled from first principles rather than sprinkled in.
//!
//! The project detects the race between a backend that closes idle keep-alive connections
//! after K (Node.js: 5 s) and an ALB that keeps them for its idle timeout (60 s). Its tests,
//! sample data and benchmark need logs where that race happens for the physical reason, next
//! to the other 502s that look similar and must not be called a race. This crate produces
//! them: [`Scenario`] describes the service, [`write_log`] simulates it and writes the lines,
//! [`Summary`] says what truly happened (the ground truth a detector is checked against), and
//! [`object_key`] names the object as ALB delivery would.
//!
//! # Model
//!
//! * **One ALB node** of load balancer `app/<name>/<id>` with one or more target groups of
//!   `ip:port` targets. Its lines are written in the order the node writes them, by `time`.
//! * **Clients.** Background traffic is a Poisson stream (`request_rate`) of browser and API
//!   requests over a varied route table, from a pool of returning client connections (same
//!   `client:port` and `conn_trace_id`) with fresh ones mixed in; ~12 % IPv6. **Pollers** send
//!   a request every `period_ms`, each one late by `U[0, jitter_us)` after the previous one
//!   (timers never fire early). A dashboard poller (h2, `If-None-Match`, `304`) is what
//!   triggered the real incident. Requests arrive on a millisecond grid because the ALB stamps
//!   `request_creation_time` with millisecond resolution.
//! * **Routing.** A request picks a target group by `traffic_weight`, then a target by round
//!   robin or at random. Groups with `sticky` keep each poller (a cookie-keeping client) on the
//!   target of its first request.
//! * **Backend connections.** The ALB keeps a pool per target. At dispatch
//!   (`request_creation_time + request_processing_time`) it first forgets every connection
//!   that is gone: idle for `K + fin_delta` or more (the backend closed it at K and the FIN
//!   reached the ALB `fin_delta` later, default 1 ms) or for the ALB's own idle timeout. It then
//!   takes an idle connection by [`ReusePolicy`] (default most recently used), or opens a new
//!   one (0.2-0.9 ms added to `target_processing_time`). A connection becomes idle at the `time`
//!   of the response it carried, so the idle gap a detector measures from the log equals the
//!   connection's true idle time.
//! * **The race.** If the connection taken has been idle for `[K, K + fin_delta)` (and less
//!   than the ALB idle timeout), the backend has already closed it but the ALB does not know:
//!   the request is written onto a dying socket and the ALB answers
//!   `<rpt> 0.00x -1 502 - <received> <272-700>` with the target present and `error_reason`
//!   `"-"`. The connection is discarded. With K ≥ the ALB idle timeout this cannot happen.
//! * **Service times** are lognormal (median `response_median_ms` scaled per route, default
//!   20 ms; a dashboard `304` takes ~2 ms). `time = request_creation_time + rpt + tpt + resp`
//!   in microseconds; the three printed durations are truncated to milliseconds, as real logs
//!   show, so the printed sum may fall short of `time` by up to 2 ms.
//! * **Other failures** ([`FailureRates`], per background request): refused connection
//!   (`-1 -1 -1 502 -`, target present; the target's pooled connections die too), app-sent 502
//!   (`target_status_code` 502), Lambda error (target `-`, `"LambdaUnhandled"`), 504 after the
//!   idle timeout, 460 client closed, malformed 400 (`"- - -"`). A 504 or 460 occupies its
//!   connection, which the ALB then closes.
//! * **Determinism.** Every request draws from its own random stream derived from the seed and
//!   its index, so the same scenario gives the same bytes, and [`Scenario::incident`] and
//!   [`Scenario::healthy`] send the very same requests: only the keep-alive outcome differs.
//!
//! Lines carry fields 1-34 of the 2026 layout, from `type` to the node's `ip_address`.
//!
//! # Presets
//!
//! * [`Scenario::incident`]: K = 5000 ms, ALB idle 60 s, a sticky dashboard polling every 5 s
//!   plus 0.2 req/s of light traffic on three targets for 5 minutes; with the default seed
//!   8 races, each exactly 5.000 s (`[K, K + 1 ms)`) after a quick `304` on the same target,
//!   plus 2 refused connections and 1 app-sent 502.
//! * [`Scenario::healthy`]: the same requests with K = 65 s: no race, the other 502s remain.
//! * [`Scenario::corpus`]: a busy node (40 targets in 3 groups, 500 req/s, dashboards on a
//!   sticky group) of about the requested size, ~0.1 % 502s of every kind, mostly races.
//!
//! To check a keep-alive estimator, compare it with [`Summary::backend_keepalive_ms`] and the
//! per-race ground truth in [`Summary::race_gaps_us`]; vary the seed, K and the pollers by
//! struct update syntax on a preset.
//!
//! # Example
//!
//! ```
//! let scenario = alb_loggen::Scenario::incident();
//! let mut log = Vec::new();
//! let summary = alb_loggen::write_log(&scenario, &mut log)?;
//! assert!(summary.keepalive_502 >= 3);
//! assert_eq!(summary.bytes, log.len() as u64);
//! let key = alb_loggen::object_key(&scenario);
//! assert!(key.starts_with("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/"));
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs)]

mod clock;
mod format;
mod rng;
mod scenario;
mod sim;
mod vocab;

pub use clock::{civil_from_days, days_from_civil, unix_seconds, utc_fields};
pub use scenario::{
    Burst, FailureRates, Poller, PollerKind, ReusePolicy, Routing, Scenario, Shutdown, TargetGroup,
};

use std::io::{self, Write};

/// What the simulation produced, with the ground truth a detector is judged against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines written.
    pub lines: u64,
    /// Bytes of text written (before any compression).
    pub bytes: u64,
    /// Keep-alive race 502s (the only lines a detector should call a keep-alive race).
    pub keepalive_502: u64,
    /// Race-shaped 502s of shutdowns ([`Shutdown`]): same line shape, no common idle age.
    pub shutdown_502: u64,
    /// All other 502s: refused connections, app-sent 502s, Lambda errors.
    pub other_502: u64,
    /// Refused connections, `-1 -1 -1 502 -` with the target present.
    pub refused_502: u64,
    /// 502s sent by the application (`target_status_code` 502).
    pub app_502: u64,
    /// Lambda target errors (`"LambdaUnhandled"`).
    pub lambda_502: u64,
    /// 504s after the ALB idle timeout.
    pub gateway_timeout_504: u64,
    /// 460s, client closed the connection.
    pub client_closed_460: u64,
    /// 400s for malformed requests.
    pub malformed_400: u64,
    /// Backend connections the ALB opened.
    pub connections_opened: u64,
    /// The true backend keep-alive, ms ([`Scenario::backend_keepalive_ms`]).
    pub backend_keepalive_ms: u64,
    /// For each race, in dispatch order, the idle time of the connection it hit, in µs. This is
    /// also what `request_creation_time + request_processing_time` of the 502 minus `time` of
    /// the previous response on that connection gives, and lies in `[K, K + fin_delta)`.
    pub race_gaps_us: Vec<u64>,
}

/// Simulates `scenario` and writes its access-log text (plain, one line per entry) to `out`.
///
/// Wrap `out` in a gzip encoder to produce an object as ALB delivers it. Output is buffered
/// internally; `out` is flushed at the end.
///
/// # Errors
///
/// `InvalidInput` if the scenario cannot be simulated (no target group, a group without
/// targets, negative, non-finite or absurd rates, failure rates summing over 1, a zero poller
/// period, times beyond a year or a start outside 1970-9997); otherwise any error of `out`.
pub fn write_log<W: Write>(scenario: &Scenario, mut out: W) -> io::Result<Summary> {
    const FLUSH_AT: usize = 1 << 19;
    let mut sim = sim::Sim::new(scenario)?;
    let mut fmt = format::Formatter::new(scenario);
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 16 * 1024);
    let mut lines = 0u64;
    let mut flushed = 0u64;
    sim.run(&mut |rec| {
        fmt.line(rec, &mut buf);
        lines += 1;
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            flushed += buf.len() as u64;
            buf.clear();
        }
        Ok(flushed + buf.len() as u64)
    })?;
    out.write_all(&buf)?;
    let bytes = flushed + buf.len() as u64;
    out.flush()?;
    let c = sim.counts;
    Ok(Summary {
        lines,
        bytes,
        keepalive_502: c.races,
        shutdown_502: c.shutdown_races,
        other_502: c.refused + c.app_502 + c.lambda,
        refused_502: c.refused,
        app_502: c.app_502,
        lambda_502: c.lambda,
        gateway_timeout_504: c.timeout_504,
        client_closed_460: c.closed_460,
        malformed_400: c.malformed,
        connections_opened: c.connections_opened,
        backend_keepalive_ms: scenario.backend_keepalive_ms,
        race_gaps_us: c.race_gaps_us,
    })
}

/// The S3 key ALB delivery would give this object (no bucket prefix):
/// `AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/<account>_elasticloadbalancing_<region>_app.<name>.<id>_<end yyyymmddThhmmZ>_<node ip>_<8 random chars>.log.gz`.
///
/// The end time is the end of the 5-minute interval containing the scenario's end; the date
/// directories are the delivery date, taken as that end time's date; the random string is
/// derived from the seed, so the key is as deterministic as the content.
pub fn object_key(scenario: &Scenario) -> String {
    let end = scenario.start_unix_s.saturating_add(scenario.duration_s.max(1) as i64);
    let end = end.saturating_add(299).div_euclid(300) * 300;
    let (y, mo, d, h, mi, _) = utc_fields(end);
    let mut r = rng::Rng::derive(
        scenario.seed,
        scenario::fnv1a(scenario.load_balancer_id.as_bytes()),
        end as u64,
    );
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let random: String =
        (0..8).map(|_| char::from(ALPHABET[r.below(ALPHABET.len() as u64) as usize])).collect();
    format!(
        "AWSLogs/{acct}/elasticloadbalancing/{region}/{y:04}/{mo:02}/{d:02}/{acct}_elasticloadbalancing_{region}_app.{name}.{id}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{ip}_{random}.log.gz",
        acct = scenario.account_id,
        region = scenario.region,
        name = scenario.load_balancer_name,
        id = scenario.load_balancer_id,
        ip = scenario.node_ip,
    )
}

#[cfg(test)]
mod tests;
