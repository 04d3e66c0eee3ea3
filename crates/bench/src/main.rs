//! `alb-bench`: the numbers behind the README's performance claims, rerunnable by anyone.
//!
//! It generates a realistic corpus with `alb-loggen` (plain text and gzip, same content), then
//! measures on one core, best of N runs:
//!
//! * gunzip alone with the same flate2 backend the scanner uses (the ceiling for a scan),
//! * the full scan of the `.log.gz` (gunzip + lines + records + findings, in process),
//! * parse + diagnose of the plain text already in memory (the engine without I/O),
//! * peak RSS of the real `alb-keepalive scan` process on the `.log.gz`.
//!
//! Throughput is uncompressed bytes per second, so the three speeds compare directly.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Measure gunzip, scan and parse throughput and the scanner's peak RSS")]
struct Args {
    /// Size of the uncompressed corpus in MB.
    #[arg(long, default_value_t = 320)]
    size_mb: u64,
    /// Where the corpus is kept between runs.
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Runs per measurement; the best is reported.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// The `alb-keepalive` binary whose peak RSS is measured.
    #[arg(long, default_value = "target/release/alb-keepalive")]
    scanner: PathBuf,
}

const MB: f64 = 1_000_000.0;

fn main() -> Result<()> {
    let args = Args::parse();
    pin_to_one_core();
    std::fs::create_dir_all(&args.dir)?;
    let plain = args.dir.join(format!("corpus-{}mb.log", args.size_mb));
    let gzip = args.dir.join(format!("corpus-{}mb.log.gz", args.size_mb));
    let summary = ensure_corpus(&plain, &gzip, args.size_mb)?;
    // First, while this process is still small: the kernel folds the parent's high-water mark
    // into a spawned child's peak RSS, so measuring later would report our corpus, not the scan.
    let own_rss_kb = own_peak_rss_kb();
    let (rss_kb, cli_time) = peak_rss(&args.scanner, &gzip)?;
    let text = std::fs::read(&plain).with_context(|| plain.display().to_string())?;
    let bytes = text.len() as f64;
    println!(
        "corpus: {:.0} MB plain, {:.1} MB gzip ({} lines, {} keep-alive 502s, {} other 502s)",
        bytes / MB,
        std::fs::metadata(&gzip)?.len() as f64 / MB,
        summary.0,
        summary.1,
        summary.2
    );

    let gunzip = best(args.runs, || {
        let mut decoder = flate2::read::MultiGzDecoder::new(File::open(&gzip)?);
        let mut buffer = vec![0u8; 128 * 1024];
        let mut total = 0usize;
        loop {
            let n = decoder.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        anyhow::ensure!(total == text.len(), "gunzip gave {total} bytes");
        Ok(())
    })?;
    let options = alb_findings::Options::default();
    let mut found = (0, 0);
    let scan_gz = best(args.runs, || {
        let d = alb_findings::diagnose(File::open(&gzip)?, &options)?;
        found = (d.lines, d.load_balancers.iter().map(|lb| lb.keepalive_502).sum::<u64>());
        Ok(())
    })?;
    anyhow::ensure!(
        found == (summary.0, summary.1),
        "scan found {found:?}, generator wrote {summary:?}"
    );
    let parse_plain = best(args.runs, || {
        let d = alb_findings::diagnose(&text[..], &options)?;
        anyhow::ensure!(d.lines == summary.0);
        Ok(())
    })?;

    let speed = |d: Duration| bytes / MB / d.as_secs_f64();
    let (g, s, p) = (speed(gunzip), speed(scan_gz), speed(parse_plain));
    println!("{:<44} {:>10}", "measurement (one core, best of runs)", "MB/s");
    println!("{:<44} {:>10.0}", "(a) gunzip alone (flate2, zlib-rs)", g);
    println!(
        "{:<44} {:>10.0}   {:.0} % of gunzip (target >= 60 %)",
        "(b) full scan of .log.gz",
        s,
        100.0 * s / g
    );
    println!("{:<44} {:>10.0}   (target >= 1000)", "(c) parse + diagnose, plain text in memory", p);
    println!(
        "{:<44} {:>10.1}   MB peak RSS (target <= 32), {:.2} s wall",
        "(d) alb-keepalive scan corpus.log.gz",
        rss_kb as f64 / 1024.0,
        cli_time.as_secs_f64()
    );
    println!(
        "    (the RSS figure is an upper bound: it includes this process's {:.1} MB at spawn)",
        own_rss_kb as f64 / 1024.0
    );
    Ok(())
}

/// (lines, keep-alive races, other 502s) of the corpus, generating it if needed.
fn ensure_corpus(plain: &Path, gzip: &Path, size_mb: u64) -> Result<(u64, u64, u64)> {
    let scenario = alb_loggen::Scenario::corpus(size_mb * 1_000_000);
    let summary_path = plain.with_extension("summary");
    if let (true, true, Ok(text)) =
        (plain.exists(), gzip.exists(), std::fs::read_to_string(&summary_path))
    {
        let numbers: Vec<u64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        if let [lines, races, others] = numbers[..] {
            return Ok((lines, races, others));
        }
    }
    eprintln!("generating {} and {} ...", plain.display(), gzip.display());
    let summary = alb_loggen::write_log(&scenario, BufWriter::new(File::create(plain)?))?;
    let encoder = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(gzip)?),
        flate2::Compression::default(),
    );
    let again = alb_loggen::write_log(&scenario, encoder)?;
    if again.lines != summary.lines {
        bail!("generator is not deterministic");
    }
    let result = (summary.lines, summary.keepalive_502, summary.other_502);
    std::fs::write(&summary_path, format!("{} {} {}\n", result.0, result.1, result.2))?;
    Ok(result)
}

fn best(runs: u32, mut work: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        work()?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

/// Peak resident set of the scanner process, from the kernel's own accounting of the child.
fn peak_rss(scanner: &Path, gzip: &Path) -> Result<(i64, Duration)> {
    if !scanner.exists() {
        bail!(
            "{} not found: run `cargo build --release -p alb-keepalive` first",
            scanner.display()
        );
    }
    let start = Instant::now();
    let status = Command::new(scanner)
        .args(["scan", "--format", "json"])
        .arg(gzip)
        .stdout(std::process::Stdio::null())
        .status()?;
    let elapsed = start.elapsed();
    anyhow::ensure!(status.success(), "scanner failed: {status}");
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    Ok((usage.ru_maxrss, elapsed))
}

/// This process's own peak RSS so far (VmHWM), in KiB.
fn own_peak_rss_kb() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Measures on one core, as the targets are stated; the child scanner inherits the mask.
fn pin_to_one_core() {
    // SAFETY: plain syscall on our own process with a stack-allocated set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
