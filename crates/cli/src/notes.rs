//! What the scan says about its input besides the diagnosis: a `.gz` name on an object that is
//! not gzip (read as plain text, with a note), and a scan that read nothing to judge by.

use std::io::Read;

use alb_findings::Diagnosis;

use crate::inputs::Input;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A note when a file's name ends in `.gz` but its bytes are not gzip. The object is still read
/// (as plain text, which is what it is), but a name that lies is worth knowing about. A file
/// that cannot be opened gives no note: reading it reports the error.
pub fn gzip_name_mismatch(input: &Input) -> Option<String> {
    let Input::File(path) = input else { return None };
    if !path.to_string_lossy().ends_with(".gz") {
        return None;
    }
    let mut head = Vec::with_capacity(2);
    std::fs::File::open(path).ok()?.take(2).read_to_end(&mut head).ok()?;
    (head != GZIP_MAGIC)
        .then(|| format!("{} is named .gz but is not gzip; read as plain text", path.display()))
}

/// Why a scan that ran without error still gives nothing to judge by, if it does: no
/// access-log object was found, or not one line was a valid entry.
pub fn nothing_usable(objects: usize, diagnosis: &Diagnosis) -> Option<String> {
    if objects == 0 {
        return Some(
            "no ALB access-log object found (directories are searched for <account>_elasticloadbalancing_<region>_app.<name>.<id>_<end>_<ip>_<random>.log[.gz]); nothing was diagnosed".to_string(),
        );
    }
    (diagnosis.lines == 0).then(|| {
        format!(
            "no valid access-log entry in {objects} object{} ({} malformed line{}); nothing was diagnosed",
            if objects == 1 { "" } else { "s" },
            diagnosis.malformed_lines,
            if diagnosis.malformed_lines == 1 { "" } else { "s" },
        )
    })
}
