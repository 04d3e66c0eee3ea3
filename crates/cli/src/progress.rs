//! The progress bar on stderr: objects, stored bytes read, speed and ETA. Drawn only for scans
//! of more than one object when stderr is a terminal and `--quiet` is not given, so pipes, CI
//! logs and redirected output never see it.

use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `total_bytes` are the stored (compressed) sizes of the objects.
    pub fn new(objects: usize, total_bytes: u64, quiet: bool) -> Progress {
        if quiet || objects < 2 || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{bar:30} {msg} objects  {binary_bytes}/{binary_total_bytes}  {binary_bytes_per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(format!("0/{objects}"));
        Progress { bar: Some(bar) }
    }

    /// Wraps an object's reader so that what it reads moves the bar.
    /// `counted` adds up the bytes, to take them back if the attempt fails.
    pub fn reader<R: Read>(&self, inner: R, counted: Arc<AtomicU64>) -> Counting<R> {
        Counting { inner, bar: self.bar.clone(), counted }
    }

    /// One more object done, of `objects`.
    pub fn object_done(&self, done: usize, objects: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{done}/{objects}"));
        }
    }

    /// Takes back bytes counted by a failed attempt that will be read again.
    pub fn unread(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bar.position().saturating_sub(bytes));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
    counted: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counted.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
