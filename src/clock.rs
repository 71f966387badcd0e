//! Time, as the flow sees it.
//!
//! Deadlines and poll gaps are measured on a monotonic clock, so a board whose
//! wall clock jumps by years when NTP first syncs neither gives up early nor
//! waits forever. Wall-clock time is used only for expiries that are stored.
//!
//! Both are behind the [`Clock`] trait so that tests of a 15-minute flow run in
//! milliseconds: [`ManualClock`] advances instantly when asked to sleep.

use crate::cancel::{BARE_FLAG_SLICE, CancelHandle};
use crate::error::{Error, ErrorKind};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// A source of monotonic time, wall-clock time and sleep.
///
/// The default is [`SystemClock`]. Implement it (or use [`ManualClock`]) to run
/// long flows in tests without waiting.
pub trait Clock: Send + Sync {
    /// The monotonic time now: used for every deadline and poll interval.
    fn now(&self) -> Instant;
    /// The wall-clock time now: used only for token expiries that are stored.
    fn wall(&self) -> SystemTime;
    /// Blocks the calling thread for `duration` (a fake clock advances instead).
    fn sleep(&self, duration: Duration);

    /// Sleeps for at most `duration`, ending early when `cancel` is
    /// cancelled; the flow calls it until its next poll is due, and looks at
    /// the time and the handle after each call, so returning early is
    /// always allowed.
    ///
    /// The provided version sleeps with [`sleep`](Self::sleep) in slices of
    /// at most 50 ms, so that a clock that only implements `sleep` still
    /// notices a cancel promptly. [`SystemClock`] instead blocks once, in a
    /// wait that a cancel ends ([`CancelHandle::wait_timeout`]).
    fn sleep_unless_cancelled(&self, duration: Duration, cancel: &CancelHandle) {
        if !cancel.is_cancelled() {
            self.sleep(duration.min(BARE_FLAG_SLICE));
        }
    }
}

/// The real clocks of the operating system and `std::thread::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
    fn sleep_unless_cancelled(&self, duration: Duration, cancel: &CancelHandle) {
        cancel.wait_timeout(duration);
    }
}

/// A clock that only moves when told to, or when someone sleeps on it.
///
/// Cloning shares the same time, so a test can hand one clone to the client and
/// another to a test authority (the `devicecode-test-authority` crate) and both see the same
/// (fast-forwarded) time.
///
/// ```
/// use devicecode::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.sleep(Duration::from_secs(900)); // returns at once
/// assert_eq!(clock.now() - start, Duration::from_secs(900));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    base: Instant,
    wall_base: SystemTime,
    state: Mutex<ManualState>,
}

#[derive(Debug, Default)]
struct ManualState {
    elapsed: Duration,
    // Wall-clock offset from the monotonic elapsed time, to simulate jumps.
    wall_jump: i128,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock starting at the real "now" of both clocks.
    pub fn new() -> Self {
        ManualClock {
            inner: Arc::new(ManualInner {
                base: Instant::now(),
                wall_base: SystemTime::now(),
                state: Mutex::new(ManualState::default()),
            }),
        }
    }

    /// A clock whose wall-clock time starts at `wall` (its monotonic time
    /// starts at the real "now"), e.g. to read a token cache written at a
    /// known date.
    pub fn starting_at(wall: SystemTime) -> Self {
        ManualClock {
            inner: Arc::new(ManualInner {
                base: Instant::now(),
                wall_base: wall,
                state: Mutex::new(ManualState::default()),
            }),
        }
    }

    /// Moves both clocks forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.elapsed = state.elapsed.saturating_add(by);
    }

    /// Moves only the wall clock, by `seconds` (negative goes back), as NTP
    /// does on a board that booted in 1970. Monotonic time is unaffected.
    pub fn jump_wall_clock(&self, seconds: i64) {
        let mut state = self.lock();
        state.wall_jump += i128::from(seconds) * 1_000_000_000;
    }

    /// Monotonic time elapsed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let elapsed = self.lock().elapsed;
        self.inner
            .base
            .checked_add(elapsed)
            .unwrap_or(self.inner.base)
    }

    fn wall(&self) -> SystemTime {
        let state = self.lock();
        let nanos = state.elapsed.as_nanos() as i128 + state.wall_jump;
        let magnitude =
            Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).unwrap_or(u64::MAX));
        let moved = if nanos >= 0 {
            self.inner.wall_base.checked_add(magnitude)
        } else {
            self.inner.wall_base.checked_sub(magnitude)
        };
        moved.unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn sleep(&self, duration: Duration) {
        self.advance(duration);
        // Let other threads (a test server, a canceller) run between slices.
        std::thread::yield_now();
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn wall(&self) -> SystemTime {
        (**self).wall()
    }
    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration)
    }
    fn sleep_unless_cancelled(&self, duration: Duration, cancel: &CancelHandle) {
        (**self).sleep_unless_cancelled(duration, cancel)
    }
}

/// The release date of this version (2026-11-24, Unix seconds). A wall
/// clock before it is certainly wrong: a build date would serve the same
/// purpose but would make builds unreproducible.
const RELEASED: u64 = 1_795_478_400;

/// Fails with [`ErrorKind::Clock`] when the wall clock is before this
/// version's release, rather than judge token expiries by a clock that a
/// board without a real-time clock reset to 1970.
pub(crate) fn check_wall_clock(wall: SystemTime) -> Result<(), Error> {
    let seconds = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if seconds >= RELEASED {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Clock,
        format!(
            "the system clock reads {}, before this library was released ({}): it is not set. Token expiries cannot be judged; wait for the time to synchronise (systemd: After=time-sync.target) and try again",
            civil_date(seconds),
            civil_date(RELEASED)
        ),
    )
    .retryable(true))
}

/// `YYYY-MM-DD` of Unix seconds (proleptic Gregorian, UTC).
pub(crate) fn civil_date(seconds: u64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let days = (seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_before_the_release_is_reported() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let err = check_wall_clock(at(0)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Clock);
        assert!(err.is_retryable());
        let text = err.to_string();
        assert!(text.contains("1970-01-01"), "{text}");
        assert!(text.contains("2026-11-24"), "{text}");
        assert!(check_wall_clock(at(RELEASED)).is_ok());
        assert!(check_wall_clock(SystemTime::now()).is_ok());
        assert_eq!(civil_date(951_782_400), "2000-02-29");
        assert_eq!(civil_date(4_102_444_799), "2099-12-31");
    }

    #[test]
    fn wall_jump_does_not_move_monotonic_time() {
        let clock = ManualClock::new();
        let (mono, wall) = (clock.now(), clock.wall());
        clock.jump_wall_clock(-3600);
        assert_eq!(clock.now(), mono);
        assert_eq!(
            wall.duration_since(clock.wall()).ok(),
            Some(Duration::from_secs(3600))
        );
        clock.sleep(Duration::from_secs(10));
        assert_eq!(clock.now() - mono, Duration::from_secs(10));
    }

    #[test]
    fn a_clock_that_only_sleeps_looks_at_the_cancel_every_50_ms() {
        // ManualClock keeps the provided, slicing sleep_unless_cancelled.
        let clock = ManualClock::new();
        let cancel = CancelHandle::new();
        clock.sleep_unless_cancelled(Duration::from_secs(600), &cancel);
        assert_eq!(clock.elapsed(), Duration::from_millis(50));
        clock.sleep_unless_cancelled(Duration::from_millis(20), &cancel);
        assert_eq!(clock.elapsed(), Duration::from_millis(70));
        cancel.cancel();
        clock.sleep_unless_cancelled(Duration::from_secs(600), &cancel);
        assert_eq!(clock.elapsed(), Duration::from_millis(70));
    }

    #[test]
    fn clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_secs(5));
        assert_eq!(b.elapsed(), Duration::from_secs(5));
    }
}
