//! The line reader: decompression choice, the size cap and line splitting over one buffer.

use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether the object must be gzip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Gzip when the object starts with the gzip magic bytes, plain text otherwise.
    #[default]
    Detect,
    /// The object must be gzip (ALB always writes `.log.gz`); anything else is
    /// [`ReadError::NotGzip`].
    RequireGzip,
}

/// How to read an object.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Plain or gzip.
    pub compression: Compression,
    /// Stop with [`ReadError::TooLarge`] after this many decompressed bytes.
    pub max_uncompressed_bytes: Option<u64>,
    /// Lines longer than this are cut and flagged [`Line::oversized`]. ALB truncates the user
    /// agent at 8 KB, so real lines stay far below the default of 64 KiB.
    pub max_line_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compression: Compression::Detect,
            max_uncompressed_bytes: None,
            max_line_bytes: 64 * 1024,
        }
    }
}

/// Why an object could not be read to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Gzip was required and the object does not start with the gzip magic bytes.
    #[error("not gzip (starts with {found:02x?}); ALB access-log objects are gzip")]
    NotGzip {
        /// The first bytes of the object (up to two).
        found: Vec<u8>,
    },
    /// The gzip stream ends early or is corrupt.
    #[error(
        "gzip stream is truncated or corrupt after {after_bytes} uncompressed bytes: {}",
        Causes(source)
    )]
    CorruptGzip {
        /// Decompressed bytes read before the failure.
        after_bytes: u64,
        /// What the decoder reported.
        source: io::Error,
    },
    /// The decompressed size passed the configured cap.
    #[error(
        "more than {limit} bytes after decompression; stopped (raise the limit if the object is genuine)"
    )]
    TooLarge {
        /// The cap that was passed.
        limit: u64,
    },
    /// Reading the underlying source failed.
    #[error("read failed after {after_bytes} bytes: {}", Causes(source))]
    Io {
        /// Decompressed bytes read before the failure.
        after_bytes: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The object has more lines than the line budget allows.
    #[error("more than {limit} lines; stopped (raise the line budget if the object is genuine)")]
    TooManyLines {
        /// The budget that was passed.
        limit: u64,
    },
    /// Most lines read so far are not ALB access-log entries: the object is something else,
    /// and reading it to the end would only take time.
    #[error(
        "{not_entries} of the first {lines} lines are not ALB access-log entries (line {first_line}: {first_reason}); stopped: not an ALB access log"
    )]
    NotAccessLog {
        /// Lines read.
        lines: u64,
        /// Lines among them that are not entries (malformed, over the line limit, or blank).
        not_entries: u64,
        /// The first malformed line's number.
        first_line: u64,
        /// Why it is not an entry.
        first_reason: String,
    },
}

/// An error and its causes as one text (`streaming error: connection reset by peer`): I/O
/// errors from network streams often say only "streaming error" themselves.
struct Causes<'a>(&'a io::Error);

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = std::error::Error::source(self.0);
        while let Some(error) = cause {
            let more = error.to_string();
            if !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            cause = error.source();
        }
        f.write_str(&text)
    }
}

/// One line of the object, without its `\n` terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number in the decompressed object.
    pub number: u64,
    /// The line's bytes (a trailing `\r` is left for the record parser to drop).
    pub bytes: &'a [u8],
    /// The line was longer than [`Options::max_line_bytes`]; `bytes` holds only its start.
    pub oversized: bool,
}

enum Source<R: Read> {
    Plain(io::Chain<Cursor<Vec<u8>>, R>),
    Gzip(Box<MultiGzDecoder<io::Chain<Cursor<Vec<u8>>, R>>>),
}

/// Streams the lines of an object (plain text or multi-member gzip) from one reused buffer.
pub struct LineReader<R: Read> {
    source: Source<R>,
    /// The object is gzip (decompressed here, or on the pipeline's thread).
    gzip: bool,
    options: Options,
    buffer: Vec<u8>,
    /// Start of the unread part of the buffer.
    start: usize,
    /// End of the valid data in the buffer.
    end: usize,
    /// Where to resume looking for `\n` (everything between `start` and this has none).
    scanned: usize,
    at_eof: bool,
    /// Inside an oversized line whose start was already handed out: skip up to its newline.
    skipping: bool,
    line_number: u64,
    bytes_read: u64,
}

/// How much is read (decompressed) at a time: with 1 MiB reads flate2 + zlib-rs decompressed the
/// bench corpus about 4 % faster than with 128 KiB ones, and the buffer stays far below the
/// memory budget.
const READ_CHUNK: usize = 1024 * 1024;

impl<R: Read> LineReader<R> {
    /// Wraps `reader`, deciding between plain text and gzip from its first two bytes.
    ///
    /// # Errors
    ///
    /// [`ReadError::NotGzip`] when gzip is required and the magic bytes are missing (an empty
    /// object included); [`ReadError::Io`] when the first read fails.
    pub fn new(reader: R, options: Options) -> Result<Self, ReadError> {
        let (head, reader) = peek_head(reader, options)?;
        let is_gzip = head == GZIP_MAGIC;
        let rejoined = Cursor::new(head).chain(reader);
        let source = if is_gzip {
            Source::Gzip(Box::new(MultiGzDecoder::new(rejoined)))
        } else {
            Source::Plain(rejoined)
        };
        Ok(Self::over(source, is_gzip, options))
    }

    fn over(source: Source<R>, gzip: bool, options: Options) -> Self {
        let capacity = READ_CHUNK.max(options.max_line_bytes.min(1 << 20));
        LineReader {
            source,
            gzip,
            options,
            buffer: vec![0; capacity],
            start: 0,
            end: 0,
            scanned: 0,
            at_eof: false,
            skipping: false,
            line_number: 0,
            bytes_read: 0,
        }
    }

    /// Whether the object is gzip.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Decompressed bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next line, or `None` at the end of the object. A final line without a terminator is
    /// still a line.
    ///
    /// # Errors
    ///
    /// See [`ReadError`]; after an error the reader should be dropped.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>, ReadError> {
        loop {
            let unread = &self.buffer[self.scanned..self.end];
            if let Some(offset) = memchr::memchr(b'\n', unread) {
                let newline = self.scanned + offset;
                let (start, was_skipping) = (self.start, self.skipping);
                self.start = newline + 1;
                self.scanned = self.start;
                self.skipping = false;
                if was_skipping {
                    continue; // the tail of an oversized line, already reported
                }
                return Ok(Some(self.emit_cut(start, newline)));
            }
            self.scanned = self.end;
            if self.at_eof {
                if self.start == self.end || self.skipping {
                    self.start = self.end;
                    self.skipping = false;
                    return Ok(None);
                }
                let start = self.start;
                self.start = self.end;
                return Ok(Some(self.emit_cut(start, self.end)));
            }
            let pending = self.end - self.start;
            if pending > self.options.max_line_bytes && !self.skipping {
                // Hand out the start of the line and drop the rest up to its newline.
                let start = self.start;
                let cut = start + self.options.max_line_bytes;
                self.start = self.end;
                self.skipping = true;
                return Ok(Some(self.emit(start, cut, true)));
            }
            if self.skipping {
                self.start = self.end;
            }
            self.refill()?;
        }
    }

    /// A whole line found in the buffer, cut and flagged if it is over the limit.
    fn emit_cut(&mut self, start: usize, end: usize) -> Line<'_> {
        let oversized = end - start > self.options.max_line_bytes;
        let end = if oversized { start + self.options.max_line_bytes } else { end };
        self.emit(start, end, oversized)
    }

    fn emit(&mut self, start: usize, end: usize, oversized: bool) -> Line<'_> {
        self.line_number += 1;
        Line { number: self.line_number, bytes: &self.buffer[start..end], oversized }
    }

    /// Moves the unread tail to the front and reads more after it.
    fn refill(&mut self) -> Result<(), ReadError> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.buffer.len() - self.end < READ_CHUNK / 2 {
            let wanted = (self.end + READ_CHUNK).max(self.buffer.len() * 2);
            self.buffer.resize(wanted, 0);
        }
        let target = &mut self.buffer[self.end..];
        let read = loop {
            let result = match &mut self.source {
                Source::Plain(reader) => reader.read(target),
                Source::Gzip(decoder) => decoder.read(target),
            };
            match result {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(self.classify(source)),
            }
        };
        if read == 0 {
            self.at_eof = true;
        }
        self.end += read;
        self.bytes_read += read as u64;
        if let Some(limit) = self.options.max_uncompressed_bytes
            && self.bytes_read > limit
        {
            return Err(ReadError::TooLarge { limit });
        }
        Ok(())
    }

    fn classify(&self, source: io::Error) -> ReadError {
        let after_bytes = self.bytes_read;
        let decoder_fault = matches!(
            source.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        if self.is_gzip() && decoder_fault {
            ReadError::CorruptGzip { after_bytes, source }
        } else {
            ReadError::Io { after_bytes, source }
        }
    }
}

impl LineReader<Pipeline> {
    /// Like [`LineReader::new`], but a gzip object is decompressed on a second thread while this
    /// one splits and the caller parses: with a core to spare, the scan runs at the speed of
    /// decompression alone. The two threads hand over a fixed set of buffers
    /// ([`Pipeline::BUFFERS`] of [`Pipeline::CHUNK`] bytes), so memory stays bounded. Plain
    /// objects gain nothing and are read on the calling thread.
    ///
    /// # Errors
    ///
    /// As [`LineReader::new`]; decompression errors arrive through
    /// [`next_line`](Self::next_line) as they would without the pipeline.
    pub fn pipelined<R: Read + Send + 'static>(
        reader: R,
        options: Options,
    ) -> Result<Self, ReadError> {
        let (head, reader) = peek_head(reader, options)?;
        let is_gzip = head == GZIP_MAGIC;
        let rejoined = Cursor::new(head).chain(reader);
        let pipe = if is_gzip {
            Pipeline::spawn(MultiGzDecoder::new(rejoined))
        } else {
            Pipeline::Direct(Box::new(rejoined))
        };
        Ok(Self::over(Source::Plain(Cursor::new(Vec::new()).chain(pipe)), is_gzip, options))
    }
}

/// Reads the first two bytes (the gzip magic, if any) and enforces [`Compression::RequireGzip`].
fn peek_head<R: Read>(mut reader: R, options: Options) -> Result<(Vec<u8>, R), ReadError> {
    let mut head = Vec::with_capacity(2);
    (&mut reader)
        .take(2)
        .read_to_end(&mut head)
        .map_err(|source| ReadError::Io { after_bytes: 0, source })?;
    if options.compression == Compression::RequireGzip && head != GZIP_MAGIC {
        return Err(ReadError::NotGzip { found: head });
    }
    Ok((head, reader))
}

/// The decompressed bytes of an object, produced on another thread (see
/// [`LineReader::pipelined`]).
pub enum Pipeline {
    /// Read on the calling thread (plain text).
    Direct(Box<dyn Read + Send>),
    /// Filled buffers from the decompressing thread; emptied ones go back to it.
    Threaded {
        /// Filled buffers, or the error that ended decompression.
        filled: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
        /// Emptied buffers for reuse.
        emptied: std::sync::mpsc::Sender<Vec<u8>>,
        /// The buffer being read and how far.
        current: Vec<u8>,
        /// Read position in `current`.
        position: usize,
    },
}

impl Pipeline {
    /// Bytes per buffer handed between the threads.
    pub const CHUNK: usize = 256 * 1024;
    /// Buffers filled ahead of the reader at most; with the one being read and the one being
    /// filled, `BUFFERS + 2` buffers exist at most.
    pub const BUFFERS: usize = 4;

    fn spawn<D: Read + Send + 'static>(mut decoder: D) -> Pipeline {
        let (filled_tx, filled) = std::sync::mpsc::sync_channel(Self::BUFFERS);
        let (emptied, emptied_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            loop {
                let mut chunk = emptied_rx.try_recv().unwrap_or_default();
                chunk.resize(Self::CHUNK, 0);
                let mut filled_to = 0;
                let outcome = loop {
                    if filled_to == chunk.len() {
                        break Ok(());
                    }
                    match decoder.read(&mut chunk[filled_to..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => filled_to += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(filled_to);
                let finished = filled_to < Self::CHUNK || outcome.is_err();
                // A closed channel means the reader is gone (error or early stop): stop too.
                if filled_to > 0 && send(&filled_tx, Ok(chunk)).is_err() {
                    return;
                }
                if let Err(error) = outcome {
                    let _ = filled_tx.send(Err(error));
                    return;
                }
                if finished {
                    return;
                }
            }
        });
        Pipeline::Threaded { filled, emptied, current: Vec::new(), position: 0 }
    }
}

/// How long a pipeline thread polls its channel before it sleeps. A chunk takes about 150 µs
/// to decompress; handing one over to a sleeping thread costs a wake-up (a futex call, and in a
/// virtual machine an inter-processor interrupt), which measured 15-20 µs per chunk here: 10 %
/// of the decompressing thread's time. The pipeline is used only when a core is free for each
/// thread, so polling costs nothing else. It yields the core between polls rather than spinning:
/// when the scheduler puts both threads on one core for a while, or the two virtual cores are
/// siblings of one physical core, a spinning reader slowed the decompressor by 7 % (measured),
/// a yielding one does not.
const POLL_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(500);

/// Tries `attempt` (which hands its input back when it must wait) for up to
/// [`POLL_BEFORE_SLEEP`], yielding the core between tries, then calls `block`, which sleeps.
fn poll_then_block<S, T>(
    mut input: S,
    mut attempt: impl FnMut(S) -> Result<T, S>,
    block: impl FnOnce(S) -> T,
) -> T {
    let started = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            match attempt(input) {
                Ok(done) => return done,
                Err(again) => {
                    input = again;
                    std::thread::yield_now();
                }
            }
        }
        if started.elapsed() > POLL_BEFORE_SLEEP {
            return block(input);
        }
    }
}

/// The next filled chunk; `None` once the decoder has finished.
fn receive<T>(channel: &std::sync::mpsc::Receiver<T>) -> Option<T> {
    use std::sync::mpsc::TryRecvError;
    poll_then_block(
        (),
        |()| match channel.try_recv() {
            Ok(item) => Ok(Some(item)),
            Err(TryRecvError::Disconnected) => Ok(None),
            Err(TryRecvError::Empty) => Err(()),
        },
        |()| channel.recv().ok(),
    )
}

/// Sends a filled chunk, waiting while the queue is full.
fn send<T>(
    channel: &std::sync::mpsc::SyncSender<T>,
    item: T,
) -> Result<(), std::sync::mpsc::SendError<T>> {
    use std::sync::mpsc::{SendError, TrySendError};
    poll_then_block(
        item,
        |item| match channel.try_send(item) {
            Ok(()) => Ok(Ok(())),
            Err(TrySendError::Disconnected(back)) => Ok(Err(SendError(back))),
            Err(TrySendError::Full(back)) => Err(back),
        },
        |item| channel.send(item),
    )
}

impl Read for Pipeline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Pipeline::Direct(reader) => reader.read(buf),
            Pipeline::Threaded { filled, emptied, current, position } => {
                if *position == current.len() {
                    let next = match receive(filled) {
                        Some(next) => next?,
                        None => return Ok(0), // the decoder reached the end
                    };
                    let used = std::mem::replace(current, next);
                    *position = 0;
                    let _ = emptied.send(used);
                }
                let n = buf.len().min(current.len() - *position);
                buf[..n].copy_from_slice(&current[*position..*position + n]);
                *position += n;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests;
