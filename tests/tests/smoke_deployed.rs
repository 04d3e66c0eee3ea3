//! `scripts/smoke-deployed` (the deploy guide's "check that it works") against the emulator: the
//! real script and the real AWS CLI, pointed at moto with `AWS_ENDPOINT_URL`. No Lambda runs in
//! the emulator, so these tests check what the script controls: the object it writes (key,
//! content, accepted by the real detector for the user's load balancer), its log queries (nothing
//! yet, then the lines once they arrive), and its reading of the stack (refusal in apply mode).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alb_keepalive_tests::{ACCOUNT, REGION, World, find_tool, moto, repo_root, s3_event};

fn aws_cli() -> PathBuf {
    find_tool("AWS_CLI", "aws").unwrap_or_else(|| {
        panic!(
            "the AWS CLI is not on PATH and AWS_CLI is not set: scripts/test installs it \
             (`pip install \"awscli>=1.36,<2\"` into .venv-awscli), or set AWS_CLI=/path/to/aws"
        )
    })
}

/// A command with the emulator's endpoint and dummy credentials, nothing from the user's AWS
/// configuration.
fn with_emulator(mut command: Command) -> Command {
    command
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_CLI", aws_cli())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null());
    command
}

/// Runs the AWS CLI against the emulator and panics naming the call if it fails.
fn aws(args: &[&str]) -> String {
    let mut command = with_emulator(Command::new(aws_cli()));
    command.args(["--endpoint-url", &moto().endpoint]).args(args);
    let out = command.output().expect("run the AWS CLI");
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 from the AWS CLI")
}

fn smoke_command(args: &[&str]) -> Command {
    let mut command = with_emulator(Command::new(repo_root().join("scripts/smoke-deployed")));
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn smoke(args: &[&str]) -> Output {
    smoke_command(args).output().expect("run scripts/smoke-deployed")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn keys_under(world: &World, prefix: &str) -> Vec<String> {
    let listing = world
        .s3
        .list_objects_v2()
        .bucket(&world.bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("ListObjectsV2");
    listing.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

async fn object_text(world: &World, key: &str) -> String {
    let object =
        world.s3.get_object().bucket(&world.bucket).key(key).send().await.expect("GetObject");
    let gz = object.body.collect().await.expect("object body").into_bytes();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_string(&mut text).expect("gzip text");
    text
}

fn put_log_line(group: &str, message: &str) {
    let now_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis();
    let _ =
        aws(&["logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "s"]);
    let events = serde_json::json!([{"timestamp": now_ms as u64, "message": message}]).to_string();
    aws(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "s",
        "--log-events",
        &events,
    ]);
}

#[tokio::test]
async fn writes_the_sample_for_the_load_balancer_and_shows_the_functions_log_lines() {
    let world = World::new("smoke-lines").await;
    let (detector_group, remediator_group) =
        ("/aws/lambda/smoke-lines/detector", "/aws/lambda/smoke-lines/remediator");
    for group in [detector_group, remediator_group] {
        aws(&["logs", "create-log-group", "--log-group-name", group]);
    }
    let args = [
        "--no-stack",
        "--load-balancer",
        &world.lb_arn,
        "--bucket",
        &world.bucket,
        "--prefix",
        "alb",
        "--detector-log-group",
        detector_group,
        "--remediator-log-group",
        remediator_group,
    ];
    let prefix = format!("alb/AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/");

    // Nothing runs the functions in the emulator: the script says so and exits 1.
    let out = smoke(&[&args[..], &["--wait", "0"]].concat());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("detector: nothing yet about"), "{stdout}");
    assert!(stdout.contains(&format!("remediator: nothing yet about {}", world.lb_id)), "{stdout}");
    assert!(stderr.contains("NOT YET after 0 s"), "{stderr}");

    // The object: at the key ELB would use for this load balancer, holding its lines.
    let keys = keys_under(&world, &prefix).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    let file = key.rsplit('/').next().expect("a file name");
    let (_, name, id) = {
        let mut parts = world.lb_id.split('/');
        (parts.next(), parts.next().expect("name"), parts.next().expect("id"))
    };
    assert!(
        file.starts_with(&format!("{ACCOUNT}_elasticloadbalancing_{REGION}_app.{name}.{id}_"))
            && file.ends_with(".log.gz"),
        "{key}"
    );
    assert!(stdout.contains(&format!("wrote s3://{}/{key}", world.bucket)), "{stdout}");
    let lines = object_text(&world, key).await;
    assert_eq!(lines.lines().count(), 139, "the whole incident sample");
    assert!(lines.lines().all(|l| l.contains(&format!(" {} ", world.lb_id))), "every line");
    assert!(lines.contains(&world.tg_arn), "the load balancer's own target group");
    assert!(!lines.contains("shop-web"), "nothing of the sample's load balancer is left");

    // The real detector accepts the key and maps the lines to this load balancer, and the remediator's dry-run plan names
    // this target group's parameters.
    let result = world.detect(s3_event(&[(&world.bucket, key)])).await.expect("detector result");
    let finding = &result["findings"][0];
    assert_eq!(finding["load_balancer_arn"], world.lb_arn.as_str());
    assert_eq!(finding["keepalive_502"], 8);
    assert_eq!(finding["target_groups"][0]["target_group_arn"], world.tg_arn.as_str());
    let report = world
        .remediate(&[("ALLOWED_LOAD_BALANCERS", &world.lb_id)], result)
        .await
        .expect("remediator report");
    assert!(report.to_string().contains(&world.parameter_name("keepAliveTimeout")), "{report}");

    // Waiting: the lines arrive while the script polls, and it shows them and exits 0.
    let child = smoke_command(&[&args[..], &["--wait", "120", "--interval", "1"]].concat())
        .spawn()
        .expect("start scripts/smoke-deployed");
    let deadline = Instant::now() + Duration::from_secs(60);
    let new_key = loop {
        if let Some(k) = keys_under(&world, &prefix).await.into_iter().find(|k| k != key) {
            break k;
        }
        assert!(Instant::now() < deadline, "the second run wrote no object");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let new_file = new_key.rsplit('/').next().expect("a file name");
    let detector_line = format!(
        r#"{{"level":"INFO","fields":{{"message":"object","key":"{new_key}","keepalive_502":8,"decision":"keepalive-race"}}}}"#
    );
    let remediator_line = format!(
        r#"{{"level":"INFO","fields":{{"message":"decision","load_balancer":"{}","dry_run":true,"skipped":"dry run"}}}}"#,
        world.lb_arn
    );
    put_log_line(detector_group, &detector_line);
    put_log_line(remediator_group, &remediator_line);
    let out = child.wait_with_output().expect("scripts/smoke-deployed output");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(new_file), "{stdout}");
    assert!(stdout.contains(&format!("detector:\n  {detector_line}")), "{stdout}");
    assert!(stdout.contains(&format!("remediator:\n  {remediator_line}")), "{stdout}");
    assert!(stdout.contains("OK: the object reached the detector"), "{stdout}");
}

const STACK_TEMPLATE: &str = r#"
Parameters:
  Mode: {Type: String}
  AllowedLoadBalancers: {Type: String, Default: ""}
  LogPrefix: {Type: String, Default: alb}
Resources:
  Queue: {Type: AWS::SQS::Queue}
Outputs:
  LogBucketName: {Value: alb-logs-smoke-stack}
  DetectorLogGroupName: {Value: /aws/lambda/smoke-stack/detector}
  RemediatorLogGroupName: {Value: /aws/lambda/smoke-stack/remediator}
"#;

#[tokio::test]
async fn reads_the_stack_and_refuses_when_it_would_really_change_the_load_balancer() {
    let world = World::new("smoke-stack").await;
    for group in ["/aws/lambda/smoke-stack/detector", "/aws/lambda/smoke-stack/remediator"] {
        aws(&["logs", "create-log-group", "--log-group-name", group]);
    }
    let template = std::env::temp_dir().join(format!("smoke-stack-{}.yaml", std::process::id()));
    std::fs::write(&template, STACK_TEMPLATE).expect("write the stack template");
    let template_url = format!("file://{}", template.display());
    let stack = |verb: &str, mode: &str, allowed: &str| {
        aws(&[
            "cloudformation",
            verb,
            "--stack-name",
            "smoke-stack",
            "--template-body",
            &template_url,
            "--parameters",
            &format!("ParameterKey=Mode,ParameterValue={mode}"),
            &format!("ParameterKey=AllowedLoadBalancers,ParameterValue={allowed}"),
            "ParameterKey=LogPrefix,ParameterValue=elb-logs",
        ]);
    };
    let args = ["--stack", "smoke-stack", "--load-balancer", &world.lb_arn, "--wait", "0"];

    // Apply mode with this load balancer allowed (by name, among others): refused, nothing written.
    stack("create-stack", "apply", &format!("app/other/0123456789abcdef\\,{}", world.lb_name));
    let out = smoke(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused") && stderr.contains("Mode=apply"), "{stderr}");
    assert!(keys_under(&world, "elb-logs/").await.is_empty(), "nothing written when refused");

    // Apply mode for another load balancer only: allowed.
    stack("update-stack", "apply", "app/other/0123456789abcdef");
    let out = smoke(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // Dry-run: bucket, prefix and log groups all come from the stack.
    stack("update-stack", "dry-run", "");
    let out = smoke(&args);
    let stdout = text(&out.stdout);
    std::fs::remove_file(&template).expect("remove the stack template");
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("stack smoke-stack: Mode=dry-run"), "{stdout}");
    assert!(stdout.contains("/aws/lambda/smoke-stack/remediator"), "{stdout}");
    let keys = keys_under(&world, "elb-logs/AWSLogs/").await;
    assert_eq!(keys.len(), 2, "one object per allowed run, under the stack's LogPrefix: {keys:?}");
}

#[test]
fn wrong_arguments_are_refused_naming_the_problem() {
    for (args, needle) in [
        (&[][..], "--load-balancer ARN is required"),
        (&["--load-balancer", "app/web/50dc6c495c0c9188"][..], "not an ALB ARN"),
        (
            &[
                "--load-balancer",
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/w/1a",
                "--wait",
                "soon",
            ][..],
            "--wait must be whole seconds",
        ),
        (&["--frobnicate"][..], "unknown argument --frobnicate"),
    ] {
        let out = smoke(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(needle), "{args:?}: {}", text(&out.stderr));
    }
}
