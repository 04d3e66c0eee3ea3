//! The handlers through a fault-injecting proxy in front of moto (`src/fault_proxy.rs`): 5xx
//! and `SlowDown`, ELB and SSM throttling in their own error shapes, SSM `InternalServerError`,
//! a connection reset half way through an object body, and stalls. Each test says which faults
//! it injected and asserts the outcome; the figures are printed (`--nocapture`).

use std::time::{Duration, Instant};

use alb_actions::aws::{Limits, S3Objects, s3_client};
use alb_keepalive_tests::fault_proxy::{Fault, FaultProxy};
use alb_keepalive_tests::{World, invocation, moto};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use serde_json::Value;

/// Short limits, so that stalls and retries take seconds.
fn limits() -> Limits {
    Limits {
        connect: Duration::from_secs(2),
        // Generous for a loaded 2-core machine, where moto may take seconds to answer.
        attempt: Duration::from_secs(6),
        operation: Duration::from_secs(30),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        body_stall: Duration::from_secs(6),
    }
}

async fn through(proxy: &FaultProxy) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&proxy.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"));
    limits().apply(loader).load().await
}

fn detector(sdk: &SdkConfig) -> alb_keepalive_detector::Deps {
    alb_keepalive_detector::Deps {
        objects: S3Objects::new(s3_client(sdk)).with_body_stall(limits().body_stall),
        config: alb_keepalive_detector::Config::default(),
    }
}

fn report(test: &str, proxy: &FaultProxy, outcome: &str) {
    let injected = proxy.injected();
    println!("{test}: {} fault(s) injected -> {outcome}", injected.len());
    for fault in injected {
        println!("  {fault}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn detector_survives_slow_down_a_reset_body_and_a_stall() {
    let world = World::new("fault-detector").await;
    let proxy = FaultProxy::start(&moto().endpoint);
    let sdk = through(&proxy).await;
    let object = format!("GET /{}/", world.bucket);
    let deps = detector(&sdk);

    // 503 SlowDown twice: the SDK retries with backoff.
    proxy.inject(&object, Fault::s3_slow_down(), 2);
    let result = alb_keepalive_detector::handler::handle(&deps, invocation(world.s3_event()))
        .await
        .expect("SlowDown is retried");
    assert_eq!(result["findings"][0]["keepalive_502"], Value::from(world.keepalive_502));

    // The body cut half way, twice: read again from the start, a fresh diagnosis each time.
    proxy.inject(&object, Fault::ResetMidBody, 2);
    let result = alb_keepalive_detector::handler::handle(&deps, invocation(world.s3_event()))
        .await
        .expect("a reset body is read again");
    assert_eq!(result["findings"][0]["keepalive_502"], Value::from(world.keepalive_502));
    assert_eq!(result["objects"][0]["outcome"]["lines"], result["objects"][0]["outcome"]["lines"]);

    // A stall longer than the attempt timeout: the attempt is abandoned and retried.
    proxy.inject(&object, Fault::Stall(Duration::from_secs(20)), 1);
    let started = Instant::now();
    alb_keepalive_detector::handler::handle(&deps, invocation(world.s3_event()))
        .await
        .expect("a stalled attempt is retried");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited out the stall: {:?}",
        started.elapsed()
    );

    // Resets on every attempt: bounded (3 reads), then a retryable error naming the object.
    proxy.inject(&object, Fault::ResetMidBody, 3);
    let error = alb_keepalive_detector::handler::handle(&deps, invocation(world.s3_event()))
        .await
        .expect_err("three broken reads fail");
    let message = error.to_string();
    assert!(
        message.contains(&world.key) && message.contains("connection to S3 broke"),
        "{message}"
    );
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable");

    // In S3 Batch Operations the same is a TemporaryFailure.
    proxy.inject(&object, Fault::ResetMidBody, 3);
    let batch = alb_keepalive_tests::batch_event("2.0", &world.bucket, &[&world.key]);
    let response = alb_keepalive_detector::handler::handle(&deps, invocation(batch))
        .await
        .expect("batch response");
    assert_eq!(response["results"][0]["resultCode"], "TemporaryFailure", "{response}");
    report(
        "detector",
        &proxy,
        "3 invocations succeeded, 1 failed retryable, 1 batch task TemporaryFailure",
    );
    assert_eq!(proxy.injected().len(), 2 + 2 + 1 + 3 + 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn remediator_survives_throttling_and_reports_persistent_ssm_failures_as_retryable() {
    let world = World::new("fault-remediator").await;
    let findings = world.findings().await;
    let proxy = FaultProxy::start(&moto().endpoint);
    let sdk = through(&proxy).await;
    let allowed = world.lb_id.clone();
    let env = [
        ("MODE", "apply"),
        ("ALLOWED_LOAD_BALANCERS", allowed.as_str()),
        ("COOLDOWN_SECONDS", "0"),
    ];
    let deps = world.remediator_as(&sdk, &env);

    // Throttling of ELB and SSM, three times each (4 attempts per call): retried.
    proxy.inject("Action=DescribeLoadBalancerAttributes", Fault::elb_throttling(), 3);
    proxy.inject("Action=DescribeTags", Fault::elb_throttling(), 2);
    proxy.inject("AmazonSSM.GetParameter", Fault::json_error(400, "ThrottlingException"), 3);
    proxy.inject("AmazonSSM.PutParameter", Fault::json_error(400, "ThrottlingException"), 2);
    // A 500 InternalServerError is retried too.
    proxy.inject("AmazonSSM.AddTagsToResource", Fault::json_error(500, "InternalServerError"), 1);
    let report_value =
        alb_keepalive_remediator::handler::handle(&deps, invocation(findings.clone()))
            .await
            .expect("throttling is retried");
    let actions = report_value["load_balancers"][0]["actions"].as_array().expect("actions").clone();
    assert!(actions.iter().all(|a| a["applied"] == true), "{report_value}");
    assert_eq!(
        world.parameter(&world.parameter_name("keepAliveTimeout")).await.map(|p| p.0).as_deref(),
        Some("65000")
    );

    // InternalServerError on every attempt: the invocation fails, retryable, in one sentence.
    proxy.inject("AmazonSSM.GetParameter", Fault::json_error(500, "InternalServerError"), 4);
    let error = alb_keepalive_remediator::handler::handle(&deps, invocation(findings))
        .await
        .expect_err("four 500s exhaust the attempts");
    let message = error.to_string();
    assert!(
        message.contains("GetParameter")
            && message.contains("InternalServerError")
            && message.contains(&world.tg_name),
        "{message}"
    );
    assert!(message.len() < 400, "{message}");
    assert_eq!(lambda_runtime::Diagnostic::from(error).error_type, "Retryable");
    report("remediator", &proxy, "1 invocation applied after retries, 1 failed retryable");
    assert_eq!(proxy.injected().len(), 3 + 2 + 3 + 2 + 1 + 4);
}

#[test]
fn dynamodb_and_eventbridge_throttling_have_their_services_shape() {
    // For the journal (DynamoDB) and events (EventBridge) adapters: the same JSON shape.
    for code in ["ProvisionedThroughputExceededException", "ThrottlingException"] {
        let Fault::Answer { status, body, .. } = Fault::json_error(400, code) else { panic!() };
        assert_eq!(status, 400);
        let value: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(value["__type"], code);
    }
}
