//! The default display: the sentence on standard output, and on a terminal
//! also a QR code and a countdown.

use super::countdown::{clock_text, seconds_left};
use super::{CodeDisplay, Outcome};
use crate::device_flow::DeviceFlow;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Erases from the cursor to the end of the line.
const ERASE_LINE_END: &str = "\x1b[K";

/// Prints the server's sentence (or ours) on standard output; when standard
/// output is a terminal, also a QR code of the address (feature `qr`) and a
/// countdown line updated in place while the wait goes on.
///
/// The sentence with the user code and the address is always printed: the
/// QR code comes in addition, never instead (RFC 8628 section 3.3.1). Into
/// a pipe, a file or a journal only the sentence goes, so logs stay plain
/// text.
#[derive(Debug)]
pub struct StdoutDisplay {
    /// Decided once, when the display is made: see [`StdoutDisplay::new`].
    terminal: bool,
    qr: bool,
    countdown: bool,
    /// The whole seconds on the countdown line now on screen, if any.
    shown_left: Mutex<Option<u64>>,
}

impl Default for StdoutDisplay {
    fn default() -> Self {
        StdoutDisplay::new()
    }
}

impl StdoutDisplay {
    /// A display on standard output, with the QR code and the countdown on
    /// when standard output is a terminal at this moment.
    pub fn new() -> Self {
        StdoutDisplay::with_terminal(io::stdout().is_terminal())
    }

    /// The one place that decides whether anything beyond plain lines is
    /// written; everything else follows from `terminal`.
    fn with_terminal(terminal: bool) -> Self {
        StdoutDisplay {
            terminal,
            qr: true,
            countdown: true,
            shown_left: Mutex::new(None),
        }
    }

    /// Whether to draw the QR code on a terminal (default: yes). Without the
    /// crate's `qr` feature there is no QR code to draw, whatever this says.
    pub fn qr(mut self, on: bool) -> Self {
        self.qr = on;
        self
    }

    /// Whether to show the time left on a terminal (default: yes).
    pub fn countdown(mut self, on: bool) -> Self {
        self.countdown = on;
        self
    }

    fn shown_left(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        // The value is a plain number: a panic elsewhere cannot corrupt it.
        self.shown_left
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn show_on(&self, out: &mut impl Write, flow: &DeviceFlow) -> io::Result<()> {
        self.clear_countdown(out)?;
        writeln!(out, "{}", flow.message())?;
        if let Some(complete) = flow.verification_uri_complete() {
            writeln!(out, "(or open {complete} to skip typing the code)")?;
        }
        if self.terminal && self.qr {
            draw_qr(out, flow)?;
        }
        out.flush()
    }

    fn waiting_on(&self, out: &mut impl Write, left: Duration) -> io::Result<()> {
        if !(self.terminal && self.countdown) {
            return Ok(());
        }
        let seconds = seconds_left(left);
        let mut shown = self.shown_left();
        // Called many times a second: the line is rewritten only when the
        // seconds change, which keeps an SSH session quiet.
        if *shown == Some(seconds) {
            return Ok(());
        }
        write!(
            out,
            "\rwaiting for sign-in, {} left{ERASE_LINE_END}",
            clock_text(seconds)
        )?;
        out.flush()?;
        *shown = Some(seconds);
        Ok(())
    }

    fn clear_countdown(&self, out: &mut impl Write) -> io::Result<()> {
        if self.shown_left().take().is_some() {
            write!(out, "\r{ERASE_LINE_END}")?;
            out.flush()?;
        }
        Ok(())
    }
}

impl CodeDisplay for StdoutDisplay {
    fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
        self.show_on(&mut io::stdout().lock(), flow)
    }

    fn waiting(&self, left: Duration) {
        // A countdown that cannot be written is not worth stopping a
        // sign-in for: the code is already on screen.
        let _ = self.waiting_on(&mut io::stdout().lock(), left);
    }

    fn waiting_every(&self) -> Option<Duration> {
        // Only a countdown on screen is worth waking up for.
        (self.terminal && self.countdown).then_some(Duration::from_secs(1))
    }

    fn finished(&self, outcome: &Outcome<'_>) {
        let _ = outcome;
        let _ = self.clear_countdown(&mut io::stdout().lock());
    }
}

/// The widest drawing made, in columns: a classic 80-column terminal. A
/// longer address (or a server's padded one) would wrap into noise and push
/// the code off the screen; the text is there in any case.
#[cfg(feature = "qr")]
const MAX_COLUMNS: usize = 80;

#[cfg(feature = "qr")]
fn draw_qr(out: &mut impl Write, flow: &DeviceFlow) -> io::Result<()> {
    let Some(code) = super::QrCode::for_flow(flow) else {
        return Ok(());
    };
    if super::half_blocks::columns(&code) > MAX_COLUMNS {
        return Ok(());
    }
    writeln!(
        out,
        "Or scan this with a phone to open {}:",
        super::QrCode::address(flow)
    )?;
    out.write_all(super::half_blocks::render(&code).as_bytes())
}

#[cfg(not(feature = "qr"))]
fn draw_qr(_: &mut impl Write, _: &DeviceFlow) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_flow::parse_device_answer;
    use crate::json::Object;
    use std::time::Instant;

    fn flow(complete: Option<&str>) -> DeviceFlow {
        let complete = complete
            .map(|c| format!(r#","verification_uri_complete":"{c}""#))
            .unwrap_or_default();
        let json = format!(
            r#"{{"device_code":"d","user_code":"WDJB-MJHT","verification_uri":"https://login.example/device","expires_in":900{complete}}}"#
        );
        let now = Instant::now();
        parse_device_answer(
            &Object::parse(json.as_bytes(), "d").unwrap(),
            vec![],
            "t",
            now,
            now,
        )
        .unwrap()
    }

    fn shown(display: &StdoutDisplay, flow: &DeviceFlow) -> String {
        let mut out = Vec::new();
        display.show_on(&mut out, flow).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn has_drawing(text: &str) -> bool {
        text.contains(['\u{2580}', '\u{2584}', '\u{2588}', '\r', '\x1b'])
    }

    #[test]
    fn only_a_countdown_on_screen_wakes_the_wait_between_polls() {
        let every = |display: StdoutDisplay| display.waiting_every();
        assert_eq!(every(StdoutDisplay::with_terminal(false)), None);
        assert_eq!(
            every(StdoutDisplay::with_terminal(true)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            every(StdoutDisplay::with_terminal(true).countdown(false)),
            None
        );
    }

    #[test]
    fn off_a_terminal_only_the_text_is_written() {
        let display = StdoutDisplay::with_terminal(false);
        let flow = flow(Some("https://login.example/device?code=WDJB-MJHT"));
        let text = shown(&display, &flow);
        assert!(text.contains("WDJB-MJHT") && text.contains("https://login.example/device"));
        assert!(!has_drawing(&text), "{text:?}");
        let mut out = Vec::new();
        display
            .waiting_on(&mut out, Duration::from_secs(600))
            .unwrap();
        display.clear_countdown(&mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
    }

    #[cfg(feature = "qr")]
    #[test]
    fn on_a_terminal_the_text_comes_with_a_qr_code() {
        let flow = flow(None);
        let text = shown(&StdoutDisplay::with_terminal(true), &flow);
        assert!(text.contains("WDJB-MJHT") && text.contains("https://login.example/device"));
        assert!(has_drawing(&text));
        let text = shown(&StdoutDisplay::with_terminal(true).qr(false), &flow);
        assert!(!has_drawing(&text), "{text:?}");
    }

    #[test]
    fn the_countdown_is_one_line_rewritten_and_cleared() {
        let display = StdoutDisplay::with_terminal(true);
        let mut out = Vec::new();
        for left in [900_000, 899_999, 899_500, 899_000, 60_000, 400] {
            display
                .waiting_on(&mut out, Duration::from_millis(left))
                .unwrap();
        }
        display.clear_countdown(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\rwaiting for sign-in, 15:00 left\x1b[K\
             \rwaiting for sign-in, 14:59 left\x1b[K\
             \rwaiting for sign-in, 1:00 left\x1b[K\
             \rwaiting for sign-in, 0:01 left\x1b[K\
             \r\x1b[K"
        );
        assert!(!text.contains('\n'));
        let mut out = Vec::new();
        display.clear_countdown(&mut out).unwrap();
        assert!(out.is_empty(), "cleared once");
        let quiet = StdoutDisplay::with_terminal(true).countdown(false);
        quiet.waiting_on(&mut out, Duration::from_secs(5)).unwrap();
        assert!(out.is_empty());
    }

    #[cfg(feature = "qr")]
    #[test]
    fn the_drawing_is_of_the_complete_address_when_the_library_kept_it() {
        use crate::display::half_blocks::tests::read_back;
        let complete = "https://login.example/device?user_code=WDJB-MJHT";
        let text = shown(&StdoutDisplay::with_terminal(true), &flow(Some(complete)));
        assert_eq!(read_back(&text), complete);
        // Dropped by the library (not https): the drawing falls back.
        let text = shown(
            &StdoutDisplay::with_terminal(true),
            &flow(Some("http://evil.example/?c=1")),
        );
        assert_eq!(read_back(&text), "https://login.example/device");
        assert!(!text.contains("evil"));
    }

    #[cfg(feature = "qr")]
    #[test]
    fn an_address_too_long_for_80_columns_is_not_drawn() {
        // Byte mode at level L: 411 bytes take version 13 (69 modules, 73
        // columns); 631 take version 17 (85 modules, 89 columns).
        let fits = format!("https://login.example/device?c={}", "a".repeat(380));
        let text = shown(&StdoutDisplay::with_terminal(true), &flow(Some(&fits)));
        assert!(has_drawing(&text));
        let long = format!("https://login.example/device?c={}", "a".repeat(600));
        let text = shown(&StdoutDisplay::with_terminal(true), &flow(Some(&long)));
        assert!(text.contains(&long), "the text stays");
        assert!(!has_drawing(&text), "{text:?}");
    }
}
