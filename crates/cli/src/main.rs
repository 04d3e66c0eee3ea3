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
use clap::Parser;

use crate::args::{Cli, Command, Format, ScanArgs};
use crate::inputs::Input;

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
    Ok(())
}
