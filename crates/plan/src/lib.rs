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
//!   behind the default 60 s) and `headersTimeout = keepAliveTimeout + headers margin` (66000),
//!   kept at or below Node's `requestTimeout` (300000 by default since Node 18, where a larger
//!   `headersTimeout` makes `http.createServer` throw). A value is never lowered.
//! * **Lower the load balancer's idle timeout** ([`Strategy::AlbIdleTimeout`]): the whole number
//!   of seconds strictly below the backend keep-alive minus a margin, at least 1 (Node's 5 s ->
//!   4 s, gunicorn's 2 s -> 1 s). It is never raised. It is the blunt cure: the same timer also
//!   bounds how long a target may stay silent, so slow responses start failing with 504.
//!
//! A setting that is already consistent gives an empty plan, which makes applying a plan twice
//! harmless. Without evidence of the race the plan is empty too.
//!
//! # Example
//!
//! ```
//! use alb_plan::{plan, Change, CurrentSettings, Evidence, Parameter, Policy, Strategy};
//!
//! let evidence = Evidence { keepalive_502: 6, estimated_backend_keepalive_ms: Some(5000) };
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

use serde::{Deserialize, Serialize};

/// The ALB's valid range for `idle_timeout.timeout_seconds`.
pub const IDLE_TIMEOUT_RANGE_S: std::ops::RangeInclusive<u32> = 1..=4000;

/// What the diagnosis established about one load balancer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Strong keep-alive race 502s seen. Zero means no evidence and an empty plan.
    pub keepalive_502: u64,
    /// The backend keep-alive inferred from the idle gaps.
    pub estimated_backend_keepalive_ms: Option<u32>,
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
}

impl Default for CurrentSettings {
    fn default() -> Self {
        CurrentSettings {
            alb_idle_timeout_s: 60,
            keepalive_timeout_ms: None,
            headers_timeout_ms: None,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Added to the ALB idle timeout to get `keepAliveTimeout` (default 5000 ms).
    pub keepalive_margin_ms: u64,
    /// Added to `keepAliveTimeout` to get `headersTimeout` (default 1000 ms).
    pub headers_margin_ms: u64,
    /// Node's `requestTimeout`; `headersTimeout` must not exceed it (default 300000; 0 = none).
    pub request_timeout_ms: u64,
    /// Taken off the backend keep-alive before rounding the idle timeout down (default 500 ms).
    pub idle_timeout_margin_ms: u64,
    /// The backend keep-alive to assume, overriding the estimate (e.g. from configuration).
    pub backend_keepalive_ms: Option<u64>,
    /// The backend keep-alive to assume when there is neither an override nor an estimate
    /// (default 5000 ms, Node's default).
    pub default_backend_keepalive_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keepalive_margin_ms: 5000,
            headers_margin_ms: 1000,
            request_timeout_ms: 300_000,
            idle_timeout_margin_ms: 500,
            backend_keepalive_ms: None,
            default_backend_keepalive_ms: 5000,
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
}

impl Parameter {
    /// The name used in parameter paths and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Parameter::KeepAliveTimeout => "keepAliveTimeout",
            Parameter::HeadersTimeout => "headersTimeout",
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

/// The target values of both remedies, whatever is configured now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedies {
    /// Remedy B: the application settings.
    pub ssm_parameters: ParameterValues,
    /// Remedy A: the load balancer idle timeout.
    pub alb_idle_timeout_seconds: u32,
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
}

/// What to change, and why not more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The changes, in the order to apply them. Empty when nothing needs to change.
    pub changes: Vec<Change>,
    /// Plain-language remarks: why a change was left out, or a constraint that bit.
    pub notes: Vec<String>,
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
}

impl Policy {
    /// Checks that the margins keep the application's timer above the load balancer's.
    ///
    /// # Errors
    ///
    /// [`PlanError::MarginTooSmall`] for a keep-alive margin under 1000 ms or a headers margin
    /// of 0.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.keepalive_margin_ms < 1000 {
            return Err(PlanError::MarginTooSmall {
                name: "keepalive_margin_ms",
                value: self.keepalive_margin_ms,
                minimum: 1000,
            });
        }
        if self.headers_margin_ms < 1 {
            return Err(PlanError::MarginTooSmall {
                name: "headers_margin_ms",
                value: self.headers_margin_ms,
                minimum: 1,
            });
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
    let keep_alive = (u64::from(current.alb_idle_timeout_s) * 1000 + policy.keepalive_margin_ms)
        .max(current.keepalive_timeout_ms.unwrap_or(0));
    let mut headers =
        (keep_alive + policy.headers_margin_ms).max(current.headers_timeout_ms.unwrap_or(0));
    if policy.request_timeout_ms > 0 {
        headers =
            headers.min(policy.request_timeout_ms.max(current.headers_timeout_ms.unwrap_or(0)));
    }
    let backend_ms = policy.backend_keepalive_ms(evidence);
    let usable_ms = backend_ms.saturating_sub(policy.idle_timeout_margin_ms);
    // Whole seconds strictly below the usable keep-alive.
    let below = usable_ms.div_ceil(1000).saturating_sub(1);
    let idle = u32::try_from(below).unwrap_or(u32::MAX).clamp(1, *IDLE_TIMEOUT_RANGE_S.end());
    Ok(Remedies {
        ssm_parameters: ParameterValues {
            keep_alive_timeout_ms: keep_alive,
            headers_timeout_ms: headers,
        },
        alb_idle_timeout_seconds: idle.min(current.alb_idle_timeout_s),
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
            if values.headers_timeout_ms <= values.keep_alive_timeout_ms {
                plan.notes.push(format!(
                    "headersTimeout held at requestTimeout {} ms, not above keepAliveTimeout {} ms: raise requestTimeout too",
                    policy.request_timeout_ms, values.keep_alive_timeout_ms
                ));
            }
            for (parameter, before, after) in [
                (
                    Parameter::KeepAliveTimeout,
                    current.keepalive_timeout_ms,
                    values.keep_alive_timeout_ms,
                ),
                (Parameter::HeadersTimeout, current.headers_timeout_ms, values.headers_timeout_ms),
            ] {
                if before == Some(after) {
                    plan.notes.push(format!("{} is already {after} ms", parameter.name()));
                } else {
                    plan.changes.push(Change::SetParameter { parameter, before, after });
                }
            }
        }
        Strategy::AlbIdleTimeout => {
            let after = targets.alb_idle_timeout_seconds;
            let before = current.alb_idle_timeout_s;
            if after >= before {
                plan.notes.push(format!(
                    "idle timeout {before} s is already below the backend keep-alive of {} ms: never raised",
                    policy.backend_keepalive_ms(evidence)
                ));
            } else {
                plan.changes.push(Change::SetIdleTimeout { before, after });
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests;
