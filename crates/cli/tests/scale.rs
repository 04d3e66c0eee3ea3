//! The CLI at scale, end to end with the real binary: `--jobs` never changes the report,
//! directory walks survive links and FIFOs and count what they skip, progress stays off pipes,
//! and the HTML report is self-contained, escaped, and renders in Chromium.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alb-keepalive"))
        .arg("scan")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("alb-keepalive-scale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sixteen different objects: two load balancers, several nodes and intervals, races in some,
/// a few malformed lines; written at their ALB keys under `dir`.
fn sixteen_objects(dir: &Path) {
    for i in 0..16u64 {
        let mut scenario = if i % 3 == 0 {
            alb_loggen::Scenario::healthy()
        } else {
            alb_loggen::Scenario::incident()
        };
        scenario.seed = 1000 + i;
        scenario.node_ip = format!("10.0.{}.{}", i % 2, 5 + i);
        scenario.start_unix_s += 300 * (i as i64 / 2);
        if i % 4 == 3 {
            scenario.load_balancer_name = "api".to_string();
            scenario.load_balancer_id = "0123456789abcdef".to_string();
        }
        let path = dir.join(alb_loggen::object_key(&scenario));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        alb_loggen::write_log(&scenario, &mut encoder).unwrap();
        if i % 5 == 1 {
            writeln!(encoder, "not an access-log line from object {i}").unwrap();
        }
        encoder.finish().unwrap();
    }
}

#[test]
fn jobs_do_not_change_the_report() {
    let dir = temp("jobs");
    sixteen_objects(&dir);
    let path = dir.to_str().unwrap();
    for format in ["json", "text", "html"] {
        let one = scan(&["--jobs", "1", "--format", format, path]);
        assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
        for jobs in ["2", "3", "16"] {
            let many = scan(&["--jobs", jobs, "--format", format, path]);
            assert!(many.status.success());
            assert!(one.stdout == many.stdout, "--jobs {jobs} changed the {format} report");
        }
        let default = scan(&["--format", format, path]);
        assert!(one.stdout == default.stdout, "default --jobs changed the {format} report");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&scan(&["--format", "json", path]).stdout).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report["objects"], 16);
    assert_eq!(report["load_balancers"].as_array().unwrap().len(), 2);
    assert!(
        report["malformed_lines"].as_u64().unwrap() > 0,
        "the merge order of samples is exercised"
    );
}

#[test]
fn one_object_on_two_jobs_is_pipelined_and_reads_the_same() {
    // A single object with a spare core is decompressed on a second thread.
    let sample = repo().join("events/logs");
    let one = scan(&["--jobs", "1", "--format", "json", sample.to_str().unwrap()]);
    let dir = temp("pipe");
    sixteen_objects(&dir);
    let first = walk_first(&dir);
    let a = scan(&["--jobs", "1", "--format", "json", first.to_str().unwrap()]);
    let b = scan(&["--jobs", "4", "--format", "json", first.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(one.status.success() && a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
}

fn walk_first(dir: &Path) -> PathBuf {
    let mut path = dir.to_path_buf();
    while path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        path = entries.remove(0);
    }
    path
}

#[cfg(unix)]
#[test]
fn links_and_fifos_do_not_hang_a_directory_scan_and_skips_are_counted() {
    let dir = temp("links");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let sample = walk_first(&repo().join("events/logs"));
    let name = sample.file_name().unwrap().to_str().unwrap();
    std::fs::copy(&sample, dir.join("logs").join(name)).unwrap();
    std::os::unix::fs::symlink(".", dir.join("logs/self")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("logs/up")).unwrap();
    std::fs::write(dir.join("logs/renamed.log.gz"), b"").unwrap();
    let fifo = dir.join("logs").join(name.replace(".log.gz", "x.log.gz"));
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_alb-keepalive"))
        .args(["scan", "--verbose", "--format", "json"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the scan hung on a link loop or a FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = scan(&[dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["objects"], 1, "each object once, however many links lead to it");
    assert_eq!(report["lines"], 139);
    assert_eq!(report["skipped_objects"], 4);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "renamed.log.gz: name does not follow",
        "x.log.gz: not a regular file",
        "logs/self: directory already scanned",
        "logs/up: directory already scanned",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Skipped 4 files or objects"), "{text}");
}

#[test]
fn nothing_to_scan_says_so_with_the_nothing_usable_status() {
    let dir = temp("none");
    std::fs::write(dir.join("notes.log"), b"x").unwrap();
    let out = scan(&[dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(3), "3: nothing usable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no ALB access-log objects") && stderr.contains("1 skipped"),
        "{stderr}"
    );
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = temp("quiet");
    sixteen_objects(&dir);
    let out = scan(&["--format", "json", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn progress_bar_on_a_terminal_unless_quiet() {
    // `script` gives the scan a pseudo-terminal, as an SRE's shell would.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` not installed");
        return;
    }
    let dir = temp("tty");
    sixteen_objects(&dir);
    let run = |extra: &str| {
        let command = format!(
            "{} scan --jobs 1 {extra} --format json {} >/dev/null",
            env!("CARGO_BIN_EXE_alb-keepalive"),
            dir.display()
        );
        let out = Command::new("script").args(["-qec", &command, "/dev/null"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (shown, quiet) = (run(""), run("--quiet"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(shown.contains("/16 objects"), "{shown:?}");
    assert!(!quiet.contains("objects"), "{quiet:?}");
}

const RACE_WITH_MARKUP: &str = "\
http 2026-11-27T09:30:00.003000Z app/web/50dc6c495c0c9188 203.0.113.9:5123 10.0.1.23:3000 0.000 0.003 0.000 304 304 723 679 \"GET http://web:80/poll HTTP/1.1\" \"curl/8.5.0\" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 \"Root=1-6746e5a5-0123456789abcdef01234567\" \"-\" \"-\" 0 2026-11-27T09:30:00.000000Z \"forward\" \"-\" \"-\"
http 2026-11-27T09:30:05.003000Z app/web/50dc6c495c0c9188 203.0.113.9:5124 10.0.1.23:3000 0.000 0.000 -1 502 - 723 679 \"GET http://web:80/poll?<b>x</b> HTTP/1.1\" \"<script>alert(1)</script>\u{1b}[31m\" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 \"Root=1-6746e5a5-0123456789abcdef01234568\" \"-\" \"-\" 0 2026-11-27T09:30:05.003000Z \"forward\" \"-\" \"-\"
";

#[test]
fn html_report_is_self_contained_and_escapes_the_log() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alb-keepalive"))
        .args(["scan", "--format", "html", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(RACE_WITH_MARKUP.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script") && !html.contains("<b>x"), "log text reached the markup");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;\u{FFFD}[31m"));
    assert!(!html.contains('\u{1b}'));
    for needle in [
        "keep-alive race</span>",
        "estimated backend keep-alive 5000 ms",
        "per 5 minutes",
        "<td>10.0.1.23:3000</td>",
        "server.keepAliveTimeout = 65000",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    for external in ["src=", "href=", "url(", "@import", "<link"] {
        assert!(!html.contains(external), "{external} in a self-contained page");
    }
}

#[test]
fn html_report_renders_in_chromium() {
    let has_chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    if !has_chromium {
        eprintln!("skipped: no Chromium (apt-get install -y chromium)");
        return;
    }
    let dir = temp("chromium");
    sixteen_objects(&dir);
    let out = scan(&["--format", "html", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let html = repo().join("target/html-check/sixteen-objects.html");
    std::fs::create_dir_all(html.parent().unwrap()).unwrap();
    std::fs::write(&html, &out.stdout).unwrap();
    let shot = html.with_extension("png");
    let check =
        Command::new(repo().join("scripts/html-check")).arg(&html).arg(&shot).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}
