//! Scanning many objects: `--jobs` workers, each reading one object to its end, and one merge
//! in the order of the inputs, so the report never depends on the number of workers or on
//! which object finishes first.
//!
//! Objects are taken in windows of a few per worker: the diagnoses of one window are merged
//! before the next starts, so memory holds only that many diagnoses (and `jobs` objects in
//! flight), however many objects the scan has.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use alb_findings::{Diagnosis, ReadError};
use alb_lines::LineReader;
use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::inputs::Input;
use crate::progress::Progress;
use crate::s3::S3;

/// Attempts per S3 object: a body cut mid-stream is read again from the start.
const S3_ATTEMPTS: u32 = 3;
/// Objects per worker in one merge window.
const WINDOW_PER_JOB: usize = 4;

pub struct Scanner<'a> {
    pub options: alb_findings::Options,
    pub jobs: usize,
    pub s3: Option<&'a S3>,
    pub progress: Progress,
}

/// An object that could not be read to its end.
#[derive(Debug)]
pub struct Failure {
    pub name: String,
    pub error: anyhow::Error,
}

pub struct Scanned {
    pub diagnosis: Diagnosis,
    pub failed: Vec<Failure>,
}

impl Scanner<'_> {
    pub fn run(&self, objects: &[Input]) -> Result<Scanned> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.jobs)
            .thread_name(|i| format!("alb-keepalive-scan-{i}"))
            .build()
            .context("cannot start the scan workers")?;
        // A core left over per object: decompress on a second thread.
        let pipelined = objects.len().saturating_mul(2) <= self.jobs;
        let name_sources = objects.len() > 1;
        let done = AtomicUsize::new(0);
        let mut diagnosis = Diagnosis::empty(&self.options.detect);
        let mut failed = Vec::new();
        let window = self.jobs.saturating_mul(WINDOW_PER_JOB).max(1);
        for chunk in objects.chunks(window) {
            let results: Vec<Result<Diagnosis>> = pool.install(|| {
                chunk
                    .par_iter()
                    .with_max_len(1)
                    .map(|input| {
                        let result = self.object(input, pipelined);
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        self.progress.object_done(finished, objects.len());
                        result
                    })
                    .collect()
            });
            for (input, result) in chunk.iter().zip(results) {
                match result {
                    Ok(mut object) => {
                        if name_sources {
                            object.set_source(&input.name());
                        }
                        diagnosis.merge(object);
                    }
                    Err(error) => failed.push(Failure { name: input.name(), error }),
                }
            }
        }
        self.progress.finish();
        Ok(Scanned { diagnosis, failed })
    }

    /// One object, read again from the start after a transient failure (S3 only: a local file
    /// that fails will fail the same way).
    fn object(&self, input: &Input, pipelined: bool) -> Result<Diagnosis> {
        let attempts = if matches!(input, Input::S3(_)) { S3_ATTEMPTS } else { 1 };
        let mut attempt = 1;
        loop {
            let counted = Arc::new(AtomicU64::new(0));
            match self.attempt(input, pipelined, &counted) {
                Ok(diagnosis) => return Ok(diagnosis),
                Err(error) if attempt < attempts && transient(&error) => {
                    self.progress.unread(counted.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                    attempt += 1;
                }
                Err(error) if attempts > 1 => {
                    return Err(error.context(format!("failed {attempt} times")));
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn attempt(
        &self,
        input: &Input,
        pipelined: bool,
        counted: &Arc<AtomicU64>,
    ) -> Result<Diagnosis> {
        let source: Box<dyn Read + Send> = match input {
            Input::Stdin => Box::new(std::io::stdin()),
            Input::File(path) => Box::new(std::fs::File::open(path).context("cannot open")?),
            Input::S3(object) => match self.s3 {
                Some(s3) => s3.open(object)?,
                None => anyhow::bail!("no S3 client"),
            },
        };
        let reader = self.progress.reader(source, Arc::clone(counted));
        let options = &self.options;
        let diagnosis = if pipelined {
            alb_findings::diagnose_lines(LineReader::pipelined(reader, options.read)?, options)
        } else {
            alb_findings::diagnose_lines(LineReader::new(reader, options.read)?, options)
        };
        Ok(diagnosis?)
    }
}

/// Worth reading again: anything but an object that is too large or not gzip.
fn transient(error: &anyhow::Error) -> bool {
    !matches!(
        error.downcast_ref::<ReadError>(),
        Some(ReadError::TooLarge { .. } | ReadError::NotGzip { .. })
    )
}
