//! `alb-keepalive`: scan ALB access logs for the keep-alive 502 race and print the cure.
//!
//! The binary only wires the stages together (inputs -> `alb_findings::diagnose` per object ->
//! merged diagnosis -> remedies from `alb_plan` -> text or JSON); the work is in the libraries.

mod args;
mod escape;
mod inputs;
mod notes;
mod render;
mod report;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::args::{Cli, Command, Format, ScanArgs};
use crate::inputs::Input;

/// The scan worked but read nothing to judge by: no access-log object, or no valid entry.
const EXIT_NOTHING_USABLE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Scanned::Usable) => ExitCode::SUCCESS,
        Ok(Scanned::NothingUsable(why)) => {
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

/// Whether the scan read anything to judge by.
enum Scanned {
    Usable,
    NothingUsable(String),
}

fn run(cli: Cli) -> Result<Scanned> {
    match cli.command {
        Command::Scan(args) => scan(&args),
    }
}

fn scan(args: &ScanArgs) -> Result<Scanned> {
    let inputs = inputs::expand(&args.paths)?;
    let options = args.options();
    let policy = args.policy();
    policy.validate().context("invalid margins")?;

    let mut diagnosis = alb_findings::Diagnosis::empty(&options.detect);
    let mut notes = Vec::new();
    for input in &inputs {
        notes.extend(notes::gzip_name_mismatch(input));
        let mut object = match input {
            Input::Stdin => alb_findings::diagnose(io::stdin().lock(), &options),
            Input::File(path) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                alb_findings::diagnose(file, &options)
            }
        }
        .with_context(|| format!("cannot read {}", input.name()))?;
        if inputs.len() > 1 {
            object.set_source(&input.name());
        }
        diagnosis.merge(object);
    }

    let report = report::Report::new(inputs.len(), notes, &diagnosis, args.idle_timeout, &policy)?;
    let mut stdout = io::stdout().lock();
    match args.format {
        Format::Text => stdout.write_all(render::text(&report).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            stdout.write_all(b"\n")?;
        }
    }
    stdout.flush()?;
    Ok(notes::nothing_usable(inputs.len(), &diagnosis)
        .map_or(Scanned::Usable, Scanned::NothingUsable))
}
