//! Reader behaviour: formats, boundaries, limits and failures.

use std::io::{self, Read, Write};

use flate2::Compression as Level;
use flate2::write::GzEncoder;

use super::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Level::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn collect<R: Read>(reader: R, options: Options) -> Result<Vec<(u64, String, bool)>, ReadError> {
    let mut lines = LineReader::new(reader, options)?;
    let mut out = vec![];
    while let Some(line) = lines.next_line()? {
        out.push((line.number, String::from_utf8_lossy(line.bytes).into_owned(), line.oversized));
    }
    Ok(out)
}

fn texts(lines: &[(u64, String, bool)]) -> Vec<&str> {
    lines.iter().map(|(_, text, _)| text.as_str()).collect()
}

/// Hands out at most `chunk` bytes per read, to exercise every buffer boundary.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn plain_text_lines_with_and_without_final_newline() {
    let lines = collect(&b"a\nbb\n\nccc"[..], Options::default()).unwrap();
    assert_eq!(texts(&lines), ["a", "bb", "", "ccc"]);
    assert_eq!(lines.iter().map(|l| l.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(texts(&collect(&b"a\n"[..], Options::default()).unwrap()), ["a"]);
    assert!(collect(&b""[..], Options::default()).unwrap().is_empty());
}

#[test]
fn gzip_is_detected_by_magic_bytes() {
    let data = gzip(b"one\ntwo\n");
    let mut reader = LineReader::new(&data[..], Options::default()).unwrap();
    assert!(reader.is_gzip());
    assert_eq!(reader.next_line().unwrap().unwrap().bytes, b"one");
    assert_eq!(reader.next_line().unwrap().unwrap().bytes, b"two");
    assert!(reader.next_line().unwrap().is_none());
    assert_eq!(reader.bytes_read(), 8);
}

#[test]
fn multi_member_gzip_is_read_to_the_end() {
    let mut data = gzip(b"one\ntwo\n");
    data.extend(gzip(b"three\n"));
    data.extend(gzip(b"four"));
    let lines = collect(&data[..], Options::default()).unwrap();
    assert_eq!(texts(&lines), ["one", "two", "three", "four"]);
}

#[test]
fn every_buffer_boundary_gives_the_same_lines() {
    let text: String = (0..2000).map(|i| format!("line {i} {}\r\n", "x".repeat(i % 97))).collect();
    let expected = collect(text.as_bytes(), Options::default()).unwrap();
    assert_eq!(expected.len(), 2000);
    assert!(expected[5].1.ends_with('\r'), "\\r is left to the record parser");
    for chunk in [1, 2, 3, 7, 4096, 70_000] {
        let got = collect(Trickle { data: text.as_bytes(), chunk }, Options::default()).unwrap();
        assert_eq!(got, expected, "chunk {chunk}");
    }
    let gz = gzip(text.as_bytes());
    assert_eq!(collect(Trickle { data: &gz, chunk: 1 }, Options::default()).unwrap(), expected);
}

#[test]
fn oversized_lines_are_cut_flagged_and_skipped() {
    let options = Options { max_line_bytes: 10, ..Options::default() };
    let text = format!("short\n{}\nafter\n{}", "y".repeat(500_000), "z".repeat(25));
    for chunk in [1, 3, 1 << 20] {
        let lines = collect(Trickle { data: text.as_bytes(), chunk }, options).unwrap();
        assert_eq!(
            lines,
            vec![
                (1, "short".to_string(), false),
                (2, "yyyyyyyyyy".to_string(), true),
                (3, "after".to_string(), false),
                (4, "zzzzzzzzzz".to_string(), true),
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn a_line_exactly_at_the_limit_is_not_oversized() {
    // Found with the line-reader fuzz target's oracle (a naive split): a line of exactly the
    // limit whose newline came in a later read was flagged as cut, and a longer line that fit
    // in one read was handed out whole and unflagged.
    let options = Options { max_line_bytes: 10, ..Options::default() };
    let text = format!("{}\n{}\nend", "a".repeat(10), "b".repeat(11));
    for chunk in [1, 2, 10, 1 << 20] {
        let lines = collect(Trickle { data: text.as_bytes(), chunk }, options).unwrap();
        assert_eq!(
            lines,
            vec![
                (1, "a".repeat(10), false),
                (2, "b".repeat(10), true),
                (3, "end".to_string(), false)
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn memory_stays_bounded_by_the_line_limit() {
    let options = Options { max_line_bytes: 1024, ..Options::default() };
    let line = "x".repeat(1000) + "\n";
    let text = line.repeat(5000);
    let mut reader = LineReader::new(text.as_bytes(), options).unwrap();
    let mut count = 0;
    while reader.next_line().unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, 5000);
    assert!(reader.buffer.len() <= 2 * READ_CHUNK, "buffer grew to {}", reader.buffer.len());
}

#[test]
fn truncated_gzip_is_an_error() {
    let text: String = (0..5000).map(|i| format!("entry number {i} with some text\n")).collect();
    let data = gzip(text.as_bytes());
    for cut in [data.len() - 4, data.len() / 2, 12] {
        let err = collect(&data[..cut], Options::default()).unwrap_err();
        assert!(matches!(err, ReadError::CorruptGzip { .. }), "cut at {cut}: {err}");
    }
}

#[test]
fn garbage_after_gzip_header_is_an_error() {
    let mut data = gzip(b"hello\n");
    for byte in data.iter_mut().skip(10).take(6) {
        *byte ^= 0xA5;
    }
    let err = collect(&data[..], Options::default()).unwrap_err();
    assert!(matches!(err, ReadError::CorruptGzip { .. }), "{err}");
}

#[test]
fn gzip_can_be_required() {
    let options = Options { compression: Compression::RequireGzip, ..Options::default() };
    match collect(&b"plain text\n"[..], options) {
        Err(ReadError::NotGzip { found }) => assert_eq!(found, b"pl"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(collect(&b""[..], options), Err(ReadError::NotGzip { .. })));
    assert_eq!(texts(&collect(&gzip(b"ok\n")[..], options).unwrap()), ["ok"]);
}

#[test]
fn decompressed_size_is_capped() {
    let bomb = gzip(&vec![b'\n'; 4 << 20]);
    assert!(bomb.len() < 10_000);
    let options = Options { max_uncompressed_bytes: Some(1 << 20), ..Options::default() };
    let err = collect(&bomb[..], options).unwrap_err();
    assert!(matches!(err, ReadError::TooLarge { limit } if limit == 1 << 20), "{err}");
    let roomy = Options { max_uncompressed_bytes: Some(8 << 20), ..Options::default() };
    assert_eq!(collect(&bomb[..], roomy).unwrap().len(), 4 << 20);
}

#[test]
fn io_errors_are_reported_as_io() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "peer went away"))
        }
    }
    let err = collect(Broken, Options::default()).unwrap_err();
    assert!(matches!(err, ReadError::Io { .. }), "{err}");
}

fn collect_pipelined(
    data: Vec<u8>,
    options: Options,
) -> Result<Vec<(u64, String, bool)>, ReadError> {
    let mut lines = LineReader::pipelined(io::Cursor::new(data), options)?;
    let mut out = vec![];
    while let Some(line) = lines.next_line()? {
        out.push((line.number, String::from_utf8_lossy(line.bytes).into_owned(), line.oversized));
    }
    Ok(out)
}

#[test]
fn pipelined_reader_gives_the_same_lines_across_many_buffers() {
    // Several pipeline buffers' worth, in two gzip members, with a final line without newline.
    let text: String =
        (0..120_000).map(|i| format!("entry {i} {}\n", "x".repeat(i % 40))).collect();
    let half = text.len() / 2;
    let mut data = gzip(&text.as_bytes()[..half]);
    data.extend(gzip(format!("{}tail", &text[half..]).as_bytes()));
    assert!(text.len() > 10 * Pipeline::CHUNK);
    let expected = collect(&data[..], Options::default()).unwrap();
    let got = collect_pipelined(data, Options::default()).unwrap();
    assert_eq!(got.len(), 120_001);
    assert_eq!(got, expected);
    let plain = collect_pipelined(b"a\nb".to_vec(), Options::default()).unwrap();
    assert_eq!(texts(&plain), ["a", "b"]);
}

#[test]
fn pipelined_reader_reports_corruption_and_the_cap_like_the_plain_one() {
    let text: String = (0..50_000).map(|i| format!("entry number {i} with some text\n")).collect();
    let data = gzip(text.as_bytes());
    let err = collect_pipelined(data[..data.len() / 2].to_vec(), Options::default()).unwrap_err();
    assert!(matches!(err, ReadError::CorruptGzip { .. }), "{err}");
    let options = Options { max_uncompressed_bytes: Some(1 << 20), ..Options::default() };
    let bomb = gzip(&vec![b'\n'; 8 << 20]);
    let err = collect_pipelined(bomb, options).unwrap_err();
    assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
    let required = Options { compression: Compression::RequireGzip, ..Options::default() };
    assert!(matches!(
        collect_pipelined(b"plain\n".to_vec(), required),
        Err(ReadError::NotGzip { .. })
    ));
}

#[test]
fn io_errors_name_their_causes() {
    // What an SDK byte stream gives on a connection reset: "streaming error", the reset inside.
    #[derive(Debug)]
    struct Streaming(io::Error);
    impl std::fmt::Display for Streaming {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("streaming error")
        }
    }
    impl std::error::Error for Streaming {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    struct Reset;
    impl Read for Reset {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            let reset = io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer");
            Err(io::Error::other(Streaming(reset)))
        }
    }
    let err = collect(Reset, Options::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "read failed after 0 bytes: streaming error: connection reset by peer"
    );
}
