//! Writing to stdout and stderr without panicking (`println!` panics when
//! the reader of a pipe is gone), and showing untrusted text on one line.

use std::fmt::Write as _;
use std::io::{self, Write};

/// Writes `text` and a newline to stdout; the caller decides what a closed
/// pipe means.
pub fn out(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// Writes a line to stderr; if even that fails there is no one to tell.
pub fn err(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Text the user gave (or a file held), with control and bidirectional
/// formatting characters shown as `\u{..}` escapes: visible, so a mistake
/// can be seen, and harmless to a terminal.
pub fn escape(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    shown
}

/// A stderr logger for `--verbose`; the library never logs secrets, and
/// escapes what servers sent.
pub struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("devicecode")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            err(&format!("[{}] {}", record.level(), record.args()));
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_controls_and_keeps_text() {
        assert_eq!(escape("a\u{1b}]0;x\u{7}\n"), "a\\u{1b}]0;x\\u{7}\\u{a}");
        assert_eq!(
            escape("r\u{e9}sum\u{e9} \u{202e}"),
            "r\u{e9}sum\u{e9} \\u{202e}"
        );
    }
}
