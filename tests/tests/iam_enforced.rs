//! Both handlers against moto with IAM enforced, with the credentials of users whose policy is
//! the template's role policy, resolved for dry-run and for apply.
//!
//! How moto enforces IAM (read in moto 5's `core/authorization.py` and
//! `iam/access_control.py`): once `/moto-api/reset-auth` sets the count of unchecked requests
//! to 0, every request must be signed by a known access key, and the action
//! (`<signing service>:<Action>`, for S3 derived from the request, e.g. `GetObjectVersion` for a
//! GET with `versionId`) must be allowed by the user's policies. S3 also checks the resource
//! (`arn:aws:s3:::bucket/key`); every other service is checked against resource `*`, and no
//! condition key is evaluated (a statement with a `Condition` denies). So the user's policy is
//! the resolved role policy with S3 statements as they are and, for the other services, the
//! same actions on `*` without conditions. Their resources and conditions are checked by
//! `permission_map.rs` instead.

use alb_actions::aws::{S3Objects, s3_client};
use alb_keepalive_tests::template::Resolved;
use alb_keepalive_tests::{
    World, invocation, moto_enforce_iam, moto_query, sdk_config_as, xml_value,
};
use aws_config::SdkConfig;
use serde_json::{Value, json};

/// The resolved role policy as moto can enforce it (see the module comment).
fn as_moto_enforces(policy: &Value) -> Value {
    let statements: Vec<Value> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|statement| {
            let actions: Vec<&str> = match &statement["Action"] {
                Value::String(a) => vec![a.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if actions.iter().all(|a| a.starts_with("s3:")) {
                return Some(statement.clone());
            }
            let calls_emulated_service = actions.iter().any(|a| {
                ["elasticloadbalancing:", "ssm:", "dynamodb:", "events:"]
                    .iter()
                    .any(|service| a.starts_with(service))
            });
            calls_emulated_service.then(|| {
                json!({"Sid": statement["Sid"], "Effect": statement["Effect"], "Action": actions, "Resource": "*"})
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A moto IAM user holding exactly `policy`; its SDK configuration.
async fn user(name: &str, policy: &Value) -> SdkConfig {
    moto_query("iam", &[("Action", "CreateUser"), ("Version", "2010-05-08"), ("UserName", name)]);
    moto_query(
        "iam",
        &[
            ("Action", "PutUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", name),
            ("PolicyName", "role-policy"),
            ("PolicyDocument", &policy.to_string()),
        ],
    );
    let key = moto_query(
        "iam",
        &[("Action", "CreateAccessKey"), ("Version", "2010-05-08"), ("UserName", name)],
    );
    let id = xml_value(&key, "AccessKeyId").expect("access key id");
    let secret = xml_value(&key, "SecretAccessKey").expect("secret");
    sdk_config_as(&id, &secret).await
}

fn parameters<'a>(mode: &'a str, bucket: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("Mode", mode),
        ("LogSource", "existing-bucket"),
        ("ExistingBucketName", bucket),
        ("LogPrefix", ""),
    ]
}

fn detector(sdk: &SdkConfig) -> alb_keepalive_detector::Deps {
    alb_keepalive_detector::Deps {
        objects: S3Objects::new(s3_client(sdk)),
        config: alb_keepalive_detector::Config::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_handlers_run_with_exactly_the_template_permissions_and_fail_without_them() {
    // Everything the world needs is created before IAM is enforced.
    let world = World::new("iam-enforced").await;
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
    let object = world
        .s3
        .get_object()
        .bucket(&world.bucket)
        .key(&world.key)
        .send()
        .await
        .expect("GetObject")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec();
    let put = world
        .s3
        .put_object()
        .bucket(&world.bucket)
        .key(&world.key)
        .body(object.clone().into())
        .send()
        .await
        .expect("PutObject");
    let version = put.version_id().expect("a versioned bucket gives a version id").to_string();
    // Another account's log in the same bucket, outside the detector's scope.
    let foreign_key = world.key.replace("AWSLogs/123456789012", "AWSLogs/210987654321");
    world.put_object(&foreign_key, object).await;

    let dry_run = Resolved::new(&parameters("dry-run", &world.bucket));
    let apply = Resolved::new(&parameters("apply", &world.bucket));
    let detector_policy = as_moto_enforces(&dry_run.role_policy("DetectorRole"));
    let detector_user = user("detector", &detector_policy).await;
    let dry_run_user =
        user("remediator-dry-run", &as_moto_enforces(&dry_run.role_policy("RemediatorRole"))).await;
    let apply_user =
        user("remediator-apply", &as_moto_enforces(&apply.role_policy("RemediatorRole"))).await;
    // The detector's policy without s3:GetObjectVersion: what the role had before.
    let mut no_version = detector_policy.clone();
    for statement in no_version["Statement"].as_array_mut().expect("statements") {
        if let Some(actions) = statement["Action"].as_array_mut() {
            actions.retain(|a| a != "s3:GetObjectVersion");
        }
    }
    let no_version_user = user("detector-no-version", &no_version).await;

    moto_enforce_iam(true);
    let outcome = async {
        let mut event = world.s3_event();
        event["Records"][0]["s3"]["object"]["versionId"] = json!(version);

        // Detector: the versioned read passes with the template's permissions.
        let result = alb_keepalive_detector::handler::handle(
            &detector(&detector_user),
            invocation(event.clone()),
        )
        .await
        .expect("detector with the template's permissions");
        assert_eq!(result["findings"].as_array().map(Vec::len), Some(1), "{result}");

        // ... and fails without s3:GetObjectVersion, naming the object.
        let error =
            alb_keepalive_detector::handler::handle(&detector(&no_version_user), invocation(event))
                .await
                .expect_err("reading a version needs s3:GetObjectVersion");
        let message = error.to_string();
        assert!(message.contains("access denied") && message.contains(&world.key), "{message}");
        assert!(message.len() < 600, "one sentence, not SDK debug output: {message}");

        // Another account's log is outside the detector's permission.
        let foreign = alb_keepalive_tests::s3_event(&[(&world.bucket, &foreign_key)]);
        let error =
            alb_keepalive_detector::handler::handle(&detector(&detector_user), invocation(foreign))
                .await
                .expect_err("another account's logs are not readable");
        assert!(error.to_string().contains("210987654321"), "{error}");

        // Remediator, dry-run: reads everything it needs.
        let allowed = world.lb_id.clone();
        let report = alb_keepalive_remediator::handler::handle(
            &world.remediator_as(&dry_run_user, &[("ALLOWED_LOAD_BALANCERS", &allowed)]),
            invocation(result.clone()),
        )
        .await
        .expect("dry-run with the dry-run permissions");
        assert_eq!(report["mode"], "dry-run");

        // The dry-run role cannot write: apply with it fails naming the call and parameter.
        let error = alb_keepalive_remediator::handler::handle(
            &world.remediator_as(
                &dry_run_user,
                &[("MODE", "apply"), ("ALLOWED_LOAD_BALANCERS", &allowed)],
            ),
            invocation(result.clone()),
        )
        .await
        .expect_err("the dry-run role has no write permission");
        let message = error.to_string();
        assert!(message.contains("PutParameter") && message.contains("AccessDenied"), "{message}");
        assert!(message.contains(&world.tg_name), "{message}");

        // Apply with the apply permissions writes the parameters and their tags.
        let report = alb_keepalive_remediator::handler::handle(
            &world.remediator_as(
                &apply_user,
                &[("MODE", "apply"), ("ALLOWED_LOAD_BALANCERS", &allowed)],
            ),
            invocation(result),
        )
        .await
        .expect("apply with the apply permissions");
        let actions = report["load_balancers"][0]["actions"].as_array().expect("actions").clone();
        assert!(actions.iter().all(|a| a["applied"] == true), "{report}");
        let ssm = aws_sdk_ssm::Client::new(&apply_user);
        let value = ssm
            .get_parameter()
            .name(world.parameter_name("keepAliveTimeout"))
            .send()
            .await
            .expect("GetParameter with the apply user");
        assert_eq!(value.parameter().and_then(|p| p.value()), Some("65000"));
    }
    .await;
    moto_enforce_iam(false);
    outcome
}
