//! Entry point of the detector Lambda: wiring only (tracing, configuration, clients, runtime).

use alb_actions::aws::{S3Objects, init_error, load_config, s3_client};
use alb_keepalive_detector::{Config, Deps, handler};
use lambda_runtime::{Error, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON when Lambda's logging config sets AWS_LAMBDA_LOG_FORMAT=JSON.
    tracing::init_default_subscriber();
    let config = Config::from_env().inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
        // The invoker sees this as the invocation's error (Runtime.InvalidConfiguration).
        if let Err(why) = init_error::report("Runtime.InvalidConfiguration", &error.to_string()) {
            tracing::error!(%why, "could not report the configuration error to the Runtime API");
        }
    })?;
    let aws = load_config().await;
    let deps = Deps { objects: S3Objects::new(s3_client(&aws)), config };
    run(service_fn(|event| handler::handle(&deps, event))).await
}
