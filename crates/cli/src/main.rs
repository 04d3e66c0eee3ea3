//! `alb-keepalive`: scan ALB access logs for the keep-alive 502 race and print the cure.
//!
//! The binary only wires the stages together (inputs -> `alb_findings::diagnose` per object ->
//! merged diagnosis -> remedies from `alb_plan` -> text or JSON); the work is in the libraries.

mod args;
mod filter;
mod html;
mod inputs;
mod progress;
mod render;
mod report;
mod s3;
mod scan;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::args::{Cli, Command, Format, ScanArgs};
use crate::inputs::Input;
use crate::progress::Progress;
use crate::scan::Scanner;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if error.chain().any(|cause| {
                cause
                    .downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("alb-keepalive: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Scan(args) => scan(&args),
    }
}

fn scan(args: &ScanArgs) -> Result<()> {
    let options = args.options();
    let policy = args.policy();
    policy.validate().context("invalid margins")?;
    let filter = args.filter();
    let (mut inputs, remote) = inputs::expand(&args.paths, &filter)?;
    let s3 = if remote.is_empty() { None } else { Some(s3::S3::new()?) };
    if let Some(s3) = &s3 {
        for location in &remote {
            s3.list(location, &filter, &mut inputs)?;
        }
    }
    if args.verbose {
        for skipped in &inputs.skipped {
            eprintln!("skipped {}: {}", skipped.name, skipped.reason);
        }
    }
    if inputs.objects.is_empty() {
        let given: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!(
            "no ALB access-log objects to scan in {} ({} skipped{})",
            given.join(", "),
            inputs.skipped.len(),
            if args.verbose || inputs.skipped.is_empty() { "" } else { "; --verbose names them" }
        );
    }

    let stored_bytes = inputs.objects.iter().map(stored_size).sum();
    let scanner = Scanner {
        options,
        jobs: args.jobs(),
        s3: s3.as_ref(),
        progress: Progress::new(inputs.objects.len(), stored_bytes, args.quiet),
    };
    let scanned = scanner.run(&inputs.objects)?;
    if !scanned.failed.is_empty() {
        let failures: Vec<String> =
            scanned.failed.iter().map(|f| format!("  {}: {:#}", f.name, f.error)).collect();
        anyhow::bail!(
            "{} of {} objects could not be read to the end, so there is no report:\n{}",
            scanned.failed.len(),
            inputs.objects.len(),
            failures.join("\n")
        );
    }
    let diagnosis = scanned.diagnosis;

    let mut report =
        report::Report::new(inputs.objects.len(), &diagnosis, args.idle_timeout, &policy)?;
    report.skipped_objects = inputs.skipped.len();
    let mut stdout = io::stdout().lock();
    match args.format {
        Format::Text => stdout.write_all(render::text(&report).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            stdout.write_all(b"\n")?;
        }
        Format::Html => stdout.write_all(html::page(&report).as_bytes())?,
    }
    stdout.flush()?;
    Ok(())
}

/// Stored size of an object, for the progress bar (0 when unknown).
fn stored_size(input: &Input) -> u64 {
    match input {
        Input::Stdin => 0,
        Input::File(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        Input::S3(object) => object.size,
    }
}
