//! Making server text safe to show to a person.
//!
//! A server (or whoever sits in front of it) chooses the `message`, the
//! `user_code`, the verification address, OAuth error fields and the names in
//! an id_token. Printed raw, they could drive the terminal (clear the screen,
//! retitle the window, plant an OSC 8 hyperlink that points elsewhere) or use
//! bidirectional overrides so that one address reads as another. Everything of
//! that kind goes, whole, before the text reaches a [`DeviceFlow`],
//! an [`Account`] or an [`Error`] message.
//!
//! [`DeviceFlow`]: crate::DeviceFlow
//! [`Account`]: crate::Account
//! [`Error`]: crate::Error

/// What an escape introduces.
enum Sequence {
    /// A control sequence (`ESC [` or C1 `CSI`): parameters, then one final
    /// byte.
    Control,
    /// A control string (OSC, DCS, SOS, PM, APC): anything up to a string
    /// terminator (`ESC \`, C1 `ST` or, for OSC, `BEL`).
    String,
}

/// Strips terminal escape sequences (as whole sequences, not only their
/// `ESC`), C0 and C1 control characters and bidirectional formatting
/// characters; trims the ends.
pub(crate) fn printable(text: &str) -> String {
    if is_plain(text) {
        return text.trim().to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let sequence = match c {
            '\u{1b}' => match chars.next() {
                Some('[') => Sequence::Control,
                Some(']' | 'P' | 'X' | '^' | '_') => Sequence::String,
                // ESC and one character (ESC c, ESC 7, ...), or a lone ESC.
                _ => continue,
            },
            '\u{9b}' => Sequence::Control,
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => Sequence::String,
            c if c.is_control() || is_bidi_control(c) => continue,
            c => {
                out.push(c);
                continue;
            }
        };
        match sequence {
            // Parameter and intermediate bytes, then a final byte. Anything
            // else ends a malformed sequence and is read as text again, so a
            // broken escape cannot swallow the rest of the message.
            Sequence::Control => {
                let parameter = |c: &char| ('\u{20}'..='\u{3f}').contains(c);
                while chars.next_if(parameter).is_some() {}
                chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
            }
            // The payload is never meant to be seen; an unterminated string
            // runs to the end, as a terminal would take it.
            Sequence::String => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}'
                        || c == '\u{9c}'
                        || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some())
                    {
                        break;
                    }
                }
            }
        }
    }
    out.trim().to_string()
}

/// As [`printable`], keeping `text`'s own buffer when it has nothing to
/// strip (a file of a thousand account names need not copy each).
pub(crate) fn printable_owned(text: String) -> String {
    if is_plain(&text) && text.trim().len() == text.len() {
        return text;
    }
    printable(&text)
}

/// Plain printable ASCII, which has nothing to strip (nearly every text a
/// server sends): one byte test instead of decoding it char by char.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Bidirectional marks, embeddings, overrides and isolates: they can make
/// `https://evil.example/moc.tfosorcim` read as something else.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `text` is what [`printable`] leaves (line breaks allowed): for
/// tests and the fuzz targets' invariants.
#[cfg(any(test, feature = "__fuzz"))]
pub(crate) fn is_printable(text: &str) -> bool {
    !text
        .chars()
        .any(|c| (c.is_control() && c != '\n') || is_bidi_control(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_is_only_trimmed() {
        assert_eq!(
            printable("  ABCD-EFGH https://x.example/a?b=c~ "),
            "ABCD-EFGH https://x.example/a?b=c~"
        );
        // DEL is just past the printable range: it goes the long way, and goes.
        assert_eq!(printable(" a\u{7f}b "), "ab");
        assert_eq!(printable("\ta b\n"), "a b");
        for text in ["Ann Example", " Ann ", "Ann\u{1b}[2J", "Zoë\u{202e}"] {
            assert_eq!(
                printable_owned(text.to_string()),
                printable(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn control_sequences_go_whole() {
        assert_eq!(printable("a\u{1b}[31;1mred\u{1b}[0m b"), "ared b");
        assert_eq!(printable("\u{1b}[2J\u{1b}[Hcleared"), "cleared");
        assert_eq!(
            printable("c1\u{9b}2Jz"),
            "c1z",
            "C1 CSI with its parameters"
        );
        assert_eq!(printable("unterminated \u{1b}[12"), "unterminated");
        // A malformed sequence ends where its bytes stop fitting.
        assert_eq!(printable("a\u{1b}[1\u{e9}t\u{e9}"), "a\u{e9}t\u{e9}");
    }

    #[test]
    fn control_strings_go_whole() {
        // OSC 8 hyperlink: the visible text stays, the hidden target goes.
        assert_eq!(
            printable("x\u{1b}]8;;https://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\y"),
            "xlinky"
        );
        assert_eq!(printable("t\u{1b}]0;title\u{7}u"), "tu");
        assert_eq!(printable("t\u{9d}0;title\u{9c}u"), "tu", "C1 OSC and ST");
        for introducer in ["\u{1b}P", "\u{1b}X", "\u{1b}^", "\u{1b}_", "\u{90}"] {
            assert_eq!(
                printable(&format!("a{introducer}payload\u{1b}\\b")),
                "ab",
                "{introducer:?}"
            );
        }
        assert_eq!(printable("a\u{1b}]0;never ends"), "a");
    }

    #[test]
    fn c0_c1_and_lone_escapes_go() {
        assert_eq!(printable("\u{1b}"), "");
        assert_eq!(printable("a\u{1b}7b\u{1b}c"), "ab");
        assert_eq!(printable("bell\u{7}\r\n\ttab\u{7f}"), "belltab");
        for c in '\u{80}'..='\u{9f}' {
            assert!(is_printable(&printable(&format!("a{c}b"))), "{c:?}");
        }
        assert_eq!(printable("a\u{85}b\u{8d}c"), "abc");
    }

    #[test]
    fn bidi_controls_go() {
        assert_eq!(printable("moc.live\u{202e}//:sptth"), "moc.live//:sptth");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'] {
            assert_eq!(printable(&format!("a{c}b")), "ab", "{c:?}");
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(printable(&format!("a{c}b")), "ab", "{c:?}");
        }
        assert_eq!(printable("\u{2066}ok\u{2069}\u{200f}\u{061c}"), "ok");
    }

    #[test]
    fn ordinary_text_is_kept() {
        for text in [
            "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate.",
            "Pour vous connecter, ouvrez la page et entrez le code ÉTÉ-2026.",
            "サインインするには、コードを入力してください。",
            "للتسجيل، افتح الصفحة",
        ] {
            assert_eq!(printable(text), text);
            assert!(is_printable(text));
        }
    }
}

/// Every path by which server text reaches a person, end to end through the
/// parsers.
#[cfg(test)]
mod server_text {
    use super::is_printable;
    use crate::json::{Object, base64url_encode as base64url};
    use crate::token::{Account, Token};
    use crate::{Error, ErrorKind};
    use std::time::SystemTime;

    const HOSTILE: &str = r"\u001b]0;owned\u0007\u001b[2J\u009b31m\u202eevil\u2066";

    fn object(json: &str) -> Object {
        Object::parse(json.as_bytes(), "answer").unwrap()
    }

    #[test]
    fn oauth_error_fields_and_their_message() {
        let answer = object(&format!(
            r#"{{"error":"bad{HOSTILE}","error_description":"AADSTS1: no{HOSTILE}\r\nTrace ID: t{HOSTILE}","trace_id":"t{HOSTILE}","correlation_id":"c{HOSTILE}","error_uri":"https://e/{HOSTILE}","timestamp":"2026{HOSTILE}"}}"#
        ));
        let service = crate::oauth::service_error(&answer, 400).unwrap();
        assert_eq!(service.error, "badevil");
        assert_eq!(service.trace_id.as_deref(), Some("tevil"));
        assert_eq!(service.correlation_id.as_deref(), Some("cevil"));
        assert_eq!(service.error_uri.as_deref(), Some("https://e/evil"));
        assert_eq!(service.timestamp.as_deref(), Some("2026evil"));
        assert_eq!(
            service.description.as_deref(),
            Some("AADSTS1: noevil\nTrace ID: tevil")
        );
        // Without a description the error code itself is printed.
        let bare = object(&format!(r#"{{"error":"x{HOSTILE}"}}"#));
        let service = crate::oauth::service_error(&bare, 400).unwrap();
        let text = Error::service(ErrorKind::Service, "refused", service).to_string();
        assert!(is_printable(&text), "{text:?}");
        assert!(text.ends_with(": xevil"), "{text:?}");
    }

    #[test]
    fn names_from_an_id_token() {
        let claims = format!(
            r#"{{"preferred_username":"ada{HOSTILE}@contoso.example","name":"Ada{HOSTILE}","sub":"s"}}"#
        );
        let jwt = format!("{}.{}.sig", base64url("{}"), base64url(&claims));
        let json = format!(r#"{{"access_token":"a","id_token":"{jwt}"}}"#);
        let token = Token::from_answer(&object(&json), &[], "h", SystemTime::UNIX_EPOCH).unwrap();
        let account = token.account().unwrap();
        assert_eq!(account.username(), "adaevil@contoso.example");
        assert_eq!(account.name(), Some("Adaevil"));
    }

    #[test]
    fn names_from_a_cache_file() {
        // Another program may have written the file.
        let claims = base64url(r#"{"name":"\u202eadA"}"#);
        let account = Account::from_cache(
            "ada\u{1b}[8m@contoso.example".to_string(),
            "",
            "",
            "uid.utid".to_string(),
            "login.example".to_string(),
            std::sync::Arc::new(crate::token::AccountClaims::of(&format!("h.{claims}.s"))),
        );
        assert_eq!(account.username(), "ada@contoso.example");
        assert_eq!(account.name(), Some("adA"));
        assert_eq!(
            account.home_account_id(),
            "uid.utid",
            "keys are kept as they are"
        );
    }

    #[test]
    fn messages_that_quote_a_server() {
        let discovery = object(&format!(
            r#"{{"issuer":"https://other{HOSTILE}","token_endpoint":"https://t/token"}}"#
        ));
        let err = crate::client::endpoints_from_discovery(
            &discovery,
            "https://issuer.example",
            "https://issuer.example/.well-known/openid-configuration",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(is_printable(&text), "{text:?}");
        assert!(text.contains("'https://otherevil'"), "{text}");
        let discovery = object(&format!(
            r#"{{"issuer":"https://issuer.example","device_authorization_endpoint":"https://d\u001b[1m/x{HOSTILE}","token_endpoint":"https://t/token"}}"#
        ));
        let text =
            crate::client::endpoints_from_discovery(&discovery, "https://issuer.example", "u")
                .unwrap_err()
                .to_string();
        assert!(is_printable(&text), "{text:?}");
    }
}
