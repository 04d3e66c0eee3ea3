//! `alb-loggen`: writes a simulated ALB access-log object (plain or gzip) from a preset
//! scenario with optional overrides, for sample data, benchmark corpora and manual checks.
//!
//! The binary only translates flags into a [`Scenario`] and reports the [`alb_loggen::Summary`];
//! the simulation lives in the library so tests can use it without spawning processes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use alb_loggen::{Scenario, Summary, TargetGroup, object_key, write_log};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;

#[derive(Parser, Debug)]
#[command(
    name = "alb-loggen",
    version,
    about = "Simulate one ALB node writing an access-log object, keep-alive race included",
    long_about = "Simulate one ALB node writing an access-log object. The backend keep-alive \
                  race (502 with response_processing_time -1) arises from the modelled \
                  connection pools, next to refused connections, app 502s and other failures. \
                  A one-line summary goes to stderr."
)]
struct Cli {
    #[command(subcommand)]
    preset: Preset,
}

#[derive(Subcommand, Debug)]
enum Preset {
    /// Node's 5 s keep-alive behind a 60 s ALB idle timeout, a dashboard polling every 5 s:
    /// several race 502s, two refused connections, one app 502.
    Incident(Common),
    /// The same service after the fix (keep-alive 65 s): no race, the other 502s remain.
    Healthy(Common),
    /// A busy node for benchmarks: 40 targets in 3 target groups, ~0.1 % 502s.
    Corpus {
        /// Approximate size of the text, in MB (10^6 bytes).
        #[arg(long, value_name = "N")]
        size_mb: u64,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Debug)]
struct Common {
    /// Compress with gzip (default level), as ALB objects are.
    #[arg(long)]
    gzip: bool,
    /// Output file, or `-` for stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    out: String,
    /// Print the S3 object key this scenario would be delivered under, and write no log.
    #[arg(long)]
    print_key: bool,
    /// Load balancer id, `app/NAME/ID`.
    #[arg(long, value_name = "app/NAME/ID")]
    load_balancer: Option<String>,
    /// Target group ARN; repeat for several groups (replaces the preset's groups in order).
    #[arg(long = "target-group-arn", value_name = "ARN")]
    target_group_arns: Vec<String>,
    /// Targets of a group as `ip:port,ip:port`; the n-th occurrence applies to the n-th group.
    #[arg(long = "targets", value_name = "IP:PORT,...")]
    targets: Vec<String>,
    /// True backend keep-alive in ms (Node's keepAliveTimeout).
    #[arg(long, value_name = "MS")]
    keepalive_ms: Option<u64>,
    /// ALB idle timeout in seconds.
    #[arg(long, value_name = "S")]
    idle_timeout: Option<u64>,
    /// Random seed (same seed, same bytes).
    #[arg(long)]
    seed: Option<u64>,
    /// 12-digit AWS account id.
    #[arg(long)]
    account: Option<String>,
    /// AWS region.
    #[arg(long)]
    region: Option<String>,
    /// Simulated interval in seconds.
    #[arg(long, value_name = "S")]
    duration_s: Option<u64>,
    /// IP of the ALB node.
    #[arg(long, value_name = "IP")]
    node_ip: Option<String>,
    /// Start of the simulated interval, `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("alb-loggen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let (scenario, common) = match cli.preset {
        Preset::Incident(c) => (Scenario::incident(), c),
        Preset::Healthy(c) => (Scenario::healthy(), c),
        Preset::Corpus { size_mb, common } => {
            let bytes = size_mb.checked_mul(1_000_000).context("--size-mb too large")?;
            (Scenario::corpus(bytes), common)
        }
    };
    let scenario = apply_overrides(scenario, &common)?;
    if common.print_key {
        println!("{}", object_key(&scenario));
        return Ok(());
    }
    let summary = if common.out == "-" {
        emit(&scenario, io::stdout().lock(), common.gzip)
    } else {
        let file = File::create(&common.out).with_context(|| format!("creating {}", common.out))?;
        emit(&scenario, BufWriter::with_capacity(1 << 20, file), common.gzip)
            .with_context(|| format!("writing {}", common.out))
    }?;
    eprintln!("{}", summary_line(&summary));
    Ok(())
}

fn emit<W: Write>(scenario: &Scenario, out: W, gzip: bool) -> Result<Summary> {
    if gzip {
        let mut enc = GzEncoder::new(out, Compression::default());
        let summary = write_log(scenario, &mut enc)?;
        enc.finish()?.flush()?;
        Ok(summary)
    } else {
        Ok(write_log(scenario, out)?)
    }
}

fn summary_line(s: &Summary) -> String {
    format!(
        "alb-loggen: {} lines, {} bytes, {} keep-alive race 502s, {} other 502s \
         (refused {}, app {}, lambda {}), 504 {}, 460 {}, 400 {}; backend keep-alive {} ms",
        s.lines,
        s.bytes,
        s.keepalive_502,
        s.other_502,
        s.refused_502,
        s.app_502,
        s.lambda_502,
        s.gateway_timeout_504,
        s.client_closed_460,
        s.malformed_400,
        s.backend_keepalive_ms
    )
}

fn apply_overrides(mut sc: Scenario, c: &Common) -> Result<Scenario> {
    if let Some(lb) = &c.load_balancer {
        let (name, id) = parse_load_balancer(lb)?;
        sc.load_balancer_name = name;
        sc.load_balancer_id = id;
    }
    if !c.target_group_arns.is_empty() {
        let mut groups = Vec::with_capacity(c.target_group_arns.len());
        for (i, arn) in c.target_group_arns.iter().enumerate() {
            let a = parse_target_group_arn(arn)?;
            for (what, given, from_arn) in
                [("--account", &c.account, &a.account), ("--region", &c.region, &a.region)]
            {
                if given.as_ref().is_some_and(|g| g != from_arn) {
                    bail!(
                        "{what} {} disagrees with target group ARN {arn}",
                        given.as_deref().unwrap_or("")
                    );
                }
            }
            if i > 0 && (a.account != sc.account_id || a.region != sc.region) {
                bail!("target group ARNs must share one account and region: {arn}");
            }
            sc.partition = a.partition;
            sc.region = a.region;
            sc.account_id = a.account;
            let mut tg = sc.target_groups.get(i).cloned().unwrap_or_else(|| TargetGroup {
                targets: (0..2).map(|j| format!("10.0.{}.{}:3000", 10 + i, 20 + j)).collect(),
                ..sc.target_groups[0].clone()
            });
            tg.name = a.name;
            tg.id = a.id;
            groups.push(tg);
        }
        sc.target_groups = groups;
    }
    if c.targets.len() > sc.target_groups.len() {
        bail!(
            "{} --targets lists for {} target group(s); give one --target-group-arn per list",
            c.targets.len(),
            sc.target_groups.len()
        );
    }
    for (i, list) in c.targets.iter().enumerate() {
        let targets = list
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .map(parse_target)
            .collect::<Result<Vec<_>>>()?;
        if targets.is_empty() {
            bail!("--targets {list:?} names no target");
        }
        sc.target_groups[i].targets = targets;
    }
    if let Some(v) = &c.account {
        if v.len() != 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account must be 12 digits, got {v:?}");
        }
        sc.account_id = v.clone();
    }
    if let Some(v) = &c.region {
        sc.region = v.clone();
    }
    if let Some(v) = c.keepalive_ms {
        sc.backend_keepalive_ms = v;
    }
    if let Some(v) = c.idle_timeout {
        sc.alb_idle_timeout_s = v;
    }
    if let Some(v) = c.seed {
        sc.seed = v;
    }
    if let Some(v) = c.duration_s {
        sc.duration_s = v;
    }
    if let Some(v) = &c.node_ip {
        v.parse::<IpAddr>().with_context(|| format!("--node-ip {v:?}"))?;
        sc.node_ip = v.clone();
    }
    if let Some(v) = &c.start {
        sc.start_unix_s = parse_start(v)
            .with_context(|| format!("--start {v:?}: expected YYYY-MM-DDTHH:MM:SSZ"))?;
    }
    Ok(sc)
}

fn parse_start(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(alb_loggen::unix_seconds(i64::from(year), month, day, hour, minute, second))
}

fn parse_load_balancer(s: &str) -> Result<(String, String)> {
    let mut parts = s.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("app"), Some(name), Some(id), None) if !name.is_empty() && !id.is_empty() => {
            Ok((name.to_string(), id.to_string()))
        }
        _ => bail!("--load-balancer must look like app/NAME/ID, got {s:?}"),
    }
}

struct TgArn {
    partition: String,
    region: String,
    account: String,
    name: String,
    id: String,
}

fn parse_target_group_arn(s: &str) -> Result<TgArn> {
    let fields: Vec<&str> = s.splitn(6, ':').collect();
    let bad = || format!("not a target group ARN: {s:?}");
    let [arn, partition, service, region, account, resource] = fields[..] else {
        bail!(bad());
    };
    if arn != "arn" || service != "elasticloadbalancing" || region.is_empty() {
        bail!(bad());
    }
    let mut res = resource.split('/');
    match (res.next(), res.next(), res.next(), res.next()) {
        (Some("targetgroup"), Some(name), Some(id), None) if !name.is_empty() && !id.is_empty() => {
            Ok(TgArn {
                partition: partition.to_string(),
                region: region.to_string(),
                account: account.to_string(),
                name: name.to_string(),
                id: id.to_string(),
            })
        }
        _ => bail!(bad()),
    }
}

/// `ip:port` with the port after the last colon; `[v6]:port` is accepted and written
/// unbracketed, as the ALB does.
fn parse_target(s: &str) -> Result<String> {
    let s = s.trim();
    let (ip, port) = s.rsplit_once(':').with_context(|| format!("target {s:?} needs ip:port"))?;
    let ip = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')).unwrap_or(ip);
    let ip: IpAddr = ip.parse().with_context(|| format!("target {s:?}: bad IP"))?;
    let port: u16 = port.parse().with_context(|| format!("target {s:?}: bad port"))?;
    Ok(format!("{ip}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_overrides() -> Result<()> {
        assert_eq!(parse_load_balancer("app/a/b")?, ("a".into(), "b".into()));
        assert!(parse_load_balancer("net/a/b").is_err());
        assert!(parse_load_balancer("app/a/b/c").is_err());
        let a = parse_target_group_arn(
            "arn:aws-cn:elasticloadbalancing:cn-north-1:111122223333:targetgroup/tg/0123456789abcdef",
        )?;
        assert_eq!((a.partition.as_str(), a.region.as_str()), ("aws-cn", "cn-north-1"));
        assert_eq!((a.name.as_str(), a.id.as_str()), ("tg", "0123456789abcdef"));
        assert!(parse_target_group_arn("arn:aws:s3:::bucket").is_err());
        assert_eq!(parse_target("10.0.0.1:80")?, "10.0.0.1:80");
        assert_eq!(parse_target("[2600:1f18::5]:8080")?, "2600:1f18::5:8080");
        assert_eq!(parse_target("2600:1f18::5:8080")?, "2600:1f18::5:8080");
        assert!(parse_target("10.0.0.1").is_err());
        Ok(())
    }

    #[test]
    fn overrides_replace_groups_and_targets() -> Result<()> {
        let cli = Cli::try_parse_from([
            "alb-loggen",
            "incident",
            "--target-group-arn",
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/a/0000000000000001",
            "--target-group-arn",
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/b/0000000000000002",
            "--targets",
            "10.1.0.1:80,10.1.0.2:80",
            "--keepalive-ms",
            "4000",
        ])?;
        let Preset::Incident(c) = cli.preset else { bail!("wrong preset") };
        let sc = apply_overrides(Scenario::incident(), &c)?;
        assert_eq!(sc.region, "eu-west-1");
        assert_eq!(sc.account_id, "111122223333");
        assert_eq!(sc.target_groups.len(), 2);
        assert_eq!(sc.target_groups[0].targets, ["10.1.0.1:80", "10.1.0.2:80"]);
        assert_eq!(sc.target_groups[1].name, "b");
        assert_eq!(sc.backend_keepalive_ms, 4000);
        Ok(())
    }
}
