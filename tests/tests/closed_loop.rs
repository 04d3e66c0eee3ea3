//! The closed loop against moto with the real SDK: the journal (DynamoDB) and its lease, events
//! on EventBridge captured through a rule into an SQS queue, verification, and the faults the
//! issue names (journal missing, event bus missing, one bad load balancer among good ones).

use alb_keepalive_tests::World;
use serde_json::{Value, json};

const APPLY_ALL: [(&str, &str); 2] = [("MODE", "apply"), ("ALLOWED_LOAD_BALANCERS", "*")];

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_concurrent_deliveries_make_one_change_and_one_applied_event() {
    let world = World::new("cl-five").await;
    let findings = world.findings().await;
    let deps = world.remediator(&APPLY_ALL);
    let deliveries = (0..5).map(|i| {
        let event = findings.clone();
        let deps = &deps;
        async move {
            let mut context = lambda_runtime::Context::default();
            context.request_id = format!("delivery-{i}");
            alb_keepalive_remediator::handler::handle(
                deps,
                lambda_runtime::LambdaEvent::new(event, context),
            )
            .await
        }
    });
    let results = futures_join_all(deliveries).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let keep_alive = world.parameter_name("keepAliveTimeout");
    let headers = world.parameter_name("headersTimeout");
    let (value, version) = world.parameter(&keep_alive).await.expect("written");
    assert_eq!((value.as_str(), version), ("65000", 1), "one parameter version");
    assert_eq!(world.parameter(&headers).await.map(|p| p.1), Some(1));
    let applied_reports = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|r| {
            r["load_balancers"][0]["actions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["applied"] == true))
        })
        .count();
    assert_eq!(applied_reports, 1, "exactly one delivery applied");

    let events = world.events().await;
    let applied = events.iter().filter(|(t, _)| t == "Remediation Applied").count();
    let detected = events.iter().filter(|(t, _)| t == "Keep-Alive Race Detected").count();
    assert_eq!((detected, applied), (1, 1), "{:?}", types(&events));
    let (_, detail) = events.iter().find(|(t, _)| t == "Remediation Applied").expect("applied");
    assert_eq!(detail["load_balancer"], world.lb_id.as_str());
    assert_eq!(detail["load_balancer_arn"], world.lb_arn.as_str());
    assert_eq!(detail["mode"], "apply");
    assert_eq!(detail["evidence"]["keepalive_502"], world.keepalive_502);
    assert!(detail["summary"].as_str().is_some_and(|s| s.contains("65000")), "{detail}");
    let actions = detail["actions"].as_array().expect("actions");
    assert!(actions.iter().any(|a| a["resource"] == keep_alive.as_str()
        && a["before"].is_null()
        && a["after"] == 65000
        && a["applied"] == true));

    let state = world.journal_state().await.expect("journal state");
    assert_eq!(state["last_change"]["status"], "applied");
    assert_eq!(state["last_change"]["verification"], "pending");
    assert!(state["episode"]["keepalive_502"].as_u64() == Some(world.keepalive_502), "{state}");
    let items = world.journal_items().await;
    let lb_item =
        items.iter().find(|i| i["pk"] == format!("lb#{}", world.lb_arn)).expect("lb item");
    assert!(!lb_item.contains_key("lease_holder"), "the lease is released: {lb_item:?}");
    assert_eq!(items.iter().filter(|i| i["pk"].starts_with("change#")).count(), 1, "{items:?}");
}

/// `futures::future::join_all` without the dependency: spawn-free, polls all together.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

#[tokio::test]
async fn dry_run_sends_one_detection_with_the_plan_and_a_redelivery_sends_nothing() {
    let world = World::new("cl-dry").await;
    let findings = world.findings().await;
    let env = [("ALLOWED_LOAD_BALANCERS", "*")];
    world.remediate(&env, findings.clone()).await.expect("report");
    let events = world.events().await;
    assert_eq!(types(&events), ["Keep-Alive Race Detected"]);
    let detail = &events[0].1;
    assert_eq!(detail["dry_run"], true);
    assert_eq!(detail["mode"], "dry-run");
    let planned: Vec<(&str, &Value)> = detail["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| (a["resource"].as_str().unwrap_or_default(), &a["after"]))
        .collect();
    assert!(planned.contains(&(world.parameter_name("keepAliveTimeout").as_str(), &json!(65000))));
    assert_eq!(detail["evidence"]["sources"][0]["key"], world.key.as_str());
    // The cure for every stack, for the idle timeout in force (60 s), rides along.
    let cures = detail["cures"].as_array().expect("cures");
    let setting = |stack: &str| {
        cures
            .iter()
            .find(|c| c["stack"].as_str().is_some_and(|s| s.starts_with(stack)))
            .and_then(|c| c["setting"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(setting("Node.js").contains("65000"), "{detail}");
    assert!(setting("gunicorn").contains("65"), "{detail}");
    assert!(cures.len() >= 10, "{detail}");

    world.remediate(&env, findings).await.expect("report");
    assert!(world.events().await.is_empty(), "a redelivered object is not new evidence");
    let state = world.journal_state().await.expect("state");
    assert_eq!(state["episode"]["object_count"], 1);
    assert_eq!(state["last_notification"]["detail_type"], "Keep-Alive Race Detected");
}

#[tokio::test]
async fn review_verifies_a_change_once_after_the_window() {
    let world = World::new("cl-verify").await;
    let findings = world.findings().await;
    world.remediate(&APPLY_ALL, findings).await.expect("report");
    world.events().await;

    let review = json!({"review": {}});
    // Inside the window: nothing yet.
    let report = world.remediate(&APPLY_ALL, review.clone()).await.expect("review");
    let mine = |report: &Value| {
        report["reviewed"]
            .as_array()
            .and_then(|r| {
                r.iter().find(|r| r["load_balancer_arn"] == world.lb_arn.as_str()).cloned()
            })
            .expect("reviewed")
    };
    assert_eq!(mine(&report)["status"], "pending");
    assert!(world.events().await.is_empty());

    // A zero-second window: the change has held since its grace period (no race logged after).
    let env = [APPLY_ALL[0], APPLY_ALL[1], ("VERIFY_WINDOW_SECONDS", "0")];
    let report = world.remediate(&env, review.clone()).await.expect("review");
    assert_eq!(mine(&report)["status"], "verified");
    let events = world.events().await;
    assert_eq!(types(&events), ["Remediation Verified"]);
    assert_eq!(events[0].1["load_balancer_arn"], world.lb_arn.as_str());
    let report = world.remediate(&env, review).await.expect("review");
    assert_eq!(mine(&report)["status"], "verified");
    assert!(world.events().await.is_empty(), "verified once");
    assert_eq!(
        world.journal_state().await.expect("state")["last_change"]["verification"],
        "verified"
    );
}

#[tokio::test]
async fn an_unsent_event_is_kept_in_the_journal_and_sent_next_time() {
    let world = World::new("cl-unsent").await;
    let findings = world.findings().await;
    let env = [APPLY_ALL[0], APPLY_ALL[1], ("EVENT_BUS_NAME", "no-such-bus")];
    let report = world.remediate(&env, findings.clone()).await.expect("the change stands");
    assert!(
        report["load_balancers"][0]["actions"]
            .as_array()
            .expect("a")
            .iter()
            .all(|a| a["applied"] == true)
    );
    let state = world.journal_state().await.expect("state");
    let pending: Vec<&str> = state["pending_events"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|e| e["detail_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(pending, ["Keep-Alive Race Detected", "Remediation Applied"]);

    // The next invocation (a redelivery here) sends them, and changes nothing again.
    let again = world.remediate(&APPLY_ALL, findings).await.expect("report");
    assert!(
        again["load_balancers"][0]["actions"]
            .as_array()
            .expect("a")
            .iter()
            .all(|a| a["applied"] == false)
    );
    assert_eq!(types(&world.events().await), ["Keep-Alive Race Detected", "Remediation Applied"]);
    assert_eq!(world.journal_state().await.expect("state")["pending_events"], json!([]));
    assert_eq!(
        world.parameter(&world.parameter_name("keepAliveTimeout")).await.map(|p| p.1),
        Some(1)
    );
}

#[tokio::test]
async fn without_the_journal_nothing_is_changed() {
    let world = World::new("cl-nojournal").await;
    let findings = world.findings().await;
    let env = [APPLY_ALL[0], APPLY_ALL[1], ("JOURNAL_TABLE", "no-such-table")];
    let error = world.remediate(&env, findings).await.expect_err("no journal, no change");
    assert!(error.to_string().contains("no-such-table"), "{error}");
    assert_eq!(world.parameter(&world.parameter_name("keepAliveTimeout")).await, None);
    assert!(world.events().await.is_empty());
}

#[tokio::test]
async fn a_finding_for_a_deleted_load_balancer_does_not_block_the_allowed_one() {
    let world = World::new("cl-isolated").await;
    let mut findings = world.findings().await;
    let mut ghost = findings["findings"][0].clone();
    let ghost_arn = world.lb_arn.replace(&world.lb_name, "deleted-alb");
    ghost["load_balancer_arn"] = json!(ghost_arn);
    ghost["load_balancer"] = json!(world.lb_id.replace(&world.lb_name, "deleted-alb"));
    ghost["source"]["key"] = json!("AWSLogs/other.log.gz");
    let list = findings["findings"].as_array_mut().expect("findings");
    list.insert(0, ghost);

    let error = world.remediate(&APPLY_ALL, findings).await.expect_err("the ghost fails");
    let message = error.to_string();
    assert!(message.starts_with("1 load balancer(s) failed"), "{message}");
    assert!(message.contains(&ghost_arn), "{message}");
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "LoadBalancersFailed");
    // The allowed one was fixed all the same.
    assert_eq!(
        world.parameter(&world.parameter_name("keepAliveTimeout")).await.map(|p| p.0).as_deref(),
        Some("65000")
    );
    assert_eq!(types(&world.events().await), ["Keep-Alive Race Detected", "Remediation Applied"]);
}

#[tokio::test]
async fn a_change_interrupted_after_the_intent_is_completed_by_the_next_delivery() {
    // The intent is recorded, the parameter written, then the invocation died (simulated by
    // writing the journal's intent and the first parameter as that invocation would have).
    let world = World::new("cl-resume").await;
    let findings = world.findings().await;
    let dry =
        world.remediate(&[("ALLOWED_LOAD_BALANCERS", "*")], findings.clone()).await.expect("plan");
    let planned: Vec<Value> = dry["load_balancers"][0]["actions"].as_array().expect("a").clone();
    world.events().await;
    let keep_alive = world.parameter_name("keepAliveTimeout");
    let mut state = world.journal_state().await.expect("state");
    state["seen_objects"] = json!([]);
    state["last_change"] = json!({
        "id": "interrupted", "at": 1, "status": "intended", "kind": "set",
        "actions": planned, "sources": [{"bucket": world.bucket, "key": world.key}],
        "keepalive_502": world.keepalive_502,
    });
    world
        .dynamodb
        .put_item()
        .table_name(&world.journal_table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("lb#{}", world.lb_arn)))
        .item("state", aws_sdk_dynamodb::types::AttributeValue::S(state.to_string()))
        .send()
        .await
        .expect("PutItem");
    world.put_parameter(&keep_alive, "65000").await;

    let report = world.remediate(&APPLY_ALL, findings).await.expect("report");
    let headers = world.parameter_name("headersTimeout");
    assert_eq!(world.parameter(&headers).await.map(|p| p.0).as_deref(), Some("66000"));
    assert_eq!(world.parameter(&keep_alive).await.map(|p| p.1), Some(1), "not written twice");
    let state = world.journal_state().await.expect("state");
    assert_eq!(state["last_change"]["status"], "applied", "{state}");
    assert_eq!(state["last_change"]["id"], "interrupted");
    let events = world.events().await;
    assert!(types(&events).contains(&"Remediation Applied"), "{:?}", types(&events));
    assert!(world.lb_tags().await.contains_key("alb-keepalive:last-change"), "mirror tag written");
    let tags = world
        .ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(&keep_alive)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tag_list().iter().any(|t| t.key() == "alb-keepalive:load-balancer"),
        "provenance tags completed"
    );
    let _ = report;
}

/// Moves the journal's last change back to `at` (as if it had been made then).
async fn backdate_last_change(world: &World, at: u64) {
    let mut state = world.journal_state().await.expect("state");
    state["last_change"]["at"] = json!(at);
    world
        .dynamodb
        .update_item()
        .table_name(&world.journal_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("lb#{}", world.lb_arn)))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "state")
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S(state.to_string()),
        )
        .send()
        .await
        .expect("UpdateItem");
}

/// The detector's result with the finding's object renamed (a new object of the same load
/// balancer showing the same races).
fn as_new_object(findings: &Value, suffix: &str) -> Value {
    let mut findings = findings.clone();
    let key = findings["findings"][0]["source"]["key"].as_str().unwrap_or_default().to_string();
    findings["findings"][0]["source"]["key"] = json!(format!("{key}.{suffix}"));
    findings
}

#[tokio::test]
async fn races_after_the_grace_period_make_the_change_ineffective_once() {
    let world = World::new("cl-ineffective").await;
    let findings = world.findings().await;
    assert!(findings["findings"][0]["last_race_at"].is_string(), "{findings:#}");
    world.remediate(&APPLY_ALL, findings.clone()).await.expect("apply");
    world.events().await;
    // The change was made long before the races of the next objects were logged.
    backdate_last_change(&world, 1_000).await;

    let report =
        world.remediate(&APPLY_ALL, as_new_object(&findings, "later")).await.expect("report");
    let actions = report["load_balancers"][0]["actions"].as_array().expect("actions");
    assert!(
        actions.iter().all(|a| a["applied"] == false && a["skipped"] == "already set"),
        "{report:#}"
    );
    let events = world.events().await;
    assert_eq!(types(&events), ["Remediation Ineffective"]);
    let detail = &events[0].1;
    assert!(
        detail["hint"].as_str().is_some_and(|h| h.contains("reads these parameters")),
        "{detail}"
    );
    assert!(detail["evidence"]["last_race_at"].is_string(), "{detail}");
    assert_eq!(
        world.journal_state().await.expect("state")["last_change"]["verification"],
        "ineffective"
    );

    world.remediate(&APPLY_ALL, as_new_object(&findings, "later-still")).await.expect("report");
    assert!(world.events().await.is_empty(), "once per change");
    assert_eq!(
        world.parameter(&world.parameter_name("keepAliveTimeout")).await.map(|p| p.1),
        Some(1),
        "not written again"
    );
}

#[tokio::test]
async fn races_inside_the_grace_period_are_not_a_failure() {
    let world = World::new("cl-grace").await;
    let findings = world.findings().await;
    world.remediate(&APPLY_ALL, findings.clone()).await.expect("apply");
    world.events().await;
    // The change is "now"; the next object's races were logged before it (old connections).
    world.remediate(&APPLY_ALL, as_new_object(&findings, "draining")).await.expect("report");
    assert!(world.events().await.is_empty());
    assert_eq!(
        world.journal_state().await.expect("state")["last_change"]["verification"],
        "pending"
    );
}

#[tokio::test]
async fn more_504s_after_lowering_the_idle_timeout_roll_it_back() {
    let world = World::new("cl-guard").await;
    let findings = world.findings().await;
    let env = [APPLY_ALL[0], APPLY_ALL[1], ("STRATEGY", "alb-idle-timeout")];
    world.remediate(&env, findings.clone()).await.expect("apply");
    let lowered = world.idle_timeout().await;
    assert!(lowered < 60, "idle timeout lowered to {lowered}");
    world.events().await;

    let quiet = json!({"findings": [], "observations": [{
        "load_balancer_arn": world.lb_arn, "requests": 1000, "elb_504": 0, "elb_460": 0,
        "source": {"bucket": world.bucket, "key": "AWSLogs/quiet.log.gz"}}]});
    world.remediate(&env, quiet).await.expect("report");
    assert_eq!(world.idle_timeout().await, lowered, "no regression, no rollback");

    let worse = json!({"findings": [], "observations": [{
        "load_balancer_arn": world.lb_arn, "requests": 1000, "elb_504": 40, "elb_460": 3,
        "source": {"bucket": world.bucket, "key": "AWSLogs/slow.log.gz"}}]});
    let report = world.remediate(&env, worse.clone()).await.expect("report");
    assert_eq!(world.idle_timeout().await, 60, "rolled back: {report:#}");
    let events = world.events().await;
    assert_eq!(types(&events), ["Remediation Rolled Back"]);
    assert!(events[0].1["summary"].as_str().is_some_and(|s| s.contains("504")), "{}", events[0].1);
    // The same object again is not new evidence, and nothing is left to undo.
    world.remediate(&env, worse).await.expect("report");
    assert!(world.events().await.is_empty());

    // AUTO_ROLLBACK=false: counted, not undone.
    let other = World::new("cl-guard-off").await;
    let findings = other.findings().await;
    let off = [env[0], env[1], env[2], ("AUTO_ROLLBACK", "false")];
    other.remediate(&off, findings).await.expect("apply");
    let worse = json!({"findings": [], "observations": [{
        "load_balancer_arn": other.lb_arn, "requests": 1000, "elb_504": 40, "elb_460": 3,
        "source": {"bucket": other.bucket, "key": "AWSLogs/slow.log.gz"}}]});
    other.remediate(&off, worse).await.expect("report");
    assert!(other.idle_timeout().await < 60);
}
