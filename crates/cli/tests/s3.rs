//! `alb-keepalive scan s3://...` with the real AWS SDK against a moto server (started by the
//! repository's harness): the listing is filtered by name before any GET, the JSON equals a
//! local scan of the same objects, a failing object is retried and named, an empty prefix is
//! an error, and Ctrl-C stops a stalled scan at once.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alb_keepalive_tests::{gzip, moto, sdk_config};

fn cli(endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alb-keepalive"));
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdin(Stdio::null());
    command
}

fn scan(args: &[&str]) -> Output {
    cli(&moto().endpoint).arg("scan").args(args).output().unwrap()
}

/// Objects at their ALB keys: (key, gzip body). Two load balancers, four intervals.
fn objects() -> Vec<(String, Vec<u8>)> {
    (0..6u64)
        .map(|i| {
            let mut scenario = if i == 2 {
                alb_loggen::Scenario::healthy()
            } else {
                alb_loggen::Scenario::incident()
            };
            scenario.seed = 77 + i;
            scenario.node_ip = format!("10.0.9.{}", 10 + i);
            scenario.start_unix_s += 300 * (i as i64 % 4);
            if i >= 4 {
                scenario.load_balancer_name = "api".to_string();
                scenario.load_balancer_id = "0123456789abcdef".to_string();
            }
            let mut text = Vec::new();
            alb_loggen::write_log(&scenario, &mut text).unwrap();
            (alb_loggen::object_key(&scenario), gzip(&text))
        })
        .collect()
}

struct Bucket {
    name: String,
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    fn new(name: &str) -> Bucket {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = runtime.block_on(async { aws_sdk_s3::Client::new(&sdk_config().await) });
        let name = format!("cli-{name}-{}", std::process::id());
        runtime.block_on(client.create_bucket().bucket(&name).send()).unwrap();
        Bucket { name, client, runtime }
    }

    fn put(&self, key: &str, body: Vec<u8>) {
        self.runtime
            .block_on(self.client.put_object().bucket(&self.name).key(key).body(body.into()).send())
            .unwrap();
    }

    fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.name)
    }
}

/// The same objects and extra files written locally, for the comparison.
fn local_copy(name: &str, objects: &[(String, Vec<u8>)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alb-keepalive-s3-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (key, body) in objects {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::File::create(&path).unwrap().write_all(body).unwrap();
    }
    dir
}

fn others(objects: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let first = &objects[0].0;
    let (dir, base) = first.rsplit_once('/').unwrap();
    vec![
        ("AWSLogs/123456789012/ELBAccessLogTestFile".to_string(), b"test".to_vec()),
        (format!("{dir}/conn_log_{base}"), gzip(b"conn log\n")),
        (format!("{dir}/health_check_log_{base}"), gzip(b"health\n")),
    ]
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn s3_scan_equals_a_local_scan_of_the_same_objects() {
    let bucket = Bucket::new("same");
    let mut all = objects();
    all.extend(others(&all));
    for (key, body) in &all {
        bucket.put(&format!("logs/{key}"), body.clone());
    }
    let local = local_copy("same", &all);
    for format in ["json", "text"] {
        let remote = scan(&["--format", format, "--jobs", "3", &bucket.url("logs/")]);
        let here = scan(&["--format", format, "--jobs", "1", local.to_str().unwrap()]);
        assert!(remote.status.success(), "{}", String::from_utf8_lossy(&remote.stderr));
        assert_eq!(
            String::from_utf8_lossy(&remote.stdout),
            String::from_utf8_lossy(&here.stdout),
            "{format} differs"
        );
    }
    let report = json(&scan(&["--format", "json", &bucket.url("logs/AWSLogs/")]));
    std::fs::remove_dir_all(&local).unwrap();
    assert_eq!(report["objects"], 6);
    assert_eq!(report["skipped_objects"], 3, "test file, connection and health-check logs");
    assert_eq!(report["load_balancers"].as_array().unwrap().len(), 2);
    // No objects under a prefix that holds none.
    let none = scan(&[&bucket.url("elsewhere/")]);
    assert_eq!(none.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stderr.contains("no ALB access-log objects") && stderr.contains("elsewhere/"),
        "{stderr}"
    );
}

#[test]
fn filters_apply_to_the_listing_before_any_get() {
    let bucket = Bucket::new("filters");
    let all = objects();
    for (key, body) in &all {
        bucket.put(key, body.clone());
    }
    // Filtered out by every filter below: it would fail the scan if it were read.
    let (dir, base) = all[0].0.rsplit_once('/').unwrap();
    let poison_key =
        format!("{dir}/{}", base.replace("T09", "T03").replace("_10.0.9.10_", "_10.9.9.9_"));
    assert_ne!(poison_key, all[0].0);
    bucket.put(&poison_key, b"\x1f\x8bnot really gzip".to_vec());
    let url = bucket.url("");
    let broken = scan(&["--format", "json", &url]);
    assert_eq!(broken.status.code(), Some(2), "the poison object is read without filters");

    let names = |args: &[&str]| -> (u64, u64) {
        let report = json(&scan(&[&["--format", "json"], args, &[url.as_str()]].concat()));
        (report["objects"].as_u64().unwrap(), report["skipped_objects"].as_u64().unwrap())
    };
    let start = alb_loggen::Scenario::incident().start_unix_s;
    let at = |seconds: i64| {
        let d = (seconds / 60) % (24 * 60);
        format!("2026-11-27T{:02}:{:02}", d / 60, d % 60)
    };
    // Objects of intervals 0..3 end at start+300..start+1200 (the generator rounds up).
    assert!(at(start).starts_with("2026-11-27T09:"), "{}", at(start));
    let since = at(start + 300 * 2);
    assert_eq!(names(&["--since", &since]).0, 2, "intervals ending after --since");
    let until = at(start + 300);
    assert_eq!(names(&["--since", "2026-11-27T05:00", "--until", &until]).0, 2);
    assert_eq!(names(&["--since", "2026-11-27T05:00", "--load-balancer", "api"]), (2, 5));
    assert_eq!(
        names(&["--since", "2026-11-27T05:00", "--load-balancer", "app/shop-web/50dc6c495c0c9188"])
            .0,
        4
    );
}

#[test]
fn a_failing_object_is_retried_then_named_and_fails_the_scan() {
    let bucket = Bucket::new("failing");
    let all = objects();
    for (key, body) in &all[..3] {
        bucket.put(key, body.clone());
    }
    let (bad_key, bad_body) = &all[3];
    bucket.put(bad_key, bad_body[..bad_body.len() / 2].to_vec());
    let started = Instant::now();
    let out = scan(&["--format", "json", &bucket.url("AWSLogs/")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no partial report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 4 objects could not be read"), "{stderr}");
    assert!(
        stderr.contains(&format!("s3://{}/{bad_key}: failed 3 times", bucket.name)),
        "{stderr}"
    );
    assert!(stderr.contains("truncated or corrupt"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn ctrl_c_stops_a_stalled_scan_promptly() {
    // An endpoint that accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    let mut child = cli(&endpoint)
        .args(["scan", "s3://stalled/AWSLogs/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the scan should be waiting on the endpoint");
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(sent.elapsed() < Duration::from_secs(2), "still running 2 s after Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    drop(held);
}
