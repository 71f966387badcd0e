//! Reading JSON answers field by field.
//!
//! Servers disagree on types (`"interval": "5"`, `"expires_in": 900.0`), so
//! each field is read with the leniency it needs and a wrong type becomes a
//! typed [`InvalidResponse`](crate::ErrorKind::InvalidResponse) error naming
//! the field, never a panic.

use crate::error::Error;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use std::borrow::Cow;

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
            Value::String(s) => {
                let s = s.trim();
                s.parse::<u64>().ok().or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .map(|f| f as u64)
                })
            }
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

/// base64url as servers write it: padding is stripped by the caller, so
/// none is expected here, and unused low bits in the last character are
/// ignored rather than refused (nothing is signed on this side).
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64url (RFC 4648 section 5), with or without padding. The
/// standard alphabet's `+` and `/` are accepted too, even mixed in, as some
/// servers use it.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let text: Cow<'_, str> = if text.contains(['+', '/']) {
        Cow::Owned(text.replace('+', "-").replace('/', "_"))
    } else {
        Cow::Borrowed(text)
    };
    BASE64URL.decode(text.as_bytes()).ok()
}

/// Encodes base64url without padding, as JOSE (DPoP proofs) and the
/// library's tests (id_tokens, client_info) need.
#[cfg(any(test, feature = "dpop"))]
pub(crate) fn base64url_encode(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
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
