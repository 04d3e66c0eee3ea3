//! The detector handler with the real SDK against moto: every event shape, the key filter, key
//! decoding, and the failures that must fail the invocation (with bucket and key named).

use alb_keepalive_tests::{World, batch_event, eventbridge_event, gzip, s3_event};
use serde_json::{Value, json};

fn objects(result: &Value) -> &Vec<Value> {
    result["objects"].as_array().expect("objects array")
}

#[tokio::test]
async fn s3_event_yields_one_finding_for_the_load_balancer_in_the_log() {
    let world = World::new("det-s3").await;
    let result = world.findings().await;

    let findings = result["findings"].as_array().expect("findings array");
    assert_eq!(findings.len(), 1, "{result:#}");
    let finding = &findings[0];
    assert_eq!(finding["load_balancer"], json!(world.lb_id));
    assert_eq!(finding["load_balancer_arn"], json!(world.lb_arn));
    assert_eq!(finding["verdict"], "keepalive-race");
    assert_eq!(finding["keepalive_502"], json!(world.keepalive_502));
    assert!(finding["requests"].as_u64().expect("requests") > world.keepalive_502);
    assert!(
        finding["elb_502"].as_u64().expect("elb_502") > world.keepalive_502,
        "refused and app 502s too"
    );
    assert_eq!(finding["elb_502_by_class"]["keepalive_race"], json!(world.keepalive_502));
    let groups = finding["target_groups"].as_array().expect("target_groups");
    assert_eq!(groups[0]["target_group_arn"], json!(world.tg_arn));
    assert_eq!(groups[0]["keepalive_502"], json!(world.keepalive_502));
    assert!(!groups[0]["targets"].as_array().expect("targets").is_empty());
    let estimate = finding["estimated_backend_keepalive_ms"].as_u64().expect("an estimate");
    assert!((4500..=5500).contains(&estimate), "backend keep-alive is 5 s, estimated {estimate}");
    assert!(finding["confidence"].as_f64().expect("confidence") > 0.0);
    assert!(!finding["samples"].as_array().expect("samples").is_empty());
    assert_eq!(finding["source"], json!({"bucket": world.bucket, "key": world.key}));

    assert_eq!(objects(&result).len(), 1);
    let object = &objects(&result)[0];
    assert_eq!(object["outcome"], "diagnosed");
    assert_eq!(object["key"], json!(world.key));
    assert!(object["lines"].as_u64().expect("lines") > 0);
    assert_eq!(object["malformed_lines"], 0);
}

#[tokio::test]
async fn form_encoded_key_with_spaces_is_decoded_before_get_object() {
    let world = World::with_prefix("det-enc", "my logs/").await;
    let event = world.s3_event();
    let sent = event["Records"][0]["s3"]["object"]["key"].as_str().expect("key");
    assert!(sent.starts_with("my+logs/AWSLogs/"), "{sent}");

    let result = world.detect(event).await.expect("detector result");
    assert_eq!(result["findings"][0]["source"]["key"], json!(world.key));
    assert!(world.key.starts_with("my logs/AWSLogs/"));
    assert_eq!(objects(&result)[0]["outcome"], "diagnosed");
}

#[tokio::test]
async fn objects_that_are_not_alb_access_logs_are_skipped_with_a_reason() {
    let world = World::new("det-skip").await;
    let dir = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27";
    let lb = world.lb_id.replace('/', ".");
    let others = [
        ("AWSLogs/123456789012/ELBAccessLogTestFile".to_string(), "ELBAccessLogTestFile"),
        (
            format!(
                "{dir}/conn_log_123456789012_elasticloadbalancing_us-east-1_{lb}_20261127T0935Z_10.0.1.5_abcd1234.log.gz"
            ),
            "connection log",
        ),
        (
            format!(
                "{dir}/health_check_log_123456789012_elasticloadbalancing_us-east-1_{lb}_20261127T0935Z_10.0.1.5_abcd1234.log.gz"
            ),
            "health-check log",
        ),
        (
            format!(
                "{dir}/123456789012_elasticloadbalancing_us-east-1_net.shop-nlb.50dc6c495c0c9188_20261127T0935Z_abcd1234.log.gz"
            ),
            "Network Load Balancer",
        ),
    ];
    // None of them exists: a skipped key must not even be read.
    let mut pairs: Vec<(&str, &str)> =
        others.iter().map(|(k, _)| (world.bucket.as_str(), k.as_str())).collect();
    pairs.push((&world.bucket, &world.key));
    let result = world.detect(s3_event(&pairs)).await.expect("detector result");

    let reported = objects(&result);
    assert_eq!(reported.len(), 5);
    for ((key, reason), object) in others.iter().zip(reported) {
        assert_eq!(object["key"], json!(key));
        assert_eq!(object["outcome"], "skipped", "{object}");
        let why = object["reason"].as_str().expect("reason");
        assert!(why.contains(reason), "{key}: {why}");
    }
    assert_eq!(reported[4]["outcome"], "diagnosed");
    assert_eq!(result["findings"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn missing_object_fails_the_invocation_naming_bucket_and_key() {
    let world = World::new("det-missing").await;
    let key = world.key.replace(".log.gz", "x.log.gz");
    let error = world.detect(s3_event(&[(&world.bucket, &key)])).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&world.bucket) && message.contains(&key), "{message}");
    assert!(message.contains("not found"), "{message}");
}

#[tokio::test]
async fn truncated_gzip_fails_the_invocation_naming_bucket_and_key() {
    let world = World::new("det-trunc").await;
    let (object, _) = alb_keepalive_tests::incident_object(&world.scenario);
    let key = world.key.replace(".log.gz", "t.log.gz");
    world.put_object(&key, object[..object.len() / 2].to_vec()).await;
    let error = world.detect(s3_event(&[(&world.bucket, &key)])).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("s3://{}/{key}", world.bucket)), "{message}");
    assert!(message.contains("truncated or corrupt"), "{message}");
}

#[tokio::test]
async fn plain_text_object_under_a_log_key_fails_as_not_gzip() {
    let world = World::new("det-plain").await;
    let key = world.key.replace(".log.gz", "p.log.gz");
    world.put_object(&key, b"http 2026-11-27T09:30:00Z not gzip\n".to_vec()).await;
    let error = world.detect(s3_event(&[(&world.bucket, &key)])).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&key) && message.contains("not gzip"), "{message}");
}

#[tokio::test]
async fn uncompressed_size_cap_turns_a_gzip_bomb_into_an_error() {
    let world = World::new("det-bomb").await;
    let key = world.key.replace(".log.gz", "b.log.gz");
    // Valid entries, so that the line budget (which stops junk much earlier) does not apply.
    let line = incident_text(&world).lines().next().expect("a line").to_string() + "\n";
    world.put_object(&key, gzip(line.repeat((4 << 20) / line.len()).as_bytes())).await;
    let deps = world.detector(&[("MAX_UNCOMPRESSED_BYTES", "1048576")]);
    let event = alb_keepalive_tests::invocation(s3_event(&[(&world.bucket, &key)]));
    let error = alb_keepalive_detector::handler::handle(&deps, event).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&key) && message.contains("more than 1048576 bytes"), "{message}");
}

#[tokio::test]
async fn eventbridge_object_created_is_diagnosed() {
    let world = World::new("det-eb").await;
    let result = world.detect(eventbridge_event(&world.bucket, &world.key)).await.expect("result");
    assert_eq!(result["findings"][0]["load_balancer_arn"], json!(world.lb_arn));
    assert_eq!(objects(&result)[0]["outcome"], "diagnosed");
}

#[tokio::test]
async fn eventbridge_key_that_arrives_form_encoded_is_found_on_the_second_try() {
    let world = World::with_prefix("det-eb-enc", "my logs/").await;
    let encoded = alb_keepalive_tests::form_encode(&world.key);
    let result = world.detect(eventbridge_event(&world.bucket, &encoded)).await.expect("result");
    assert_eq!(result["findings"][0]["source"]["key"], json!(world.key));
}

#[tokio::test]
async fn s3_batch_operations_get_the_required_response_in_both_schemas() {
    let world = World::with_prefix("det-batch", "my logs/").await;
    let missing = world.key.replace(".log.gz", "m.log.gz");
    let test_file = "my logs/AWSLogs/123456789012/ELBAccessLogTestFile";
    for version in ["1.0", "2.0"] {
        let event = batch_event(version, &world.bucket, &[&world.key, &missing, test_file]);
        assert!(event["tasks"][0]["s3Key"].as_str().expect("key").starts_with("my%20logs/"));
        let response = world.detect(event).await.expect("batch response");
        assert_eq!(response["invocationSchemaVersion"], version);
        assert_eq!(response["treatMissingKeysAs"], "PermanentFailure");
        assert_eq!(response["invocationId"], "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo");
        let results = response["results"].as_array().expect("results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["taskId"], "task-0");
        assert_eq!(results[0]["resultCode"], "Succeeded");
        let summary: Value =
            serde_json::from_str(results[0]["resultString"].as_str().expect("string"))
                .expect("json");
        assert_eq!(summary["outcome"], "diagnosed");
        assert_eq!(summary["findings"][0]["load_balancer_arn"], json!(world.lb_arn));
        assert_eq!(results[1]["resultCode"], "PermanentFailure");
        assert!(results[1]["resultString"].as_str().expect("string").contains(&missing));
        assert_eq!(results[2]["resultCode"], "Succeeded");
        assert!(results[2]["resultString"].as_str().expect("string").contains("skipped"));
    }
}

#[tokio::test]
async fn s3_test_event_gives_an_empty_result() {
    let world = World::new("det-test").await;
    let event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-27T09:00:00.000Z",
        "Bucket": world.bucket, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw"});
    assert_eq!(world.detect(event).await.expect("result"), json!({"findings": [], "objects": []}));
}

#[tokio::test]
async fn events_of_the_wrong_shape_are_rejected_naming_the_field() {
    let world = World::new("det-shape").await;
    let mut event = world.s3_event();
    event["Records"][0]["s3"]["object"].as_object_mut().expect("object").remove("key");
    let error = world.detect(event).await.unwrap_err();
    assert_eq!(error.to_string(), "invalid event: Records[0].s3.object.key missing");
    let error = world.detect(json!({"findings": []})).await.unwrap_err();
    assert!(error.to_string().contains("unrecognised event"), "{error}");
}

#[tokio::test]
async fn the_version_named_by_the_event_is_read_not_the_latest() {
    let world = World::new("det-version").await;
    world
        .s3
        .put_bucket_versioning()
        .bucket(&world.bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("PutBucketVersioning");
    let (incident, races) = alb_keepalive_tests::incident_object(&world.scenario);
    let first = world
        .s3
        .put_object()
        .bucket(&world.bucket)
        .key(&world.key)
        .body(incident.into())
        .send()
        .await
        .expect("PutObject")
        .version_id()
        .expect("a version id")
        .to_string();
    // A later version of the same key without any race.
    world.put_object(&world.key, gzip(b"")).await;

    let mut event = world.s3_event();
    event["Records"][0]["s3"]["object"]["versionId"] = json!(first);
    let result = world.detect(event).await.expect("detector result");
    assert_eq!(result["findings"][0]["keepalive_502"], json!(races), "{result:#}");

    let latest = world.detect(world.s3_event()).await.expect("detector result");
    assert_eq!(latest["findings"].as_array().map(Vec::len), Some(0), "the latest version is empty");
}

/// The incident log of the world's load balancer, as plain text.
fn incident_text(world: &World) -> String {
    let mut text = Vec::new();
    alb_loggen::write_log(&world.scenario, &mut text).expect("simulate the incident");
    String::from_utf8(text).expect("the simulator writes UTF-8")
}

#[tokio::test]
async fn entries_of_a_load_balancer_other_than_the_key_names_are_counted_not_findings() {
    let world = World::new("det-foreign").await;
    let text = incident_text(&world);
    assert!(text.contains(&world.lb_id));
    // Half the races logged for another ALB, one line for an NLB-shaped id: neither is the
    // load balancer the key names.
    let mut forged = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = if i % 2 == 0 {
            line.replace(&world.lb_id, "app/other-lb/0123456789abcdef")
        } else {
            line.to_string()
        };
        forged += &line;
        forged.push('\n');
    }
    forged += &text.lines().next().expect("a line").replace(&world.lb_id, "net/evil/1");
    forged.push('\n');
    let key = world.key.replace(".log.gz", "f.log.gz");
    world.put_object(&key, gzip(forged.as_bytes())).await;

    let result = world.detect(s3_event(&[(&world.bucket, &key)])).await.expect("detector result");
    let findings = result["findings"].as_array().expect("findings");
    assert!(findings.iter().all(|f| f["load_balancer"] == json!(world.lb_id)), "{result:#}");
    let object = &objects(&result)[0];
    assert_eq!(object["outcome"], "diagnosed");
    let foreign = object["foreign_entries"].as_u64().expect("foreign_entries");
    assert_eq!(foreign, text.lines().count().div_ceil(2) as u64, "{object}");
    assert_eq!(object["foreign_load_balancers"], json!(["app/other-lb/0123456789abcdef"]));
    assert_eq!(object["malformed_lines"], 1, "net/evil/1 is not an ALB's elb field");
}

#[tokio::test]
async fn object_removed_notifications_are_skipped_with_the_reason_and_not_read() {
    let world = World::new("det-removed").await;
    let gone = world.key.replace(".log.gz", "gone.log.gz");
    let mut event = s3_event(&[(&world.bucket, &gone), (&world.bucket, &world.key)]);
    event["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    event["Records"][1].as_object_mut().expect("record").remove("eventTime");
    let result = world.detect(event).await.expect("a deleted key is not read, so no error");
    let reported = objects(&result);
    assert_eq!(reported[0]["outcome"], "skipped");
    assert!(reported[0]["reason"].as_str().expect("reason").contains("ObjectRemoved:Delete"));
    assert_eq!(reported[1]["outcome"], "diagnosed", "no eventTime needed");
    assert_eq!(result["findings"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_object_of_junk_lines_stops_early_naming_bucket_and_key() {
    let world = World::new("det-junk").await;
    let key = world.key.replace(".log.gz", "j.log.gz");
    world.put_object(&key, gzip(&b"a\n".repeat(4 << 20))).await;
    let error = world.detect(s3_event(&[(&world.bucket, &key)])).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("s3://{}/{key}", world.bucket)), "{message}");
    assert!(message.contains("not an ALB access log"), "{message}");
}
