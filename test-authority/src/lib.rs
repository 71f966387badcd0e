//! An in-process authorization server for offline tests of device sign-in.
//!
//! [`TestAuthority`] is a real HTTPS server on `127.0.0.1` (an ephemeral port,
//! a certificate made at start-up) that speaks the OAuth 2.0 device
//! authorization grant (RFC 8628) the way real services do: Entra ID
//! (Microsoft identity platform) by default, or a plain standards server
//! ([`Flavor::Generic`]). A test drives the person's side
//! ([`approve_pending`](TestAuthority::approve_pending), or an
//! [`Approval`] policy), injects [`Fault`]s, and inspects what the client sent
//! ([`Stats`]).
//!
//! Everything it does with time goes through a [`Clock`], so a test can share a
//! [`ManualClock`](devicecode::ManualClock) with the client and run a 15-minute flow
//! in milliseconds.
//!
//! It is test tooling: one thread per connection, everything kept in memory,
//! nothing secret. It never panics on what it receives; malformed requests get
//! `400`. It logs (at debug level) paths, statuses and the OAuth `error` it
//! answered, never codes or tokens.
//!
//! ```
//! use devicecode_test_authority::{Approval, TestAuthority};
//!
//! # fn main() -> std::io::Result<()> {
//! let authority = TestAuthority::builder()
//!     .approval(Approval::AfterPolls(2))
//!     .start()?;
//! // Point the client under test at these, trusting `ca_pem()`:
//! assert!(authority.token_endpoint().starts_with("https://127.0.0.1:"));
//! assert!(authority.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! // ... run the flow, then check how it behaved:
//! assert_eq!(authority.stats().polls().len(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! A crate of its own so that the `devicecode` library holds only what a
//! board runs: add it as a dev-dependency of the program under test. It also
//! runs as a process (`cargo run -p devicecode-test-authority`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dpop;
mod handler;
mod http;
mod oauth;
mod server;
mod state;
mod tls;
mod util;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use devicecode::{Clock, SystemClock};

use state::State;

pub use dpop::DpopPolicy;

/// Which real service the authority imitates.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Entra ID (Microsoft identity platform, v2.0 endpoints): tenant in the
    /// path (`/{tenant}/oauth2/v2.0/devicecode`), a `message` for the person,
    /// `AADSTS` error codes with trace ids, `client_info`, `ext_expires_in`.
    Entra,
    /// A plain RFC 8628 / RFC 6749 server: `/device`, `/token`, discovery at
    /// `/.well-known/...`, bare `{"error", "error_description"}` answers.
    Generic,
}

/// How the simulated person decides on a device code.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Nobody decides until the test calls
    /// [`approve_pending`](TestAuthority::approve_pending) /
    /// [`deny_pending`](TestAuthority::deny_pending) or a browser uses the
    /// `/devicelogin` page.
    Manual,
    /// Approve when the n-th poll for that code arrives; that poll already
    /// gets the tokens. Polls answered `slow_down` do not count.
    AfterPolls(u32),
    /// Approve once this much time (on the authority's clock) has passed since
    /// the code was issued.
    After(Duration),
    /// Decline when the n-th poll for that code arrives; that poll already
    /// gets the refusal. Polls answered `slow_down` do not count.
    DenyAfterPolls(u32),
}

/// One of the endpoints a client talks to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The device authorization endpoint (RFC 8628 section 3.1).
    DeviceAuthorization,
    /// The token endpoint (device code polls and refreshes).
    Token,
    /// The discovery document (OpenID Connect or RFC 8414 metadata).
    Discovery,
}

/// A misbehaviour to inject with [`TestAuthority::inject`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, an optional `Retry-After` header (sent
    /// verbatim) and this body: JSON if it starts with `{`, plain text
    /// otherwise. Statuses outside 200–599 are sent as 500, because anything
    /// else would break HTTP framing rather than test the client.
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header value, if any.
        retry_after: Option<String>,
        /// The body.
        body: String,
    },
    /// An OAuth error answer shaped as the flavor shapes them (for Entra: the
    /// `AADSTS` prefix, trace ids, `error_codes` and so on).
    OAuthError {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` value.
        error: String,
        /// The Entra `AADSTS` code (ignored by the generic flavor).
        aadsts: Option<u32>,
        /// The human-readable description.
        description: String,
    },
    /// Wait this long (real time, not the authority's clock), then answer
    /// as usual: a slow server, or a window for a test to act in while the
    /// client waits for its answer.
    Delay(Duration),
    /// Read the request, then close the connection without answering.
    Close,
    /// A captive-portal style HTML page (`text/html`) with this status.
    Html {
        /// The HTTP status.
        status: u16,
    },
    /// Read the request, then say nothing (the connection stays open until
    /// the authority stops, or 60 s): a server that accepts but never answers.
    Stall,
    /// Answer `200 {}`, but one byte per `every` (slowloris).
    Trickle {
        /// The pause between two bytes.
        every: std::time::Duration,
    },
    /// Send the head and half of a `200` JSON body of the declared length,
    /// then close the connection: a reset in the middle of the body.
    CutMidBody,
    /// A `200` JSON answer with `Transfer-Encoding: chunked` whose chunks never
    /// end (until the client goes away, or 256 MiB).
    EndlessChunked,
    /// A redirect (`status` should be 3xx) to `location`, with an empty body:
    /// a client must not follow it with a device code or a refresh token.
    Redirect {
        /// The HTTP status, e.g. 302 or 307.
        status: u16,
        /// The `Location` header, sent verbatim.
        location: String,
    },
}

/// An access token as the authority issued it, from
/// [`TestAuthority::access_token`].
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct IssuedAccessToken {
    /// The scopes it was issued for, as requested.
    pub scopes: Vec<String>,
    /// The client capabilities the request declared (`xms_cc` values).
    pub capabilities: Vec<String>,
    /// The `claims` parameter of the request, as sent.
    pub claims: Option<String>,
    /// Its `expires_in`.
    pub lifetime: u64,
    /// Whether [`TestAuthority::revoke_access_tokens_by_event`] revoked it.
    pub revoked: bool,
    /// The RFC 7638 thumbprint of the DPoP key it is bound to (`cnf.jkt`);
    /// `None` for a Bearer token.
    pub jkt: Option<String>,
}

/// Which certificate the authority presents (see
/// [`TestAuthorityBuilder::certificate`] and
/// [`TestAuthority::present_certificate`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Certificate {
    /// Valid for `localhost`, `127.0.0.1` and `::1`, signed by [`TestAuthority::ca_pem`].
    #[default]
    Valid,
    /// Signed by the CA, but for another host name (`wrong-host.example`).
    WrongHost,
    /// Signed by the CA for loopback, but expired (valid only in 2001).
    Expired,
    /// Signed by the CA for loopback, but not valid before the year 3000.
    NotYetValid,
    /// For loopback, but signed by another CA, which no client is given: an
    /// unknown issuer (as behind a TLS-inspecting proxy).
    UntrustedIssuer,
}

/// What the authority has seen, as returned by [`TestAuthority::stats`].
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: usize,
    /// TLS handshakes completed (0 in plain HTTP mode).
    pub tls_handshakes: usize,
    /// Every request, in the order answered.
    pub requests: Vec<RecordedRequest>,
}

impl Stats {
    /// The token requests that used the device code grant (the polls).
    pub fn polls(&self) -> Vec<&RecordedRequest> {
        self.requests
            .iter()
            .filter(|r| {
                r.endpoint == Some(Endpoint::Token)
                    && r.param("grant_type") == Some(oauth::DEVICE_CODE_GRANT)
            })
            .collect()
    }

    /// How many requests went to `at`.
    pub fn count(&self, at: Endpoint) -> usize {
        self.requests
            .iter()
            .filter(|r| r.endpoint == Some(at))
            .count()
    }
}

/// One request the authority received, and what it answered.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Which endpoint it addressed; `None` for unknown paths and the login page.
    pub endpoint: Option<Endpoint>,
    /// The HTTP method.
    pub method: String,
    /// The path, without any query string.
    pub path: String,
    /// The headers, names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The decoded `application/x-www-form-urlencoded` body (empty when the
    /// body was not declared as a form; a broken `%` escape is kept as sent).
    pub form: Vec<(String, String)>,
    /// When it arrived: the authority's clock since the authority started.
    pub at: Duration,
    /// Which TCP connection carried it (1 for the first one accepted).
    pub connection: usize,
    /// The OAuth `error` it answered, or what it gave instead: `device_code`,
    /// `token`, `discovery`, `fault`, `not_found`, `login_page`, `approved`,
    /// `denied`, `bad_request`, ...
    pub answer: String,
}

impl RecordedRequest {
    /// The first value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header (give the name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sets up a [`TestAuthority`]; get one with [`TestAuthority::builder`].
#[non_exhaustive]
pub struct TestAuthorityBuilder {
    flavor: Flavor,
    clock: Arc<dyn Clock>,
    approval: Approval,
    interval: Option<u64>,
    expires_in: u64,
    send_message: Option<bool>,
    numbers_as_strings: bool,
    verification_url_field: bool,
    errors_with_status_200: bool,
    enforce_interval: bool,
    client_ids: Option<Vec<String>>,
    tenants: Option<Vec<String>>,
    rotate_refresh_tokens: bool,
    token_lifetime: Option<u64>,
    certificate: Certificate,
    username: String,
    display_name: String,
    plain_http: bool,
    keep_alive: bool,
    refresh_in: Option<u64>,
    cae_token_lifetime: u64,
    also_granted: Vec<String>,
    dpop: Option<DpopPolicy>,
}

impl fmt::Debug for TestAuthorityBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The clock is a trait object without Debug; everything else is shown.
        f.debug_struct("TestAuthorityBuilder")
            .field("flavor", &self.flavor)
            .field("approval", &self.approval)
            .field("interval", &self.interval)
            .field("expires_in", &self.expires_in)
            .field("send_message", &self.send_message)
            .field("numbers_as_strings", &self.numbers_as_strings)
            .field("verification_url_field", &self.verification_url_field)
            .field("errors_with_status_200", &self.errors_with_status_200)
            .field("enforce_interval", &self.enforce_interval)
            .field("client_ids", &self.client_ids)
            .field("tenants", &self.tenants)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("token_lifetime", &self.token_lifetime)
            .field("certificate", &self.certificate)
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("plain_http", &self.plain_http)
            .field("keep_alive", &self.keep_alive)
            .field("refresh_in", &self.refresh_in)
            .field("cae_token_lifetime", &self.cae_token_lifetime)
            .field("also_granted", &self.also_granted)
            .field("dpop", &self.dpop)
            .finish_non_exhaustive()
    }
}

impl Default for TestAuthorityBuilder {
    fn default() -> Self {
        TestAuthorityBuilder {
            flavor: Flavor::Entra,
            clock: Arc::new(SystemClock),
            approval: Approval::Manual,
            interval: Some(5),
            expires_in: 900,
            send_message: None,
            numbers_as_strings: false,
            verification_url_field: false,
            errors_with_status_200: false,
            enforce_interval: true,
            client_ids: None,
            tenants: None,
            rotate_refresh_tokens: true,
            token_lifetime: None,
            certificate: Certificate::Valid,
            username: "device.user@contoso.example".to_string(),
            display_name: "Device User".to_string(),
            plain_http: false,
            keep_alive: true,
            refresh_in: None,
            cae_token_lifetime: CAE_TOKEN_LIFETIME,
            also_granted: Vec::new(),
            dpop: None,
        }
    }
}

/// How long Entra's continuous access evaluation tokens live at most: 28 h.
const CAE_TOKEN_LIFETIME: u64 = 28 * 3600;

impl TestAuthorityBuilder {
    /// Which service to imitate. Default: [`Flavor::Entra`].
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// The clock for everything the authority does with time: interval
    /// enforcement, code expiry, [`Approval::After`], token `iat`/`exp`,
    /// timestamps in errors, [`RecordedRequest::at`]. Default: [`SystemClock`].
    ///
    /// Share a [`ManualClock`](devicecode::ManualClock) with the client to
    /// fast-forward a whole flow.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How the simulated person decides. Default: [`Approval::Manual`].
    pub fn approval(mut self, approval: Approval) -> Self {
        self.approval = approval;
        self
    }

    /// The `interval` sent with device codes, in seconds; `None` leaves the
    /// field out (clients must then use the RFC default of 5 s, and the
    /// authority enforces 5 s). Default: `Some(5)`.
    pub fn interval(mut self, seconds: Option<u64>) -> Self {
        self.interval = seconds;
        self
    }

    /// The lifetime of device codes, in seconds (`expires_in`). Default: 900.
    pub fn expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = seconds;
        self
    }

    /// Whether device code answers include `message`, the ready sentence for
    /// the person. Default: on for Entra, off for the generic flavor.
    pub fn send_message(mut self, on: bool) -> Self {
        self.send_message = Some(on);
        self
    }

    /// Send `expires_in` and `interval` (device code answer) and `expires_in`
    /// / `ext_expires_in` (token answer) as JSON strings (`"900"`), as some
    /// servers do. Default: off.
    pub fn numbers_as_strings(mut self, on: bool) -> Self {
        self.numbers_as_strings = on;
        self
    }

    /// Google style: name the field `verification_url` instead of
    /// `verification_uri` (and send no `verification_uri_complete`).
    /// Default: off.
    pub fn verification_url_field(mut self, on: bool) -> Self {
        self.verification_url_field = on;
        self
    }

    /// GitHub style: OAuth error answers of the token endpoint use HTTP 200
    /// instead of 400, so only the `error` field tells. Default: off.
    pub fn errors_with_status_200(mut self, on: bool) -> Self {
        self.errors_with_status_200 = on;
        self
    }

    /// Answer `slow_down` to a poll that arrives sooner than the code's
    /// interval after the previous poll (or after the code was issued, for the
    /// first poll), and add 5 s to that code's interval (RFC 8628 section
    /// 3.5). Default: on.
    pub fn enforce_interval(mut self, on: bool) -> Self {
        self.enforce_interval = on;
        self
    }

    /// The registered client ids; any other gets `invalid_client` (Entra:
    /// `AADSTS700016`, application not found in the directory). Default: any
    /// client id is accepted.
    pub fn client_ids(mut self, ids: Vec<String>) -> Self {
        self.client_ids = Some(ids);
        self
    }

    /// Entra only: the tenants that exist; a path with any other tenant
    /// segment gets `AADSTS90002` (tenant not found). Default: any tenant.
    pub fn tenants(mut self, tenants: Vec<String>) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// Give a new refresh token on every refresh and spend the old one; a
    /// replayed (spent) refresh token revokes the whole sign-in, as servers
    /// that treat replay as theft do. When off, the same refresh token is
    /// returned and stays valid. Default: on.
    pub fn rotate_refresh_tokens(mut self, on: bool) -> Self {
        self.rotate_refresh_tokens = on;
        self
    }

    /// The signed-in person: `preferred_username` (and `email` for the generic
    /// flavor) and `name` in ID tokens. Default:
    /// `device.user@contoso.example`, `Device User`.
    pub fn user(mut self, username: &str, display_name: &str) -> Self {
        self.username = username.to_string();
        self.display_name = display_name.to_string();
        self
    }

    /// The lifetime of access tokens, in seconds (`expires_in` of token
    /// answers). Default: 3599 (Entra) or 3600 (generic). A lifetime under
    /// five minutes makes every silent call refresh.
    pub fn token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime = Some(seconds);
        self
    }

    /// The certificate to present: a wrong host name, an expired one and so
    /// on, to test that clients fail closed (change it while running with
    /// [`TestAuthority::present_certificate`]). Default: [`Certificate::Valid`].
    pub fn certificate(mut self, certificate: Certificate) -> Self {
        self.certificate = certificate;
        self
    }

    /// Serve plain HTTP instead of HTTPS (still on loopback only). Default: off.
    pub fn plain_http(mut self, on: bool) -> Self {
        self.plain_http = on;
        self
    }

    /// Keep connections open between requests (HTTP/1.1 persistent
    /// connections). When off, every answer says `Connection: close` and the
    /// connection is closed. Default: on.
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// Send `refresh_in` (seconds) with every access token, as Entra does
    /// for long-lived tokens: the client should renew after that, not at
    /// expiry. Default: not sent.
    pub fn refresh_in(mut self, seconds: Option<u64>) -> Self {
        self.refresh_in = seconds;
        self
    }

    /// The lifetime of access tokens issued to a client that declares the
    /// `CP1` capability (`claims={"access_token":{"xms_cc":{"values":["CP1"]}}}`):
    /// Entra's continuous access evaluation tokens, up to 28 hours, revoked by
    /// event instead (see [`TestAuthority::revoke_access_tokens_by_event`]).
    /// Entra flavor only. Default: 28 h.
    pub fn cae_token_lifetime(mut self, seconds: u64) -> Self {
        self.cae_token_lifetime = seconds;
        self
    }

    /// Entra only: scopes every token answer lists in `scope` besides those
    /// asked for, as Entra lists `email` whenever `openid` is asked. Tokens
    /// for different scope sets then share a scope without being for the
    /// same thing. Default: none.
    pub fn also_granted(mut self, scopes: Vec<String>) -> Self {
        self.also_granted = scopes;
        self
    }

    /// Checks DPoP proofs (RFC 9449) on token requests as `policy` says,
    /// and binds the tokens of requests that carry one (`token_type`
    /// `DPoP`; the refresh token then needs a proof by the same key).
    /// Default: DPoP is ignored, every token is `Bearer`.
    pub fn dpop(mut self, policy: DpopPolicy) -> Self {
        self.dpop = Some(policy);
        self
    }

    /// Makes the certificates, binds `127.0.0.1` on an ephemeral port and
    /// starts serving.
    pub fn start(self) -> io::Result<TestAuthority> {
        let tls = if self.plain_http {
            None
        } else {
            Some(tls::make(self.certificate)?)
        };
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let scheme = if self.plain_http { "http" } else { "https" };
        let base_url = format!("{scheme}://127.0.0.1:{}", addr.port());
        let send_message = self.send_message.unwrap_or(self.flavor == Flavor::Entra);
        let config = Config {
            flavor: self.flavor,
            approval: self.approval,
            interval: self.interval,
            expires_in: self.expires_in,
            send_message,
            numbers_as_strings: self.numbers_as_strings,
            verification_url_field: self.verification_url_field,
            errors_with_status_200: self.errors_with_status_200,
            enforce_interval: self.enforce_interval,
            client_ids: self.client_ids,
            tenants: self.tenants,
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            token_lifetime: self.token_lifetime,
            username: self.username,
            display_name: self.display_name,
            keep_alive: self.keep_alive,
            refresh_in: self.refresh_in,
            cae_token_lifetime: self.cae_token_lifetime,
            also_granted: self.also_granted,
            dpop: self.dpop,
        };
        let mut state = State::new();
        state.dpop.nonce = state.rng.token(22);
        state.certificate = self.certificate;
        let identity = Identity {
            oid: state.rng.uuid(),
            tenant_id: state.rng.uuid(),
            subject: state.rng.token(32),
        };
        let started = self.clock.now();
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone()).unwrap_or_default();
        let shared = Arc::new(Shared {
            config,
            clock: self.clock,
            base_url,
            identity,
            started,
            state: Mutex::new(state),
            shutdown: AtomicBool::new(false),
            tls,
            workers: Mutex::new(Vec::new()),
        });
        let accept = server::spawn(Arc::clone(&shared), listener)?;
        log::debug!("test authority listening on {}", shared.base_url);
        Ok(TestAuthority {
            shared,
            addr,
            ca_pem,
            accept: Some(accept),
        })
    }
}

/// A running in-process authorization server; see the [module
/// documentation](self).
///
/// Dropping it stops the server and waits for its threads.
#[non_exhaustive]
pub struct TestAuthority {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: String,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestAuthority")
            .field("base_url", &self.shared.base_url)
            .field("flavor", &self.shared.config.flavor)
            .finish_non_exhaustive()
    }
}

impl TestAuthority {
    /// A builder with the defaults (Entra flavor, HTTPS, manual approval).
    pub fn builder() -> TestAuthorityBuilder {
        TestAuthorityBuilder::default()
    }

    /// Starts an authority with the defaults; the same as
    /// `TestAuthority::builder().start()`.
    pub fn start() -> io::Result<TestAuthority> {
        Self::builder().start()
    }

    /// `https://127.0.0.1:PORT` (`http://` in plain mode), without a trailing
    /// slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The issuer: for Entra, that of the `organizations` tenant (whose
    /// discovery document is at `{issuer}/.well-known/openid-configuration`);
    /// for the generic flavor, the base URL.
    pub fn issuer(&self) -> String {
        match self.shared.config.flavor {
            Flavor::Entra => self.shared.entra_issuer(DEFAULT_TENANT),
            Flavor::Generic => self.shared.base_url.clone(),
        }
    }

    /// The Entra issuer of a tenant: `{base_url}/{tenant}/v2.0`.
    pub fn entra_issuer(&self, tenant: &str) -> String {
        self.shared.entra_issuer(tenant)
    }

    /// The device authorization endpoint (Entra: for the `organizations`
    /// tenant).
    pub fn device_authorization_endpoint(&self) -> String {
        self.shared.device_endpoint(DEFAULT_TENANT)
    }

    /// The token endpoint (Entra: for the `organizations` tenant).
    pub fn token_endpoint(&self) -> String {
        self.shared.token_endpoint(DEFAULT_TENANT)
    }

    /// The PEM of the CA certificate that signed the server's certificate:
    /// the one root a client under test should trust. Empty in plain HTTP
    /// mode.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// A snapshot of what the authority has seen so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Approves every device code still waiting for a decision, as a person
    /// on a phone would.
    pub fn approve_pending(&self) {
        let now = self.shared.clock.now();
        self.shared
            .lock()
            .decide_pending(now, state::Decision::Approved);
    }

    /// Declines every device code still waiting for a decision.
    pub fn deny_pending(&self) {
        let now = self.shared.clock.now();
        self.shared
            .lock()
            .decide_pending(now, state::Decision::Denied);
    }

    /// Queues a fault: the next request to `at` gets it instead of its normal
    /// answer. Faults for one endpoint are used in the order queued, each once.
    ///
    /// [`Endpoint::Token`] serves every grant: device code polls, and refresh
    /// token redemptions (queue the fault after the sign-in to hit a refresh).
    pub fn inject(&self, at: Endpoint, fault: Fault) {
        self.shared.lock().faults.push_back((at, fault));
    }

    /// A lasting fault on a deterministic fraction of the requests: counted
    /// from this call, the 1st request to `at`, then the `(1 + every)`-th,
    /// the `(1 + 2 × every)`-th and so on get `fault` (`every` 2: every other
    /// request; 0 counts as 1: all of them), until
    /// [`clear_faults`](Self::clear_faults). Faults queued with
    /// [`inject`](Self::inject) come first and are not counted.
    pub fn inject_every(&self, at: Endpoint, every: u32, fault: Fault) {
        self.shared
            .lock()
            .standing
            .push(state::Standing::new(at, every, fault));
    }

    /// Removes every fault, queued or lasting.
    pub fn clear_faults(&self) {
        let mut state = self.shared.lock();
        state.faults.clear();
        state.standing.clear();
    }

    /// From the next TLS connection on, presents `certificate` (connections
    /// already open keep theirs): a certificate that goes bad, or a clock
    /// that moves, in the middle of a flow. With
    /// [`keep_alive`](TestAuthorityBuilder::keep_alive) off, every request
    /// opens a connection, so this takes effect at the next request. Does
    /// nothing in plain HTTP mode.
    pub fn present_certificate(&self, certificate: Certificate) {
        if let Some(tls) = &self.shared.tls {
            // Made now rather than during the next handshake; a failure
            // shows there again.
            if let Err(e) = tls.config(certificate) {
                log::warn!("test authority: cannot make the {certificate:?} certificate: {e}");
            }
        }
        self.shared.lock().certificate = certificate;
    }

    /// What the authority knows of an access token it issued: its scopes,
    /// the capabilities and claims it was asked with, whether an event
    /// revoked it. `None` for a token it never issued. This is the check a
    /// resource would make, so a test can tell which token it was given.
    pub fn access_token(&self, token: &str) -> Option<IssuedAccessToken> {
        self.shared.lock().access_tokens.get(token).cloned()
    }

    /// A critical event (the account disabled, its password changed, its
    /// location changed): every access token issued so far is revoked, as
    /// continuous access evaluation revokes them, while refresh tokens stay
    /// good. A resource refuses a revoked token of a `CP1` client with a
    /// claims challenge ([`resource_challenge`](Self::resource_challenge)).
    pub fn revoke_access_tokens_by_event(&self) {
        for token in self.shared.lock().access_tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// The `WWW-Authenticate` header a CAE-enabled resource answers with
    /// `401` for this access token: a claims challenge
    /// (`error="insufficient_claims"`, `claims` = base64 of
    /// `{"access_token":{"nbf":{"essential":true,"value":"<now>"}}}`) when the
    /// token was revoked by an event and its client declared `CP1`; `None`
    /// when the resource would accept the token, or refuse it otherwise.
    pub fn resource_challenge(&self, token: &str) -> Option<String> {
        let issued = self.access_token(token)?;
        if !issued.revoked || !issued.capabilities.iter().any(|c| c == "CP1") {
            return None;
        }
        let now = util::epoch_seconds(self.shared.clock.wall());
        let claims = serde_json::json!({
            "access_token": {"nbf": {"essential": true, "value": now.to_string()}}
        });
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
        Some(format!(
            r#"Bearer realm="", authorization_uri="{}/common/oauth2/authorize", error="insufficient_claims", claims="{encoded}""#,
            self.shared.base_url
        ))
    }

    /// The DPoP nonce proofs must carry now (see [`DpopPolicy::nonce`]).
    pub fn dpop_nonce(&self) -> String {
        self.shared.lock().dpop.nonce.clone()
    }

    /// Replaces the DPoP nonce, as a server does from time to time: proofs
    /// with the old one get `use_dpop_nonce` and the new one.
    pub fn rotate_dpop_nonce(&self) {
        let mut state = self.shared.lock();
        state.dpop.nonce = state.rng.token(22);
    }

    /// Checks a request to a resource as a DPoP-aware resource server does:
    /// `authorization` must be `DPoP <access token>` for a token this
    /// authority bound to the key of `proof`, a proof for `method` and `url`
    /// (query and fragment are ignored) with the token's hash (`ath`), fresh
    /// and not seen before, with the nonce when the policy demands one. The
    /// error says what was wrong (`invalid_dpop_proof`, `use_dpop_nonce`,
    /// `invalid_token`).
    pub fn check_resource_request(
        &self,
        method: &str,
        url: &str,
        authorization: &str,
        proof: &str,
    ) -> Result<(), String> {
        let policy = self.shared.config.dpop.clone().unwrap_or_default();
        let Some(token) = authorization.strip_prefix("DPoP ") else {
            return Err("invalid_token: the Authorization scheme is not DPoP".into());
        };
        let now = self.shared.clock.wall();
        let mut state = self.shared.lock();
        let bound = state.access_tokens.get(token).and_then(|t| t.jkt.clone());
        let Some(bound) = bound else {
            return Err("invalid_token: not a DPoP-bound access token of this authority".into());
        };
        let url = url.split(['?', '#']).next().unwrap_or(url);
        let expected = dpop::Expected {
            method,
            url,
            now,
            access_token: Some(token),
        };
        let jkt = dpop::verify(&policy, &mut state.dpop, proof, &expected)
            .map_err(|e| format!("{}: {}", e.error, e.description))?;
        if jkt != bound {
            return Err(
                "invalid_token: the proof's key is not the one the token is bound to".into(),
            );
        }
        Ok(())
    }

    /// Revokes every refresh token issued so far: using one gets
    /// `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.lock().revoke_all_grants();
    }
}

impl Drop for TestAuthority {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // The accept loop blocks in accept(): a connection wakes it up to see
        // the flag. If it fails the loop is already gone.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        // Connection threads notice the flag within one read timeout.
        let workers = std::mem::take(
            &mut *self
                .shared
                .workers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// The tenant the convenience endpoint methods use, as MSAL's default
/// authority for work and school accounts does.
const DEFAULT_TENANT: &str = "organizations";

/// Settings fixed at start.
#[derive(Debug)]
struct Config {
    flavor: Flavor,
    approval: Approval,
    interval: Option<u64>,
    expires_in: u64,
    send_message: bool,
    numbers_as_strings: bool,
    verification_url_field: bool,
    errors_with_status_200: bool,
    enforce_interval: bool,
    client_ids: Option<Vec<String>>,
    tenants: Option<Vec<String>>,
    rotate_refresh_tokens: bool,
    token_lifetime: Option<u64>,
    username: String,
    display_name: String,
    keep_alive: bool,
    refresh_in: Option<u64>,
    cae_token_lifetime: u64,
    also_granted: Vec<String>,
    dpop: Option<DpopPolicy>,
}

/// The fixed identity of the one person who signs in.
#[derive(Debug)]
struct Identity {
    /// Entra object id.
    oid: String,
    /// The tenant id used when the path's tenant is not a GUID.
    tenant_id: String,
    /// The `sub` claim.
    subject: String,
}

/// What the server threads and the [`TestAuthority`] handle share.
struct Shared {
    config: Config,
    clock: Arc<dyn Clock>,
    base_url: String,
    identity: Identity,
    /// The authority's clock at start, the origin of [`RecordedRequest::at`].
    started: Instant,
    state: Mutex<State>,
    shutdown: AtomicBool,
    tls: Option<tls::Tls>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Locks the state. A panic while it was held (a bug) does not make the
    /// state unusable for the rest of a test, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    fn entra_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.base_url)
    }

    fn device_endpoint(&self, tenant: &str) -> String {
        match self.config.flavor {
            Flavor::Entra => format!("{}/{tenant}/oauth2/v2.0/devicecode", self.base_url),
            Flavor::Generic => format!("{}/device", self.base_url),
        }
    }

    fn token_endpoint(&self, tenant: &str) -> String {
        match self.config.flavor {
            Flavor::Entra => format!("{}/{tenant}/oauth2/v2.0/token", self.base_url),
            Flavor::Generic => format!("{}/token", self.base_url),
        }
    }

    fn verification_uri(&self) -> String {
        format!("{}/devicelogin", self.base_url)
    }
}
