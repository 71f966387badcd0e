//! Entry points for the fuzz targets in `fuzz/` (cargo feature `__fuzz`;
//! not part of the API; compiled into the unit tests, which run every seed
//! and past crash through them). Each feeds untrusted bytes to one parser the way the
//! client does, and must never panic. Where the parser's output is shown to a
//! person, the entry point also checks that it is printable (no terminal
//! escapes, controls or bidi overrides) and panics if not, so the fuzzer
//! hunts for display-safety holes too.

use crate::cache::schema::{AppScope, CacheDoc, Wanted};
use crate::client::endpoints_from_discovery;
use crate::device_flow::{Decision, decide, parse_device_answer};
use crate::error::{Error, ServiceError};
use crate::http::{Reply, parse_root_pem, retry_after_delay};
use crate::json::Object;
use crate::oauth::service_error;
use crate::sanitize::is_printable;
use crate::token::{Account, Token, decode_jwt_claims};
use std::time::{Duration, Instant, SystemTime};

/// A device authorization answer (RFC 8628 section 3.2).
pub fn device_authorization(data: &[u8]) {
    if let Ok(answer) = Object::parse(data, "device authorization answer") {
        let now = Instant::now();
        match parse_device_answer(&answer, Vec::new(), "https://t.example/token", now, now) {
            Ok(flow) => {
                shown(flow.user_code());
                shown(flow.verification_uri());
                shown(flow.message());
                for uri in [
                    Some(flow.verification_uri()),
                    flow.verification_uri_complete(),
                ]
                .into_iter()
                .flatten()
                {
                    // Schemes are case-insensitive (RFC 3986).
                    let lower = uri.to_ascii_lowercase();
                    assert!(
                        lower.starts_with("https://") || lower.starts_with("http://"),
                        "a verification address that is not http(s) is shown: {uri:?}"
                    );
                }
            }
            Err(e) => shown_error(&e),
        }
    }
}

/// Text a person sees must be printable.
fn shown(text: &str) {
    assert!(is_printable(text), "unprintable text is shown: {text:?}");
}

fn shown_error(error: &Error) {
    shown(&error.to_string());
    if let Some(service) = error.service_error() {
        shown_service(service);
    }
}

fn shown_service(service: &ServiceError) {
    for text in [
        Some(service.error.as_str()),
        service.description.as_deref(),
        service.trace_id.as_deref(),
        service.correlation_id.as_deref(),
        service.error_uri.as_deref(),
        service.timestamp.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        shown(text);
    }
}

fn shown_token(token: &Token) {
    if let Some(account) = token.account() {
        shown_account(account);
    }
}

fn shown_account(account: &Account) {
    shown(account.username());
    if let Some(name) = account.name() {
        shown(name);
    }
}

/// A token endpoint answer as polling sees it: the first two bytes are the
/// HTTP status, the rest the body; goes through the poll decision.
pub fn token_answer(data: &[u8]) {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]) % 600, rest),
        _ => (200, data),
    };
    let reply = Reply {
        status,
        body: body.to_vec(),
        content_type: Some("application/json".to_string()),
        retry_after: None,
        location: None,
        dpop_nonce: None,
    };
    match decide(
        reply,
        &["User.Read".to_string()],
        "login.example",
        SystemTime::now(),
    ) {
        Decision::SignedIn(token) => shown_token(&token),
        Decision::Stop(e) | Decision::Retry(e, _) => shown_error(&e),
        Decision::Pending | Decision::SlowDown => {}
    }
    if let Ok(answer) = Object::parse(body, "answer") {
        if let Ok(service) = service_error(&answer, status) {
            shown_service(&service);
        }
        match Token::from_answer(&answer, &[], "login.example", SystemTime::now()) {
            Ok(token) => shown_token(&token),
            Err(e) => shown_error(&e),
        }
    }
}

/// An id_token (its claims are decoded, the signature is not checked) and
/// `client_info`, through a token answer that carries them.
pub fn id_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = decode_jwt_claims(&text);
    let (id_token, client_info) = text.split_once('\n').unwrap_or((&text, ""));
    let answer = serde_json::json!({
        "access_token": "a",
        "id_token": id_token,
        "client_info": client_info,
    });
    if let Ok(answer) = Object::parse(answer.to_string().as_bytes(), "answer")
        && let Ok(token) = Token::from_answer(&answer, &[], "login.example", SystemTime::now())
    {
        shown_token(&token);
    }
}

/// An OpenID Connect / RFC 8414 discovery document.
pub fn discovery(data: &[u8]) {
    if let Ok(doc) = Object::parse(data, "discovery document")
        && let Err(e) = endpoints_from_discovery(
            &doc,
            "https://issuer.example",
            "https://issuer.example/.well-known/openid-configuration",
        )
    {
        shown_error(&e);
    }
}

/// A `Retry-After` header value.
pub fn retry_after(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = retry_after_delay(
            text,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_478_400),
        );
    }
}

/// A PEM bundle of root certificates: the look over when it is given, the
/// full parse at the first request. The look over refuses nothing the full
/// parse takes.
pub fn root_pem(data: &[u8]) {
    match parse_root_pem(data) {
        Ok(roots) => drop(roots.anchors()),
        Err(e) => assert!(
            crate::tls::parse_anchors(data).is_err(),
            "the look over refused a bundle the full parse takes: {e}"
        ),
    }
}

/// The token cache file: parse, every lookup, a save, and a rewrite.
pub fn token_cache(data: &[u8]) {
    // A document is read exactly when serde_json reads it as an object:
    // the quick reading must neither refuse a file nor take one it cannot
    // rewrite.
    let object = serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_object());
    let Ok(mut doc) = CacheDoc::parse(data) else {
        assert!(!object, "a JSON object was refused as a token cache");
        return;
    };
    assert!(object, "a token cache was read from what is no JSON object");
    let app = AppScope {
        client_id: "11111111-2222-3333-4444-555555555555",
        environment: "login.microsoftonline.com",
        tenant: Some("contoso.example"),
        entra: true,
    };
    let now = SystemTime::now();
    let scopes = ["User.Read".to_string()];
    let accounts = doc.accounts(&app);
    doc.all_accounts().iter().for_each(shown_account);
    let _ = doc.has_anonymous_tokens(&app);
    for hid in accounts
        .iter()
        .map(|a| a.home_account_id().to_string())
        .chain([String::new()])
    {
        let wanted = Wanted {
            scopes: &scopes,
            home_account_id: &hid,
        };
        if let Some(token) = doc.access_token(&app, &wanted, now) {
            doc.save(&app, &token, None, "fuzz", now);
        }
        let _ = doc.refresh_tokens(&app, &hid);
        doc.remove_account(&app, &hid);
    }
    let again = doc.to_bytes();
    if CacheDoc::parse(&again).is_err() {
        panic!("a document we wrote does not parse back");
    }
}

/// Every seed of the fuzz corpus (fuzz/seeds/) and every input that once
/// crashed a fuzz target (fuzz/regressions/<target>/) goes through the same
/// entry points as the fuzzer, on every test run: none may panic.
#[cfg(test)]
mod regressions {
    use std::path::Path;

    /// A fuzz target's entry point.
    type Entry = fn(&[u8]);
    #[test]
    fn fuzz_seeds_and_past_crashes_do_not_panic() {
        let targets: [(&str, Entry); 7] = [
            ("device_authorization", super::device_authorization),
            ("token_answer", super::token_answer),
            ("id_token", super::id_token),
            ("discovery", super::discovery),
            ("retry_after", super::retry_after),
            ("root_pem", super::root_pem),
            ("token_cache", super::token_cache),
        ];
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut inputs = 0;
        for (target, entry) in targets {
            for dir in ["seeds", "regressions"] {
                let Ok(files) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
                    continue;
                };
                for file in files {
                    let path = file.unwrap().path();
                    entry(&std::fs::read(&path).unwrap());
                    inputs += 1;
                }
            }
            // And the edges no corpus may hold.
            entry(b"");
            entry(&[0xff; 3]);
        }
        assert!(inputs >= 7, "every target has seeds: {inputs} inputs");
    }
}
