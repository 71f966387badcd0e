//! The time left on a code, as people read it.

use std::time::Duration;

/// Whole seconds left, rounded up: "0:00" would say the code is dead while
/// it still works for a moment.
pub(crate) fn seconds_left(left: Duration) -> u64 {
    let whole = left.as_secs();
    if left.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// `14:32`, or `1:02:03` past an hour.
pub(crate) fn clock_text(seconds: u64) -> String {
    let (hours, minutes, secs) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{minutes}:{secs:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up_and_read_like_a_clock() {
        assert_eq!(seconds_left(Duration::ZERO), 0);
        assert_eq!(seconds_left(Duration::from_millis(1)), 1);
        assert_eq!(seconds_left(Duration::from_millis(872_001)), 873);
        assert_eq!(seconds_left(Duration::MAX), u64::MAX);
        assert_eq!(clock_text(872), "14:32");
        assert_eq!(clock_text(5), "0:05");
        assert_eq!(clock_text(3723), "1:02:03");
        assert_eq!(clock_text(24 * 3600), "24:00:00");
        assert!(clock_text(u64::MAX).ends_with(":15"));
    }
}
