//! The `alb-loggen` binary end to end: flags reach the scenario, gzip output decodes, the
//! summary goes to stderr, and bad input fails with a message instead of a panic.

use std::io::Read;
use std::process::{Command, Output};

fn loggen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alb-loggen")).args(args).output().expect("spawn alb-loggen")
}

#[test]
fn incident_gzip_to_a_file_decodes_and_reports_races() {
    let dir = std::env::temp_dir().join(format!("alb-loggen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("incident.log.gz");
    let out = loggen(&["incident", "--gzip", "--out", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keep-alive race 502s"), "{stderr}");
    let gz = std::fs::read(&path).expect("output file");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_string(&mut text).expect("gunzip");
    assert!(text.lines().count() > 50);
    assert!(text.contains(" -1 502 - "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn print_key_honours_overrides() {
    let out = loggen(&[
        "healthy",
        "--print-key",
        "--load-balancer",
        "app/api/0123456789abcdef",
        "--account",
        "111122223333",
        "--region",
        "eu-west-1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8_lossy(&out.stdout);
    assert!(
        key.starts_with(
            "AWSLogs/111122223333/elasticloadbalancing/eu-west-1/2026/11/27/111122223333_elasticloadbalancing_eu-west-1_app.api.0123456789abcdef_20261127T0935Z_10.0.1.5_"
        ),
        "{key}"
    );
    assert!(key.trim_end().ends_with(".log.gz"));
}

#[test]
fn overrides_reach_the_lines() {
    let out = loggen(&[
        "incident",
        "--targets",
        "10.9.0.1:8080",
        "--keepalive-ms",
        "65000",
        "--duration-s",
        "60",
        "--seed",
        "7",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().all(|l| l.contains(" 10.9.0.1:8080 ") || l.contains(" - -1 ")));
    assert!(String::from_utf8_lossy(&out.stderr).contains(" 0 keep-alive race 502s"));
}

#[test]
fn bad_input_fails_with_a_message() {
    for args in [
        &["incident", "--load-balancer", "net/x/y"][..],
        &["incident", "--targets", "10.0.0.1"][..],
        &["incident", "--target-group-arn", "arn:aws:s3:::bucket"][..],
        &["incident", "--account", "12"][..],
        &["corpus"][..],
    ] {
        let out = loggen(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!out.stderr.is_empty(), "{args:?} printed nothing");
    }
}
