//! The display for daemons: the code in the log, and the time left at a
//! few moments of the wait.

use super::countdown::{clock_text, seconds_left};
use super::{CodeDisplay, Outcome};
use crate::device_flow::DeviceFlow;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// When the time left is logged: a journal line a second would drown the
/// code, and these are the moments a person walking over needs to know.
const MILESTONES: [u64; 3] = [600, 300, 60];

/// Writes the message to the `log` crate at `info` level: for daemons whose
/// journal is the only screen. The user code is meant to be seen, so it is
/// logged; the device code never is. While the wait goes on, the time left
/// is logged when it passes 10, 5 and 1 minute(s).
#[derive(Debug)]
pub struct LogDisplay {
    /// The seconds left at the last [`CodeDisplay::waiting`] call.
    last_left: AtomicU64,
}

impl Default for LogDisplay {
    fn default() -> Self {
        LogDisplay::new()
    }
}

impl LogDisplay {
    /// A display that logs.
    pub fn new() -> Self {
        LogDisplay {
            last_left: AtomicU64::new(u64::MAX),
        }
    }

    /// The milestone just passed going from the last call's time to `left`.
    fn passed(&self, left: Duration) -> Option<u64> {
        let now = seconds_left(left);
        let before = self.last_left.swap(now, Ordering::Relaxed);
        MILESTONES
            .into_iter()
            .find(|&m| now <= m && before > m)
            .map(|_| now)
    }
}

impl CodeDisplay for LogDisplay {
    fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
        self.last_left.store(u64::MAX, Ordering::Relaxed);
        log::info!("{}", flow.message());
        Ok(())
    }

    fn waiting(&self, left: Duration) {
        if let Some(seconds) = self.passed(left) {
            log::info!("waiting for sign-in, {} left", clock_text(seconds));
        }
    }

    fn finished(&self, outcome: &Outcome<'_>) {
        match outcome {
            Outcome::SignedIn(Some(account)) => log::info!("signed in as {}", account.username()),
            Outcome::SignedIn(None) => log::info!("signed in"),
            Outcome::Failed(error) => log::warn!("sign-in did not complete: {error:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_is_told_at_a_few_moments_only() {
        let display = LogDisplay::new();
        let told: Vec<u64> = (0..=900u64)
            .rev()
            .filter_map(|s| display.passed(Duration::from_millis(s * 1000 + 500)))
            .collect();
        assert_eq!(told, [600, 300, 60]);
        // A short code starts past the first milestones: told once, then at 1 minute.
        let display = LogDisplay::new();
        let told: Vec<u64> = (0..=120u64)
            .rev()
            .filter_map(|s| display.passed(Duration::from_secs(s)))
            .collect();
        assert_eq!(told, [120, 60]);
    }
}
