//! Every AWS operation the code calls, with the IAM actions it needs in real AWS (Service
//! Authorization Reference), checked against `template.yaml` resolved for each mode.
//!
//! The operations are found in the source (every `client.<operation>()` under
//! `crates/*/src` and `functions/*/src`), so a new SDK call without a row in [`OPERATIONS`]
//! fails [`every_sdk_call_in_the_code_has_a_row_in_the_permission_map`]. Adding a service is one
//! row per operation, e.g. for the DynamoDB journal:
//! `Op { call: "get_item", role: Remediator, when: Always, needs: &[("dynamodb:GetItem", JOURNAL_TABLE, &[])] },`
//! with `JOURNAL_TABLE` the table's ARN as the template names it.
//!
//! Conditional permissions are written out: `GetObject` with a `VersionId` is authorised as
//! `s3:GetObjectVersion`; `AddTagsToResource`/`AddTags` carry `aws:TagKeys`; `SendCommand` is
//! authorised on the document and on every instance, and an instance carries its tags.

use std::path::{Path, PathBuf};

use alb_keepalive_tests::repo_root;
use alb_keepalive_tests::template::{Request, Resolved, allows};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Detector,
    Remediator,
}

/// When the code may make the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// In every mode.
    Always,
    /// Only with `Mode=apply`.
    Apply,
    /// Only with `Mode=apply` and a `ReloadCommand`.
    ApplyWithReload,
}

/// Condition keys of a request with their values.
type Context = &'static [(&'static str, &'static [&'static str])];
/// One IAM request an operation makes: `(action, resource, context)`.
type Need = (&'static str, &'static str, Context);

/// One SDK operation: the fluent-builder method the code calls and the IAM requests it makes.
struct Op {
    call: &'static str,
    role: Role,
    when: When,
    /// `(action, resource, [(condition key, values)])`; `{doc}` in a resource is the stack's
    /// reload document.
    needs: &'static [Need],
    )],
}

const LOG_KEY: &str = "arn:aws:s3:::shared-logs/alb/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/123456789012_elasticloadbalancing_us-east-1_app.shop-web.50dc6c495c0c9188_20261127T0935Z_10.0.1.5_2x9ab3cd.log.gz";
const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188";
const PARAMETER: &str =
    "arn:aws:ssm:us-east-1:123456789012:parameter/alb-keepalive/shop-web-tg/keepAliveTimeout";
const INSTANCE: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc1234def567890";
const RELOAD_TAG: (&str, &[&str]) = ("ssm:resourceTag/alb-keepalive:reload", &["true"]);

use Role::{Detector, Remediator};
use When::{Always, Apply, ApplyWithReload};

/// The permission map. One row per SDK operation the code calls.
const OPERATIONS: &[Op] = &[
    // The event may name a version (versioned buckets): that read is s3:GetObjectVersion.
    Op {
        call: "get_object",
        role: Detector,
        when: Always,
        needs: &[("s3:GetObject", LOG_KEY, &[]), ("s3:GetObjectVersion", LOG_KEY, &[])],
    },
    Op {
        call: "describe_load_balancers",
        role: Remediator,
        when: Always,
        needs: &[("elasticloadbalancing:DescribeLoadBalancers", "*", &[])],
    },
    Op {
        call: "describe_load_balancer_attributes",
        role: Remediator,
        when: Always,
        needs: &[("elasticloadbalancing:DescribeLoadBalancerAttributes", "*", &[])],
    },
    Op {
        call: "describe_tags",
        role: Remediator,
        when: Always,
        needs: &[("elasticloadbalancing:DescribeTags", "*", &[])],
    },
    Op {
        call: "describe_target_groups",
        role: Remediator,
        when: Always,
        needs: &[("elasticloadbalancing:DescribeTargetGroups", "*", &[])],
    },
    Op {
        call: "describe_target_health",
        role: Remediator,
        when: Always,
        needs: &[("elasticloadbalancing:DescribeTargetHealth", "*", &[])],
    },
    // Rollback restores the idle timeout with either strategy, so apply needs it always.
    Op {
        call: "modify_load_balancer_attributes",
        role: Remediator,
        when: Apply,
        needs: &[("elasticloadbalancing:ModifyLoadBalancerAttributes", LB, &[])],
    },
    Op {
        call: "add_tags",
        role: Remediator,
        when: Apply,
        needs: &[(
            "elasticloadbalancing:AddTags",
            LB,
            &[(
                "aws:TagKeys",
                &["alb-keepalive:last-change", "alb-keepalive:previous-idle-timeout"],
            )],
        )],
    },
    Op {
        call: "get_parameter",
        role: Remediator,
        when: Always,
        needs: &[("ssm:GetParameter", PARAMETER, &[])],
    },
    Op {
        call: "get_parameter_history",
        role: Remediator,
        when: Always,
        needs: &[("ssm:GetParameterHistory", PARAMETER, &[])],
    },
    // PutParameter is sent without Tags (they would need ssm:AddTagsToResource too, and are
    // refused with Overwrite): the tags go through AddTagsToResource below.
    Op {
        call: "put_parameter",
        role: Remediator,
        when: Apply,
        needs: &[("ssm:PutParameter", PARAMETER, &[])],
    },
    Op {
        call: "add_tags_to_resource",
        role: Remediator,
        when: Apply,
        needs: &[(
            "ssm:AddTagsToResource",
            PARAMETER,
            &[(
                "aws:TagKeys",
                &[
                    "alb-keepalive:load-balancer",
                    "alb-keepalive:keepalive-502",
                    "alb-keepalive:estimated-backend-ms",
                    "alb-keepalive:changed-at",
                ],
            )],
        )],
    },
    // Authorised on the document and on each instance (with the instance's tags).
    Op {
        call: "send_command",
        role: Remediator,
        when: ApplyWithReload,
        needs: &[
            ("ssm:SendCommand", "arn:aws:ssm:us-east-1:123456789012:document/{doc}", &[]),
            ("ssm:SendCommand", INSTANCE, &[RELOAD_TAG]),
        ],
    },
];

/// Every `client.<op>()` (and `client\n  .<op>()`) in the Rust sources of the crates and
/// functions, with the file it is in.
fn sdk_calls() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut files = Vec::new();
    for top in ["crates", "functions"] {
        collect_rust_files(&root.join(top), &mut files);
    }
    let mut calls = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read source");
        let mut rest = text.as_str();
        while let Some(at) = rest.find("client") {
            let after = rest[at + "client".len()..].trim_start();
            let preceded_by_word = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            rest = &rest[at + "client".len()..];
            if preceded_by_word {
                continue;
            }
            let Some(after) = after.strip_prefix('.') else { continue };
            let name: String =
                after.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() && after[name.len()..].starts_with("()") {
                calls.push((name, file.clone()));
            }
        }
    }
    calls
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() && name != "target" && name != "tests" {
            collect_rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Files that send SDK requests (`.send()`) must show where their calls are, or the scan has
/// missed a way of calling the SDK.
fn files_that_send() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for top in ["crates", "functions"] {
        collect_rust_files(&repo_root().join(top), &mut files);
    }
    files
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(".send()")))
        .collect()
}

#[test]
fn every_sdk_call_in_the_code_has_a_row_in_the_permission_map() {
    let calls = sdk_calls();
    // The scan sees the calls it must see (a scan that finds nothing cannot pass).
    for known in ["get_object", "put_parameter", "send_command", "modify_load_balancer_attributes"]
    {
        assert!(calls.iter().any(|(c, _)| c == known), "scan missed {known}: {calls:?}");
    }
    let unmapped: Vec<String> = calls
        .iter()
        .filter(|(call, _)| !OPERATIONS.iter().any(|op| op.call == call))
        .map(|(call, file)| format!("{call} in {}", file.display()))
        .collect();
    assert!(
        unmapped.is_empty(),
        "SDK calls without IAM actions in tests/tests/permission_map.rs OPERATIONS: {unmapped:#?}"
    );
    let stale: Vec<&str> = OPERATIONS
        .iter()
        .filter(|op| !calls.iter().any(|(call, _)| call == op.call))
        .map(|op| op.call)
        .collect();
    assert!(stale.is_empty(), "rows for operations the code no longer calls: {stale:?}");
    for file in files_that_send() {
        assert!(
            calls.iter().any(|(_, f)| *f == file),
            "{} sends SDK requests but no `client.<operation>()` was found in it",
            file.display()
        );
    }
}

/// The deployments checked: both modes, both strategies, with and without a reload command,
/// both log sources.
fn modes() -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let mut modes = Vec::new();
    for mode in ["dry-run", "apply"] {
        for strategy in ["ssm-parameters", "alb-idle-timeout"] {
            for reload in ["", "systemctl reload shop"] {
                for source in ["new-bucket", "existing-bucket"] {
                    let parameters = vec![
                        ("Mode", mode),
                        ("Strategy", strategy),
                        ("ReloadCommand", reload),
                        ("LogSource", source),
                        ("ExistingBucketName", "shared-logs"),
                        ("LogPrefix", "alb"),
                    ];
                    let name = format!(
                        "Mode={mode} Strategy={strategy} ReloadCommand={reload:?} LogSource={source}"
                    );
                    modes.push((name, parameters));
                }
            }
        }
    }
    modes
}

fn needed(op: &Op, parameters: &[(&str, &str)]) -> bool {
    let value = |name: &str| parameters.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let apply = value("Mode") == Some("apply");
    match op.when {
        Always => true,
        Apply => apply,
        ApplyWithReload => apply && !value("ReloadCommand").unwrap_or_default().is_empty(),
    }
}

fn role_of(role: Role) -> &'static str {
    match role {
        Detector => "DetectorRole",
        Remediator => "RemediatorRole",
    }
}

fn request(
    template: &Resolved,
    parameters: &[(&str, &str)],
    action: &str,
    resource: &str,
    context: &[(&str, &[&str])],
) -> Request {
    let bucket = if parameters.contains(&("LogSource", "new-bucket")) {
        // The name the template computes for its own bucket.
        format!("alb-keepalive-logs-123456789012-us-east-1-{}", "1a2b3c4d")
    } else {
        "shared-logs".to_string()
    };
    let resource = resource
        .replace("shared-logs", &bucket)
        .replace("{doc}", &template.physical_name("ReloadDocument"));
    Request {
        action: action.to_string(),
        resource,
        context: context
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.iter().map(|s| (*s).to_string()).collect()))
            .collect(),
    }
}

#[test]
fn every_mode_grants_what_its_calls_need_and_nothing_it_does_not() {
    let mut checked = 0;
    for (name, parameters) in modes() {
        let template = Resolved::new(&parameters);
        for op in OPERATIONS {
            let policy = template.role_policy(role_of(op.role));
            for (action, resource, context) in op.needs {
                let request = request(&template, &parameters, action, resource, context);
                let allowed = allows(&policy, &request);
                if needed(op, &parameters) {
                    assert!(
                        allowed,
                        "{name}: {} needs {request:?}, which the role refuses",
                        op.call
                    );
                } else {
                    assert!(
                        !allowed,
                        "{name}: {} is never called here but {request:?} is allowed",
                        op.call
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16 * 15);
}

#[test]
fn the_fences_refuse_what_the_code_must_never_do() {
    let parameters = [
        ("Mode", "apply"),
        ("ReloadCommand", "systemctl reload shop"),
        ("LogPrefix", "alb"),
        ("LogSource", "existing-bucket"),
        ("ExistingBucketName", "shared-logs"),
    ];
    let template = Resolved::new(&parameters);
    let remediator = template.role_policy("RemediatorRole");
    let detector = template.role_policy("DetectorRole");
    let refused = |policy, action: &str, resource: &str, context: &[(&str, &[&str])]| {
        let request = request(&template, &parameters, action, resource, context);
        assert!(!allows(policy, &request), "allowed: {request:?}");
    };
    // A root shell: the AWS-owned document, or an untagged instance.
    refused(
        &remediator,
        "ssm:SendCommand",
        "arn:aws:ssm:us-east-1::document/AWS-RunShellScript",
        &[],
    );
    refused(&remediator, "ssm:SendCommand", INSTANCE, &[]);
    refused(
        &remediator,
        "ssm:SendCommand",
        INSTANCE,
        &[("ssm:resourceTag/alb-keepalive:reload", &["false"])],
    );
    // Tags that are not the remediator's own.
    refused(&remediator, "ssm:AddTagsToResource", PARAMETER, &[("aws:TagKeys", &["owner"])]);
    refused(
        &remediator,
        "elasticloadbalancing:AddTags",
        LB,
        &[("aws:TagKeys", &["alb-keepalive:x", "env"])],
    );
    // Parameters outside the prefix, network load balancers.
    refused(
        &remediator,
        "ssm:PutParameter",
        "arn:aws:ssm:us-east-1:123456789012:parameter/payments/db",
        &[],
    );
    refused(
        &remediator,
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/x/1",
        &[],
    );
    // ssm:GetParameters is called by nothing.
    refused(&remediator, "ssm:GetParameters", PARAMETER, &[]);
    // Another account's or another region's logs in the shared bucket.
    refused(
        &detector,
        "s3:GetObject",
        &LOG_KEY.replace("AWSLogs/123456789012", "AWSLogs/210987654321"),
        &[],
    );
    refused(
        &detector,
        "s3:GetObject",
        &LOG_KEY.replace("elasticloadbalancing/us-east-1", "elasticloadbalancing/eu-west-1"),
        &[],
    );
    refused(&detector, "s3:ListBucket", "arn:aws:s3:::shared-logs", &[]);
}

#[test]
fn listed_accounts_are_read_and_triggered_others_are_not() {
    let parameters = [
        ("LogSource", "existing-bucket"),
        ("ExistingBucketName", "shared-logs"),
        ("LogPrefix", "alb"),
        ("OtherLogAccountIds", "210987654321,111122223333"),
    ];
    let template = Resolved::new(&parameters);
    let detector = template.role_policy("DetectorRole");
    let key = |account: &str| Request {
        action: "s3:GetObjectVersion".into(),
        resource: LOG_KEY.replace("AWSLogs/123456789012", &format!("AWSLogs/{account}")),
        context: vec![],
    };
    for account in ["123456789012", "210987654321", "111122223333"] {
        assert!(allows(&detector, &key(account)), "{account}");
    }
    assert!(!allows(&detector, &key("444455556666")));
    let rule = template.resource("DetectorEventRule").expect("rule in existing-bucket mode");
    let keys = &rule["EventPattern"]["detail"]["object"]["key"];
    assert_eq!(
        keys,
        &serde_json::json!([
            {"wildcard": "alb/AWSLogs/123456789012/elasticloadbalancing/us-east-1/*.log.gz"},
            {"wildcard": "alb/AWSLogs/210987654321/elasticloadbalancing/us-east-1/*.log.gz"},
            {"wildcard": "alb/AWSLogs/111122223333/elasticloadbalancing/us-east-1/*.log.gz"},
        ])
    );
    // Default: the stack's own account and region, in both triggers.
    let template = Resolved::new(&[("LogPrefix", "")]);
    let bucket = template.resource("LogBucket").expect("new bucket by default");
    let rules =
        &bucket["NotificationConfiguration"]["LambdaConfigurations"][0]["Filter"]["S3Key"]["Rules"];
    assert_eq!(rules[0]["Value"], "AWSLogs/123456789012/elasticloadbalancing/us-east-1/");
    let template = Resolved::new(&[("LogSource", "existing-bucket"), ("ExistingBucketName", "b")]);
    let rule = template.resource("DetectorEventRule").expect("rule");
    assert_eq!(
        rule["EventPattern"]["detail"]["object"]["key"],
        serde_json::json!([{"wildcard": "alb/AWSLogs/123456789012/elasticloadbalancing/us-east-1/*.log.gz"}])
    );
}

#[test]
fn the_reload_document_runs_the_configured_command_and_nothing_else() {
    let template = Resolved::new(&[("Mode", "apply"), ("ReloadCommand", "systemctl reload shop")]);
    let document = template.resource("ReloadDocument").expect("document with a reload command");
    assert_eq!(document["DocumentType"], "Command");
    let content = &document["Content"];
    assert!(content.get("parameters").is_none(), "the document must take no parameters");
    assert_eq!(
        content["mainSteps"][0]["inputs"]["runCommand"],
        serde_json::json!(["systemctl reload shop"])
    );
    let function = template.resource("RemediatorFunction").expect("function");
    assert_eq!(
        function["Environment"]["Variables"]["RELOAD_DOCUMENT"],
        template.physical_name("ReloadDocument")
    );
    assert!(Resolved::new(&[]).resource("ReloadDocument").is_none());
}

#[test]
fn the_policy_evaluator_can_refuse() {
    let policy = serde_json::json!({"Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/AWSLogs/*"},
        {"Effect": "Allow", "Action": "ssm:AddTagsToResource", "Resource": "*",
         "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": "alb-keepalive:*"}}},
        {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": "*",
         "Condition": {"StringEquals": {"ssm:resourceTag/k": "true"}}},
    ]});
    let r = |action: &str, resource: &str, context: Vec<(String, Vec<String>)>| Request {
        action: action.into(),
        resource: resource.into(),
        context,
    };
    assert!(allows(&policy, &r("s3:GetObject", "arn:aws:s3:::b/AWSLogs/x", vec![])));
    assert!(!allows(&policy, &r("s3:GetObject", "arn:aws:s3:::b/other", vec![])));
    assert!(!allows(&policy, &r("s3:GetObjectVersion", "arn:aws:s3:::b/AWSLogs/x", vec![])));
    let tags = |keys: &[&str]| {
        vec![("aws:TagKeys".to_string(), keys.iter().map(|k| (*k).to_string()).collect())]
    };
    assert!(allows(&policy, &r("ssm:AddTagsToResource", "p", tags(&["alb-keepalive:a"]))));
    assert!(!allows(&policy, &r("ssm:AddTagsToResource", "p", tags(&["alb-keepalive:a", "b"]))));
    assert!(!allows(&policy, &r("ssm:SendCommand", "i", vec![])));
    assert!(allows(
        &policy,
        &r("ssm:SendCommand", "i", vec![("ssm:resourceTag/k".into(), vec!["true".into()])])
    ));
}
