//! What `token` may print: a bearer token (RFC 6750 section 2.1). The token
//! comes from a server or from a file any program of the user can write, and
//! ends up in `curl -H "Authorization: Bearer $(devicecode token)"`: a CR or
//! LF there adds headers, an ESC drives the terminal that shows it.

/// Whether `token` is a `b64token`:
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_by_the_grammar() {
        for good in ["abc", "eyJ0eXAi.eyJzdWIi.sig-_~+/", "a==", "Zm9v="] {
            assert!(is_b64token(good), "{good}");
        }
        for bad in [
            "",
            "=",
            "==",
            "a=b",
            "a b",
            "a\n",
            "a\r\nX-Evil: 1",
            "\u{1b}]0;x\u{7}",
            "ä",
            "a,b",
        ] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }
}
