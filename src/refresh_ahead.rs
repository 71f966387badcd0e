//! When a cached access token is renewed ahead of its expiry.
//!
//! A building's boards that come back from a power cut sign in within the
//! same minute, get tokens with the same expiry, and, if each renewed at a
//! fixed point before it, would all refresh in the same second. So each token
//! gets its own point, drawn from its secret (stable across processes and
//! restarts, different on every board): in the five minutes before the last
//! moment it may be served (five minutes before expiry, MSAL's rule), or
//! before the server's `refresh_in` advice. A silent call after that point
//! renews the token, and still returns it if the renewal fails.

use crate::cache::schema::MIN_LIFETIME;
use std::time::{Duration, SystemTime};

/// How far before its latest point a token's renewal may be spread.
pub(crate) const SPREAD: Duration = Duration::from_secs(300);

/// The point from which a silent call renews a token that expires at
/// `expires_at`, was received at `received_at`, and for which the server may
/// have advised `refresh_at` (`refresh_in`). `seed` spreads it; the result
/// is never after the last moment the token is served, nor before it was
/// received, nor earlier than halfway through its life (a short-lived token
/// is not renewed at once).
pub(crate) fn renew_after(
    expires_at: SystemTime,
    refresh_at: Option<SystemTime>,
    received_at: SystemTime,
    seed: u64,
) -> SystemTime {
    let latest = expires_at
        .checked_sub(MIN_LIFETIME)
        .unwrap_or(expires_at)
        .max(received_at);
    let advised = refresh_at.map_or(latest, |at| at.clamp(received_at, latest));
    let half_life = advised
        .duration_since(received_at)
        .unwrap_or(Duration::ZERO)
        / 2;
    let spread = SPREAD.min(half_life).mul_f64(fraction(seed));
    advised.checked_sub(spread).unwrap_or(advised)
}

/// A stable seed from a token's secret: FNV-1a, mixed so that secrets that
/// differ in one byte land far apart.
pub(crate) fn seed_of(secret: &str) -> u64 {
    // Only the end of a long token: a JWT's last bytes are its signature,
    // another on every token, as is the random tail of an opaque one, and
    // hashing all of an Entra token (1-2 KB) cost a cache hit ~8 k
    // instructions, 2 % of it.
    const TAIL: usize = 128;
    let bytes = secret.as_bytes();
    let tail = bytes
        .get(bytes.len().saturating_sub(TAIL)..)
        .unwrap_or(bytes);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in tail {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // SplitMix64's finaliser.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// A fraction in [0, 1) from the top 53 bits of `seed`.
fn fraction(seed: u64) -> f64 {
    (seed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const T0: u64 = 1_800_000_000;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn the_point_stays_inside_its_window() {
        for seed in [0, 1, u64::MAX, seed_of("a"), seed_of("b")] {
            // An hour's token: in [expiry - 10 min, expiry - 5 min].
            let point = renew_after(at(T0 + 3600), None, at(T0), seed);
            assert!(point >= at(T0 + 3000) && point <= at(T0 + 3300), "{seed}");
            // Entra's refresh_in (half of 28 h): spread before it.
            let point = renew_after(at(T0 + 100_800), Some(at(T0 + 50_400)), at(T0), seed);
            assert!(
                point >= at(T0 + 50_100) && point <= at(T0 + 50_400),
                "{seed}"
            );
            // A refresh_in past the last moment is pulled back before it.
            let point = renew_after(at(T0 + 3600), Some(at(T0 + 9999)), at(T0), seed);
            assert!(point <= at(T0 + 3300), "{seed}");
            // A ten-minute token: not before half its life.
            let point = renew_after(at(T0 + 600), None, at(T0), seed);
            assert!(point >= at(T0 + 150) && point <= at(T0 + 300), "{seed}");
            // Already dead, or absurd: never a panic, never after expiry.
            let point = renew_after(at(T0), None, at(T0 + 10), seed);
            assert_eq!(point, at(T0 + 10));
            let _ = renew_after(at(0), Some(at(u64::MAX / 4)), at(0), seed);
        }
        assert_ne!(seed_of("token-1"), seed_of("token-2"));
        // Long tokens that share their header and claims: the signature at
        // the end tells them apart.
        let jwt = |signature: &str| format!("{}.{signature}", "eyJhbGciOi".repeat(150));
        assert_ne!(seed_of(&jwt("c2lnLTE")), seed_of(&jwt("c2lnLTI")));
    }

    /// Boards in the fleet simulation.
    const FLEET: usize = 10_000;

    /// 10,000 boards signed in in the same second (after a power cut), so
    /// every access token expires at the same moment, and each board makes a
    /// silent call every minute on one shared `ManualClock`; with `phases`,
    /// each board's minute starts at its own second (when it booted).
    /// Returns the most refreshes in one second, and checks every token is
    /// renewed before it stops being served.
    fn fleet_peak(phases: bool, spread: bool) -> usize {
        let clock = ManualClock::starting_at(at(T0));
        let received = clock.wall();
        let expires = received + Duration::from_secs(3599);
        let mut rng: u64 = 0x5eed;
        // Each board: the second of the minute it calls at, and its point.
        let boards: Vec<(u64, SystemTime)> = (0..FLEET)
            .map(|board| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let phase = if phases { rng % 60 } else { 0 };
                let secret = format!("board-{board}-access-token");
                let point = if spread {
                    renew_after(expires, None, received, seed_of(&secret))
                } else {
                    // What the client did before: renew once fewer than
                    // five minutes are left.
                    expires - MIN_LIFETIME
                };
                (phase, point)
            })
            .collect();
        // The boards that call at each second of the minute, not renewed yet.
        let mut waiting: Vec<Vec<SystemTime>> = vec![Vec::new(); 60];
        for (phase, point) in boards {
            if let Some(bucket) = usize::try_from(phase).ok().and_then(|p| waiting.get_mut(p)) {
                bucket.push(point);
            }
        }
        let mut peak = 0;
        for second in 0..3600usize {
            let now = clock.wall();
            if let Some(calling) = waiting.get_mut(second % 60) {
                let before = calling.len();
                // A silent call renews once the token's point has passed.
                calling.retain(|point| now < *point);
                peak = peak.max(before - calling.len());
            }
            if waiting.iter().all(Vec::is_empty) {
                assert!(now + Duration::from_secs(60) <= expires, "renewed in time");
                return peak;
            }
            clock.advance(Duration::from_secs(1));
        }
        panic!("some board never renewed");
    }

    #[test]
    fn a_fleet_signed_in_together_does_not_refresh_together() {
        // Every board calls in the same second of the minute: before, all of
        // them refreshed in one second; spread over five minutes, at most
        // a fifth (and a little) do.
        let before = fleet_peak(false, false);
        let aligned = fleet_peak(false, true);
        // Boards whose minutes start at their own second.
        let before_phased = fleet_peak(true, false);
        let phased = fleet_peak(true, true);
        println!(
            "peak refreshes per second of {FLEET} boards: aligned calls {before} -> {aligned}; calls at each board's own second {before_phased} -> {phased}"
        );
        assert_eq!(before, FLEET);
        assert!(aligned <= FLEET / 5 + FLEET / 20, "{aligned}");
        assert!(phased <= 60, "{phased}");
        assert!(phased * 3 < before_phased, "{phased} vs {before_phased}");
    }
}
