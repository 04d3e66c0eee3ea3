//! The detector Lambda: reads new ALB access-log objects and reports keep-alive race 502s.
//!
//! It only reads. An invocation names objects (S3 notification, EventBridge "Object Created",
//! S3 Batch Operations); for each, [`keys::classify`] skips what is not an ALB access log, the
//! object is streamed from S3 through the gunzip and the diagnosis (never held in memory), and
//! the load balancer the key names, if it has the race, becomes an [`alb_actions::Finding`]
//! (entries of any other load balancer are only counted in the object's report). The result
//! (`{"findings": [...], "objects": [...]}`) goes to the remediator through the function's
//! on-success destination.
//!
//! # Brief overview
//!
//! * [`config::Config`]: `MAX_UNCOMPRESSED_BYTES`, `RACE_THRESHOLD`, read once.
//! * [`events::parse`]: the event's shape, decoded keys, or an error naming the wrong field.
//! * [`keys`]: key decoding and the access-log filter.
//! * [`handler::handle`]: the invocation.
//!
//! # Errors
//!
//! A missing object, a non-gzip or truncated object, one over the size cap, or one past its line
//! budget (mostly lines that are not entries) fails the invocation (Lambda retries it, then sends it to the failure destination); the error names
//! the bucket and key. In a batch job the same failures become per-task result codes.
//!
//! # Example
//!
//! ```
//! use alb_keepalive_detector::keys::{classify, form_decode, KeyKind};
//!
//! let key = form_decode("my+logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_2x9ab3cd.log.gz").unwrap();
//! assert!(key.starts_with("my logs/"));
//! let KeyKind::AccessLog(log) = classify(&key) else { panic!("not an access log") };
//! assert_eq!(log.load_balancer, "app/shop-web/50dc6c495c0c9188");
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod events;
pub mod handler;
pub mod keys;

pub use crate::config::Config;
pub use crate::handler::{Deps, HandlerError};
