//! `alb-bench`: the numbers behind the README's performance claims, rerunnable by anyone.
//!
//! It generates a realistic corpus with `alb-loggen` (plain text and gzip, same content), then
//! measures, best of N runs:
//!
//! * the best single-thread gunzip of the library the scanner uses (flate2 + zlib-rs with
//!   run-time CPU detection, several read sizes, the best kept): the ceiling for a scan,
//! * the full scan of the `.log.gz` on one core (gunzip + lines + records + findings),
//! * the same scan on two cores, decompression and parsing pipelined
//!   (`LineReader::pipelined`),
//! * peers for context: `zcat` and `pigz -d` to /dev/null, when installed,
//! * the best gunzip and the one-core scan of the same corpus compressed by GNU gzip -6, when
//!   installed: how fast an object inflates depends on the compressor that made it,
//! * parse + diagnose of the plain text already in memory (the engine without I/O),
//! * peak RSS of the real `alb-keepalive scan` process on the `.log.gz` (one and two cores),
//! * `--jobs` scaling of the real binary on a directory of 16 objects.
//!
//! Throughput is uncompressed bytes per second, so the speeds compare directly.

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
    /// The `alb-keepalive` binary whose peak RSS and `--jobs` scaling are measured.
    #[arg(long, default_value = "target/release/alb-keepalive")]
    scanner: PathBuf,
    /// Objects in the `--jobs` directory (together as large as the corpus).
    #[arg(long, default_value_t = 16)]
    objects: u64,
}

const MB: f64 = 1_000_000.0;

fn main() -> Result<()> {
    let args = Args::parse();
    set_cores(1);
    std::fs::create_dir_all(&args.dir)?;
    let plain = args.dir.join(format!("corpus-{}mb.log", args.size_mb));
    let gzip = args.dir.join(format!("corpus-{}mb.log.gz", args.size_mb));
    let summary = ensure_corpus(&plain, &gzip, args.size_mb)?;
    let many = ensure_objects(&args.dir, args.size_mb, args.objects)?;
    // First, while this process is still small: the kernel folds the parent's high-water mark
    // into a spawned child's peak RSS, so measuring later would report our corpus, not the scan.
    let own_rss_kb = own_peak_rss_kb();
    let (rss_kb, cli_time) = peak_rss(&args.scanner, &gzip, 1)?;
    set_cores(2);
    let (rss2_kb, cli2_time) = peak_rss(&args.scanner, &gzip, 2)?;
    set_cores(1);
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

    let (gunzip, gunzip_read) = best_gunzip(args.runs, &gzip, text.len())?;
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
    set_cores(2);
    let scan_pipelined = best(args.runs, || {
        let lines = alb_lines::LineReader::pipelined(File::open(&gzip)?, options.read)?;
        let d = alb_findings::diagnose_lines(lines, &options)?;
        anyhow::ensure!(d.lines == summary.0);
        Ok(())
    })?;
    set_cores(1);
    let parse_plain = best(args.runs, || {
        let d = alb_findings::diagnose(&text[..], &options)?;
        anyhow::ensure!(d.lines == summary.0);
        Ok(())
    })?;
    // The same one-core stages by CPU time, for machines that are not idle.
    let gunzip_cpu = least_cpu(args.runs, || {
        let mut decoder = flate2::read::MultiGzDecoder::new(File::open(&gzip)?);
        let mut buffer = vec![0u8; gunzip_read];
        while decoder.read(&mut buffer)? > 0 {}
        Ok(())
    })?;
    let scan_cpu = least_cpu(args.runs, || {
        alb_findings::diagnose(File::open(&gzip)?, &options)?;
        Ok(())
    })?;
    let parse_cpu = least_cpu(args.runs, || {
        alb_findings::diagnose(&text[..], &options)?;
        Ok(())
    })?;
    // Where the one-core scan's time goes: each stage added to the one before, by CPU time.
    let lines_cpu = least_cpu(args.runs, || {
        let mut lines = alb_lines::LineReader::new(File::open(&gzip)?, options.read)?;
        while lines.next_line()?.is_some() {}
        Ok(())
    })?;
    let records_cpu = least_cpu(args.runs, || {
        let mut lines = alb_lines::LineReader::new(File::open(&gzip)?, options.read)?;
        let mut parser = alb_records::LineParser::default();
        let mut entries = 0u64;
        while let Some(line) = lines.next_line()? {
            entries += u64::from(parser.parse(line.bytes).is_ok());
        }
        anyhow::ensure!(entries == summary.0);
        Ok(())
    })?;
    // The same corpus as GNU gzip compresses it (the classic zlib deflate): which compressor made
    // an object changes how fast it inflates, and so the ratio of a scan to its gunzip.
    let gnu = match gnu_gzip(&plain) {
        Some(gnu) => {
            let (gunzip, _) = best_gunzip(args.runs, &gnu, text.len())?;
            let scan = best(args.runs, || {
                let d = alb_findings::diagnose(File::open(&gnu)?, &options)?;
                anyhow::ensure!(d.lines == summary.0);
                Ok(())
            })?;
            Some((gunzip, scan))
        }
        None => None,
    };
    let zcat = peer(args.runs, "zcat", &[], &gzip);
    let pigz = peer(args.runs, "pigz", &["-d", "-c"], &gzip);
    drop(text);

    let speed = |d: Duration| bytes / MB / d.as_secs_f64();
    let (g, s, s2, p) = (speed(gunzip), speed(scan_gz), speed(scan_pipelined), speed(parse_plain));
    println!("{:<52} {:>8}", "measurement (best of runs)", "MB/s");
    println!(
        "{:<52} {:>8.0}   ({} KiB reads)",
        "(a) best gunzip, one core (flate2 + zlib-rs, runtime detection)",
        g,
        gunzip_read >> 10
    );
    println!(
        "{:<52} {:>8.0}   {:.3} of (a) (target >= 0.70)",
        "(b) full scan of .log.gz, one core",
        s,
        s / g
    );
    println!(
        "{:<52} {:>8.0}   {:.3} of (a) (target >= 0.90)",
        "(c) full scan of .log.gz, two cores (pipelined)",
        s2,
        s2 / g
    );
    println!("{:<52} {:>8.0}   (target >= 1000)", "(d) parse + diagnose, plain text in memory", p);
    match gnu {
        Some((gunzip, scan)) => println!(
            "(b') the corpus compressed by GNU gzip -6 instead: best gunzip {:.0}, one-core scan {:.0} MB/s = {:.3} of that gunzip",
            speed(gunzip),
            speed(scan),
            speed(scan) / speed(gunzip)
        ),
        None => println!("(b') the corpus compressed by GNU gzip -6: gzip absent"),
    }
    let (gc, sc, pc) = (speed(gunzip_cpu), speed(scan_cpu), speed(parse_cpu));
    println!(
        "by CPU time (one thread): gunzip {gc:.0}, scan {sc:.0} = {:.3} of gunzip, parse {pc:.0} MB/s;",
        sc / gc
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "one-core scan by stage (CPU ms): gunzip {:.0}, + lines {:.0}, + records {:.0}, + findings {:.0}",
        ms(gunzip_cpu),
        ms(lines_cpu.saturating_sub(gunzip_cpu)),
        ms(records_cpu.saturating_sub(lines_cpu)),
        ms(scan_cpu.saturating_sub(records_cpu)),
    );
    println!(
        "    pipelined on two free cores the scan is bounded by the slower thread: {:.0} MB/s = {:.2} of gunzip",
        gc.min(pc),
        gc.min(pc) / gc
    );
    for (name, time) in
        [("zcat > /dev/null, one core", zcat), ("pigz -d > /dev/null, one core", pigz)]
    {
        match time {
            Some(time) => println!("{:<52} {:>8.0}   (peer, for context)", name, speed(time)),
            None => println!("{name:<52} {:>8}", "absent"),
        }
    }
    println!(
        "{:<52} {:>8.1}   MB peak RSS (target <= 32), {:.2} s wall",
        "(e) alb-keepalive scan corpus.log.gz, one core",
        rss_kb as f64 / 1024.0,
        cli_time.as_secs_f64()
    );
    println!(
        "{:<52} {:>8.1}   MB peak RSS (target <= 32), {:.2} s wall",
        "(f) the same, two cores (pipelined)",
        rss2_kb as f64 / 1024.0,
        cli2_time.as_secs_f64()
    );
    println!(
        "    (RSS figures are upper bounds: they include this process's {:.1} MB at spawn)",
        own_rss_kb as f64 / 1024.0
    );

    set_cores(usize::MAX);
    let jobs1 = best(args.runs, || cli(&args.scanner, &many, 1))?;
    let jobs2 = best(args.runs, || cli(&args.scanner, &many, 2))?;
    println!(
        "(g) --jobs on {} objects ({:.0} MB): --jobs 1 {:.2} s, --jobs 2 {:.2} s = {:.2}x (target >= 1.7x on 2 cores)",
        args.objects,
        bytes / MB,
        jobs1.as_secs_f64(),
        jobs2.as_secs_f64(),
        jobs1.as_secs_f64() / jobs2.as_secs_f64()
    );
    Ok(())
}

/// `objects` gzip objects with ALB names, together about `size_mb`, in `<dir>/objects-...`.
fn ensure_objects(dir: &Path, size_mb: u64, objects: u64) -> Result<PathBuf> {
    let target = dir.join(format!("objects-{objects}x-{size_mb}mb"));
    // Beside the directory, not in it: a scan of the directory would count it as skipped.
    let done = target.with_extension("complete");
    if done.exists() {
        return Ok(target);
    }
    eprintln!("generating {objects} objects in {} ...", target.display());
    for i in 0..objects {
        let mut scenario = alb_loggen::Scenario::corpus(size_mb * 1_000_000 / objects.max(1));
        scenario.seed = scenario.seed.wrapping_add(i);
        scenario.node_ip = format!("10.0.{}.{}", i / 200, 10 + i % 200);
        let path = target.join(alb_loggen::object_key(&scenario));
        std::fs::create_dir_all(path.parent().context("object key has a directory")?)?;
        let encoder = flate2::write::GzEncoder::new(
            BufWriter::new(File::create(&path)?),
            flate2::Compression::default(),
        );
        alb_loggen::write_log(&scenario, encoder)?;
    }
    std::fs::write(&done, b"")?;
    Ok(target)
}

fn cli(scanner: &Path, dir: &Path, jobs: u32) -> Result<()> {
    let status = Command::new(scanner)
        .args(["scan", "--quiet", "--format", "json", "--jobs", &jobs.to_string()])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "scanner failed: {status}");
    Ok(())
}

/// The best single-thread gunzip of `gzip` and its read size: the read size matters a little,
/// so several are tried. The output must be `len` bytes.
fn best_gunzip(runs: u32, gzip: &Path, len: usize) -> Result<(Duration, usize)> {
    let mut gunzip = (Duration::MAX, 0);
    for read_size in [32 << 10, 128 << 10, 1 << 20] {
        let time = best(runs, || {
            let mut decoder = flate2::read::MultiGzDecoder::new(File::open(gzip)?);
            let mut buffer = vec![0u8; read_size];
            let mut total = 0usize;
            loop {
                let n = decoder.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                total += n;
            }
            anyhow::ensure!(total == len, "gunzip gave {total} bytes");
            Ok(())
        })?;
        if time < gunzip.0 {
            gunzip = (time, read_size);
        }
    }
    Ok(gunzip)
}

/// `plain` compressed by GNU gzip at its default level, made once beside it; `None` when `gzip`
/// is not installed.
fn gnu_gzip(plain: &Path) -> Option<PathBuf> {
    let target = plain.with_extension("gnu.gz");
    if target.exists() {
        return Some(target);
    }
    let partial = plain.with_extension("gnu.gz.partial");
    let output = File::create(&partial).ok()?;
    let status = Command::new("gzip").args(["-6", "-c"]).arg(plain).stdout(output).status().ok()?;
    if !status.success() {
        return None;
    }
    std::fs::rename(&partial, &target).ok()?;
    Some(target)
}

/// Best time of an external decompressor to /dev/null, if it is installed.
fn peer(runs: u32, program: &str, args: &[&str], gzip: &Path) -> Option<Duration> {
    best(runs, || {
        let status = Command::new(program)
            .args(args)
            .arg(gzip)
            .stdout(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(status.success());
        Ok(())
    })
    .ok()
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

/// CPU time this process has used (all threads, user + system).
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Least CPU time of `runs` runs of `work`: unlike wall time it does not grow when other
/// processes take the cores, so on a busy machine it still compares two single-thread stages.
fn least_cpu(runs: u32, mut work: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut least = Duration::MAX;
    for _ in 0..runs.max(1) {
        let before = process_cpu();
        work()?;
        least = least.min(process_cpu().saturating_sub(before));
    }
    Ok(least)
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
fn peak_rss(scanner: &Path, gzip: &Path, jobs: u32) -> Result<(i64, Duration)> {
    if !scanner.exists() {
        bail!(
            "{} not found: run `cargo build --release -p alb-keepalive` first",
            scanner.display()
        );
    }
    let start = Instant::now();
    let status = Command::new(scanner)
        .args(["scan", "--format", "json", "--jobs", &jobs.to_string()])
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

/// Runs this thread (and what it spawns from now on) on the first `cores` cores; the targets
/// are stated per core.
fn set_cores(cores: usize) {
    // SAFETY: plain syscall on our own thread with a stack-allocated set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        // Not available_parallelism: it already honours the mask set before.
        let available = usize::try_from(libc::sysconf(libc::_SC_NPROCESSORS_ONLN)).unwrap_or(1);
        for cpu in 0..cores.min(available).max(1) {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}
