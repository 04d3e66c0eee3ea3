//! Command-line flags, parsed once and turned into the libraries' option types here, so the
//! rest of the binary never sees raw flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Find the ALB keep-alive 502 race in access logs and print the cure.
#[derive(Debug, Parser)]
#[command(name = "alb-keepalive", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan access-log objects (plain or gzip) and report per load balancer.
    ///
    /// Exit status: 0 done, 1 with --fail-on-race when a load balancer has the race, 2 error.
    Scan(ScanArgs),
    /// Print a shell completion script, e.g. `alb-keepalive completions bash > ~/.local/share/bash-completion/completions/alb-keepalive`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files (.log, .log.gz or any gzip), directories (walked for ALB access-log objects),
    /// s3://bucket/prefix/ (listed for ALB access-log objects), or - for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Exit with status 1 when any load balancer's verdict is keepalive-race (for pipelines and
    /// cron jobs); the report is printed either way.
    #[arg(long)]
    pub fail_on_race: bool,

    /// The load balancer's current idle timeout (idle_timeout.timeout_seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=4000))]
    pub idle_timeout: u32,

    /// The backend's keep-alive timeout, if known; overrides the estimate from the log.
    #[arg(long, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=alb_plan::MAX_TIMEOUT_MS))]
    pub backend_keepalive_ms: Option<u64>,

    /// Strong race 502s needed to call a load balancer racing.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub race_threshold: u64,

    /// Added to the idle timeout to get keepAliveTimeout (1000 to 600000).
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1000..=alb_plan::MAX_MARGIN_MS))]
    pub keepalive_margin_ms: u64,

    /// Added to keepAliveTimeout to get headersTimeout (1 to 600000).
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=alb_plan::MAX_MARGIN_MS))]
    pub headers_margin_ms: u64,

    /// Taken off the backend keep-alive before choosing a lower idle timeout (0 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(0..=alb_plan::MAX_IDLE_TIMEOUT_MARGIN_MS))]
    pub idle_timeout_margin_ms: u64,

    /// Propose a lower idle timeout even when the logs show requests it would cut (slow
    /// responses, WebSockets, gRPC streams).
    #[arg(long)]
    pub allow_idle_timeout_cuts: bool,

    /// Stop reading an object after this many decompressed bytes (gzip bomb guard).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 30)]
    pub max_uncompressed_bytes: u64,

    /// Objects scanned at once (and S3 objects in flight); default: the available cores.
    /// The report does not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,

    /// Only objects whose 5-minute interval (from the object name) ends after this UTC time:
    /// 2026-11-27, 2026-11-27T09:30 or 2026-11-27T09:30:00Z.
    #[arg(long, value_name = "UTC", value_parser = crate::filter::parse_utc)]
    pub since: Option<i64>,

    /// Only objects whose 5-minute interval (from the object name) starts before this UTC time.
    #[arg(long, value_name = "UTC", value_parser = crate::filter::parse_utc)]
    pub until: Option<i64>,

    /// Only objects of these load balancers (app/<name>/<id> or <name>), by object name.
    #[arg(long, value_name = "LB")]
    pub load_balancer: Vec<String>,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    /// Name every skipped file or object, with the reason, on stderr.
    #[arg(long, short)]
    pub verbose: bool,

    /// Stop reading an object after this many lines.
    #[arg(long, value_name = "N", default_value_t = alb_findings::LineBudget::default().max_lines,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_lines: u64,

    /// Stop reading an object, as not an access log, once more than N of its lines are not
    /// entries and they are at least half of the lines read.
    #[arg(long, value_name = "N",
          default_value_t = alb_findings::LineBudget::default().max_not_entries)]
    pub max_malformed_lines: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people.
    Text,
    /// One JSON document (see the README for the contract).
    Json,
    /// One self-contained HTML page (inline CSS and SVG, no scripts) with charts.
    Html,
}

impl ScanArgs {
    pub fn options(&self) -> alb_findings::Options {
        alb_findings::Options {
            read: alb_lines::Options {
                max_uncompressed_bytes: Some(self.max_uncompressed_bytes),
                ..alb_lines::Options::default()
            },
            detect: alb_findings::DetectOptions {
                race_threshold: self.race_threshold,
                ..alb_findings::DetectOptions::default()
            },
            budget: alb_findings::LineBudget {
                max_lines: self.max_lines,
                max_not_entries: self.max_malformed_lines,
                ..alb_findings::LineBudget::default()
            },
        }
    }

    /// Objects scanned at once.
    pub fn jobs(&self) -> usize {
        self.jobs.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(1)
        })
    }

    /// Which objects to take, by name.
    pub fn filter(&self) -> crate::filter::NameFilter {
        crate::filter::NameFilter {
            since: self.since,
            until: self.until,
            load_balancers: self.load_balancer.clone(),
        }
    }

    pub fn policy(&self) -> alb_plan::Policy {
        alb_plan::Policy {
            keepalive_margin_ms: self.keepalive_margin_ms,
            headers_margin_ms: self.headers_margin_ms,
            idle_timeout_margin_ms: self.idle_timeout_margin_ms,
            backend_keepalive_ms: self.backend_keepalive_ms,
            allow_idle_timeout_cuts: self.allow_idle_timeout_cuts,
            ..alb_plan::Policy::default()
        }
    }
}
