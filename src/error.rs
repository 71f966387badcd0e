//! The one error type of the crate.
//!
//! Every error has a [`ErrorKind`] to match on, a message that says what
//! happened and what to do, and, when a server answered with an OAuth error,
//! the full [`ServiceError`] it sent.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// What went wrong, in categories a caller decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The person declined the sign-in on the verification page.
    Declined,
    /// The device code expired before anyone signed in.
    Expired,
    /// The wait was cancelled through a [`CancelHandle`](crate::CancelHandle).
    Cancelled,
    /// The caller's own time limit for the wait ran out.
    TimedOut,
    /// The server could not be reached or gave no usable answer (network,
    /// TLS, HTTP 5xx or 429). See [`Error::is_retryable`].
    Transport,
    /// The server refused the request with an OAuth error; see
    /// [`Error::service_error`].
    Service,
    /// The server answered with something that is not a valid answer
    /// (not JSON, missing fields, a redirect where none is allowed, too large).
    InvalidResponse,
    /// The client was configured wrongly (a bad URL, tenant or certificate).
    Configuration,
    /// The [`CodeDisplay`](crate::CodeDisplay) could not show the code.
    Display,
    /// No token can be had silently: the account must sign in again with the
    /// device code (nothing cached, or the server refused the refresh token
    /// with `invalid_grant`, `interaction_required`, `consent_required` or
    /// `login_required`). See [`Error::is_interaction_required`].
    InteractionRequired,
    /// The token cache could not be read, locked or written (permissions, a
    /// full disk, a lock held too long, a file that is not a token cache).
    Cache,
    /// The system clock is obviously wrong (before this library was
    /// released), as on a board that booted without a real-time clock and has
    /// not synchronised with NTP yet. Retry once the time is set.
    Clock,
}

/// An OAuth 2.0 error answer (RFC 6749 section 5.2), with the fields the
/// Microsoft identity platform adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// The HTTP status of the answer (GitHub-style servers use 200).
    pub status: u16,
    /// The `error` code, e.g. `invalid_grant`.
    pub error: String,
    /// The `error_description`, as sent.
    pub description: Option<String>,
    /// Entra ID's numeric `error_codes` (the `AADSTS` numbers).
    pub error_codes: Vec<u64>,
    /// Entra ID's `trace_id`, for a support request.
    pub trace_id: Option<String>,
    /// Entra ID's `correlation_id`, for a support request.
    pub correlation_id: Option<String>,
    /// The `error_uri`, a page about the error.
    pub error_uri: Option<String>,
    /// Entra ID's `timestamp` of the error.
    pub timestamp: Option<String>,
}

impl ServiceError {
    /// The first `AADSTS` number, from `error_codes` or the description.
    pub fn aadsts(&self) -> Option<u64> {
        if let Some(code) = self.error_codes.first() {
            return Some(*code);
        }
        let rest = self.description.as_deref()?.strip_prefix("AADSTS")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// The first line of the description: Entra appends trace and correlation
    /// lines that only clutter a message meant for a person.
    pub fn summary(&self) -> Option<&str> {
        let text = self.description.as_deref()?;
        let first = text.lines().next().unwrap_or("").trim();
        (!first.is_empty()).then_some(first)
    }

    /// What the person or the developer can do about this error, when known.
    pub fn hint(&self) -> Option<&'static str> {
        if let Some(hint) = self.aadsts().and_then(aadsts_hint) {
            return Some(hint);
        }
        Some(match self.error.as_str() {
            "invalid_client" => {
                "check the client id, and that the application allows public client (device code) flows"
            }
            "unauthorized_client" => {
                "this client is not allowed to use the device authorization grant: enable it for the application"
            }
            "invalid_scope" => "check the requested scopes",
            "invalid_grant" => "the grant is no longer valid: sign in again",
            _ => return None,
        })
    }
}

/// Advice for the AADSTS codes a device user meets most often.
fn aadsts_hint(code: u64) -> Option<&'static str> {
    Some(match code {
        50059 => {
            "no tenant was given: use a tenant-specific authority (the tenant GUID or a verified domain) instead of 'common'"
        }
        90133 => {
            "this application cannot use the device code flow on /common or /consumers: use the tenant GUID or domain as the authority"
        }
        90002 => {
            "the tenant was not found: check the tenant GUID or domain for a typo, and that the tenant has an active subscription"
        }
        700016 => {
            "the application (client id) was not found in this tenant: check the client id and that the app is registered in, or consented to by, this tenant"
        }
        7000218 => {
            "enable 'Allow public client flows' in the app registration (Entra ID > App registrations > Authentication)"
        }
        65001 => {
            "consent has not been granted for the requested scopes: have an administrator grant consent, or let the user consent in the browser"
        }
        70011 => {
            "a requested scope is invalid: check the scope names (e.g. 'User.Read' or 'api://<app id>/.default')"
        }
        50076 | 50079 => {
            "multi-factor authentication is required: the person completes it in the browser while the device keeps waiting"
        }
        70019 => "the code expired: start a new sign-in",
        50126 => "wrong user name or password: the person should try again in the browser",
        _ => return None,
    })
}

/// The error type of every fallible call in this crate.
///
/// Its message says what happened and what to do; the lower-level error
/// behind it (an I/O or TLS error, say) is only in
/// [`source()`](StdError::source), never repeated in the message. The
/// alternate form, `format!("{error:#}")`, prints the message followed by
/// each cause once: `could not read the token cache /x: Not a directory (os
/// error 20)`.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    service: Option<ServiceError>,
    status: Option<u16>,
    retryable: bool,
    retry_after: Option<Duration>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                service: None,
                status: None,
                retryable: false,
                retry_after: None,
                source: None,
            }),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Configuration, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidResponse, message)
    }

    pub(crate) fn cache(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Cache, message)
    }

    /// An OAuth error answer, with the kind the poll decision gave it.
    pub(crate) fn service(
        kind: ErrorKind,
        message: impl Into<String>,
        service: ServiceError,
    ) -> Self {
        let retryable = service.status >= 500
            || service.status == 429
            || matches!(
                service.error.as_str(),
                "temporarily_unavailable" | "server_error"
            );
        let status = service.status;
        let mut error = Error::new(kind, message);
        error.inner.status = Some(status);
        error.inner.service = Some(service);
        error.inner.retryable = retryable;
        error
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    pub(crate) fn retryable(mut self, retryable: bool) -> Self {
        self.inner.retryable = retryable;
        self
    }

    pub(crate) fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.inner.retry_after = delay;
        self
    }

    /// The category of the error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether trying the same request again later may succeed: network
    /// failures, HTTP 5xx and 429, `temporarily_unavailable`. During polling
    /// these are retried for you until the code expires.
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }

    /// How long the server asked to be left alone (its `Retry-After`, as a
    /// delay from when the answer arrived), when it said so on an answer this
    /// error stands for: wait at least this long before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The OAuth error the server sent, if it sent one.
    pub fn service_error(&self) -> Option<&ServiceError> {
        self.inner.service.as_ref()
    }

    /// The HTTP status of the answer behind this error, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The Entra ID `AADSTS` number, if the server sent one.
    pub fn aadsts(&self) -> Option<u64> {
        self.service_error().and_then(ServiceError::aadsts)
    }

    /// Whether the account must sign in again (interactively, with the device
    /// code): [`ErrorKind::InteractionRequired`].
    pub fn is_interaction_required(&self) -> bool {
        self.inner.kind == ErrorKind::InteractionRequired
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages quote servers (an issuer, a URL, an account name): the
        // backstop that keeps terminal escapes out of every printed error.
        f.write_str(&crate::sanitize::printable(&self.inner.message))?;
        if let Some(service) = &self.inner.service {
            match (service.aadsts(), service.summary()) {
                (_, Some(summary)) => write!(f, ": {summary}")?,
                (Some(code), None) => write!(f, ": {} (AADSTS{code})", service.error)?,
                (None, None) => write!(f, ": {}", service.error)?,
            }
            if let Some(hint) = service.hint() {
                write!(f, " (what to do: {hint})")?;
            }
        }
        if f.alternate() {
            self.write_causes(f)?;
        }
        Ok(())
    }
}

impl Error {
    /// Appends `: cause` for each error of the source chain. Other crates'
    /// errors may print their own source too (ureq's `io: ...` does): a
    /// cause that only wraps the text of its own source gives way to it, and
    /// a cause whose text is already shown is skipped.
    fn write_causes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = format!("{self}");
        let mut next = self.source();
        while let Some(cause) = next {
            // Causes quote servers too (a certificate's names, a URL).
            let text = crate::sanitize::printable(&cause.to_string());
            let wraps = cause.source().is_some_and(|inner| {
                let inner = inner.to_string();
                !inner.is_empty() && cause.to_string().contains(&inner)
            });
            if !wraps && !text.is_empty() && !shown.contains(&*text) {
                write!(f, ": {text}")?;
                shown.push_str(": ");
                shown.push_str(&text);
            }
            next = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("retryable", &self.inner.retryable);
        if let Some(status) = self.inner.status {
            debug.field("status", &status);
        }
        if let Some(delay) = self.inner.retry_after {
            debug.field("retry_after", &delay);
        }
        if let Some(service) = &self.inner.service {
            debug.field("service", service);
        }
        if let Some(source) = &self.inner.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entra(code: u64, error: &str) -> ServiceError {
        ServiceError {
            status: 400,
            error: error.into(),
            description: Some(format!(
                "AADSTS{code}: Something happened.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 3"
            )),
            error_codes: vec![code],
            ..ServiceError::default()
        }
    }

    #[test]
    fn well_known_aadsts_codes_say_what_to_do() {
        for code in [
            50059, 90002, 90133, 700016, 7000218, 65001, 70011, 50076, 50079,
        ] {
            let err = Error::service(
                ErrorKind::Service,
                "sign-in failed",
                entra(code, "invalid_request"),
            );
            let text = err.to_string();
            assert!(text.contains("what to do:"), "{code}: {text}");
            assert!(
                text.contains(&format!("AADSTS{code}: Something happened.")),
                "{text}"
            );
            assert!(!text.contains("Trace ID"), "{text}");
            assert_eq!(err.aadsts(), Some(code));
        }
        let text =
            Error::service(ErrorKind::Service, "x", entra(7000218, "invalid_client")).to_string();
        assert!(text.contains("Allow public client flows"), "{text}");
    }

    #[test]
    fn aadsts_from_description_when_codes_missing() {
        let mut service = entra(90002, "invalid_request");
        service.error_codes.clear();
        assert_eq!(service.aadsts(), Some(90002));
    }

    #[test]
    fn retryable_follows_status_and_error() {
        let mut service = entra(1, "temporarily_unavailable");
        assert!(Error::service(ErrorKind::Service, "x", service.clone()).is_retryable());
        service.error = "invalid_grant".into();
        assert!(!Error::service(ErrorKind::Service, "x", service.clone()).is_retryable());
        service.status = 503;
        assert!(Error::service(ErrorKind::Service, "x", service).is_retryable());
    }

    /// Every message of the chain, checked not to repeat its source's text.
    fn chain_without_repeats(error: &(dyn StdError + 'static)) -> Vec<String> {
        let mut texts = vec![error.to_string()];
        let mut level = error;
        while let Some(source) = level.source() {
            let (text, cause) = (level.to_string(), source.to_string());
            assert!(!text.contains(&cause), "{text:?} repeats {cause:?}");
            texts.push(cause);
            level = source;
        }
        texts
    }

    #[test]
    fn a_cache_io_error_is_told_once() {
        let dir = std::env::temp_dir().join(format!("devicecode-error-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not-a-directory");
        std::fs::write(&file, b"").unwrap();
        // The real path a daemon takes: its cache file under a regular file.
        let err = crate::FileCache::new(file.join("tokens.json"))
            .accounts()
            .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(err.kind(), ErrorKind::Cache);
        let chain = chain_without_repeats(&err);
        assert_eq!(chain.len(), 2, "{chain:?}");
        let io = &chain[1];
        assert!(io.contains("os error 20"), "{io}");
        assert!(chain[0].contains("not-a-directory"), "{}", chain[0]);
        // The alternate form shows the whole chain, each part once.
        let full = format!("{err:#}");
        assert_eq!(full, format!("{}: {io}", chain[0]));
        assert_eq!(full.matches(io.as_str()).count(), 1, "{full}");
    }

    /// Like ureq's `Error::Io`: prints its source and also returns it.
    #[derive(Debug)]
    struct Repeating(std::io::Error);

    impl fmt::Display for Repeating {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "io: {}", self.0)
        }
    }

    impl StdError for Repeating {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_alternate_form_skips_causes_already_shown() {
        let io = std::io::Error::other("link down");
        let err = Error::new(ErrorKind::Transport, "could not reach the server")
            .with_source(Repeating(io));
        assert_eq!(err.to_string(), "could not reach the server");
        // The wrapper only labels its source: the source speaks for both.
        assert_eq!(format!("{err:#}"), "could not reach the server: link down");

        // An error of ours in the chain adds its message, then its causes.
        let inner = Error::new(ErrorKind::Transport, "the token endpoint timed out")
            .with_source(std::io::Error::other("timed out reading"));
        let outer = Error::new(ErrorKind::Expired, "the code expired").with_source(inner);
        assert_eq!(
            format!("{outer:#}"),
            "the code expired: the token endpoint timed out: timed out reading"
        );
        assert_eq!(chain_without_repeats(&outer).len(), 3);
    }

    #[test]
    fn causes_are_printable_too() {
        let hostile = std::io::Error::other("bad\u{1b}]0;owned\u{7} name\u{202e}");
        let err = Error::new(ErrorKind::Transport, "TLS failed").with_source(hostile);
        assert_eq!(format!("{err:#}"), "TLS failed: bad name");
    }

    #[test]
    fn source_chain_is_kept() {
        let io = std::io::Error::other("link down");
        let err = Error::new(ErrorKind::Transport, "could not reach the server").with_source(io);
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("link down")
        );
    }
}
