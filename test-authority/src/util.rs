//! Small helpers the authority needs and the crate's dependencies do not give:
//! base64url, random strings, UUIDs, timestamps, form decoding and HTML escaping.
//!
//! They are written here rather than pulled in as crates because the test
//! authority ships inside the library and must not grow its dependency tree.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// Encodes bytes as base64url without padding (RFC 4648 section 5), the
/// alphabet of JWTs and of Entra's `client_info`.
pub(super) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        // n input bytes carry 8n bits, which need n + 1 six-bit characters.
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// A source of unguessable-enough random values for codes and tokens.
///
/// Each value is SipHash (keyed by `RandomState`, which the standard library
/// seeds from the operating system) of a counter and the time. That is plenty
/// for test tooling and needs no `rand` crate.
pub(super) struct Rng {
    keys: RandomState,
    counter: u64,
}

impl std::fmt::Debug for Rng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never show the keys: they would make every token predictable.
        f.write_str("Rng { .. }")
    }
}

impl Rng {
    /// A new generator with fresh keys.
    pub(super) fn new() -> Self {
        Rng {
            keys: RandomState::new(),
            counter: 0,
        }
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut hasher = self.keys.build_hasher();
        hasher.write_u64(self.counter);
        hasher.write_u128(nanos);
        hasher.finish()
    }

    /// `n` random bytes.
    pub(super) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// A random opaque token: `n` random bytes in base64url.
    pub(super) fn token(&mut self, n: usize) -> String {
        base64url(&self.bytes(n))
    }

    /// A random number below `bound` (which must not be 0). The modulo bias is
    /// negligible for the small bounds used here.
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// `len` characters drawn from `alphabet` (ASCII).
    pub(super) fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .filter_map(|_| {
                let i = usize::try_from(self.below(alphabet.len() as u64)).ok()?;
                alphabet.get(i).map(|&b| char::from(b))
            })
            .collect()
    }

    /// A random version 4 UUID in the usual lower-case hex form, as Entra
    /// writes trace and correlation ids.
    pub(super) fn uuid(&mut self) -> String {
        let mut b = self.bytes(16);
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// True if `s` has the shape of a GUID (`8-4-4-4-12` hex digits).
pub(super) fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Seconds since the Unix epoch (0 for times before it).
pub(super) fn epoch_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats a wall-clock time the way Entra writes it in error answers:
/// `2026-11-24 06:00:00Z` (UTC, no fraction).
pub(super) fn entra_timestamp(t: SystemTime) -> String {
    let secs = epoch_seconds(t);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Formats a wall-clock time as an HTTP `Date` (RFC 9110 section 5.6.7,
/// IMF-fixdate): `Tue, 24 Nov 2026 06:00:00 GMT`.
pub(super) fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_seconds(t);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    // 1970-01-01 was a Thursday.
    let weekday = DAYS
        .get(usize::try_from(days % 7).unwrap_or(0))
        .unwrap_or(&"Thu");
    let month = MONTHS
        .get(usize::try_from(month).unwrap_or(1).saturating_sub(1))
        .unwrap_or(&"Jan");
    format!(
        "{weekday}, {day:02} {month} {year:04} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// The calendar repeats every 400 years (146 097 days); counting from 1 March
/// puts the leap day at the end of the year, so month lengths follow a simple
/// linear pattern.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
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
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are within 1..=31 and 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Why a form body could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadForm;

/// Decodes an `application/x-www-form-urlencoded` body (or query string):
/// `+` is a space and `%XX` a byte; the result must be UTF-8.
///
/// Pairs keep their order and duplicates are kept, so that the caller can
/// reject a repeated parameter as RFC 6749 section 3.2 asks.
pub(super) fn decode_form(input: &[u8]) -> Result<Vec<(String, String)>, BadForm> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> Result<String, BadForm> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).and_then(|&c| hex_value(c));
                let lo = input.get(i + 2).and_then(|&c| hex_value(c));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(BadForm),
                }
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadForm)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Escapes text for HTML element content and attribute values, because the
/// login page echoes what a browser sent.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        // RFC 4648 section 10, without padding; plus bytes that need - and _.
        let cases: [(&[u8], &str); 8] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xbf], "-_-_"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64url(input), expected);
        }
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = |secs| entra_timestamp(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(at(1_795_500_000), "2026-11-24 06:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59Z");
        let date = |secs| http_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(date(1_795_500_000), "Tue, 24 Nov 2026 06:00:00 GMT");
    }

    #[test]
    fn forms_decode_plus_and_percent() {
        let form = decode_form(b"scope=openid+offline_access&x=%41%c3%a9&empty=&flag").unwrap();
        assert_eq!(
            form,
            vec![
                ("scope".into(), "openid offline_access".into()),
                ("x".into(), "A\u{e9}".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(decode_form(b"a=%4"), Err(BadForm));
        assert_eq!(decode_form(b"a=%zz"), Err(BadForm));
        assert_eq!(decode_form(b"a=%ff"), Err(BadForm));
    }

    #[test]
    fn uuids_and_guids() {
        let mut rng = Rng::new();
        let id = rng.uuid();
        assert!(is_guid(&id), "{id}");
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(!is_guid("organizations"));
        assert_ne!(rng.token(32), rng.token(32));
    }
}
