//! The detector *binary*, run under a minimal Lambda Runtime API on loopback with Lambda's JSON
//! log format, against moto: its stdout holds one EMF document per load balancer and object that
//! CloudWatch would extract (the whole line is the JSON object, `_aws` as the specification
//! requires, `level` INFO so Lambda's log-level filter keeps it), with the diagnosis's numbers.
//! The same minimal Runtime API shows that a configuration error reaches the invoker through
//! `POST /runtime/init/error`, naming the variable.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use alb_keepalive_tests::{World, moto, repo_root};
use serde_json::Value;

/// Reads one HTTP request: (method, path, body).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

/// Serves one invocation of `event`; sends the function's response body on `answer`.
fn runtime_api(listener: TcpListener, event: Value, answer: mpsc::Sender<Value>) {
    let mut served = false;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let mut writer = stream.try_clone().expect("clone stream");
        let mut reader = BufReader::new(stream);
        while let Some((method, path, body)) = read_request(&mut reader) {
            if method == "GET" && path.ends_with("/invocation/next") {
                if served {
                    // One invocation only: leave the next poll hanging until the test ends.
                    std::thread::sleep(Duration::from_secs(600));
                    return;
                }
                served = true;
                let body = event.to_string();
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_millis()
                    + 60_000;
                let _ = write!(
                    writer,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: emf-test-1\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:detector\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            } else {
                let _ = write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{{}}");
                if path.ends_with("/response") || path.ends_with("/error") {
                    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let _ = answer.send(serde_json::json!({"path": path, "body": value}));
                }
            }
        }
    }
}

fn detector_binary() -> std::path::PathBuf {
    function_binary("alb-keepalive-detector")
}

fn function_binary(name: &str) -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", name, "--bin", name])
        .current_dir(repo_root())
        .status()
        .expect("cargo build the function");
    assert!(status.success(), "building {name} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), std::path::PathBuf::from);
    target.join("debug").join(name)
}

/// Starts a function binary with `env` under a Runtime API that has one `event` for it; what
/// the function posts back (path and body) and its exit status.
fn run_function(name: &str, env: &[(&str, &str)], event: Value) -> (Value, Option<i32>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || runtime_api(listener, event, send));
    let mut command = Command::new(function_binary(name));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start the function binary");
    let answer = receive.recv_timeout(Duration::from_secs(120)).expect("the function answered");
    let mut status = None;
    for _ in 0..100 {
        if let Some(exit) = child.try_wait().expect("wait") {
            status = exit.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if status.is_none() {
        let _ = child.kill();
    }
    (answer, status)
}

#[test]
fn configuration_errors_reach_the_invoker_through_init_error() {
    let (answer, status) = run_function(
        "alb-keepalive-detector",
        &[("RACE_THRESHOLD", "many")],
        serde_json::json!({}),
    );
    assert!(
        answer["path"].as_str().is_some_and(|p| p.ends_with("/runtime/init/error")),
        "{answer}"
    );
    assert_eq!(answer["body"]["errorType"], "Runtime.InvalidConfiguration", "{answer}");
    let message = answer["body"]["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("RACE_THRESHOLD"), "{answer}");
    assert!(status.is_some_and(|code| code != 0), "the process exits: {status:?}");

    // The remediator without its journal table: the required variable is named.
    let (answer, status) =
        run_function("alb-keepalive-remediator", &[("MODE", "dry-run")], serde_json::json!({}));
    assert!(
        answer["path"].as_str().is_some_and(|p| p.ends_with("/runtime/init/error")),
        "{answer}"
    );
    let message = answer["body"]["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("JOURNAL_TABLE"), "{answer}");
    assert!(status.is_some_and(|code| code != 0), "the process exits: {status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_detector_binary_writes_emf_that_cloudwatch_extracts() {
    let world = World::new("emf-binary").await;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (send, receive) = mpsc::channel();
    let event = world.s3_event();
    std::thread::spawn(move || runtime_api(listener, event, send));

    let mut child = Command::new(detector_binary())
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "detector")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("METRICS_NAMESPACE", "ALBKeepAliveTest")
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the detector binary");
    let answer = receive.recv_timeout(Duration::from_secs(120)).expect("the detector answered");
    child.kill().expect("stop the detector");
    let output = child.wait_with_output().expect("detector output");
    assert!(answer["path"].as_str().is_some_and(|p| p.ends_with("/response")), "{answer}");
    let result = &answer["body"];

    let stdout = String::from_utf8_lossy(&output.stdout);
    // What CloudWatch Logs does with each line of a JSON-format function: a line that is a JSON
    // object is the event; EMF is extracted when it carries `_aws.CloudWatchMetrics`.
    let documents: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(documents.len(), 1, "one load balancer, one object:\n{stdout}");
    let doc = &documents[0];
    // Lambda's log-level filter: a line whose level is below the configured one is dropped.
    assert_eq!(doc["level"], "INFO", "{doc}");
    assert!(doc["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{doc}");
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "ALBKeepAliveTest");
    assert_eq!(directive["Dimensions"], serde_json::json!([["LoadBalancer"]]));
    assert!(doc["_aws"]["Timestamp"].is_u64());
    assert_eq!(doc["LoadBalancer"], world.lb_id.as_str());
    // Every declared metric has a numeric member, and the units are the specification's.
    for metric in directive["Metrics"].as_array().expect("metrics") {
        let name = metric["Name"].as_str().expect("name");
        assert!(doc[name].is_number(), "{name} has no value in {doc}");
        assert!(
            ["Count", "Milliseconds", "Bytes", "None"]
                .contains(&metric["Unit"].as_str().unwrap_or("")),
            "{metric}"
        );
    }
    let finding = &result["findings"][0];
    assert_eq!(doc["KeepAliveRace502"], finding["keepalive_502"].as_f64().expect("races"));
    assert_eq!(doc["KeepAliveRace502"], world.keepalive_502 as f64);
    assert_eq!(doc["Requests"], finding["requests"].as_f64().expect("requests"));
    assert_eq!(doc["ELB502"], finding["elb_502"].as_f64().expect("502s"));
    assert_eq!(doc["ELB502_keepalive_race"], world.keepalive_502 as f64);
    assert_eq!(
        doc["EstimatedBackendKeepAliveMs"],
        finding["estimated_backend_keepalive_ms"].as_f64().expect("estimate")
    );
    assert_eq!(doc["MalformedLines"], 0.0);
    assert!(doc["ScanTime"].is_number());
    // Not wrapped in another log event, and alone on its line.
    assert!(stdout.lines().any(|l| l.starts_with('{') && l.contains("\"_aws\"")));
}
