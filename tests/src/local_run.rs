//! The main job, end to end on this machine: the built Lambda binaries served through the Lambda
//! Runtime API by `cargo lambda watch`, invoked with `cargo lambda invoke`, against a moto
//! server standing in for AWS.
//!
//! [`run`] builds a [`World`] (VPC, ALB with the default 60 s idle timeout, target group with two
//! instances, log bucket, the incident log of that ALB uploaded), invokes the detector with the
//! S3 notification, then the remediator with the detector's result, first with `MODE=dry-run`,
//! then with `MODE=apply`, then once more to show that a second apply changes nothing. It says
//! what happened in plain words as it goes and returns every result for the test to check.
//! `scripts/local-run` (the README's one command) and `tests/tests/runtime_api.rs` both call it.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{World, moto, repo_root};

/// Everything the run produced.
#[derive(Debug)]
pub struct LocalRun {
    /// The emulated resources.
    pub world: World,
    /// The detector's result.
    pub findings: Value,
    /// The remediator's report in dry-run.
    pub dry_run: Value,
    /// `(keepAliveTimeout, headersTimeout)` with their versions after the dry run.
    pub after_dry_run: [Option<(String, i64)>; 2],
    /// The remediator's report in apply mode.
    pub apply: Value,
    /// The parameters after apply.
    pub after_apply: [Option<(String, i64)>; 2],
    /// The report of a second apply of the same finding.
    pub apply_again: Value,
    /// The parameters after the second apply.
    pub after_apply_again: [Option<(String, i64)>; 2],
}

/// Why the run could not complete.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

fn fail(message: impl Into<String>) -> RunError {
    RunError(message.into())
}

/// Runs the main job and narrates it on `out`.
///
/// # Errors
///
/// When `cargo-lambda` is missing, the watch server does not come up, or an invocation fails.
pub async fn run(out: &mut dyn Write) -> Result<LocalRun, RunError> {
    let say = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "{text}");
    };
    let endpoint = &moto().endpoint;
    say(out, format!("1. Local AWS: moto server at {endpoint}, dummy credentials"));
    let world = World::new("local-run").await;
    say(
        out,
        format!(
            "   load balancer {} (idle timeout {} s), target group {} with instances {}, log bucket {}",
            world.lb_id,
            world.idle_timeout().await,
            world.tg_name,
            world.instances.join(", "),
            world.bucket
        ),
    );
    say(
        out,
        format!(
            "2. Uploaded the incident log (Node.js keepAliveTimeout 5 s behind the 60 s ALB, {} keep-alive races)\n   s3://{}/{}",
            world.keepalive_502, world.bucket, world.key
        ),
    );

    let work = std::env::temp_dir().join(format!("alb-keepalive-local-run-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| fail(format!("{}: {e}", work.display())))?;
    let event = write_json(&work.join("s3-event.json"), &world.s3_event())?;

    let base_env = vec![
        ("AWS_ENDPOINT_URL".to_string(), endpoint.clone()),
        ("AWS_ACCESS_KEY_ID".to_string(), "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "testing".to_string()),
        ("AWS_REGION".to_string(), crate::REGION.to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        ("ALLOWED_LOAD_BALANCERS".to_string(), world.lb_id.clone()),
        ("JOURNAL_TABLE".to_string(), world.journal_table.clone()),
        ("EVENT_BUS_NAME".to_string(), world.event_bus.clone()),
    ];
    let names = [world.parameter_name("keepAliveTimeout"), world.parameter_name("headersTimeout")];

    say(out, "3. Detector, through the Lambda Runtime API (cargo lambda watch + invoke):".into());
    let watch = Watch::start(&with(&base_env, "MODE", "dry-run"))?;
    let findings = watch.invoke("alb-keepalive-detector", &event)?;
    describe_findings(out, &findings);
    let findings_file = write_json(&work.join("findings.json"), &findings)?;

    say(out, format!("4. Remediator, MODE=dry-run, ALLOWED_LOAD_BALANCERS={}:", world.lb_id));
    let dry_run = watch.invoke("alb-keepalive-remediator", &findings_file)?;
    drop(watch);
    describe_report(out, &dry_run);
    let after_dry_run = [world.parameter(&names[0]).await, world.parameter(&names[1]).await];
    describe_parameters(out, &names, &after_dry_run);

    say(out, "5. Remediator, MODE=apply:".into());
    let watch = Watch::start(&with(&base_env, "MODE", "apply"))?;
    let apply = watch.invoke("alb-keepalive-remediator", &findings_file)?;
    describe_report(out, &apply);
    let after_apply = [world.parameter(&names[0]).await, world.parameter(&names[1]).await];
    describe_parameters(out, &names, &after_apply);

    say(out, "6. The same finding delivered again (S3 and Lambda deliver at least once):".into());
    let apply_again = watch.invoke("alb-keepalive-remediator", &findings_file)?;
    drop(watch);
    describe_report(out, &apply_again);
    let after_apply_again = [world.parameter(&names[0]).await, world.parameter(&names[1]).await];
    describe_parameters(out, &names, &after_apply_again);
    say(
        out,
        format!(
            "   ALB idle timeout still {} s: the default strategy leaves the load balancer alone",
            world.idle_timeout().await
        ),
    );
    say(out, "7. Events (EventBridge rule on source alb-keepalive -> SQS queue):".into());
    for (detail_type, detail) in world.events().await {
        say(out, format!("   {detail_type}: {}", detail["summary"].as_str().unwrap_or("?")));
    }
    say(out, format!("8. Journal (DynamoDB table {}):", world.journal_table));
    for item in world.journal_items().await {
        let pk = item.get("pk").cloned().unwrap_or_default();
        let body = item.get("state").or_else(|| item.get("change")).cloned().unwrap_or_default();
        say(out, format!("   {pk}: {body}"));
    }
    let _ = std::fs::remove_dir_all(&work);

    Ok(LocalRun {
        world,
        findings,
        dry_run,
        after_dry_run,
        apply,
        after_apply,
        apply_again,
        after_apply_again,
    })
}

fn with(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push((key.to_string(), value.to_string()));
    env
}

fn write_json(path: &Path, value: &Value) -> Result<PathBuf, RunError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| fail(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(path.to_path_buf())
}

fn describe_findings(out: &mut dyn Write, findings: &Value) {
    let list = findings["findings"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        let _ = writeln!(out, "   no keep-alive race found");
    }
    for finding in list {
        let _ = writeln!(
            out,
            "   {}: keep-alive race, {} of {} load-balancer 502s in {} requests; backend keep-alive estimated at {} ms (confidence {})",
            finding["load_balancer"].as_str().unwrap_or("?"),
            finding["keepalive_502"],
            finding["elb_502"],
            finding["requests"],
            finding["estimated_backend_keepalive_ms"],
            finding["confidence"]
        );
    }
}

fn describe_report(out: &mut dyn Write, report: &Value) {
    for lb in report["load_balancers"].as_array().cloned().unwrap_or_default() {
        for action in lb["actions"].as_array().cloned().unwrap_or_default() {
            let before = match &action["before"] {
                Value::Null => "unset".to_string(),
                value => value.to_string(),
            };
            let outcome = if action["applied"] == Value::Bool(true) {
                "APPLIED".to_string()
            } else {
                format!("not applied: {}", action["skipped"].as_str().unwrap_or("?"))
            };
            let _ = writeln!(
                out,
                "   {} {}: {} -> {} ({outcome})",
                action["action"].as_str().unwrap_or("?"),
                action["resource"].as_str().unwrap_or("?"),
                before,
                action["after"]
            );
        }
        for warning in lb["warnings"].as_array().cloned().unwrap_or_default() {
            let _ = writeln!(out, "   warning: {warning}");
        }
    }
}

fn describe_parameters(
    out: &mut dyn Write,
    names: &[String; 2],
    values: &[Option<(String, i64)>; 2],
) {
    for (name, value) in names.iter().zip(values) {
        let text = match value {
            Some((value, version)) => format!("{value} (version {version})"),
            None => "not set".to_string(),
        };
        let _ = writeln!(out, "   SSM {name} = {text}");
    }
}

/// A `cargo lambda watch` server on a free loopback port, stopped on drop.
struct Watch {
    port: u16,
    child: Child,
}

/// The cargo-lambda executable: `CARGO_LAMBDA`, else `cargo-lambda` on `PATH`.
fn cargo_lambda() -> Result<PathBuf, RunError> {
    crate::find_tool("CARGO_LAMBDA", "cargo-lambda").ok_or_else(|| {
        fail("cargo-lambda not found: install it with `pip install cargo-lambda` (scripts/test and scripts/local-run do this in .venv-lambda) or set CARGO_LAMBDA=/path/to/cargo-lambda")
    })
}

impl Watch {
    fn start(env: &[(String, String)]) -> Result<Watch, RunError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .map_err(|e| fail(format!("no free local port: {e}")))?;
        let env_vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut command = Command::new(cargo_lambda()?);
        command
            .args(["lambda", "watch", "--quiet", "--ignore-changes", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .args(env_vars.iter().flat_map(|v| ["--env-var", v.as_str()]))
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Own process group, so stopping it also stops the function processes it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child =
            command.spawn().map_err(|e| fail(format!("cannot start cargo lambda watch: {e}")))?;
        let watch = Watch { port, child };
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(fail(format!(
                    "cargo lambda watch did not listen on port {port} within 120 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(watch)
    }

    /// Invokes a function with the event in `file` and returns its JSON answer.
    fn invoke(&self, function: &str, file: &Path) -> Result<Value, RunError> {
        let output = Command::new(cargo_lambda()?)
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P"])
            .arg(self.port.to_string())
            .arg(function)
            .arg("--data-file")
            .arg(file)
            .current_dir(repo_root())
            .output()
            .map_err(|e| fail(format!("cannot run cargo lambda invoke: {e}")))?;
        if !output.status.success() {
            return Err(fail(format!(
                "invoking {function} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| {
            fail(format!(
                "{function} answered something that is not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            ))
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}
