//! `alb-keepalive`: scan ALB access logs for the keep-alive 502 race and print the cure.
//!
//! The binary only wires the stages together (inputs -> `alb_findings::diagnose` per object ->
//! merged diagnosis -> remedies from `alb_plan` -> text or JSON); the work is in the libraries.

mod args;
mod escape;
mod filter;
mod html;
mod inputs;
mod notes;
mod progress;
mod render;
mod report;
mod s3;
mod scan;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command, Format, ScanArgs};
use crate::inputs::Input;
use crate::progress::Progress;
use crate::scan::Scanner;

/// What a finished run tells the shell (errors exit with 2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Done,
    /// `--fail-on-race` and at least one load balancer has the race.
    RaceFound,
    /// The scan worked but read nothing to judge by: no access-log object, or no valid entry.
    NothingUsable(String),
}

/// `--fail-on-race` found a keep-alive race.
const EXIT_RACE_FOUND: u8 = 1;
/// The scan read nothing to judge by.
const EXIT_NOTHING_USABLE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::RaceFound) => ExitCode::from(EXIT_RACE_FOUND),
        Ok(Outcome::NothingUsable(why)) => {
            eprintln!("alb-keepalive: {}", escape::escape(&why));
            ExitCode::from(EXIT_NOTHING_USABLE)
        }
        Err(error) => {
            if error.chain().any(|cause| {
                cause
                    .downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("alb-keepalive: {}", escape::escape(&one_sentence(&error)));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes in one line, each cause once: the library errors already include
/// their cause in their own message, so printing the whole chain would repeat it.
fn one_sentence(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Scan(args) => scan(&args),
        Command::Completions { shell } => {
            let mut stdout = io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "alb-keepalive", &mut stdout);
            stdout.flush()?;
            Ok(Outcome::Done)
        }
    }
}

fn scan(args: &ScanArgs) -> Result<Outcome> {
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
            eprintln!(
                "skipped {}: {}",
                escape::escape(&skipped.name),
                escape::escape(&skipped.reason)
            );
        }
    }
    if inputs.objects.is_empty() {
        let given: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        return Ok(Outcome::NothingUsable(format!(
            "no ALB access-log objects to scan in {} ({} skipped{}); nothing was diagnosed",
            given.join(", "),
            inputs.skipped.len(),
            if args.verbose || inputs.skipped.is_empty() { "" } else { "; --verbose names them" }
        )));
    }
    let notes: Vec<String> = inputs.objects.iter().filter_map(notes::gzip_name_mismatch).collect();

    let stored_bytes = inputs.objects.iter().map(stored_size).sum();
    let scanner = Scanner {
        options,
        jobs: args.jobs(),
        s3: s3.as_ref(),
        progress: Progress::new(inputs.objects.len(), stored_bytes, args.quiet),
    };
    let scanned = scanner.run(&inputs.objects)?;
    match scanned.failed.as_slice() {
        [] => {}
        [failed] => anyhow::bail!("cannot read {}: {}", failed.name, one_sentence(&failed.error)),
        failed => {
            let each: Vec<String> =
                failed.iter().map(|f| format!("{}: {}", f.name, one_sentence(&f.error))).collect();
            anyhow::bail!(
                "{} of {} objects could not be read to the end, so there is no report: {}",
                failed.len(),
                inputs.objects.len(),
                each.join("; ")
            );
        }
    }
    let diagnosis = scanned.diagnosis;

    let mut report =
        report::Report::new(inputs.objects.len(), notes, &diagnosis, args.idle_timeout, &policy)?;
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
    if let Some(why) = notes::nothing_usable(inputs.objects.len(), &diagnosis) {
        return Ok(Outcome::NothingUsable(why));
    }
    let racing = diagnosis
        .load_balancers
        .iter()
        .any(|lb| lb.verdict == alb_findings::Verdict::KeepaliveRace);
    Ok(if args.fail_on_race && racing { Outcome::RaceFound } else { Outcome::Done })
}

/// Stored size of an object, for the progress bar (0 when unknown).
fn stored_size(input: &Input) -> u64 {
    match input {
        Input::Stdin => 0,
        Input::File(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        Input::S3(object) => object.size,
    }
}
