//! Showing the code to a person: on a terminal, an LCD, a log, an MQTT topic.

use crate::device_flow::DeviceFlow;
use crate::error::Error;
use crate::token::Account;
use std::io::{self, Write};

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
/// or a QR code (use [`DeviceFlow::verification_uri_complete`] for the QR
/// code when the server sends one). [`StdoutDisplay`] is the default;
/// [`FnDisplay`] turns closures into a display.
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

    /// Hears that the wait ended. The default does nothing.
    fn finished(&self, outcome: &Outcome<'_>) {
        let _ = outcome;
    }
}

/// Prints the server's sentence (or ours) on standard output.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutDisplay;

impl CodeDisplay for StdoutDisplay {
    fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", flow.message())?;
        if let Some(complete) = flow.verification_uri_complete() {
            writeln!(out, "(or open {complete} to skip typing the code)")?;
        }
        out.flush()
    }
}

/// Writes the message to the `log` crate at `info` level: for daemons whose
/// journal is the only screen. The user code is meant to be seen, so it is
/// logged; the device code never is.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogDisplay;

impl CodeDisplay for LogDisplay {
    fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
        log::info!("{}", flow.message());
        Ok(())
    }

    fn finished(&self, outcome: &Outcome<'_>) {
        match outcome {
            Outcome::SignedIn(Some(account)) => log::info!("signed in as {}", account.username()),
            Outcome::SignedIn(None) => log::info!("signed in"),
            Outcome::Failed(error) => log::warn!("sign-in did not complete: {error:#}"),
        }
    }
}

type ShowFn = dyn Fn(&DeviceFlow) -> io::Result<()> + Send + Sync;
type FinishedFn = dyn Fn(&Outcome<'_>) + Send + Sync;

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
}

impl FnDisplay {
    /// A display that calls `show` with the code.
    pub fn new(show: impl Fn(&DeviceFlow) -> io::Result<()> + Send + Sync + 'static) -> Self {
        FnDisplay {
            show: Box::new(show),
            finished: None,
        }
    }

    /// Also calls `finished` when the wait ends.
    pub fn on_finished(mut self, finished: impl Fn(&Outcome<'_>) + Send + Sync + 'static) -> Self {
        self.finished = Some(Box::new(finished));
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

    fn finished(&self, outcome: &Outcome<'_>) {
        if let Some(finished) = &self.finished {
            finished(outcome);
        }
    }
}
