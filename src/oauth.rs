//! Reading what an authorization server answered: the one place an HTTP
//! reply becomes a JSON object, the server's OAuth error, or the failure it
//! stands for, for every request (discovery, device code, polls, refresh).
//!
//! The `error` field decides, whatever the HTTP status (GitHub-style servers
//! send OAuth errors with HTTP 200). Without one, HTTP 5xx and 429 and web
//! pages (captive portals, proxies' error pages) are transient; redirects are
//! never followed; anything else that is not a 2xx JSON object is invalid.

use crate::error::{Error, ErrorKind, ServiceError};
use crate::http::{Reply, retry_after_delay};
use crate::json::Object;
use crate::sanitize::printable;
use std::time::SystemTime;

/// What one reply means.
#[derive(Debug)]
pub(crate) enum Answer {
    /// HTTP 2xx with a JSON object that has no `error`.
    Success(Object),
    /// The server's OAuth error (RFC 6749 section 5.2), at any status.
    Refused(ServiceError),
    /// Worth trying again later: HTTP 5xx or 429 without an OAuth error, or
    /// a web page instead of an answer.
    Transient(Error),
    /// Not an answer: a redirect, malformed JSON, a status without an error.
    Invalid(Error),
}

/// Reads `reply`, the answer to `request` (e.g. "the refresh request"),
/// which should hold a `what` (e.g. "token answer").
pub(crate) fn read(reply: &Reply, what: &'static str, request: &str) -> Answer {
    if (300..400).contains(&reply.status) {
        let to = reply.location.as_deref().unwrap_or("elsewhere");
        return Answer::Invalid(
            Error::invalid(format!(
                "{request} was answered with a redirect (HTTP {}) to {to}; redirects are not followed, so codes and tokens only go where configured: check the endpoint URL",
                reply.status
            ))
            .with_status(reply.status),
        );
    }
    let transient = reply.status >= 500 || reply.status == 429;
    let answer = match Object::parse(&reply.body, what) {
        Ok(answer) => answer,
        Err(e) if transient => {
            return Answer::Transient(unavailable(reply, request).with_source(e));
        }
        Err(e) if reply.looks_like_html() => {
            return Answer::Transient(
                Error::new(
                    ErrorKind::Transport,
                    format!(
                        "{request} got a web page (HTTP {}) instead of an answer: a captive portal or a proxy is in the way; check the network",
                        reply.status
                    ),
                )
                .with_status(reply.status)
                .retryable(true)
                .with_source(e),
            );
        }
        Err(e) => return Answer::Invalid(e.with_status(reply.status)),
    };
    if answer.has("error") {
        return match service_error(&answer, reply.status) {
            Ok(service) => Answer::Refused(service),
            Err(e) => Answer::Invalid(e.with_status(reply.status)),
        };
    }
    if transient {
        return Answer::Transient(unavailable(reply, request));
    }
    if !(200..300).contains(&reply.status) {
        return Answer::Invalid(
            Error::invalid(format!(
                "{request} got HTTP {} without an OAuth error in the answer",
                reply.status
            ))
            .with_status(reply.status),
        );
    }
    Answer::Success(answer)
}

/// Reads an answer that must be a success: every other reading is the error.
pub(crate) fn success(reply: &Reply, what: &'static str, request: &str) -> Result<Object, Error> {
    match read(reply, what, request) {
        Answer::Success(answer) => Ok(answer),
        Answer::Refused(service) => Err(refusal(service, request)),
        Answer::Transient(error) | Answer::Invalid(error) => Err(error),
    }
}

/// The error for an OAuth refusal of `request`. A refusal that comes with
/// HTTP 5xx or 429, or that says `temporarily_unavailable` (Entra's
/// AADSTS90033), is the service being unavailable, not a decision:
/// `Transport`, retryable.
pub(crate) fn refusal(service: ServiceError, request: &str) -> Error {
    let kind = if service.status >= 500
        || service.status == 429
        || service.error == "temporarily_unavailable"
    {
        ErrorKind::Transport
    } else {
        ErrorKind::Service
    };
    Error::service(kind, format!("{request} was refused"), service)
}

/// `error` with the delay the server's `Retry-After` asks for, read at `now`
/// (the header may be an HTTP date), when a retry is what the error calls for.
pub(crate) fn advised(error: Error, reply: &Reply, now: SystemTime) -> Error {
    if !error.is_retryable() {
        return error;
    }
    let delay = reply
        .retry_after
        .as_deref()
        .and_then(|value| retry_after_delay(value, now));
    error.with_retry_after(delay)
}

fn unavailable(reply: &Reply, request: &str) -> Error {
    Error::new(
        ErrorKind::Transport,
        format!(
            "{request} failed: the server answered HTTP {}; try again later",
            reply.status
        ),
    )
    .with_status(reply.status)
    .retryable(true)
}

/// Reads the OAuth error fields of an answer that has `error`.
pub(crate) fn service_error(answer: &Object, status: u16) -> Result<ServiceError, Error> {
    Ok(ServiceError {
        status,
        error: printable(answer.required_str("error")?),
        // Entra's description has trace lines after the first: keep the lines.
        description: answer
            .str("error_description")?
            .map(|d| d.lines().map(printable).collect::<Vec<_>>().join("\n")),
        error_codes: answer.numbers("error_codes"),
        trace_id: answer.str("trace_id")?.map(printable),
        correlation_id: answer.str("correlation_id")?.map(printable),
        error_uri: answer.str("error_uri")?.map(printable),
        timestamp: answer.str("timestamp")?.map(printable),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str, content_type: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            content_type: Some(content_type.to_string()),
            retry_after: None,
            location: None,
            dpop_nonce: None,
        }
    }

    #[test]
    fn every_reply_has_one_reading() {
        let json = "application/json";
        assert!(matches!(
            read(&reply(200, r#"{"a":1}"#, json), "answer", "the request"),
            Answer::Success(_)
        ));
        // The error field decides, whatever the status.
        for status in [200, 400, 503] {
            let got = read(&reply(status, r#"{"error":"slow_down"}"#, json), "a", "r");
            assert!(
                matches!(&got, Answer::Refused(s) if s.error == "slow_down"),
                "{got:?}"
            );
        }
        for (status, body, kind) in [
            (503, "", "transient"),
            (429, "busy", "transient"),
            (200, "<html>portal</html>", "transient"),
            (200, "{", "invalid"),
            (404, "{}", "invalid"),
            (302, "", "invalid"),
        ] {
            let got = read(&reply(status, body, "text/plain"), "a", "r");
            let seen = match got {
                Answer::Transient(e) => {
                    assert!(e.is_retryable());
                    "transient"
                }
                Answer::Invalid(e) => {
                    assert!(!e.is_retryable());
                    "invalid"
                }
                other => panic!("{status} {body}: {other:?}"),
            };
            assert_eq!(seen, kind, "{status} {body}");
        }
    }

    #[test]
    fn a_refusal_with_a_server_status_is_transport() {
        let busy = ServiceError {
            status: 503,
            error: "temporarily_unavailable".into(),
            ..ServiceError::default()
        };
        let error = refusal(busy, "the refresh request");
        assert_eq!(error.kind(), ErrorKind::Transport);
        assert!(error.is_retryable());
        let refused = ServiceError {
            status: 400,
            error: "invalid_scope".into(),
            ..ServiceError::default()
        };
        assert_eq!(refusal(refused, "r").kind(), ErrorKind::Service);
        let busy = ServiceError {
            status: 400,
            error: "temporarily_unavailable".into(),
            ..ServiceError::default()
        };
        let error = refusal(busy, "r");
        assert_eq!(error.kind(), ErrorKind::Transport);
        assert!(error.is_retryable());
        let mut limited = reply(429, "", "text/plain");
        limited.retry_after = Some("30".into());
        let Answer::Transient(error) = read(&limited, "a", "r") else {
            panic!("429 is transient");
        };
        let error = advised(error, &limited, SystemTime::now());
        assert_eq!(
            error.retry_after(),
            Some(std::time::Duration::from_secs(30))
        );
        let refused = advised(Error::invalid("x"), &limited, SystemTime::now());
        assert_eq!(refused.retry_after(), None, "only a retry waits");
    }
}
