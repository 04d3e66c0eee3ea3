//! Entry point of the remediator Lambda: wiring only (tracing, configuration, clients, runtime).

use alb_actions::aws::{DynamoJournal, Elbv2, EventBridge, Ssm};
use alb_keepalive_remediator::{Config, Deps, handler};
use lambda_runtime::{Error, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON when Lambda's logging config sets AWS_LAMBDA_LOG_FORMAT=JSON.
    tracing::init_default_subscriber();
    let config =
        Config::from_env().inspect_err(|error| tracing::error!(%error, "invalid configuration"))?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let deps = Deps {
        balancers: Elbv2::new(aws_sdk_elasticloadbalancingv2::Client::new(&aws)),
        ssm: Ssm::new(aws_sdk_ssm::Client::new(&aws)),
        journal: DynamoJournal::new(aws_sdk_dynamodb::Client::new(&aws), &config.journal_table),
        events: EventBridge::new(aws_sdk_eventbridge::Client::new(&aws), &config.event_bus),
        config,
    };
    run(service_fn(|event| handler::handle(&deps, event))).await
}
