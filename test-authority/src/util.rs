//! Small helpers the authority needs: random strings and UUIDs, timestamps,
//! form decoding and HTML escaping, mostly thin layers over crates (the
//! authority is test tooling, so its dependency tree may grow; the library's
//! may not).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;

/// Random values for codes, tokens and ids, from the operating system.
#[derive(Debug)]
pub(super) struct Rng {
    system: SystemRandom,
}

impl Rng {
    /// A generator reading the operating system's random source.
    pub(super) fn new() -> Self {
        Rng {
            system: SystemRandom::new(),
        }
    }

    /// `n` random bytes.
    pub(super) fn bytes(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        // Failing here means the kernel cannot give random bytes at all; the
        // authority must not hand out predictable codes instead.
        if self.system.fill(&mut out).is_err() {
            panic!("the operating system gave no random bytes");
        }
        out
    }

    /// A random opaque token: `n` random bytes in base64url (no padding).
    pub(super) fn token(&self, n: usize) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes(n))
    }

    /// A random number below `bound` (which must not be 0). The modulo bias is
    /// negligible for the small bounds used here.
    fn below(&self, bound: u64) -> u64 {
        let mut word = [0; 8];
        word.copy_from_slice(&self.bytes(8));
        u64::from_le_bytes(word) % bound.max(1)
    }

    /// `len` characters drawn from `alphabet` (ASCII).
    pub(super) fn chars(&self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .filter_map(|_| {
                let i = usize::try_from(self.below(alphabet.len() as u64)).ok()?;
                alphabet.get(i).map(|&b| char::from(b))
            })
            .collect()
    }

    /// A random version 4 UUID in the usual lower-case hex form, as Entra
    /// writes trace and correlation ids.
    pub(super) fn uuid(&self) -> String {
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

/// The wall-clock time as the date crates can print it: from 1970 to the end
/// of 9999 (both panic outside that), as a test's fake clock may be anywhere.
fn printable_time(t: SystemTime) -> SystemTime {
    const LAST: Duration = Duration::from_secs(253_402_300_799); // 9999-12-31 23:59:59
    t.clamp(UNIX_EPOCH, UNIX_EPOCH + LAST)
}

/// Formats a wall-clock time the way Entra writes it in error answers:
/// `2026-11-24 06:00:00Z` (UTC, no fraction).
pub(super) fn entra_timestamp(t: SystemTime) -> String {
    let t = OffsetDateTime::from(printable_time(t));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Formats a wall-clock time as an HTTP `Date` (RFC 9110 section 5.6.7,
/// IMF-fixdate): `Tue, 24 Nov 2026 06:00:00 GMT`.
pub(super) fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(printable_time(t))
}

/// Decodes an `application/x-www-form-urlencoded` body (or query string) the
/// way the WHATWG URL standard and most servers do: a broken `%` escape is
/// kept as written and bytes that are not UTF-8 become U+FFFD.
///
/// Pairs keep their order and duplicates are kept, so that the caller can
/// reject a repeated parameter as RFC 6749 section 3.2 asks.
pub(super) fn decode_form(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
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
    fn fake_clocks_far_from_now_do_not_panic() {
        let before = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(entra_timestamp(before), "1970-01-01 00:00:00Z");
        assert_eq!(http_date(before), "Thu, 01 Jan 1970 00:00:00 GMT");
        let after = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(entra_timestamp(after), "9999-12-31 23:59:59Z");
        assert_eq!(http_date(after), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn forms_decode_plus_and_percent() {
        let pair = |name: &str, value: &str| (name.to_string(), value.to_string());
        let form = decode_form(b"scope=openid+offline_access&x=%41%c3%a9&empty=&flag");
        assert_eq!(
            form,
            vec![
                ("scope".into(), "openid offline_access".into()),
                ("x".into(), "A\u{e9}".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(
            decode_form(b"a=%4&b=%zz"),
            [pair("a", "%4"), pair("b", "%zz")]
        );
        assert_eq!(
            decode_form(b"a=%ff&a=1"),
            [pair("a", "\u{fffd}"), pair("a", "1")]
        );
    }

    #[test]
    fn uuids_and_guids() {
        let rng = Rng::new();
        let id = rng.uuid();
        assert!(is_guid(&id), "{id}");
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(!is_guid("organizations"));
        assert_ne!(rng.token(32), rng.token(32));
        assert_eq!(rng.token(32).len(), 43);
        let code = rng.chars(b"AB", 64);
        assert!(code.contains('A') && code.contains('B'), "{code}");
    }
}
