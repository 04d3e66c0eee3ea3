//! The `alb-keepalive` binary end to end, on the sample objects in `events/logs` and on small
//! inputs made here. Every test runs the real binary through [`scan`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample(day: &str) -> PathBuf {
    let dir = repo().join(format!(
        "events/logs/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/{day}"
    ));
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{}", dir.display());
    files.remove(0)
}

fn scan(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alb-keepalive"))
        .arg("scan")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = scan(&[&["--format", "json"], args].concat(), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn incident_sample_is_a_race_with_both_remedies() {
    let path = sample("27");
    let report = json(&[path.to_str().unwrap()]);
    assert_eq!(report["lines"], 139);
    assert_eq!(report["malformed_lines"], 0);
    let lb = &report["load_balancers"][0];
    assert_eq!(lb["load_balancer"], "app/shop-web/50dc6c495c0c9188");
    assert_eq!(lb["verdict"], "keepalive-race");
    assert_eq!(lb["keepalive_502"], 8);
    assert_eq!(lb["elb_502"], 11, "plus 2 refused connections and 1 app 502");
    assert_eq!(lb["requests"], 139);
    let estimate = lb["estimated_backend_keepalive_ms"].as_u64().unwrap();
    assert!((4500..=5500).contains(&estimate), "{estimate}");
    let remedies = &lb["remedies"];
    assert_eq!(
        remedies["ssm_parameters"],
        serde_json::json!({"keepAliveTimeout": 65000, "headersTimeout": 66000})
    );
    assert_eq!(remedies["alb_idle_timeout_seconds"], 4);
    assert_eq!(remedies.get("alb_idle_timeout_blocked"), None);
    assert!(remedies["backend_default"].as_str().unwrap_or_default().starts_with("Node.js"));
    let stacks: Vec<&str> =
        remedies["cures"].as_array().unwrap().iter().filter_map(|c| c["stack"].as_str()).collect();
    for stack in [
        "Node.js",
        "Express",
        "NestJS",
        "Next.js",
        "Fastify",
        "gunicorn",
        "uvicorn",
        "Hypercorn",
        "Go",
        "Puma",
        "Apache",
        "nginx",
        "Tomcat",
        "Spring Boot",
        "Kestrel",
    ] {
        assert!(stacks.iter().any(|s| s.contains(stack)), "{stack} in {stacks:?}");
    }
    assert_eq!(lb["target_processing_seconds"][0][0], 0, "histogram of processing times");
    assert_eq!(lb["shutdown_502"], 0);
    assert!(["lifo", "fifo"].contains(&lb["estimate"]["reuse_order"].as_str().unwrap_or_default()));
}

#[test]
fn healthy_sample_is_not_a_race_and_has_no_remedies() {
    let report = json(&[sample("28").to_str().unwrap()]);
    let lb = &report["load_balancers"][0];
    assert_eq!(lb["verdict"], "no-race");
    assert_eq!(lb["keepalive_502"], 0);
    assert_eq!(lb["elb_502"], 3);
    assert_eq!(lb["elb_502_by_class"]["connection_failure"], 2);
    assert_eq!(lb["elb_502_by_class"]["target_sent"], 1);
    assert_eq!(lb["remedies"], Value::Null);
    assert_eq!(lb["estimated_backend_keepalive_ms"], Value::Null);
}

#[test]
fn text_report_names_the_race_the_evidence_and_the_cure() {
    let out = scan(&[sample("27").to_str().unwrap()], None);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "KEEP-ALIVE RACE",
        "estimated backend keep-alive: 5000 ms",
        "server.keepAliveTimeout = 65000; server.headersTimeout = 66000;",
        "Key=idle_timeout.timeout_seconds,Value=4",
        "Not keep-alive (2): connection failures",
        "sample: ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn flags_change_the_remedies() {
    let path = sample("27");
    let report =
        json(&["--idle-timeout", "120", "--backend-keepalive-ms", "2000", path.to_str().unwrap()]);
    let remedies = &report["load_balancers"][0]["remedies"];
    assert_eq!(
        remedies["ssm_parameters"],
        serde_json::json!({"keepAliveTimeout": 125000, "headersTimeout": 126000})
    );
    assert_eq!(remedies["alb_idle_timeout_seconds"], 1);
    // ALB at 300 s: Node's requestTimeout must follow headersTimeout, never a capped one.
    let long = json(&["--idle-timeout", "300", path.to_str().unwrap()]);
    assert_eq!(
        long["load_balancers"][0]["remedies"]["ssm_parameters"],
        serde_json::json!({"keepAliveTimeout": 305000, "headersTimeout": 306000, "requestTimeout": 306000})
    );
    // Margins that would wrap are refused at the command line.
    for flag in [
        ["--keepalive-margin-ms", "18446744073709500000"],
        ["--headers-margin-ms", "18446744073709551615"],
        ["--keepalive-margin-ms", "600001"],
    ] {
        let out = scan(&[&flag[..], &[path.to_str().unwrap()]].concat(), None);
        assert!(!out.status.success(), "{flag:?} accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag[0]), "{flag:?}");
    }
    let strict = json(&["--race-threshold", "50", path.to_str().unwrap()]);
    assert_eq!(strict["load_balancers"][0]["verdict"], "no-race");
    assert_eq!(strict["load_balancers"][0]["remedies"], Value::Null);
}

#[test]
fn directories_are_walked_for_access_logs_only() {
    let report = json(&[repo().join("events/logs").to_str().unwrap()]);
    assert_eq!(report["objects"], 2);
    assert_eq!(report["lines"], 278);
    assert_eq!(report["load_balancers"][0]["keepalive_502"], 8);
}

#[test]
fn stdin_plain_text_and_malformed_lines() {
    let fixture =
        std::fs::read_to_string(repo().join("crates/records/tests/data/public-alb-lines.txt"))
            .unwrap();
    let entries: String = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n\n"))
        .collect();
    let out = scan(&["--format", "json", "-"], Some(entries.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total =
        fixture.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).count() as u64;
    assert_eq!(report["malformed_lines"], 1, "only the known defective fixture line");
    assert_eq!(report["lines"], total - 1, "blank lines are neither entries nor malformed");
    assert!(report["malformed_samples"][0]["reason"].as_str().unwrap().contains("chosen_cert_arn"));
    // The AWS knowledge-center example (4.205 s before the close) is not called a race.
    let kc = report["load_balancers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|lb| lb["load_balancer"] == "app/my-loadbalancer/50dc6c495c0c9188")
        .unwrap();
    assert_eq!(kc["elb_502_by_class"]["closed_mid_request"], 1);
    assert_eq!(kc["elb_502_by_class"]["lambda_waf_auth"], 2);
}

#[test]
fn truncated_and_missing_objects_fail_naming_the_object() {
    let gz = std::fs::read(sample("27")).unwrap();
    let dir = std::env::temp_dir().join(format!("alb-keepalive-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truncated = dir.join("cut.log.gz");
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let out = scan(&[truncated.to_str().unwrap()], None);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut.log.gz") && stderr.contains("truncated or corrupt"), "{stderr}");

    let out = scan(&["/no/such/object.log.gz"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/object.log.gz"));

    let out = scan(&["--idle-timeout", "0", "x"], None);
    assert_eq!(out.status.code(), Some(2), "clap rejects an idle timeout outside 1-4000");
}

#[test]
fn an_idle_timeout_that_would_cut_slow_responses_is_refused_and_said_so() {
    // One more object for the same load balancer: a response that took the target 8.5 s.
    let slow = "https 2026-11-27T09:31:08.503000Z app/shop-web/50dc6c495c0c9188 203.0.113.9:5123 10.0.1.23:3000 0.000 8.500 0.003 200 200 723 679 \"GET https://shop.example.com:443/api/report HTTP/1.1\" \"curl/8.5.0\" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067 \"Root=1-6746e5a5-0123456789abcdef01234567\" \"shop.example.com\" \"session-reused\" 1 2026-11-27T09:31:00.000000Z \"forward\" \"-\" \"-\" \"-\" \"-\" \"-\" \"-\"\n";
    let path = sample("27");
    let out = scan(&["--format", "json", path.to_str().unwrap(), "-"], Some(slow.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let remedies = &report["load_balancers"][0]["remedies"];
    assert_eq!(remedies["alb_idle_timeout_seconds"], Value::Null);
    assert_eq!(remedies["alb_idle_timeout_blocked"]["reason"], "would-cut-requests");
    assert_eq!(remedies["alb_idle_timeout_blocked"]["requests_cut"], 1);
    let text = scan(&[path.to_str().unwrap(), "-"], Some(slow.as_bytes()));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Not lowering the idle timeout"), "{text}");
    assert!(!text.contains("Key=idle_timeout.timeout_seconds"), "{text}");
    let allowed = scan(
        &["--format", "json", "--allow-idle-timeout-cuts", path.to_str().unwrap(), "-"],
        Some(slow.as_bytes()),
    );
    let allowed: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(allowed["load_balancers"][0]["remedies"]["alb_idle_timeout_seconds"], 4);
}

#[test]
fn fail_on_race_exits_1_only_for_a_race_and_keeps_2_for_errors() {
    let race = sample("27");
    let healthy = sample("28");

    let out = scan(&["--fail-on-race", race.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("KEEP-ALIVE RACE"),
        "report still printed"
    );

    let out = scan(&["--fail-on-race", "--format", "json", race.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["load_balancers"][0]["verdict"], "keepalive-race");

    let out = scan(&["--fail-on-race", healthy.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "no race: 0");
    // Both days together: one load balancer with the race is enough.
    let out = scan(&["--fail-on-race", healthy.to_str().unwrap(), race.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));

    let out = scan(&[race.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "without the flag a race is not a failure");

    let out = scan(&["--fail-on-race", "/no/such/object.log.gz"], None);
    assert_eq!(out.status.code(), Some(2), "errors stay 2");
}

fn run_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alb-keepalive")).args(args).output().unwrap()
}

#[test]
fn version_and_shell_completions() {
    let out = run_cli(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("alb-keepalive {}", env!("CARGO_PKG_VERSION"))
    );

    for shell in ["bash", "zsh", "fish"] {
        let out = run_cli(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["alb-keepalive", "scan", "fail-on-race", "idle-timeout"] {
            assert!(script.contains(word), "{shell} completion lacks {word:?}");
        }
    }
    let out = run_cli(&["completions", "no-such-shell"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn race_times_in_json_and_text() {
    let path = sample("27");
    let lb = &json(&[path.to_str().unwrap()])["load_balancers"][0];
    assert_eq!(lb["first_race_at"], "2026-11-27T09:30:21.260345Z");
    assert_eq!(lb["last_race_at"], "2026-11-27T09:34:56.363502Z");
    assert_eq!(
        lb["races_by_hour"],
        serde_json::json!([{"hour": "2026-11-27T09:00:00Z", "races": 8}])
    );

    let healthy = &json(&[sample("28").to_str().unwrap()])["load_balancers"][0];
    assert_eq!(healthy["first_race_at"], Value::Null);
    assert_eq!(healthy["last_race_at"], Value::Null);
    assert_eq!(healthy["races_by_hour"], serde_json::json!([]));

    // Both days: the races are all on the first, so the second day is visibly clean.
    let out = scan(&[sample("28").to_str().unwrap(), path.to_str().unwrap()], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "  Races logged from 2026-11-27T09:30:21.260345Z to 2026-11-27T09:34:56.363502Z; per hour (UTC):\n    2026-11-27T09:00:00Z  8 races\n"
        ),
        "{text}"
    );
    let out = scan(&[sample("28").to_str().unwrap()], None);
    assert!(!String::from_utf8(out.stdout).unwrap().contains("Races logged"), "no races, no times");
}

#[test]
fn races_over_many_hours_are_listed_in_order_first_and_last_hours_kept() {
    use std::io::Read as _;
    let mut incident = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(sample("27")).unwrap())
        .read_to_string(&mut incident)
        .unwrap();
    assert!(incident.lines().all(|l| l.contains("2026-11-27T09:")), "the sample spans 09:30-09:35");
    // The incident again in each of 30 hours from 2026-11-27T00, one object per hour, named on
    // the command line newest first.
    let dir = std::env::temp_dir().join(format!("alb-keepalive-hours-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = Vec::new();
    for hour in (0..30u32).rev() {
        let shifted = incident
            .replace("2026-11-27T09:", &format!("2026-11-{}T{:02}:", 27 + hour / 24, hour % 24));
        let path = dir.join(format!("hour-{hour}.log"));
        std::fs::write(&path, shifted).unwrap();
        paths.push(path.to_str().unwrap().to_string());
    }
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let report = json(&paths);
    let out = scan(&paths, None);
    std::fs::remove_dir_all(&dir).unwrap();

    let lb = &report["load_balancers"][0];
    assert_eq!(lb["keepalive_502"], 240, "8 races in each of 30 hours");
    assert_eq!(lb["first_race_at"], "2026-11-27T00:30:21.260345Z");
    assert_eq!(lb["last_race_at"], "2026-11-28T05:34:56.363502Z");
    let hours = lb["races_by_hour"].as_array().unwrap();
    assert_eq!(hours.len(), 30);
    assert_eq!(hours[0], serde_json::json!({"hour": "2026-11-27T00:00:00Z", "races": 8}));
    assert_eq!(hours[29], serde_json::json!({"hour": "2026-11-28T05:00:00Z", "races": 8}));

    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "Races logged from 2026-11-27T00:30:21.260345Z to 2026-11-28T05:34:56.363502Z; per hour (UTC):"
        ),
        "{text}"
    );
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("    2026-11-")).collect();
    assert_eq!(listed.len(), 24, "12 first and 12 last hours:\n{text}");
    assert_eq!(listed[0], "    2026-11-27T00:00:00Z  8 races");
    assert_eq!(listed[11], "    2026-11-27T11:00:00Z  8 races");
    assert_eq!(listed[12], "    2026-11-27T18:00:00Z  8 races");
    assert_eq!(listed[23], "    2026-11-28T05:00:00Z  8 races");
    assert!(
        text.contains("... 6 more hours with races (all in --format json: races_by_hour) ..."),
        "{text}"
    );
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    text
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alb-keepalive-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn terminal_controls_in_log_lines_are_escaped_in_the_text_report() {
    let hostile = gunzip(&sample("27"))
        .replace("\" \"Mozilla", "\" \"\u{1b}]0;pwned\u{7}\u{1b}[2J\u{0}\u{9b}31mMozilla")
        .replace(":targetgroup/", ":targetgroup/\u{1b}[31m");
    let out = scan(&["-"], Some(hostile.as_bytes()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("KEEP-ALIVE RACE"), "{text}");
    for control in ['\u{1b}', '\u{0}', '\u{7}', '\u{9b}'] {
        assert!(!text.contains(control), "{control:?} reached the terminal:\n{text}");
    }
    assert!(text.contains("sample: ") && text.contains("\\u{1b}]0;pwned\\u{7}"), "{text}");
    assert!(text.contains("\\u{1b}[31m"), "the target group name is escaped too:\n{text}");
    // JSON keeps the bytes (escaped by JSON itself): consumers get the line as written.
    let out = scan(&["--format", "json", "-"], Some(hostile.as_bytes()));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = report["load_balancers"][0]["samples"][0]["line"].as_str().unwrap();
    assert!(line.contains('\u{1b}'));
}

#[test]
fn a_scan_that_reads_nothing_usable_exits_3_with_the_reason() {
    let out = scan(&["--format", "json", "-"], Some(b"a\nb\nnot a log\n"));
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["lines"].as_u64(), report["malformed_lines"].as_u64()), (Some(0), Some(3)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no valid access-log entry in 1 object (3 malformed lines)"),
        "{stderr}"
    );

    let dir = temp_dir("empty");
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();
    let out = scan(&[dir.to_str().unwrap()], None);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no ALB access-log objects to scan in"), "{stderr}");
    assert!(stderr.contains("(1 skipped; --verbose names them)"), "{stderr}");
}

#[test]
fn a_gz_named_object_that_is_not_gzip_is_read_with_a_note() {
    let dir = temp_dir("plain-gz");
    let path = dir.join("renamed.log.gz");
    std::fs::write(&path, gunzip(&sample("27"))).unwrap();
    let report = json(&[path.to_str().unwrap()]);
    let text = scan(&[path.to_str().unwrap()], None);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report["lines"], 139, "read as plain text");
    let notes = report["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    let note = notes[0].as_str().unwrap();
    assert!(note.contains("renamed.log.gz") && note.contains("not gzip"), "{note}");
    assert!(String::from_utf8_lossy(&text.stdout).contains("note: "));
    assert_eq!(json(&[sample("27").to_str().unwrap()])["notes"], serde_json::json!([]));
}

#[test]
fn errors_are_one_sentence_naming_the_object_with_the_cause_once() {
    let dir = temp_dir("errors");
    let cut = dir.join("cut.log.gz");
    let gz = std::fs::read(sample("27")).unwrap();
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let junk = dir.join("junk.log");
    std::fs::write(&junk, "a\n".repeat(100_000)).unwrap();
    let cut_out = scan(&[cut.to_str().unwrap()], None);
    let junk_out = scan(&[junk.to_str().unwrap()], None);
    let missing_out = scan(&[dir.join("gone.log").to_str().unwrap()], None);
    std::fs::remove_dir_all(&dir).unwrap();

    let stderr = String::from_utf8(cut_out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "alb-keepalive: cannot read {}: gzip stream is truncated",
            cut.display()
        )),
        "{stderr}"
    );
    let cause = stderr.rsplit(": ").next().unwrap().trim();
    assert_eq!(stderr.matches(cause).count(), 1, "the cause {cause:?} is printed once: {stderr}");

    assert_eq!(junk_out.status.code(), Some(2));
    let stderr = String::from_utf8(junk_out.stderr).unwrap();
    assert!(stderr.contains(&format!("cannot read {}", junk.display())), "{stderr}");
    assert!(
        stderr.contains("1001 of the first 1001 lines are not ALB access-log entries"),
        "{stderr}"
    );
    assert!(stderr.contains("not an ALB access log"), "{stderr}");

    let stderr = String::from_utf8(missing_out.stderr).unwrap();
    assert!(stderr.contains("gone.log") && stderr.lines().count() == 1, "{stderr}");
}
