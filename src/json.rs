//! Reading JSON answers field by field.
//!
//! Servers disagree on types (`"interval": "5"`, `"expires_in": 900.0`), so
//! each field is read with the leniency it needs and a wrong type becomes a
//! typed [`InvalidResponse`](crate::ErrorKind::InvalidResponse) error naming
//! the field, never a panic.

use crate::error::Error;
use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON object from a server (or a file), with lenient typed getters.
#[derive(Debug)]
pub(crate) struct Object {
    map: Map<String, Value>,
    what: &'static str,
}

impl Object {
    /// Parses `body` as one JSON object; `what` names it in errors.
    pub fn parse(body: &[u8], what: &'static str) -> Result<Object, Error> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Object { map, what }),
            Ok(_) => Err(Error::invalid(format!(
                "the {what} is JSON but not an object"
            ))),
            Err(e) => Err(Error::invalid(format!("the {what} is not valid JSON")).with_source(e)),
        }
    }

    /// The object itself.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    fn wrong_type(&self, key: &str, expected: &str) -> Error {
        Error::invalid(format!(
            "the {} has a '{key}' that is not {expected}",
            self.what
        ))
    }

    fn missing(&self, key: &str) -> Error {
        Error::invalid(format!("the {} has no '{key}'", self.what))
    }

    /// Whether the field is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        !matches!(self.map.get(key), None | Some(Value::Null))
    }

    /// An optional string; `null` counts as absent.
    pub fn str(&self, key: &str) -> Result<Option<&str>, Error> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(key, "a string")),
        }
    }

    /// A string that must be there and not empty.
    pub fn required_str(&self, key: &str) -> Result<&str, Error> {
        match self.str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.missing(key)),
        }
    }

    /// A count of seconds: a non-negative number or a numeric string.
    /// Fractions are rounded down; negative values are errors.
    pub fn seconds(&self, key: &str) -> Result<Option<u64>, Error> {
        let value = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v,
        };
        let number = match value {
            Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            Value::String(s) => whole_seconds(s.trim()),
            _ => None,
        };
        number
            .map(Some)
            .ok_or_else(|| self.wrong_type(key, "a number of seconds"))
    }

    /// An array of non-negative integers (Entra's `error_codes`); anything
    /// else in it is skipped, since these are only advice.
    pub fn numbers(&self, key: &str) -> Vec<u64> {
        match self.map.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_u64).collect(),
            _ => Vec::new(),
        }
    }
}

/// Any JSON value, checked as strictly as parsing it into a
/// [`Value`] would (string escapes, number ranges, nesting depth) and
/// then dropped without being built. serde's `IgnoredAny` skips values with
/// laxer checks, which would let a file we cannot rewrite pass as readable.
pub(crate) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// A JSON value as lookups read it: a string (borrowed from the input when
/// it has no escapes), a non-negative integer, or anything else (checked
/// like [`Checked`], and not kept).
#[derive(Debug, PartialEq)]
pub(crate) enum Scalar<'de> {
    Str(Cow<'de, str>),
    Int(u64),
    Other,
}

impl Scalar<'_> {
    /// The string, or `None` for any other value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(n).map_or(Scalar::Other, Scalar::Int))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(n))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        CheckedVisitor.visit_seq(seq).map(|_| Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        CheckedVisitor.visit_map(map).map(|_| Scalar::Other)
    }
}

/// Reads the members of a JSON object one by one, for [`ObjectOnly`].
pub(crate) trait ReadMembers<'de> {
    type Out;
    fn read<A: MapAccess<'de>>(self, members: A) -> Result<Self::Out, A::Error>;
}

/// A value that is read only when it is an object (by `S`); any other value
/// is checked like [`Checked`] and gives `None`, so that a wrong type is the
/// caller's to judge while bad JSON stays an error.
pub(crate) struct ObjectOnly<S>(pub S);

impl<'de, S: ReadMembers<'de>> DeserializeSeed<'de> for ObjectOnly<S> {
    type Value = Option<S::Out>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: ReadMembers<'de>> Visitor<'de> for ObjectOnly<S> {
    type Value = Option<S::Out>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, members: A) -> Result<Self::Value, A::Error> {
        self.0.read(members).map(Some)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        CheckedVisitor.visit_seq(seq).map(|_| None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Decodes base64url (RFC 4648 section 5), with or without padding. The
/// standard alphabet's `+` and `/` are accepted too, even mixed in, as some
/// servers use it. Unused low bits in the last character are ignored rather
/// than refused (nothing is signed on this side).
///
/// Written out rather than through the `base64` crate: every silent call
/// decodes a kilobyte id_token, and a plain four-characters-at-a-time loop
/// costs half as much in a size-optimised build.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=').as_bytes();
    let (quads, rest) = text.as_chunks::<4>();
    // Two characters carry one byte, three carry two; one alone is not
    // base64 (and a padding character anywhere but the end is no sextet).
    let tail = match rest.len() {
        0 => 0,
        2 => 1,
        3 => 2,
        _ => return None,
    };
    let mut out = vec![0u8; quads.len().checked_mul(3)?.checked_add(tail)?];
    let (triples, last) = out.as_chunks_mut::<3>();
    for (triple, quad) in triples.iter_mut().zip(quads) {
        let [a, b, c, d] = quad.map(|c| SEXTETS.get(usize::from(c)).copied().unwrap_or(INVALID));
        // One test for the four: a character that is no sextet has a high bit.
        if (a | b | c | d) & INVALID != 0 {
            return None;
        }
        let bits = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        let [_, x, y, z] = bits.to_be_bytes();
        *triple = [x, y, z];
    }
    let bits = rest
        .iter()
        .try_fold(0u32, |bits, c| Some((bits << 6) | sextet(*c)?))?;
    match last {
        [x] => *x = (bits >> 4) as u8,
        [x, y] => {
            let [_, _, hi, lo] = (bits >> 2).to_be_bytes();
            (*x, *y) = (hi, lo);
        }
        _ => {}
    }
    Some(out)
}

/// What marks a byte that is no base64 character in [`SEXTETS`].
const INVALID: u8 = 0x80;

/// The six bits each byte stands for as a base64 character (either
/// alphabet), or [`INVALID`]: one load per character in the decoding loop.
static SEXTETS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut c = 0u8;
    loop {
        if let Some(value) = sextet(c) {
            table[c as usize] = value as u8;
        }
        if c == u8::MAX {
            break table;
        }
        c += 1;
    }
};

/// The six bits a base64 character (either alphabet) stands for.
const fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' | b'+' => 62,
        b'_' | b'/' => 63,
        _ => return None,
    };
    Some(value as u32)
}

/// Encodes base64url without padding, as JOSE (DPoP proofs) and the
/// library's tests (id_tokens, client_info) need.
#[cfg(any(test, feature = "dpop"))]
pub(crate) fn base64url_encode(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The whole seconds of a number written as a string (`"3600"`, `"+3600"`,
/// `"3599.5"`), read without float parsing (which would cost a board 17 KB
/// for this one case). One too large for a `u64` saturates, as the float
/// did: the callers cap what they take.
fn whole_seconds(text: &str) -> Option<u64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    if whole.is_empty() {
        return Some(0);
    }
    // Only digits: the parse fails only by overflowing.
    Some(whole.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_seconds() {
        let o = Object::parse(
            br#"{"a":5,"b":"7","c":9.5,"d":-1,"e":"x","f":null,"g":true," h":1}"#,
            "test answer",
        )
        .unwrap();
        assert_eq!(o.seconds("a").unwrap(), Some(5));
        assert_eq!(o.seconds("b").unwrap(), Some(7));
        assert_eq!(o.seconds("c").unwrap(), Some(9));
        assert!(o.seconds("d").is_err());
        assert!(o.seconds("e").unwrap_err().to_string().contains("'e'"));
        assert_eq!(o.seconds("f").unwrap(), None);
        assert!(o.seconds("g").is_err());
        assert_eq!(o.seconds("missing").unwrap(), None);
        let o = Object::parse(
            br#"{"a":"3599.9","b":" 12. ","c":".5","d":"-1.5","e":"1e3","f":".","g":"99999999999999999999.0","h":"+60","i":"99999999999999999999"}"#,
            "test answer",
        )
        .unwrap();
        assert_eq!(o.seconds("a").unwrap(), Some(3599));
        assert_eq!(o.seconds("b").unwrap(), Some(12));
        assert_eq!(o.seconds("c").unwrap(), Some(0));
        assert_eq!(o.seconds("g").unwrap(), Some(u64::MAX));
        assert_eq!(o.seconds("h").unwrap(), Some(60));
        assert_eq!(o.seconds("i").unwrap(), Some(u64::MAX));
        for refused in ["d", "e", "f"] {
            assert!(o.seconds(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn strings_and_objects() {
        assert!(Object::parse(b"[1]", "x").is_err());
        assert!(Object::parse(b"<html>", "x").is_err());
        let o = Object::parse(br#"{"s":"v","n":1,"e":"","codes":[1,"x",3]}"#, "x").unwrap();
        assert_eq!(o.str("s").unwrap(), Some("v"));
        assert!(o.str("n").is_err());
        assert!(o.required_str("e").is_err());
        assert!(o.required_str("none").is_err());
        assert_eq!(o.numbers("codes"), vec![1, 3]);
    }

    #[test]
    fn base64url() {
        assert_eq!(
            base64url_decode("eyJ1aWQiOiIxIn0").unwrap(),
            br#"{"uid":"1"}"#
        );
        assert_eq!(
            base64url_decode("eyJ1aWQiOiIxIn0=").unwrap(),
            br#"{"uid":"1"}"#
        );
        assert_eq!(base64url_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(base64url_decode("").unwrap(), Vec::<u8>::new());
        assert!(base64url_decode("a").is_none());
        assert!(base64url_decode("ab$c").is_none());
        // Every byte that is no base64 character, at each place of a quad.
        for bad in (0..=u8::MAX).filter(|b| !b.is_ascii_alphanumeric() && !b"-_+/=".contains(b)) {
            let bad = char::from(bad).to_string();
            for at in 0..4 {
                let mut text = "QUJD".to_string();
                text.replace_range(at..at + 1, &bad);
                assert!(base64url_decode(&text).is_none(), "{text:?}");
            }
        }
        assert!(base64url_decode("QU=D").is_none(), "padding inside");
        assert_eq!(base64url_decode("QUJD").unwrap(), b"ABC");
    }

    #[test]
    fn base64url_is_liberal_where_servers_differ() {
        // Padding: canonical, none, or more than needed.
        for text in ["Zm8", "Zm8=", "Zm8==", "Zm8==="] {
            assert_eq!(
                base64url_decode(text).as_deref(),
                Some(&b"fo"[..]),
                "{text}"
            );
        }
        // The standard alphabet, alone or mixed with the URL-safe one.
        assert_eq!(base64url_decode("+/8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(base64url_decode("-/+_").unwrap(), vec![0xfb, 0xff, 0xbf]);
        // Unused low bits set: "Zm9" and "Zm8" are both "fo".
        assert_eq!(base64url_decode("Zm9").as_deref(), Some(&b"fo"[..]));
        // Only padding is nothing; a lone '=' is padding too.
        assert_eq!(base64url_decode("=").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn base64url_refuses_what_is_not_base64() {
        for text in [
            "a",
            "abcde",
            "a=bc",
            "Zm8=Zm8",
            " Zm8",
            "Zm8 ",
            "Zm\n8",
            "Zm8.",
            "\u{e9}Zm8",
        ] {
            assert_eq!(base64url_decode(text), None, "{text:?}");
        }
    }

    #[test]
    fn base64url_decodes_as_the_base64_crate_configured_as_servers_need() {
        use base64::Engine as _;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let lenient = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::RequireNone)
                .with_decode_allow_trailing_bits(true),
        );
        let reference = |text: &str| {
            let text = text
                .trim_end_matches('=')
                .replace('+', "-")
                .replace('/', "_");
            lenient.decode(text).ok()
        };
        // Every string of up to five characters over letters at both ends
        // of the alphabet, both alphabets' extra characters, padding and
        // characters outside base64.
        let chars = ['A', 'z', '9', '-', '_', '+', '/', '=', '.'];
        let mut texts = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| chars.iter().map(move |c| format!("{t}{c}")))
                .collect();
            for text in &longer {
                assert_eq!(base64url_decode(text), reference(text), "{text:?}");
            }
            texts = longer;
        }
        assert_eq!(texts.len(), 9usize.pow(5));
    }

    #[test]
    fn base64url_round_trips_every_length() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..=bytes.len() {
            let data = &bytes[..len];
            let text = base64url_encode(data);
            assert!(!text.contains(['=', '+', '/']), "{text}");
            assert_eq!(base64url_decode(&text).as_deref(), Some(data), "{len}");
        }
    }
}
