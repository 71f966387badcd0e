//! Claims challenges (continuous access evaluation): reading what a resource
//! asks for when it refuses an access token whose claims no longer suffice.
//!
//! A resource that speaks CAE answers `401` with `WWW-Authenticate: Bearer
//! ..., error="insufficient_claims", claims="<base64 JSON>"`. The decoded JSON
//! goes to [`SilentOptions::claims_challenge`](crate::SilentOptions::claims_challenge)
//! (or a device flow's), which skips the cached access token and asks for a
//! new one with those claims.

use crate::json::base64url_decode;
use serde_json::Value;

/// The claims challenge of a resource's `WWW-Authenticate` header: the JSON
/// object its `claims` parameter holds (base64, with or without padding),
/// when the header says `error="insufficient_claims"`. `None` for any other
/// header (an expired or invalid token, another scheme), and for a `claims`
/// that is not base64 of a JSON object.
///
/// ```
/// let header = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNzAwMDAwMDAwIn19fQ==""#;
/// let claims = devicecode::claims_challenge_from_www_authenticate(header).unwrap();
/// assert_eq!(claims, r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
/// ```
pub fn claims_challenge_from_www_authenticate(header: &str) -> Option<String> {
    let params = auth_params(header);
    let wanted = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if !wanted("error")?.eq_ignore_ascii_case("insufficient_claims") {
        return None;
    }
    decode_claims(wanted("claims")?)
}

/// A claims challenge given as base64 (what the header carries) or as the
/// JSON itself, as the JSON text of an object.
pub(crate) fn decode_claims(text: &str) -> Option<String> {
    let text = text.trim();
    let json = if text.starts_with('{') {
        text.as_bytes().to_vec()
    } else {
        base64url_decode(text)?
    };
    match serde_json::from_slice::<Value>(&json) {
        Ok(Value::Object(_)) => String::from_utf8(json).ok(),
        _ => None,
    }
}

/// The `name=value` parameters of every challenge in the header, values
/// unquoted (RFC 9110 section 11.2: token or quoted-string, `\` escapes).
fn auth_params(header: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = header.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if c != '=' {
            if c == ',' || c.is_whitespace() {
                word.clear();
            } else {
                word.push(c);
            }
            continue;
        }
        // A token68 (`Basic abc==`) ends in '=' too: it has no value after.
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if !word.is_empty() {
            params.push((std::mem::take(&mut word), value));
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    const NBF: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;

    #[test]
    fn the_challenge_is_read_from_the_header_in_its_forms() {
        let padded = "eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxNzAwMDAwMDAwIn19fQ==";
        for header in [
            format!(r#"Bearer realm="", error="insufficient_claims", claims="{padded}""#),
            format!(
                r#"Bearer error=insufficient_claims, claims="{}""#,
                padded.trim_end_matches('=')
            ),
            format!(r#"Basic realm="x", Bearer Error="Insufficient_Claims",claims="{padded}""#),
        ] {
            assert_eq!(
                claims_challenge_from_www_authenticate(&header).as_deref(),
                Some(NBF),
                "{header}"
            );
        }
        for header in [
            "",
            "Bearer",
            r#"Bearer error="invalid_token", claims="e30=""#,
            r#"Bearer error="insufficient_claims""#,
            r#"Bearer error="insufficient_claims", claims="bm90IGpzb24=""#,
            r#"Bearer error="insufficient_claims", claims="W10=""#,
            r#"Bearer error="insufficient_claims", claims="@@@""#,
            "Bearer error=\"insufficient_claims\", claims=\"\\",
        ] {
            assert_eq!(
                claims_challenge_from_www_authenticate(header),
                None,
                "{header}"
            );
        }
        assert_eq!(decode_claims(NBF).as_deref(), Some(NBF));
    }
}
