//! Entry point of the remediator Lambda: wiring only (tracing, configuration, clients, runtime,
//! the invocation's deadline).

use std::time::{Duration, SystemTime};

use alb_actions::aws::{
    DynamoJournal, Elbv2, EventBridge, Ssm, init_error, load_config, time_left,
};
use alb_keepalive_remediator::{Config, Deps, HandlerError, handler};
use lambda_runtime::{Diagnostic, Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;

/// The invocation gives up this long before its deadline, so that the error names what it was
/// working on instead of being Lambda's bare timeout.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

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
    let deps = Deps {
        balancers: Elbv2::new(aws_sdk_elasticloadbalancingv2::Client::new(&aws)),
        ssm: Ssm::new(aws_sdk_ssm::Client::new(&aws))
            .with_reload_document(config.reload_document.clone()),
        journal: DynamoJournal::new(aws_sdk_dynamodb::Client::new(&aws), &config.journal_table),
        events: EventBridge::new(aws_sdk_eventbridge::Client::new(&aws), &config.event_bus),
        config,
    };
    run(service_fn(|event| within_deadline(&deps, event))).await
}

async fn within_deadline(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let left = time_left(event.context.deadline(), SystemTime::now(), DEADLINE_MARGIN);
    let about = load_balancers_named(&event.payload);
    let work = handler::handle(deps, event);
    let Some(left) = left else { return work.await.map_err(Diagnostic::from) };
    match tokio::time::timeout(left, work).await {
        Ok(result) => result.map_err(Diagnostic::from),
        Err(_) => Err(HandlerError::from(alb_actions::Error::Deadline {
            resource: about,
            margin_ms: u64::try_from(DEADLINE_MARGIN.as_millis()).unwrap_or(u64::MAX),
            what: "remediating; changes made so far stand and the retry continues from them".into(),
        })
        .into()),
    }
}

/// The load balancers an event is about, for the deadline error.
fn load_balancers_named(payload: &Value) -> String {
    let findings =
        payload.get("responsePayload").unwrap_or(payload).get("findings").and_then(Value::as_array);
    let mut names: Vec<&str> = findings
        .into_iter()
        .flatten()
        .filter_map(|finding| finding.get("load_balancer").and_then(Value::as_str))
        .collect();
    if let Some(lb) = payload.pointer("/rollback/load_balancer").and_then(Value::as_str) {
        names.push(lb);
    }
    names.sort_unstable();
    names.dedup();
    if names.is_empty() { "the invocation".into() } else { names.join(", ") }
}
