//! Text copied from the input (log lines, field values, object names) is escaped before it
//! reaches the terminal: an ESC byte in a user agent must not move the cursor, recolour or
//! retitle the terminal, and a NUL or a right-to-left override must not hide text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character (C0 including tab and newline, DEL, C1) and every
/// Unicode bidirectional override shown as a `\u{..}` escape; a backslash stays as it is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_not_sent() {
        assert_eq!(escape("curl/8.5.0"), "curl/8.5.0");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("nul\0"), "nul\\u{0}");
        assert_eq!(escape("two\nlines\r"), "two\\u{a}lines\\u{d}");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
        assert_eq!(escape("\u{7f}"), "\\u{7f}");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("é ü \\ \""), "é ü \\ \"", "printable text is untouched");
    }
}
