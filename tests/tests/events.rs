//! The sample events in `events/` stay valid: each parses as the event it is named for, the
//! keys match the sample log object, and `detector-result.json` is what the detector really
//! returns for that object (regenerate with `UPDATE_EVENTS=1 cargo test -p alb-keepalive-tests
//! --test events`, which also rewrites `destination-envelope.json`).

use std::path::{Path, PathBuf};

use alb_keepalive_detector::events::{self as detector_events, Event};
use alb_keepalive_remediator::events::{self as remediator_events, Request};
use alb_keepalive_tests::{ACCOUNT, gzip, incident_object, repo_root, sdk_config};
use serde_json::{Value, json};

const BUCKET: &str = "alb-keepalive-logs-123456789012";

fn events_dir() -> PathBuf {
    repo_root().join("events")
}

fn read(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The key `alb-loggen incident --print-key` gives, which the samples use.
fn sample_key() -> String {
    alb_loggen::object_key(&alb_loggen::Scenario::incident())
}

fn objects(name: &str) -> Vec<detector_events::ObjectRef> {
    match detector_events::parse(&read(name)) {
        Ok(Event::Objects(objects)) => objects,
        other => panic!("{name}: expected objects, got {other:?}"),
    }
}

#[test]
fn every_sample_event_parses_as_the_event_it_is_named_for() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(events_dir()).expect("events/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue; // events/logs/ holds the sample objects
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_string();
        let event = read(&name);
        match name.as_str() {
            "s3-put.json" | "s3-put-encoded-key.json" | "eventbridge-object-created.json" => {
                assert!(matches!(detector_events::parse(&event), Ok(Event::Objects(_))), "{name}");
            }
            "s3-batch-1.0.json" | "s3-batch-2.0.json" => match detector_events::parse(&event) {
                Ok(Event::Batch(batch)) => {
                    assert_eq!(Some(batch.invocation_schema_version.as_str()), name.get(9..12));
                    assert_eq!(batch.tasks[0].object.bucket, BUCKET);
                    assert_eq!(batch.tasks[0].object.key, sample_key());
                }
                other => panic!("{name}: {other:?}"),
            },
            "s3-test-event.json" => assert_eq!(detector_events::parse(&event), Ok(Event::Test)),
            "detector-result.json" | "destination-envelope.json" => {
                match remediator_events::parse(&event) {
                    Ok(Request::Findings(result)) => assert!(!result.findings.is_empty(), "{name}"),
                    other => panic!("{name}: {other:?}"),
                }
            }
            "rollback.json" => assert_eq!(
                remediator_events::parse(&event),
                Ok(Request::Rollback { load_balancer: "app/shop-web/50dc6c495c0c9188".into() })
            ),
            other => panic!("events/{other} has no known event type: add it to this test"),
        }
        seen.push(name);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "destination-envelope.json",
            "detector-result.json",
            "eventbridge-object-created.json",
            "rollback.json",
            "s3-batch-1.0.json",
            "s3-batch-2.0.json",
            "s3-put-encoded-key.json",
            "s3-put.json",
            "s3-test-event.json",
        ]
    );
}

#[test]
fn sample_keys_are_the_sample_log_objects_key() {
    let key = sample_key();
    for name in ["s3-put.json", "eventbridge-object-created.json"] {
        let found = objects(name);
        assert_eq!(
            (found[0].bucket.as_str(), found[0].key.as_str()),
            (BUCKET, key.as_str()),
            "{name}"
        );
    }
    let encoded = objects("s3-put-encoded-key.json");
    assert_eq!(encoded[0].key, format!("my logs/{key}"));
    let raw = read("s3-put-encoded-key.json");
    assert!(
        raw["Records"][0]["s3"]["object"]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("my+logs/"))
    );
}

/// The sample object (events/logs/<key>) when it is there, else the simulated incident.
fn sample_object() -> Vec<u8> {
    let path = events_dir().join("logs").join(sample_key());
    std::fs::read(&path).unwrap_or_else(|_| incident_object(&alb_loggen::Scenario::incident()).0)
}

fn write(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("json") + "\n";
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[tokio::test]
async fn detector_result_sample_is_what_the_detector_returns_for_the_sample_object() {
    let sdk = sdk_config().await;
    let s3 = alb_actions::aws::s3_client(&sdk);
    s3.create_bucket().bucket(BUCKET).send().await.expect("CreateBucket");
    let object = sample_object();
    assert_eq!(&object[..2], &gzip(b"")[..2], "the sample object is gzip");
    s3.put_object()
        .bucket(BUCKET)
        .key(sample_key())
        .body(object.into())
        .send()
        .await
        .expect("PutObject");
    let deps = alb_keepalive_detector::Deps {
        objects: alb_actions::aws::S3Objects::new(s3),
        config: alb_keepalive_detector::Config::default(),
    };
    let event = alb_keepalive_tests::invocation(read("s3-put.json"));
    let result =
        alb_keepalive_detector::handler::handle(&deps, event).await.expect("detector result");
    assert_eq!(
        result["findings"][0]["load_balancer_arn"],
        json!(format!(
            "arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/shop-web/50dc6c495c0c9188"
        ))
    );
    let envelope = json!({
        "version": "1.0",
        "timestamp": "2026-11-27T09:35:14.120Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4c6e-8880-a18cdf61200e",
            "functionArn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:alb-keepalive-DetectorFunction-1A2B3C4D5E6F:$LATEST"),
            "condition": "Success",
            "approximateInvokeCount": 1
        },
        "requestPayload": read("s3-put.json"),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": result
    });
    let dir = events_dir();
    if std::env::var_os("UPDATE_EVENTS").is_some() {
        write(&dir.join("detector-result.json"), &result);
        write(&dir.join("destination-envelope.json"), &envelope);
    }
    assert_eq!(read("detector-result.json"), result, "rerun with UPDATE_EVENTS=1 to regenerate");
    assert_eq!(read("destination-envelope.json"), envelope, "rerun with UPDATE_EVENTS=1");
}
