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
    match civil_from_days(seconds / SECONDS_PER_DAY) {
        Some((year, month, day)) => format!("{year:04}-{month:02}-{day:02}"),
        None => format!("{seconds} s after 1970-01-01"),
    }
}

/// Seconds in a civil day (leap seconds are not counted, as in Unix time).
const SECONDS_PER_DAY: u64 = 86_400;

// Howard Hinnant's algorithms: counting years from 1 March puts the leap day
// last, so month lengths follow a linear pattern, and the calendar repeats
// every 400 years (an era of 146 097 days).
const DAYS_PER_ERA: u64 = 146_097;
/// Days from 0000-03-01 to 1970-01-01.
const EPOCH_FROM_YEAR_ZERO: u64 = 719_468;

/// The proleptic Gregorian (year, month, day) of a count of days since
/// 1970-01-01; `None` only for counts no clock reaches.
pub(crate) fn civil_from_days(days: u64) -> Option<(u64, u8, u8)> {
    let z = days.checked_add(EPOCH_FROM_YEAR_ZERO)?;
    let era = z / DAYS_PER_ERA;
    let day_of_era = z % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era
        .checked_mul(400)?
        .checked_add(year_of_era + u64::from(month <= 2))?;
    Some((year, u8::try_from(month).ok()?, u8::try_from(day).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` for a date
/// that does not exist (31 April) or is before 1970, and for a year so large
/// that the count would overflow.
pub(crate) fn days_from_civil(year: u64, month: u8, day: u8) -> Option<u64> {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_length = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_length).contains(&day) {
        return None;
    }
    let (year, month_from_march) = if month <= 2 {
        (year.checked_sub(1)?, u64::from(month) + 9)
    } else {
        (year, u64::from(month) - 3)
    };
    let year_of_era = year % 400;
    let day_of_year = (153 * month_from_march + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (year / 400)
        .checked_mul(DAYS_PER_ERA)?
        .checked_add(day_of_era)?
        .checked_sub(EPOCH_FROM_YEAR_ZERO)
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
    fn civil_dates_round_trip() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (11_016, (2000, 2, 29)),
            (47_541, (2100, 3, 1)),
            (2_932_896, (9999, 12, 31)),
        ] {
            assert_eq!(civil_from_days(days), Some(date), "{days}");
            assert_eq!(
                days_from_civil(date.0, date.1, date.2),
                Some(days),
                "{date:?}"
            );
        }
        assert_eq!(civil_date(2_932_896 * SECONDS_PER_DAY), "9999-12-31");
        // The last second a u64 counts is late in the year 584 554 051 223.
        let last = civil_date(u64::MAX);
        assert!(last.starts_with("584554051223-1"), "{last}");
    }

    #[test]
    fn every_day_of_a_whole_era_round_trips() {
        // The calendar repeats every 400 years, so one era and a bit covers
        // every case the arithmetic has.
        let mut previous = (1969, 12, 31);
        for days in 0..=DAYS_PER_ERA + 366 {
            let date = civil_from_days(days).unwrap();
            let next_day = (previous.0, previous.1, previous.2 + 1);
            let next_month = (previous.0, previous.1 + 1, 1);
            let next_year = (previous.0 + 1, 1, 1);
            assert!(
                [next_day, next_month, next_year].contains(&date),
                "{previous:?} then {date:?}"
            );
            assert_eq!(days_from_civil(date.0, date.1, date.2), Some(days));
            previous = date;
        }
        assert_eq!(previous, (2371, 1, 2));
    }

    #[test]
    fn dates_that_do_not_exist_or_overflow_are_none() {
        assert_eq!(days_from_civil(2100, 2, 29), None);
        assert_eq!(days_from_civil(2026, 4, 31), None);
        assert_eq!(days_from_civil(2026, 0, 1), None);
        assert_eq!(days_from_civil(2026, 13, 1), None);
        assert_eq!(days_from_civil(2026, 1, 0), None);
        assert_eq!(days_from_civil(1969, 12, 31), None);
        assert_eq!(days_from_civil(0, 1, 1), None);
        assert_eq!(days_from_civil(u64::MAX, 12, 31), None);
        // The year the retry_after fuzz target once overflowed on is a day
        // count; only parse_http_date's 9999 limit makes it no advice.
        assert!(days_from_civil(212_022_002_002_026, 10, 1).is_some());
        assert_eq!(days_from_civil(u64::MAX / 365, 1, 1), None);
        assert_eq!(civil_from_days(u64::MAX), None);
        assert!(civil_from_days(u64::MAX - EPOCH_FROM_YEAR_ZERO).is_some());
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
