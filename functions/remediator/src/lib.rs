//! The remediator Lambda: turns the detector's findings into changes, behind guardrails.
//!
//! It receives the detector's result through the detector's on-success destination (wrapped in
//! the destination envelope), the result as is, or a rollback request. For each finding it
//! reads the load balancer's idle timeout, tags and the application's parameters, plans with
//! [`alb_plan::plan`], checks the allowlist, the cooldown and the mode, and executes what is
//! left; the answer lists every action with `before`, `after` and `applied` or `skipped`.
//!
//! # Brief overview
//!
//! * [`config::Config`]: `MODE`, `STRATEGY`, `PARAMETER_PREFIX`, `ALLOWED_LOAD_BALANCERS`,
//!   `COOLDOWN_SECONDS`, the three margins and `RELOAD_COMMAND`, read once.
//! * [`events::parse`]: findings, envelope or rollback, or an error naming the wrong field.
//! * [`handler::handle`]: the invocation, over [`alb_actions::Remediation`].
//!
//! # Example
//!
//! ```
//! use alb_keepalive_remediator::events::{parse, Request};
//!
//! let event = serde_json::json!({"rollback": {"load_balancer": "app/shop-web/50dc6c495c0c9188"}});
//! assert_eq!(parse(&event)?, Request::Rollback { load_balancer: "app/shop-web/50dc6c495c0c9188".into() });
//! # Ok::<(), alb_keepalive_remediator::events::EventError>(())
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod events;
pub mod handler;

pub use crate::config::Config;
pub use crate::handler::{Deps, HandlerError, Report};
