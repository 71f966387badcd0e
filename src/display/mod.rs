//! Showing the code to a person: on a terminal, an LCD, a log, an MQTT topic.

mod countdown;
#[cfg(feature = "qr")]
mod half_blocks;
mod log;
#[cfg(feature = "qr")]
mod qr;
mod terminal;

pub use self::log::LogDisplay;
#[cfg(feature = "qr")]
pub use qr::QrCode;
pub use terminal::StdoutDisplay;

use crate::device_flow::DeviceFlow;
use crate::error::Error;
use crate::token::Account;
use std::io;
use std::time::Duration;

/// How a sign-in ended, told to the display so it can clear the code.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The person signed in; the account, when the server said who.
    SignedIn(Option<&'a Account>),
    /// The wait ended without tokens (declined, expired, cancelled, ...).
    Failed(&'a Error),
}

/// Shows the user code and where to enter it.
///
/// Implement it to put the code on an LCD, in a log line, in an MQTT message
/// or a QR code (with the crate's `qr` feature, `QrCode::for_flow` gives the
/// module matrix of the right address). [`StdoutDisplay`] is the default;
/// [`LogDisplay`] writes to the `log` crate; [`FnDisplay`] turns closures
/// into a display.
///
/// Every text in [`DeviceFlow`] is already stripped of control characters,
/// so a hostile server cannot send terminal escape sequences through it.
///
/// ```
/// use devicecode::{CodeDisplay, DeviceFlow, Outcome};
/// use std::io;
///
/// struct Lcd;
/// impl CodeDisplay for Lcd {
///     fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
///         // lcd.write_line(0, flow.verification_uri()); lcd.write_line(1, flow.user_code());
///         Ok(())
///     }
///     fn finished(&self, outcome: &Outcome<'_>) {
///         // lcd.clear();
///     }
/// }
/// ```
pub trait CodeDisplay: Send + Sync {
    /// Shows the code. An error here stops the sign-in with
    /// [`ErrorKind::Display`](crate::ErrorKind::Display).
    fn show(&self, flow: &DeviceFlow) -> io::Result<()>;

    /// Hears, while the wait goes on, how long is left before the code
    /// expires (or the caller's limit runs out, whichever comes first): for
    /// a countdown. It is told before every poll, and besides as often as
    /// [`waiting_every`](Self::waiting_every) asks. It must return at once; a
    /// display redraws only when what it shows changes. The default does
    /// nothing.
    fn waiting(&self, left: Duration) {
        let _ = left;
    }

    /// How often [`waiting`](Self::waiting) should be told, at most, if
    /// more often than at each poll (the wait then wakes that often: a
    /// terminal countdown asks for every second). The default, `None`, asks
    /// for nothing more, so the wait sleeps from poll to poll.
    fn waiting_every(&self) -> Option<Duration> {
        None
    }

    /// Hears that the wait ended. The default does nothing.
    fn finished(&self, outcome: &Outcome<'_>) {
        let _ = outcome;
    }
}

type ShowFn = dyn Fn(&DeviceFlow) -> io::Result<()> + Send + Sync;
type FinishedFn = dyn Fn(&Outcome<'_>) + Send + Sync;
type WaitingFn = dyn Fn(Duration) + Send + Sync;

/// A display made of closures.
///
/// ```
/// use devicecode::FnDisplay;
///
/// let display = FnDisplay::new(|flow| {
///     eprintln!("Go to {} and type {}", flow.verification_uri(), flow.user_code());
///     Ok(())
/// })
/// .on_finished(|outcome| eprintln!("done: {outcome:?}"));
/// ```
pub struct FnDisplay {
    show: Box<ShowFn>,
    finished: Option<Box<FinishedFn>>,
    waiting: Option<Box<WaitingFn>>,
}

impl FnDisplay {
    /// A display that calls `show` with the code.
    pub fn new(show: impl Fn(&DeviceFlow) -> io::Result<()> + Send + Sync + 'static) -> Self {
        FnDisplay {
            show: Box::new(show),
            finished: None,
            waiting: None,
        }
    }

    /// Also calls `finished` when the wait ends.
    pub fn on_finished(mut self, finished: impl Fn(&Outcome<'_>) + Send + Sync + 'static) -> Self {
        self.finished = Some(Box::new(finished));
        self
    }

    /// Also calls `waiting` with the time left while the wait goes on, at
    /// each poll and every second (see [`CodeDisplay::waiting`]).
    pub fn on_waiting(mut self, waiting: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.waiting = Some(Box::new(waiting));
        self
    }
}

impl std::fmt::Debug for FnDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnDisplay").finish_non_exhaustive()
    }
}

impl CodeDisplay for FnDisplay {
    fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
        (self.show)(flow)
    }

    fn waiting(&self, left: Duration) {
        if let Some(waiting) = &self.waiting {
            waiting(left);
        }
    }

    fn waiting_every(&self) -> Option<Duration> {
        self.waiting.as_ref().map(|_| Duration::from_secs(1))
    }

    fn finished(&self, outcome: &Outcome<'_>) {
        if let Some(finished) = &self.finished {
            finished(outcome);
        }
    }
}
