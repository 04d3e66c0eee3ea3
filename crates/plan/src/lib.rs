//! Findings -> plan: the settings that end the keep-alive race, as data.
//!
//! This is the fourth stage of the data path (object -> lines -> records -> findings -> **plan**
//! -> actions). [`plan`] is a pure function of the evidence, the current settings and a
//! [`Policy`]; it returns a [`Plan`] listing each change with its value before and after. Nothing
//! here talks to AWS: an adapter executes the plan, and dry-run is simply not executing it.
//!
//! # The two remedies
//!
//! * **Raise the application's keep-alive** ([`Strategy::SsmParameters`], the default, and the
//!   one AWS recommends): `keepAliveTimeout = idle_timeout * 1000 + keepalive margin` (65000 ms
//!   behind the default 60 s) and `headersTimeout = keepAliveTimeout + headers margin` (66000).
//!   Node (18+) throws when `headersTimeout > requestTimeout` (default 300000), so when the
//!   headers timeout must go above 300000 a third value raises `requestTimeout` with it; the
//!   headers timeout is never capped below the keep-alive. A value is never lowered. The
//!   [`cures`] table gives the same value for every common server.
//! * **Lower the load balancer's idle timeout** ([`Strategy::AlbIdleTimeout`]): the whole number
//!   of seconds strictly below the backend keep-alive minus a margin, at least 1 (Node's 5 s ->
//!   4 s, gunicorn's 2 s -> 1 s). It is never raised, and never proposed at or above the backend
//!   keep-alive. It is the blunt cure: the same timer also bounds how long a target may stay
//!   silent, so it is **refused** ([`IdleTimeoutBlocked`]) when the logs show requests it would
//!   have cut (slow responses, WebSockets, gRPC streams) unless the policy allows that, and when
//!   the backend keep-alive comes from a low-confidence estimate (or none) rather than from
//!   configuration.
//!
//! Every number is checked: margins and timeouts have upper bounds ([`Policy::validate`]), the
//! arithmetic is checked, and the invariant `idle * 1000 < keepAliveTimeout < headersTimeout <=
//! requestTimeout` is asserted before a plan is returned.
//!
//! A setting that is already consistent gives an empty plan, which makes applying a plan twice
//! harmless. Without evidence of the race the plan is empty too.
//!
//! # Example
//!
//! ```
//! use alb_plan::{plan, Change, CurrentSettings, Evidence, Parameter, Policy, Strategy};
//!
//! let evidence = Evidence {
//!     keepalive_502: 6,
//!     estimated_backend_keepalive_ms: Some(5000),
//!     confidence: Some(0.9),
//!     ..Evidence::default()
//! };
//! let current = CurrentSettings { alb_idle_timeout_s: 60, ..CurrentSettings::default() };
//! let raise = plan(Strategy::SsmParameters, &evidence, &current, &Policy::default())?;
//! assert_eq!(raise.changes, vec![
//!     Change::SetParameter { parameter: Parameter::KeepAliveTimeout, before: None, after: 65000 },
//!     Change::SetParameter { parameter: Parameter::HeadersTimeout, before: None, after: 66000 },
//! ]);
//!
//! let lower = plan(Strategy::AlbIdleTimeout, &evidence, &current, &Policy::default())?;
//! assert_eq!(lower.changes, vec![Change::SetIdleTimeout { before: 60, after: 4 }]);
//! # Ok::<(), alb_plan::PlanError>(())
//! ```

#![deny(missing_docs)]

use alb_findings::DurationHistogram;
use serde::{Deserialize, Serialize};

/// The ALB's valid range for `idle_timeout.timeout_seconds`.
pub const IDLE_TIMEOUT_RANGE_S: std::ops::RangeInclusive<u32> = 1..=4000;
/// Largest accepted keep-alive or headers margin: 10 minutes.
pub const MAX_MARGIN_MS: u64 = 600_000;
/// Largest accepted idle-timeout margin: 1 minute.
pub const MAX_IDLE_TIMEOUT_MARGIN_MS: u64 = 60_000;
/// Largest accepted backend keep-alive or request timeout: 1 day.
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;
/// Node's default `requestTimeout` since Node 18.
pub const NODE_REQUEST_TIMEOUT_MS: u64 = 300_000;

/// What the diagnosis established about one load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Strong keep-alive race 502s seen. Zero means no evidence and an empty plan.
    pub keepalive_502: u64,
    /// The backend keep-alive inferred from the idle ages.
    pub estimated_backend_keepalive_ms: Option<u32>,
    /// The estimate's confidence (0-1); the idle-timeout remedy needs
    /// [`Policy::min_confidence`] unless the backend keep-alive is configured.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Target processing times seen in the logs: what a lower idle timeout would cut.
    #[serde(default)]
    pub target_processing_seconds: DurationHistogram,
    /// Durations of WebSocket and gRPC-stream entries seen in the logs.
    #[serde(default)]
    pub long_lived_seconds: DurationHistogram,
}

/// The settings in force now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentSettings {
    /// The load balancer's `idle_timeout.timeout_seconds` (60 when never set).
    pub alb_idle_timeout_s: u32,
    /// The application's `keepAliveTimeout` as currently configured, if known.
    pub keepalive_timeout_ms: Option<u64>,
    /// The application's `headersTimeout` as currently configured, if known.
    pub headers_timeout_ms: Option<u64>,
    /// The application's `requestTimeout` as currently configured, if known.
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
}

impl Default for CurrentSettings {
    fn default() -> Self {
        CurrentSettings {
            alb_idle_timeout_s: 60,
            keepalive_timeout_ms: None,
            headers_timeout_ms: None,
            request_timeout_ms: None,
        }
    }
}

/// Which remedy to plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Raise the application's `keepAliveTimeout` and `headersTimeout`.
    #[default]
    SsmParameters,
    /// Lower the load balancer's idle timeout.
    AlbIdleTimeout,
}

/// Margins and bounds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Added to the ALB idle timeout to get `keepAliveTimeout` (default 5000 ms, 1000 to
    /// [`MAX_MARGIN_MS`]).
    pub keepalive_margin_ms: u64,
    /// Added to `keepAliveTimeout` to get `headersTimeout` (default 1000 ms, 1 to
    /// [`MAX_MARGIN_MS`]).
    pub headers_margin_ms: u64,
    /// Node's `requestTimeout` in force when none is configured (default 300000; 0 = none).
    /// When `headersTimeout` must exceed it, the plan raises `requestTimeout` too.
    pub request_timeout_ms: u64,
    /// Taken off the backend keep-alive before rounding the idle timeout down (default 500 ms,
    /// at most [`MAX_IDLE_TIMEOUT_MARGIN_MS`]).
    pub idle_timeout_margin_ms: u64,
    /// The backend keep-alive to assume, overriding the estimate (e.g. from configuration).
    pub backend_keepalive_ms: Option<u64>,
    /// The backend keep-alive to assume when there is neither an override nor an estimate
    /// (default 5000 ms, Node's default).
    pub default_backend_keepalive_ms: u64,
    /// Lower the idle timeout even when the logs show requests it would cut (default false).
    #[serde(default)]
    pub allow_idle_timeout_cuts: bool,
    /// Smallest estimate confidence the idle-timeout remedy accepts (default 0.5).
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
}

fn default_min_confidence() -> f64 {
    0.5
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keepalive_margin_ms: 5000,
            headers_margin_ms: 1000,
            request_timeout_ms: NODE_REQUEST_TIMEOUT_MS,
            idle_timeout_margin_ms: 500,
            backend_keepalive_ms: None,
            default_backend_keepalive_ms: 5000,
            allow_idle_timeout_cuts: false,
            min_confidence: default_min_confidence(),
        }
    }
}

/// An application setting delivered as a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Parameter {
    /// Node's `server.keepAliveTimeout`, in milliseconds.
    #[serde(rename = "keepAliveTimeout")]
    KeepAliveTimeout,
    /// Node's `server.headersTimeout`, in milliseconds.
    #[serde(rename = "headersTimeout")]
    HeadersTimeout,
    /// Node's `server.requestTimeout`, in milliseconds; planned only when the headers timeout
    /// must go above the one in force.
    #[serde(rename = "requestTimeout")]
    RequestTimeout,
}

impl Parameter {
    /// Every parameter, in the order they are written.
    pub const ALL: [Parameter; 3] =
        [Parameter::KeepAliveTimeout, Parameter::HeadersTimeout, Parameter::RequestTimeout];

    /// The name used in parameter paths and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Parameter::KeepAliveTimeout => "keepAliveTimeout",
            Parameter::HeadersTimeout => "headersTimeout",
            Parameter::RequestTimeout => "requestTimeout",
        }
    }
}

/// One change, "set to X": applying it when the value is already X changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// Write an application parameter.
    SetParameter {
        /// Which one.
        parameter: Parameter,
        /// The current value, if any.
        before: Option<u64>,
        /// The value to write.
        after: u64,
    },
    /// Set the load balancer's `idle_timeout.timeout_seconds`.
    SetIdleTimeout {
        /// The current value.
        before: u32,
        /// The value to set.
        after: u32,
    },
}

/// Why the idle-timeout remedy is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockReason {
    /// The logs show requests (slow responses, WebSockets, gRPC streams) the lower idle timeout
    /// would have cut.
    WouldCutRequests,
    /// The backend keep-alive comes from no estimate or a low-confidence one, and is not
    /// configured.
    LowConfidence,
    /// Even 1 s (the ALB minimum) is not below the backend keep-alive.
    BackendKeepaliveTooShort,
    /// The idle timeout is already below the backend keep-alive; it is never raised.
    AlreadyBelow,
}

/// The idle-timeout remedy refused, with the reason and the numbers behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleTimeoutBlocked {
    /// Why.
    pub reason: BlockReason,
    /// The idle timeout that was considered, seconds.
    pub idle_timeout_seconds: u32,
    /// Requests in the logs whose target processing time reached it.
    pub requests_cut: u64,
    /// WebSocket and gRPC-stream entries in the logs that lasted at least that long.
    pub long_lived_cut: u64,
    /// The same in one sentence.
    pub message: String,
}

impl std::fmt::Display for IdleTimeoutBlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The target values of both remedies, whatever is configured now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remedies {
    /// Remedy B: the application settings.
    pub ssm_parameters: ParameterValues,
    /// Remedy A: the load balancer idle timeout; `None` when refused (see
    /// `alb_idle_timeout_blocked`).
    pub alb_idle_timeout_seconds: Option<u32>,
    /// Why remedy A is refused, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb_idle_timeout_blocked: Option<IdleTimeoutBlocked>,
    /// The server whose default the estimated backend keep-alive matches, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_default: Option<String>,
    /// Remedy B for each common server: the setting and value.
    #[serde(default)]
    pub cures: Vec<Cure>,
}

/// Target values for the application's timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterValues {
    /// `keepAliveTimeout` in ms.
    #[serde(rename = "keepAliveTimeout")]
    pub keep_alive_timeout_ms: u64,
    /// `headersTimeout` in ms.
    #[serde(rename = "headersTimeout")]
    pub headers_timeout_ms: u64,
    /// `requestTimeout` in ms, when the one in force is below `headersTimeout`.
    #[serde(rename = "requestTimeout", default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
}

/// What to change, and why not more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The changes, in the order to apply them. Empty when nothing needs to change.
    pub changes: Vec<Change>,
    /// Plain-language remarks: why a change was left out, or a constraint that bit.
    pub notes: Vec<String>,
    /// The idle-timeout remedy refused: an executor must skip it with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<IdleTimeoutBlocked>,
}

/// Settings the planner refuses to work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The current idle timeout is outside what an ALB accepts.
    #[error("current idle timeout {0} s is outside the ALB range 1-4000 s")]
    IdleTimeoutOutOfRange(u32),
    /// A margin that would not separate the two timers.
    #[error("{name} must be at least {minimum} ms (got {value})")]
    MarginTooSmall {
        /// The policy field.
        name: &'static str,
        /// Its value.
        value: u64,
        /// The smallest accepted value.
        minimum: u64,
    },
    /// A margin or timeout beyond any sane value (and beyond what the arithmetic may carry).
    #[error("{name} must be at most {maximum} ms (got {value})")]
    ValueTooLarge {
        /// The policy field.
        name: &'static str,
        /// Its value.
        value: u64,
        /// The largest accepted value.
        maximum: u64,
    },
    /// The planned values would break `idle * 1000 < keepAliveTimeout < headersTimeout <=
    /// requestTimeout`; nothing is planned.
    #[error("refusing to plan: {0}")]
    Invariant(String),
}

impl Policy {
    /// Checks that the margins keep the application's timer above the load balancer's and
    /// that every value is within its bounds.
    ///
    /// # Errors
    ///
    /// [`PlanError::MarginTooSmall`] for a keep-alive margin under 1000 ms or a headers margin
    /// of 0; [`PlanError::ValueTooLarge`] for a margin or timeout above its bound.
    pub fn validate(&self) -> Result<(), PlanError> {
        for (name, value, minimum) in [
            ("keepalive_margin_ms", self.keepalive_margin_ms, 1000),
            ("headers_margin_ms", self.headers_margin_ms, 1),
        ] {
            if value < minimum {
                return Err(PlanError::MarginTooSmall { name, value, minimum });
            }
        }
        for (name, value, maximum) in [
            ("keepalive_margin_ms", self.keepalive_margin_ms, MAX_MARGIN_MS),
            ("headers_margin_ms", self.headers_margin_ms, MAX_MARGIN_MS),
            ("idle_timeout_margin_ms", self.idle_timeout_margin_ms, MAX_IDLE_TIMEOUT_MARGIN_MS),
            ("request_timeout_ms", self.request_timeout_ms, MAX_TIMEOUT_MS),
            ("backend_keepalive_ms", self.backend_keepalive_ms.unwrap_or(0), MAX_TIMEOUT_MS),
            ("default_backend_keepalive_ms", self.default_backend_keepalive_ms, MAX_TIMEOUT_MS),
        ] {
            if value > maximum {
                return Err(PlanError::ValueTooLarge { name, value, maximum });
            }
        }
        Ok(())
    }

    /// The backend keep-alive the idle-timeout remedy works from: the override, else the
    /// estimate, else the default.
    pub fn backend_keepalive_ms(&self, evidence: &Evidence) -> u64 {
        self.backend_keepalive_ms
            .or(evidence.estimated_backend_keepalive_ms.map(u64::from))
            .unwrap_or(self.default_backend_keepalive_ms)
    }
}

fn overflow(what: &str) -> PlanError {
    PlanError::Invariant(format!("{what} overflows"))
}

/// The application timeouts for the current idle timeout, never below what is configured.
fn parameter_values(
    current: &CurrentSettings,
    policy: &Policy,
) -> Result<ParameterValues, PlanError> {
    let idle_ms = u64::from(current.alb_idle_timeout_s) * 1000;
    let keep_alive = idle_ms
        .checked_add(policy.keepalive_margin_ms)
        .ok_or_else(|| overflow("keepAliveTimeout"))?
        .max(current.keepalive_timeout_ms.unwrap_or(0));
    let headers = keep_alive
        .checked_add(policy.headers_margin_ms)
        .ok_or_else(|| overflow("headersTimeout"))?
        .max(current.headers_timeout_ms.unwrap_or(0));
    // Node throws when headersTimeout > requestTimeout: raise requestTimeout with it rather
    // than capping headersTimeout (a capped one at or below keepAliveTimeout races again).
    let in_force = current.request_timeout_ms.unwrap_or(policy.request_timeout_ms);
    let request = (in_force > 0 && headers > in_force).then_some(headers);
    let values = ParameterValues {
        keep_alive_timeout_ms: keep_alive,
        headers_timeout_ms: headers,
        request_timeout_ms: request,
    };
    check_invariants(current.alb_idle_timeout_s, &values, in_force)?;
    Ok(values)
}

/// `idle * 1000 < keepAliveTimeout < headersTimeout <= requestTimeout`, asserted before any
/// value leaves the planner.
pub fn check_invariants(
    idle_timeout_s: u32,
    values: &ParameterValues,
    request_timeout_in_force_ms: u64,
) -> Result<(), PlanError> {
    let idle_ms = u64::from(idle_timeout_s) * 1000;
    let request = values.request_timeout_ms.unwrap_or(request_timeout_in_force_ms);
    let ok = idle_ms < values.keep_alive_timeout_ms
        && values.keep_alive_timeout_ms < values.headers_timeout_ms
        && (request == 0 || values.headers_timeout_ms <= request);
    if ok {
        Ok(())
    } else {
        Err(PlanError::Invariant(format!(
            "idle timeout {idle_ms} ms < keepAliveTimeout {} < headersTimeout {} <= requestTimeout {request} does not hold",
            values.keep_alive_timeout_ms, values.headers_timeout_ms
        )))
    }
}

/// The idle timeout remedy A would set, or why it is refused.
fn idle_timeout(
    evidence: &Evidence,
    current: &CurrentSettings,
    policy: &Policy,
) -> Result<u32, IdleTimeoutBlocked> {
    let backend_ms = policy.backend_keepalive_ms(evidence);
    let usable_ms = backend_ms.saturating_sub(policy.idle_timeout_margin_ms);
    // Whole seconds strictly below the usable keep-alive.
    let below = usable_ms.div_ceil(1000).saturating_sub(1);
    let idle = u32::try_from(below).unwrap_or(u32::MAX).min(*IDLE_TIMEOUT_RANGE_S.end());
    let cut = |seconds: u32| {
        (
            evidence.target_processing_seconds.at_least_s(u64::from(seconds)),
            evidence.long_lived_seconds.at_least_s(u64::from(seconds)),
        )
    };
    let blocked = |reason, seconds: u32, message: String| {
        let (requests_cut, long_lived_cut) = cut(seconds);
        Err(IdleTimeoutBlocked {
            reason,
            idle_timeout_seconds: seconds,
            requests_cut,
            long_lived_cut,
            message,
        })
    };
    if policy.backend_keepalive_ms.is_none() {
        let confidence =
            evidence.estimated_backend_keepalive_ms.and(evidence.confidence).unwrap_or(0.0);
        if confidence < policy.min_confidence {
            let source = match evidence.estimated_backend_keepalive_ms {
                Some(ms) => format!("an estimate of {ms} ms with confidence {confidence:.2}"),
                None => format!("no estimate (assumed {backend_ms} ms)"),
            };
            return blocked(
                BlockReason::LowConfidence,
                idle,
                format!(
                    "idle timeout {idle} s refused: the backend keep-alive comes from {source}, below {:.2}; configure the backend keep-alive to use this remedy",
                    policy.min_confidence
                ),
            );
        }
    }
    if idle < 1 || u64::from(idle) * 1000 >= backend_ms {
        return blocked(
            BlockReason::BackendKeepaliveTooShort,
            1,
            format!(
                "idle timeout refused: even 1 s is not below the backend keep-alive of {backend_ms} ms less the {} ms margin",
                policy.idle_timeout_margin_ms
            ),
        );
    }
    if idle >= current.alb_idle_timeout_s {
        return blocked(
            BlockReason::AlreadyBelow,
            current.alb_idle_timeout_s,
            format!(
                "idle timeout {} s is already below the backend keep-alive of {backend_ms} ms: never raised",
                current.alb_idle_timeout_s
            ),
        );
    }
    let (requests_cut, long_lived_cut) = cut(idle);
    if (requests_cut > 0 || long_lived_cut > 0) && !policy.allow_idle_timeout_cuts {
        return blocked(
            BlockReason::WouldCutRequests,
            idle,
            format!(
                "idle timeout {idle} s refused: it would have cut {requests_cut} request{} whose target took {idle} s or more to answer and {long_lived_cut} WebSocket/gRPC stream{} that lasted as long (allow it explicitly to override)",
                if requests_cut == 1 { "" } else { "s" },
                if long_lived_cut == 1 { "" } else { "s" },
            ),
        );
    }
    Ok(idle)
}

/// The target values of both remedies for the current idle timeout.
///
/// # Errors
///
/// See [`PlanError`].
pub fn remedies(
    evidence: &Evidence,
    current: &CurrentSettings,
    policy: &Policy,
) -> Result<Remedies, PlanError> {
    policy.validate()?;
    if !IDLE_TIMEOUT_RANGE_S.contains(&current.alb_idle_timeout_s) {
        return Err(PlanError::IdleTimeoutOutOfRange(current.alb_idle_timeout_s));
    }
    let values = parameter_values(current, policy)?;
    let (idle, blocked) = match idle_timeout(evidence, current, policy) {
        Ok(idle) => (Some(idle), None),
        Err(blocked) => (None, Some(blocked)),
    };
    Ok(Remedies {
        ssm_parameters: values,
        alb_idle_timeout_seconds: idle,
        alb_idle_timeout_blocked: blocked,
        backend_default: evidence
            .estimated_backend_keepalive_ms
            .and_then(known_default)
            .map(str::to_string),
        cures: cures(&values),
    })
}

/// Plans the changes for one load balancer.
///
/// # Errors
///
/// See [`PlanError`].
pub fn plan(
    strategy: Strategy,
    evidence: &Evidence,
    current: &CurrentSettings,
    policy: &Policy,
) -> Result<Plan, PlanError> {
    let targets = remedies(evidence, current, policy)?;
    let mut plan = Plan::default();
    if evidence.keepalive_502 == 0 {
        plan.notes.push("no keep-alive race 502 in the evidence: nothing to change".into());
        return Ok(plan);
    }
    match strategy {
        Strategy::SsmParameters => {
            let values = targets.ssm_parameters;
            if let Some(request) = values.request_timeout_ms {
                plan.notes.push(format!(
                    "requestTimeout raised to {request} ms: Node rejects a headersTimeout above requestTimeout"
                ));
            }
            for (parameter, before, after) in [
                (
                    Parameter::KeepAliveTimeout,
                    current.keepalive_timeout_ms,
                    Some(values.keep_alive_timeout_ms),
                ),
                (
                    Parameter::HeadersTimeout,
                    current.headers_timeout_ms,
                    Some(values.headers_timeout_ms),
                ),
                (Parameter::RequestTimeout, current.request_timeout_ms, values.request_timeout_ms),
            ] {
                let Some(after) = after else { continue };
                if before == Some(after) {
                    plan.notes.push(format!("{} is already {after} ms", parameter.name()));
                } else {
                    plan.changes.push(Change::SetParameter { parameter, before, after });
                }
            }
        }
        Strategy::AlbIdleTimeout => {
            match (targets.alb_idle_timeout_seconds, targets.alb_idle_timeout_blocked) {
                (Some(after), _) => {
                    plan.changes
                        .push(Change::SetIdleTimeout { before: current.alb_idle_timeout_s, after });
                }
                (None, blocked) => {
                    if let Some(blocked) = blocked {
                        plan.notes.push(blocked.message.clone());
                        plan.blocked = Some(blocked);
                    }
                }
            }
        }
    }
    Ok(plan)
}

/// What ends race-shaped 502s at a deploy (`shutdown-race`); keep-alive settings do not.
pub const SHUTDOWN_ADVICE: [&str; 3] = [
    "Deregister the target before stopping it, with a deregistration delay (target group attribute deregistration_delay.timeout_seconds) longer than the slowest request.",
    "On SIGTERM stop accepting new requests first, let in-flight ones finish, and only then close idle keep-alive connections.",
    "Node.js: call server.close() first (stops accepting), then server.closeIdleConnections(); not the other way round.",
];

/// The server whose default keep-alive the estimate matches (within 10 %), if any.
pub fn known_default(estimate_ms: u32) -> Option<&'static str> {
    const DEFAULTS: [(u32, &str); 5] = [
        (2_000, "gunicorn (--keep-alive 2)"),
        (
            5_000,
            "Node.js (keepAliveTimeout 5000), uvicorn (--timeout-keep-alive 5) or Apache (KeepAliveTimeout 5)",
        ),
        (6_000, "Node.js 24+ (keepAliveTimeout 5000 plus keepAliveTimeoutBuffer 1000)"),
        (20_000, "Puma 6 and earlier (persistent_timeout 20)"),
        (60_000, "Tomcat (keepAliveTimeout = connectionTimeout 60000)"),
    ];
    // The closest default within 10 %: 5000 and 6000 are only 20 % apart.
    DEFAULTS
        .iter()
        .filter(|(ms, _)| estimate_ms.abs_diff(*ms) <= ms / 10)
        .min_by_key(|(ms, _)| estimate_ms.abs_diff(*ms))
        .map(|(_, name)| *name)
}

/// Remedy B for one server: where to set it and to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cure {
    /// The server or framework.
    pub stack: String,
    /// The setting with its value, as written in that stack's configuration.
    pub setting: String,
    /// A caveat, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How each stack spells the keep-alive: `{ms}` is `keepAliveTimeout` in milliseconds, `{s}`
/// the same rounded up to whole seconds, `{headers}` `headersTimeout`, `{node_request}` the
/// Node `requestTimeout` assignment when one is needed (empty otherwise).
const CURE_TABLE: [(&str, &str, Option<&str>); 15] = [
    (
        "Node.js (http/https server)",
        "server.keepAliveTimeout = {ms}; server.headersTimeout = {headers};{node_request}",
        Some(
            "or http.createServer({ keepAliveTimeout: {ms}, headersTimeout: {headers}{node_request_option} }); headersTimeout must stay above keepAliveTimeout and at or below requestTimeout",
        ),
    ),
    (
        "Express",
        "const server = app.listen(port); server.keepAliveTimeout = {ms}; server.headersTimeout = {headers};{node_request}",
        None,
    ),
    (
        "NestJS",
        "const server = app.getHttpServer(); server.keepAliveTimeout = {ms}; server.headersTimeout = {headers};{node_request}",
        Some("with the Fastify adapter: new FastifyAdapter({ keepAliveTimeout: {ms} })"),
    ),
    (
        "Next.js",
        "KEEP_ALIVE_TIMEOUT={ms} next start   (or: next start --keepAliveTimeout {ms})",
        Some("the standalone server.js reads KEEP_ALIVE_TIMEOUT"),
    ),
    (
        "Fastify",
        "fastify({ keepAliveTimeout: {ms}{fastify_request} })",
        Some("Fastify's own default is 72000 ms"),
    ),
    (
        "gunicorn",
        "--keep-alive {s}   (keepalive = {s} in gunicorn.conf.py)",
        Some("only gthread and async workers keep connections alive; sync workers close each one"),
    ),
    ("uvicorn", "--timeout-keep-alive {s}", None),
    ("Hypercorn", "--keep-alive {s}   (keep_alive_timeout = {s} in the config file)", None),
    (
        "Go net/http",
        "http.Server{IdleTimeout: {s} * time.Second}",
        Some("an unset IdleTimeout falls back to ReadTimeout"),
    ),
    ("Puma", "persistent_timeout {s}", Some("Puma 6 and earlier default to 20 s")),
    ("Apache httpd", "KeepAliveTimeout {s}", None),
    ("nginx", "keepalive_timeout {s}s;", Some("default 75s")),
    ("Tomcat", "<Connector keepAliveTimeout=\"{ms}\" ...>", Some("defaults to connectionTimeout")),
    ("Spring Boot (embedded Tomcat)", "server.tomcat.keep-alive-timeout={ms}ms", None),
    (
        "ASP.NET Core Kestrel",
        "options.Limits.KeepAliveTimeout = TimeSpan.FromSeconds({s});",
        Some("default 130 s"),
    ),
];

/// Remedy B for every stack in the table, for these values.
pub fn cures(values: &ParameterValues) -> Vec<Cure> {
    let ms = values.keep_alive_timeout_ms.to_string();
    let seconds = values.keep_alive_timeout_ms.div_ceil(1000).to_string();
    let headers = values.headers_timeout_ms.to_string();
    let (node_request, node_request_option, fastify_request) = match values.request_timeout_ms {
        Some(request) => (
            format!(" server.requestTimeout = {request};"),
            format!(", requestTimeout: {request}"),
            format!(", requestTimeout: {request}"),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let fill = |text: &str| {
        text.replace("{ms}", &ms)
            .replace("{s}", &seconds)
            .replace("{headers}", &headers)
            .replace("{node_request}", &node_request)
            .replace("{node_request_option}", &node_request_option)
            .replace("{fastify_request}", &fastify_request)
    };
    CURE_TABLE
        .iter()
        .map(|(stack, setting, note)| Cure {
            stack: (*stack).to_string(),
            setting: fill(setting),
            note: note.map(fill),
        })
        .collect()
}

#[cfg(test)]
mod tests;
