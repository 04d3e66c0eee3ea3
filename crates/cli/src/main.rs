//! `alb-keepalive`: scan ALB access logs for the keep-alive 502 race and print the cure.
//!
//! The binary only wires the stages together (inputs -> `alb_findings::diagnose` per object ->
//! merged diagnosis -> remedies from `alb_plan` -> text or JSON); the work is in the libraries.

mod args;
mod inputs;
mod render;
mod report;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command, Format, ScanArgs};
use crate::inputs::Input;

/// What a finished run tells the shell (errors exit with 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    /// `--fail-on-race` and at least one load balancer has the race.
    RaceFound,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::RaceFound) => ExitCode::from(1),
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
    let inputs = inputs::expand(&args.paths)?;
    let options = args.options();
    let policy = args.policy();
    policy.validate().context("invalid margins")?;

    let mut diagnosis = alb_findings::Diagnosis::empty(&options.detect);
    for input in &inputs {
        let mut object = match input {
            Input::Stdin => alb_findings::diagnose(io::stdin().lock(), &options),
            Input::File(path) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("{}: cannot open", path.display()))?;
                alb_findings::diagnose(file, &options)
            }
        }
        .with_context(|| input.name())?;
        if inputs.len() > 1 {
            object.set_source(&input.name());
        }
        diagnosis.merge(object);
    }

    let report = report::Report::new(inputs.len(), &diagnosis, args.idle_timeout, &policy)?;
    let mut stdout = io::stdout().lock();
    match args.format {
        Format::Text => stdout.write_all(render::text(&report).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            stdout.write_all(b"\n")?;
        }
    }
    stdout.flush()?;
    let racing = diagnosis
        .load_balancers
        .iter()
        .any(|lb| lb.verdict == alb_findings::Verdict::KeepaliveRace);
    Ok(if args.fail_on_race && racing { Outcome::RaceFound } else { Outcome::Done })
}
