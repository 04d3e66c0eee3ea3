//! The remediator handler with the real SDK against moto, fed with what the real detector
//! returned for the world's incident log: dry-run, apply (both strategies), idempotence, the
//! allowlist, the cooldown, drift warnings, reload, rollback and the destination envelope.

use alb_keepalive_tests::World;
use serde_json::{Value, json};

const APPLY_ALL: [(&str, &str); 2] = [("MODE", "apply"), ("ALLOWED_LOAD_BALANCERS", "*")];

fn actions(report: &Value) -> &Vec<Value> {
    report["load_balancers"][0]["actions"].as_array().expect("actions array")
}

fn action<'a>(report: &'a Value, resource: &str) -> &'a Value {
    actions(report)
        .iter()
        .find(|a| a["resource"] == resource)
        .unwrap_or_else(|| panic!("no action on {resource} in {report:#}"))
}

#[tokio::test]
async fn dry_run_reports_the_plan_and_writes_nothing() {
    let world = World::new("rem-dry").await;
    let findings = world.findings().await;
    let report =
        world.remediate(&[("ALLOWED_LOAD_BALANCERS", "*")], findings).await.expect("report");

    assert_eq!(report["mode"], "dry-run");
    let keep_alive = world.parameter_name("keepAliveTimeout");
    let headers = world.parameter_name("headersTimeout");
    for (name, after) in [(&keep_alive, 65000), (&headers, 66000)] {
        let planned = action(&report, name);
        assert_eq!(planned["action"], "set-parameter");
        assert_eq!(planned["before"], Value::Null);
        assert_eq!(planned["after"], after);
        assert_eq!(planned["applied"], false);
        assert_eq!(planned["skipped"], "dry-run");
        assert_eq!(world.parameter(name).await, None, "dry-run wrote {name}");
    }
    assert_eq!(world.idle_timeout().await, 60);
    assert!(!world.lb_tags().await.contains_key("alb-keepalive:last-change"));
}

#[tokio::test]
async fn apply_writes_the_timeouts_as_strings_and_a_second_apply_is_a_no_op() {
    let world = World::new("rem-apply").await;
    let findings = world.findings().await;
    let env = [("MODE", "apply"), ("ALLOWED_LOAD_BALANCERS", world.lb_name.as_str())];
    let report = world.remediate(&env, findings.clone()).await.expect("report");

    let keep_alive = world.parameter_name("keepAliveTimeout");
    let headers = world.parameter_name("headersTimeout");
    assert_eq!(action(&report, &keep_alive)["applied"], true);
    assert_eq!(action(&report, &headers)["applied"], true);
    let (value, version) = world.parameter(&keep_alive).await.expect("keepAliveTimeout written");
    assert_eq!(value, "65000");
    assert_eq!(world.parameter(&headers).await.map(|p| p.0).as_deref(), Some("66000"));
    let tags = world
        .ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(&keep_alive)
        .send()
        .await
        .expect("ListTagsForResource");
    let tag =
        |key: &str| tags.tag_list().iter().find(|t| t.key() == key).map(|t| t.value().to_string());
    assert_eq!(tag("alb-keepalive:load-balancer"), Some(world.lb_id.clone()));
    assert_eq!(tag("alb-keepalive:keepalive-502"), Some(world.keepalive_502.to_string()));
    assert!(tag("alb-keepalive:estimated-backend-ms").is_some());
    let changed = world.lb_tags().await;
    assert!(changed.contains_key("alb-keepalive:last-change"), "{changed:?}");
    assert_eq!(world.idle_timeout().await, 60, "the parameter strategy leaves the ALB alone");

    // At-least-once delivery: the same finding again changes nothing.
    let again = world.remediate(&env, findings).await.expect("report");
    for name in [&keep_alive, &headers] {
        assert_eq!(action(&again, name)["applied"], false);
        assert_eq!(action(&again, name)["skipped"], "already set");
    }
    assert_eq!(world.parameter(&keep_alive).await, Some(("65000".to_string(), version)));
    assert_eq!(world.lb_tags().await, changed, "no new change tag");
}

#[tokio::test]
async fn alb_strategy_lowers_the_idle_timeout_and_rollback_restores_it() {
    let world = World::new("rem-alb").await;
    let findings = world.findings().await;
    let env = [APPLY_ALL[0], APPLY_ALL[1], ("STRATEGY", "alb-idle-timeout")];
    let report = world.remediate(&env, findings.clone()).await.expect("report");

    let change = action(&report, &world.lb_arn);
    assert_eq!(change["action"], "set-idle-timeout");
    assert_eq!((change["before"].clone(), change["after"].clone()), (json!(60), json!(4)));
    assert_eq!(change["applied"], true);
    assert_eq!(world.idle_timeout().await, 4);
    let tags = world.lb_tags().await;
    assert_eq!(tags.get("alb-keepalive:previous-idle-timeout").map(String::as_str), Some("60"));
    assert_eq!(world.parameter(&world.parameter_name("keepAliveTimeout")).await, None);

    let again = world.remediate(&env, findings).await.expect("report");
    assert_eq!(action(&again, &world.lb_arn)["skipped"], "already set");
    assert_eq!(world.lb_tags().await, tags);

    let rollback = json!({"rollback": {"load_balancer": world.lb_id}});
    let report = world.remediate(&env, rollback.clone()).await.expect("rollback report");
    let restore = action(&report, &world.lb_arn);
    assert_eq!(restore["action"], "restore-idle-timeout");
    assert_eq!((restore["before"].clone(), restore["after"].clone()), (json!(4), json!(60)));
    assert_eq!(restore["applied"], true);
    assert_eq!(world.idle_timeout().await, 60);

    let again = world.remediate(&env, rollback).await.expect("rollback report");
    assert_eq!(action(&again, &world.lb_arn)["skipped"], "already set");
}

#[tokio::test]
async fn rollback_restores_the_parameter_version_before_the_remediation() {
    let world = World::new("rem-rollback").await;
    let keep_alive = world.parameter_name("keepAliveTimeout");
    let headers = world.parameter_name("headersTimeout");
    world.put_parameter(&keep_alive, "5000").await;
    let findings = world.findings().await;
    world.remediate(&APPLY_ALL, findings).await.expect("report");
    assert_eq!(world.parameter(&keep_alive).await.map(|p| p.0).as_deref(), Some("65000"));

    // In dry-run the rollback is only reported.
    let rollback = json!({"rollback": {"load_balancer": world.lb_arn}});
    let dry = world
        .remediate(&[("ALLOWED_LOAD_BALANCERS", "*")], rollback.clone())
        .await
        .expect("report");
    assert_eq!(action(&dry, &keep_alive)["skipped"], "dry-run");
    assert_eq!(world.parameter(&keep_alive).await.map(|p| p.0).as_deref(), Some("65000"));

    let report = world.remediate(&APPLY_ALL, rollback.clone()).await.expect("report");
    let restore = action(&report, &keep_alive);
    assert_eq!(restore["action"], "restore-parameter");
    assert_eq!((restore["before"].clone(), restore["after"].clone()), (json!(65000), json!(5000)));
    assert_eq!(restore["applied"], true);
    assert_eq!(world.parameter(&keep_alive).await.map(|p| p.0).as_deref(), Some("5000"));
    let created = action(&report, &headers);
    assert_eq!(created["applied"], false);
    assert!(created["skipped"].as_str().expect("reason").contains("no earlier version"));

    let again = world.remediate(&APPLY_ALL, rollback).await.expect("report");
    assert_eq!(action(&again, &keep_alive)["skipped"], "already set");
    assert_eq!(world.parameter(&keep_alive).await.map(|p| p.0).as_deref(), Some("5000"));
}

#[tokio::test]
async fn load_balancers_outside_the_allowlist_are_reported_and_never_touched() {
    let world = World::new("rem-allow").await;
    let findings = world.findings().await;
    for allowed in ["", "some-other-alb", "app/rem-allow-alb/0000000000000000"] {
        let env = [("MODE", "apply"), ("ALLOWED_LOAD_BALANCERS", allowed)];
        let report = world.remediate(&env, findings.clone()).await.expect("report");
        assert_eq!(report["load_balancers"][0]["allowed"], false);
        assert!(!actions(&report).is_empty());
        for planned in actions(&report) {
            assert_eq!(planned["applied"], false);
            assert_eq!(planned["skipped"], "not in allowlist", "{allowed:?}");
        }
    }
    assert_eq!(world.parameter(&world.parameter_name("keepAliveTimeout")).await, None);
    assert!(world.lb_tags().await.is_empty());
}

#[tokio::test]
async fn a_second_change_inside_the_cooldown_is_skipped() {
    let world = World::new("rem-cool").await;
    let findings = world.findings().await;
    let report = world.remediate(&APPLY_ALL, findings.clone()).await.expect("report");
    assert!(actions(&report).iter().all(|a| a["applied"] == true));

    let env = [APPLY_ALL[0], APPLY_ALL[1], ("STRATEGY", "alb-idle-timeout")];
    let report = world.remediate(&env, findings.clone()).await.expect("report");
    assert_eq!(action(&report, &world.lb_arn)["skipped"], "cooldown");
    assert_eq!(world.idle_timeout().await, 60);

    let no_cooldown = [env[0], env[1], env[2], ("COOLDOWN_SECONDS", "0")];
    let report = world.remediate(&no_cooldown, findings).await.expect("report");
    assert_eq!(action(&report, &world.lb_arn)["applied"], true);
    assert_eq!(world.idle_timeout().await, 4);
}

#[tokio::test]
async fn the_detector_result_is_accepted_inside_the_destination_envelope() {
    let world = World::new("rem-envelope").await;
    let request = world.s3_event();
    let findings = world.findings().await;
    let envelope = json!({
        "version": "1.0",
        "timestamp": "2026-11-27T09:35:14.120Z",
        "requestContext": {"requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:alb-keepalive-detector:$LATEST",
            "condition": "Success", "approximateInvokeCount": 1},
        "requestPayload": request,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": findings
    });
    let report = world.remediate(&APPLY_ALL, envelope).await.expect("report");
    assert_eq!(report["load_balancers"][0]["load_balancer_arn"], json!(world.lb_arn));
    assert_eq!(
        world.parameter(&world.parameter_name("keepAliveTimeout")).await.map(|p| p.0).as_deref(),
        Some("65000")
    );
}

#[tokio::test]
async fn a_cloudformation_owned_load_balancer_gets_a_drift_warning() {
    let world = World::new("rem-drift").await;
    world.tag_lb("aws:cloudformation:stack-name", "shop-prod").await;
    let findings = world.findings().await;
    let report = world.remediate(&[], findings).await.expect("report");
    let warnings = report["load_balancers"][0]["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{report:#}");
    let warning = warnings[0].as_str().expect("text");
    assert!(warning.contains("CloudFormation stack shop-prod"), "{warning}");
    assert!(warning.contains("may be reverted"), "{warning}");
}

#[tokio::test]
async fn reload_command_is_sent_to_the_registered_instances() {
    let world = World::new("rem-reload").await;
    let findings = world.findings().await;
    let env = [APPLY_ALL[0], APPLY_ALL[1], ("RELOAD_COMMAND", "systemctl reload shop-web")];
    let report = world.remediate(&env, findings).await.expect("report");
    let reload = action(&report, &world.tg_arn);
    assert_eq!(reload["action"], "reload");
    assert_eq!(reload["applied"], true);
    let detail = reload["detail"].as_str().expect("detail");
    for instance in &world.instances {
        assert!(detail.contains(instance.as_str()), "{detail}");
    }
}

#[tokio::test]
async fn events_of_the_wrong_shape_are_rejected_naming_the_field() {
    let world = World::new("rem-shape").await;
    let mut findings = world.findings().await;
    findings["findings"][0].as_object_mut().expect("finding").remove("load_balancer_arn");
    let error = world.remediate(&APPLY_ALL, findings).await.unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("invalid event: findings[0]"), "{message}");
    assert!(message.contains("load_balancer_arn"), "{message}");
    let error = world.remediate(&APPLY_ALL, json!({"rollback": {"lb": "x"}})).await.unwrap_err();
    assert!(error.to_string().contains("rollback.load_balancer missing"), "{error}");
    let error = world.remediate(&APPLY_ALL, world.s3_event()).await.unwrap_err();
    assert!(error.to_string().contains("unrecognised event"), "{error}");
    assert_eq!(world.parameter(&world.parameter_name("keepAliveTimeout")).await, None);
}

#[tokio::test]
async fn rollback_of_an_unknown_load_balancer_fails_naming_it() {
    let world = World::new("rem-unknown").await;
    let error = world
        .remediate(
            &APPLY_ALL,
            json!({"rollback": {"load_balancer": "app/no-such-alb/0123456789abcdef"}}),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("app/no-such-alb/0123456789abcdef"), "{error}");
}

#[tokio::test]
async fn findings_from_two_nodes_are_one_decision_and_detached_groups_are_left_alone() {
    // Two objects of the same interval (two ALB nodes) in one event: the second names a target
    // group that is not attached to the load balancer (a blue/green swap). One decision; the
    // attached group is fixed, the other group's parameters are never written.
    let world = World::new("rem-two-nodes").await;
    let mut findings = world.findings().await;
    let mut second = findings["findings"][0].clone();
    let other_tg =
        world.tg_arn.replace(&format!("targetgroup/{}/", world.tg_name), "targetgroup/other-tg/");
    second["target_groups"][0]["target_group_arn"] = json!(other_tg);
    second["source"]["key"] = json!(format!("{}.node2", world.key));
    findings["findings"].as_array_mut().expect("findings").push(second);
    world.put_parameter("/alb-keepalive/other-tg/keepAliveTimeout", "61000").await;

    let report = world.remediate(&APPLY_ALL, findings).await.expect("report");
    assert_eq!(report["load_balancers"].as_array().map(Vec::len), Some(1), "{report:#}");
    assert_eq!(actions(&report).len(), 2, "{report:#}");
    assert!(actions(&report).iter().all(|a| a["applied"] == true), "{report:#}");
    assert_eq!(
        world.parameter(&world.parameter_name("keepAliveTimeout")).await.map(|p| p.0).as_deref(),
        Some("65000")
    );
    assert_eq!(
        world.parameter("/alb-keepalive/other-tg/keepAliveTimeout").await,
        Some(("61000".to_string(), 1)),
        "a detached group's parameter was written"
    );
    let warnings = report["load_balancers"][0]["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("other-tg") && w.contains("not attached"))),
        "{report:#}"
    );
}
