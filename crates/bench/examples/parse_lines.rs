//! Parses every line of a plain-text log once with a `LineParser`, as the diagnosis does
//! (`parse`), or only splits it into lines (`lines`),
//! and prints how many were entries: the unit `scripts/insn-count` counts instructions of, on
//! x86-64 (callgrind) and aarch64 (qemu), to compare the parser's SIMD paths without arm64
//! hardware. Instruction counts are not speed.

use std::io::BufRead;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(path)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: parse_lines lines|parse <plain log>");
    };
    let reader = std::io::BufReader::new(std::fs::File::open(&path)?);
    let mut parser = alb_records::LineParser::default();
    let mut lines = 0u64;
    let mut entries = 0u64;
    for line in reader.split(b'\n') {
        let line = line?;
        lines += 1;
        if mode == "parse" {
            entries += u64::from(parser.parse(&line).is_ok());
        }
    }
    println!("{lines} lines, {entries} entries");
    Ok(())
}
