//! What to simulate: the load balancer, its target groups, the traffic, the backend's
//! keep-alive and the failure mix, with the three presets the project uses.
//!
//! Everything is plain data with public fields so that tests in other crates can start from a
//! preset and change one knob (`Scenario { backend_keepalive_ms: 4000, ..Scenario::incident() }`).

use crate::clock::unix_seconds;

/// How the ALB picks a target inside a target group for requests without stickiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Routing {
    /// One counter per target group, as the ALB's default `round_robin` algorithm.
    RoundRobin,
    /// Uniformly random target (stands in for `weighted_random`).
    Random,
}

/// Which idle backend connection the ALB reuses when it has several to the same target.
///
/// AWS does not document the ALB's choice; the policy decides which connection ages, so it is
/// a knob rather than a hidden assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReusePolicy {
    /// Reuse the connection that became idle last (a LIFO pool, the usual choice of HTTP
    /// client pools). Spare connections opened during a burst then age out unused and are
    /// closed cleanly; a race needs the whole target to have been quiet for ~K, so the idle gap
    /// the detector measures from the log equals the connection's real idle time.
    MostRecentlyUsed,
    /// Reuse the connection idle the longest (FIFO). Under load this rotates through every
    /// pooled connection, so races also happen on busy targets, where the gap measured against
    /// the previous request on the target is much shorter than the connection's idle time.
    LeastRecentlyUsed,
}

/// A recurring client: the kind of traffic that lines up with a backend keep-alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollerKind {
    /// A browser dashboard (h2, Chrome) polling `GET /api/orders/summary` with `If-None-Match`;
    /// the app answers `304` in a few milliseconds. The trigger of the real incident.
    Dashboard,
    /// An NLB in front of the ALB health-checking it (`ELB-HealthChecker/2.0`, plain http,
    /// `GET /health`, a new client connection each time).
    HealthCheck,
    /// A mobile app refreshing a feed (`okhttp`, https, `200`).
    MobileApi,
}

/// A client that sends one request every `period_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Poller {
    /// What the client is (user agent, protocol, endpoint, status).
    pub kind: PollerKind,
    /// Nominal period. A dashboard `setInterval(…, 5000)` has 5000.
    pub period_ms: u64,
    /// Each request arrives `period_ms + U[0, jitter_us)` after the previous one: timers never
    /// fire early and re-arm from the late callback, and the network adds a little. This
    /// lateness is what sometimes pushes a 5 s poll just past a 5 s backend keep-alive.
    pub jitter_us: u64,
    /// Delay of the first request after the scenario start.
    pub offset_ms: u64,
    /// Index into [`Scenario::target_groups`] (taken modulo their number).
    pub target_group: usize,
    /// A client that waits for each answer: the next request arrives `period_ms + U[0,
    /// jitter_us)` after the previous **response** (`time`), not after the previous request.
    /// Its connection is then idle for exactly that wait, which is what lines up with a
    /// backend keep-alive of the same length.
    pub waits_for_answer: bool,
    /// Stop after this many requests (`None`: until the end of the interval).
    pub max_requests: Option<u64>,
}

/// A client (a batch job, a page with many assets, a fan-out) that sends `size` requests to one
/// target at once, every `period_ms + U[0, jitter_us)`. Each burst needs `size` connections at
/// the same moment, so the pool grows deep; between bursts the extra connections sit idle, and
/// with a period just above the backend keep-alive they are taken again exactly as the backend
/// closes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// Index into [`Scenario::target_groups`] (taken modulo their number).
    pub target_group: usize,
    /// Index of the target inside that group (taken modulo their number).
    pub target: usize,
    /// Requests per burst.
    pub size: u32,
    /// Nominal time between bursts.
    pub period_ms: u64,
    /// Lateness of each burst, `U[0, jitter_us)`.
    pub jitter_us: u64,
    /// Delay of the first burst after the scenario start.
    pub offset_ms: u64,
}

/// A deploy: at `at_ms` the application on one target gets SIGTERM and closes its idle
/// keep-alive connections; for `drain_ms` every request the load balancer writes onto one of
/// them is a race-shaped 502 (at whatever idle age the connection had), new connections are
/// refused (`-1 -1 -1 502`), and then the target is deregistered and gets no more traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Shutdown {
    /// Index into [`Scenario::target_groups`] (taken modulo their number).
    pub target_group: usize,
    /// Index of the target inside that group (taken modulo their number).
    pub target: usize,
    /// When, after the scenario start.
    pub at_ms: u64,
    /// How long the closing takes before the target is gone.
    pub drain_ms: u64,
}

/// A target group of instance/IP targets.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    /// Name, the `<name>` in `targetgroup/<name>/<id>`.
    pub name: String,
    /// 16 hex digits, the `<id>` in the ARN.
    pub id: String,
    /// Registered targets as `ip:port` (IPv6 without brackets, port after the last `:`).
    pub targets: Vec<String>,
    /// Relative share of the background (Poisson) traffic routed to this group.
    pub traffic_weight: f64,
    /// Target choice for requests without stickiness.
    pub routing: Routing,
    /// Load-balancer cookie stickiness: clients that keep cookies (the pollers) stay on the
    /// target their first request went to. Background requests come from short-lived clients
    /// and are routed by `routing`.
    pub sticky: bool,
    /// This group's backend keep-alive, when it differs from [`Scenario::backend_keepalive_ms`]
    /// (another application behind the same load balancer).
    pub backend_keepalive_ms: Option<u64>,
}

/// Per-request probabilities of the failures that are **not** the keep-alive race. They apply
/// to background (Poisson) requests only; pollers are always well-formed and answered.
/// All default to 0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FailureRates {
    /// Target refused the TCP connection (restarting app): `-1 -1 -1 502 -` with the target
    /// present. The ALB's pooled connections to that target die with it.
    pub connection_refused: f64,
    /// The application itself answered 502: `target_status_code` 502, normal times.
    pub app_502: f64,
    /// A Lambda target threw: target `-`, `502 -`, `error_reason` `"LambdaUnhandled"`.
    pub lambda_error: f64,
    /// The target did not answer within the ALB idle timeout: `-1 -1 -1 504 -`, written
    /// `alb_idle_timeout_s` after the request arrived.
    pub gateway_timeout: f64,
    /// The client gave up before the response: `-1 -1 -1 460 -`.
    pub client_closed: f64,
    /// Garbage on the wire: `"- - -"` request, target `-`, `-1 -1 -1 400 -`.
    pub malformed: f64,
}

/// Everything [`crate::write_log`] simulates. `Default` is a light healthy service.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// 12-digit AWS account id (S3 key, ARNs).
    pub account_id: String,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// ARN partition: `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// Load balancer name, the `<name>` in `app/<name>/<id>`.
    pub load_balancer_name: String,
    /// Load balancer id (16 hex digits), the `<id>` in `app/<name>/<id>`.
    pub load_balancer_id: String,
    /// Host name clients use (SNI `domain_name`, request URLs).
    pub domain_name: String,
    /// Target groups the listener rules forward to; each needs at least one target.
    pub target_groups: Vec<TargetGroup>,
    /// IP of the ALB node writing the object (last field of each line, part of the S3 key).
    pub node_ip: String,
    /// Start of the simulated interval, unix seconds UTC (see [`crate::unix_seconds`]).
    pub start_unix_s: i64,
    /// Length of the simulated interval; requests arrive in `[start, start + duration)`.
    pub duration_s: u64,
    /// Background traffic: Poisson arrivals per second (browsers, API clients).
    pub request_rate: f64,
    /// Recurring clients on top of the background traffic.
    pub pollers: Vec<Poller>,
    /// Bursts of simultaneous requests to one target.
    pub bursts: Vec<Burst>,
    /// Targets that shut down (a deploy) during the interval.
    pub shutdowns: Vec<Shutdown>,
    /// True backend keep-alive K in ms (Node's `keepAliveTimeout`, default 5000): the backend
    /// closes a connection idle for K.
    pub backend_keepalive_ms: u64,
    /// ALB connection idle timeout in seconds (`idle_timeout.timeout_seconds`, default 60): the
    /// ALB closes backend connections idle that long itself, cleanly.
    pub alb_idle_timeout_s: u64,
    /// Time between the backend closing a connection and the ALB having processed the FIN, in
    /// µs. A request dispatched onto a connection idle for `[K, K + fin_delta)` is the race.
    pub fin_delta_us: u64,
    /// Which idle backend connection the ALB reuses.
    pub reuse_policy: ReusePolicy,
    /// Median target processing time of an average endpoint, ms (endpoints scale it).
    pub response_median_ms: f64,
    /// Log-space standard deviation of target processing times.
    pub response_sigma: f64,
    /// Rates of the 502/5xx/4xx causes other than the race.
    pub failures: FailureRates,
    /// Stop admitting requests once this many bytes have been written (corpus sizing).
    pub max_bytes: Option<u64>,
    /// Seed: the same scenario and seed give the same bytes.
    pub seed: u64,
}

/// 2026-11-27T09:30:00Z, the sample data's start.
fn sample_start() -> i64 {
    unix_seconds(2026, 11, 27, 9, 30, 0)
}

fn shop_web_tg(targets: &[&str]) -> TargetGroup {
    TargetGroup {
        name: "shop-web-tg".into(),
        id: "73e2d6bc24d8a067".into(),
        targets: targets.iter().map(|t| (*t).to_string()).collect(),
        traffic_weight: 1.0,
        routing: Routing::RoundRobin,
        sticky: true,
        backend_keepalive_ms: None,
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            load_balancer_name: "shop-web".into(),
            load_balancer_id: "50dc6c495c0c9188".into(),
            domain_name: "shop.example.com".into(),
            target_groups: vec![shop_web_tg(&["10.0.1.23:3000", "10.0.2.41:3000"])],
            node_ip: "10.0.1.5".into(),
            start_unix_s: sample_start(),
            duration_s: 300,
            request_rate: 0.5,
            pollers: Vec::new(),
            bursts: Vec::new(),
            shutdowns: Vec::new(),
            backend_keepalive_ms: 65_000,
            alb_idle_timeout_s: 60,
            fin_delta_us: 1_000,
            reuse_policy: ReusePolicy::MostRecentlyUsed,
            response_median_ms: 20.0,
            response_sigma: 0.8,
            failures: FailureRates::default(),
            max_bytes: None,
            // Chosen so that the incident shows the classic picture: 8 races, 2 refused, 1 app 502.
            seed: 13,
        }
    }
}

impl Scenario {
    /// The incident: Node's default 5 s keep-alive behind a 60 s ALB idle timeout, a dashboard
    /// polling every 5 s (sticky, 304s) plus light traffic for 5 minutes on three targets; a
    /// couple of refused connections and one app-sent 502 that are not races.
    pub fn incident() -> Self {
        Scenario {
            target_groups: vec![shop_web_tg(&[
                "10.0.1.23:3000",
                "10.0.2.41:3000",
                "10.0.3.17:3000",
            ])],
            request_rate: 0.2,
            pollers: vec![
                Poller {
                    kind: PollerKind::Dashboard,
                    period_ms: 5_000,
                    jitter_us: 4_000,
                    offset_ms: 1_250,
                    target_group: 0,
                    waits_for_answer: false,
                    max_requests: None,
                },
                Poller {
                    kind: PollerKind::HealthCheck,
                    period_ms: 30_000,
                    jitter_us: 2_000,
                    offset_ms: 7_400,
                    target_group: 0,
                    waits_for_answer: false,
                    max_requests: None,
                },
            ],
            backend_keepalive_ms: 5_000,
            failures: FailureRates {
                connection_refused: 0.03,
                app_502: 0.015,
                ..FailureRates::default()
            },
            ..Scenario::default()
        }
    }

    /// The same service after the fix (`keepAliveTimeout` 65 s > ALB idle 60 s): the same
    /// requests, no race, but still the refused connections and the app-sent 502.
    pub fn healthy() -> Self {
        Scenario { backend_keepalive_ms: 65_000, ..Scenario::incident() }
    }

    /// A busy node for the benchmark: 40 targets in 3 target groups, ~`target_bytes` of text,
    /// about 0.1 % 502s, mostly races on the sticky dashboard group, with every other failure
    /// class present. The interval is stretched (not 5 minutes) so that the per-target traffic
    /// stays realistic while the object reaches the requested size.
    pub fn corpus(target_bytes: u64) -> Self {
        let web = (0..14).map(|i| format!("10.0.{}.{}:3000", 1 + i % 3, 20 + i)).collect();
        let api = (0..10).map(|i| format!("10.0.{}.{}:8080", 4 + i % 3, 40 + i)).collect();
        let dash = (0..16).map(|i| format!("10.0.{}.{}:3000", 7 + i % 3, 60 + i)).collect();
        // One dashboard per dashboard target: they start within a second, so round robin
        // spreads their first requests (and hence their stickiness) over distinct targets.
        let mut pollers: Vec<Poller> = (0..16)
            .map(|i| Poller {
                kind: PollerKind::Dashboard,
                period_ms: 5_000,
                jitter_us: 4_000,
                offset_ms: 40 + 53 * i,
                target_group: 2,
                waits_for_answer: false,
                max_requests: None,
            })
            .collect();
        pollers.extend((0..2).map(|i| Poller {
            kind: PollerKind::HealthCheck,
            period_ms: 10_000,
            jitter_us: 2_000,
            offset_ms: 1_000 + 5_000 * i,
            target_group: 0,
            waits_for_answer: false,
            max_requests: None,
        }));
        pollers.extend((0..4).map(|i| Poller {
            kind: PollerKind::MobileApi,
            period_ms: 30_000,
            jitter_us: 20_000,
            offset_ms: 2_000 + 7_000 * i,
            target_group: 1,
            waits_for_answer: false,
            max_requests: None,
        }));
        let request_rate = 500.0;
        // Calibrated average line length of this mix (measured, ~700 bytes); the byte cap then
        // trims the overshoot so the object lands close to the requested size.
        let bytes_per_s = request_rate * CORPUS_LINE_BYTES;
        let duration_s = ((target_bytes as f64 / bytes_per_s).ceil() as u64).max(1) + 5;
        Scenario {
            target_groups: vec![
                TargetGroup {
                    name: "shop-web-tg".into(),
                    id: "73e2d6bc24d8a067".into(),
                    targets: web,
                    traffic_weight: 0.6,
                    routing: Routing::RoundRobin,
                    sticky: false,
                    backend_keepalive_ms: None,
                },
                TargetGroup {
                    name: "shop-api-tg".into(),
                    id: "1c9f0e8a5b7d3e21".into(),
                    targets: api,
                    traffic_weight: 0.4,
                    routing: Routing::RoundRobin,
                    sticky: false,
                    backend_keepalive_ms: None,
                },
                TargetGroup {
                    name: "shop-dash-tg".into(),
                    id: "b83a61d0f4c2e957".into(),
                    targets: dash,
                    traffic_weight: 0.0005,
                    routing: Routing::RoundRobin,
                    sticky: true,
                    backend_keepalive_ms: None,
                },
            ],
            request_rate,
            pollers,
            duration_s,
            backend_keepalive_ms: 5_000,
            failures: FailureRates {
                connection_refused: 5e-5,
                app_502: 8e-5,
                lambda_error: 3e-5,
                gateway_timeout: 2e-5,
                client_closed: 1.5e-4,
                malformed: 5e-5,
            },
            max_bytes: Some(target_bytes),
            seed: 0xC0_4905,
            ..Scenario::default()
        }
    }

    /// `app/<name>/<id>`, the `elb` field.
    pub fn load_balancer(&self) -> String {
        format!("app/{}/{}", self.load_balancer_name, self.load_balancer_id)
    }

    /// `arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`.
    pub fn target_group_arn(&self, tg: &TargetGroup) -> String {
        format!(
            "arn:{}:elasticloadbalancing:{}:{}:targetgroup/{}/{}",
            self.partition, self.region, self.account_id, tg.name, tg.id
        )
    }

    /// ARN of the Lambda target group used by the `lambda_error` class (derived from the load
    /// balancer so that it is stable and distinct from the instance groups).
    pub fn lambda_target_group_arn(&self) -> String {
        let id = crate::rng::mix64(fnv1a(self.load_balancer_id.as_bytes()));
        let mut name = format!("{}-fn", self.load_balancer_name);
        name.truncate(32);
        format!(
            "arn:{}:elasticloadbalancing:{}:{}:targetgroup/{}/{:016x}",
            self.partition, self.region, self.account_id, name, id
        )
    }

    /// The ACM certificate presented on the HTTPS listener (`chosen_cert_arn`).
    pub fn certificate_arn(&self) -> String {
        let h = crate::rng::mix64(fnv1a(self.domain_name.as_bytes()));
        let g = crate::rng::mix64(h);
        format!(
            "arn:{}:acm:{}:{}:certificate/{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            self.partition,
            self.region,
            self.account_id,
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xfff,
            0x8000 | ((g >> 48) & 0x3fff),
            g & 0xffff_ffff_ffff
        )
    }
}

/// Average line length of the corpus mix, used to size its duration.
const CORPUS_LINE_BYTES: f64 = 700.0;

/// FNV-1a, to derive stable ids from names.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_follow_the_documented_shape() {
        let s = Scenario::incident();
        assert_eq!(s.load_balancer(), "app/shop-web/50dc6c495c0c9188");
        assert_eq!(
            s.target_group_arn(&s.target_groups[0]),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067"
        );
        let lambda = s.lambda_target_group_arn();
        assert!(lambda.starts_with(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-fn/"
        ));
        assert_eq!(lambda.rsplit('/').next().map(str::len), Some(16));
        let cert = s.certificate_arn();
        assert!(cert.starts_with("arn:aws:acm:us-east-1:123456789012:certificate/"), "{cert}");
        assert_eq!(cert.rsplit('/').next().map(str::len), Some(36), "{cert}");
    }

    #[test]
    fn presets_differ_only_where_documented() {
        let i = Scenario::incident();
        let h = Scenario::healthy();
        assert_eq!(i.backend_keepalive_ms, 5_000);
        assert_eq!(h.backend_keepalive_ms, 65_000);
        assert_eq!(Scenario { backend_keepalive_ms: 5_000, ..h }, i);
        let c = Scenario::corpus(300_000_000);
        assert_eq!(c.target_groups.iter().map(|t| t.targets.len()).sum::<usize>(), 40);
    }
}
