//! The HTTP client: one keep-alive `ureq` agent for all the
//! [`PublicClient`](crate::PublicClient)s of a process that are set up alike.
//!
//! Everything here exists to make `ureq` behave for a token client: status
//! codes are answers, not errors (the OAuth error JSON is in the body); every
//! body is read to the end so the connection goes back to the pool; timeouts
//! are per phase, because ureq's global timeout and its resolve timeout start
//! a helper thread per request; buffers are small for small boards.

use crate::authority::check_endpoint_url;
use crate::error::{Error, ErrorKind};
pub(crate) use crate::tls::parse_root_pem;
use crate::tls::{AddedRoots, RecordTcpConnector, TlsConnector, check_roots};
use log::{debug, warn};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use ureq::Agent;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector};

/// Token and device-code answers are small; this bounds memory against a
/// hostile or broken server.
pub(crate) const BODY_LIMIT: u64 = 64 * 1024;

/// The default time allowed to open a TCP connection and finish TLS.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time allowed to send a request or receive an answer.
pub(crate) const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an idle connection may wait for its next request, unless the
/// request says otherwise: ureq's default, and what most servers allow.
pub(crate) const DEFAULT_IDLE: Duration = Duration::from_secs(15);
/// The longest a pooled connection is kept for a request that allows it (a
/// device code poll at a long interval, see [`Http::post_form_after_idle`]).
/// The pool's own limit: above every poll's, so each request decides.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(300);

/// ureq's default is 128 KiB each way; our requests and answers are a few KiB.
const BUFFER_SIZE: usize = 16 * 1024;

/// How the agent is set up; filled in by the client builder.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    pub proxy: ProxySetting,
    pub extra_roots: AddedRoots,
    pub replace_roots: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            proxy: ProxySetting::FromEnvironment,
            extra_roots: AddedRoots::default(),
            replace_roots: false,
        }
    }
}

impl HttpSettings {
    /// The longest one request may take within these limits: connecting,
    /// sending the head and the body, waiting for the answer and reading it,
    /// each phase with its own timeout (see `Http::new`). A refresh holds the
    /// token cache's lock this long at most, so waiters wait at least this.
    pub fn longest_exchange(&self) -> Duration {
        self.connect_timeout
            .saturating_add(self.io_timeout.saturating_mul(4))
    }
}

/// Where requests go through.
#[derive(Debug, Clone)]
pub(crate) enum ProxySetting {
    /// `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY`, as ureq reads them.
    FromEnvironment,
    Direct,
    Url(String),
}

/// An answer whose body has been read to the end. The body holds tokens:
/// it is wiped when the reply is dropped, and `Debug` gives its length only.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub location: Option<String>,
    /// The `DPoP-Nonce` header (RFC 9449 section 8).
    pub dpop_nonce: Option<String>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // The body never grew (see `read_reply`): what it held is all in
        // its contents, and its spare room, up to 64 KiB never written,
        // stays untouched (no pages made resident to zero it).
        zeroize::Zeroize::zeroize(self.body.as_mut_slice());
    }
}

impl Reply {
    /// Whether the body looks like a web page rather than an API answer: what
    /// a captive portal or a proxy's error page sends.
    pub fn looks_like_html(&self) -> bool {
        let declared = self
            .content_type
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        let start: Vec<u8> = self
            .body
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take(5)
            .map(u8::to_ascii_lowercase)
            .collect();
        declared.contains("html") || start.starts_with(b"<")
    }
}

/// A client's way to the network. Its agent is made, or found among those
/// of the other clients, at its first request: a client that answers from
/// the token cache sets up no HTTP at all, and does not read the proxy
/// environment either.
pub(crate) struct Http {
    /// The key of the client's agent, but for a proxy from the environment.
    key: Arc<AgentKey>,
    /// Whether the proxy is the environment's, read at the first request.
    proxy_from_environment: bool,
    agent: OnceLock<Arc<Agent>>,
}

/// Everything an agent is built from. Clients whose keys are equal get the
/// same agent: one connection pool, and one rustls configuration (with its
/// root store) made when the agent is.
#[derive(PartialEq, Clone)]
struct AgentKey {
    connect_timeout: Duration,
    io_timeout: Duration,
    proxy: Option<ureq::Proxy>,
    bundled_roots: bool,
    extra_roots: AddedRoots,
}

/// The agents of the clients alive now that have made a request. An agent
/// goes with the last client that uses it (closing its connections), as a
/// client's own agent did.
static AGENTS: Mutex<Vec<(Arc<AgentKey>, Weak<Agent>)>> = Mutex::new(Vec::new());

impl Http {
    /// Checks the settings without making the agent: everything that can be
    /// wrong with them is found here, when the client is built. The proxy
    /// environment is read when the agent is made, at the first request: a
    /// process served from the token cache never needs it.
    pub fn new(settings: &HttpSettings) -> Result<Self, Error> {
        let proxy = match &settings.proxy {
            ProxySetting::FromEnvironment | ProxySetting::Direct => None,
            ProxySetting::Url(url) => {
                let proxy = ureq::Proxy::new(url).map_err(|e| {
                    Error::config(format!("the proxy '{url}' is not usable")).with_source(e)
                })?;
                if !is_connect_proxy(&proxy) {
                    return Err(Error::config(format!(
                        "the proxy '{url}' is a SOCKS proxy: only HTTP CONNECT proxies (http:// or https://) are supported"
                    )));
                }
                Some(proxy)
            }
        };
        check_roots(!settings.replace_roots, &settings.extra_roots)?;
        Ok(Http {
            key: Arc::new(AgentKey {
                connect_timeout: settings.connect_timeout,
                io_timeout: settings.io_timeout,
                proxy,
                bundled_roots: !settings.replace_roots,
                extra_roots: settings.extra_roots.clone(),
            }),
            proxy_from_environment: matches!(settings.proxy, ProxySetting::FromEnvironment),
            agent: OnceLock::new(),
        })
    }

    /// The agent, made or found at the first request. Making it fails only
    /// for a root bundle that `new` could not see was unusable (it is parsed
    /// here, see `tls::roots`): the request that needed it returns that.
    fn agent(&self) -> Result<&Agent, Error> {
        if let Some(agent) = self.agent.get() {
            return Ok(agent);
        }
        // Threads whose first requests race all get the registry's one agent
        // for the key, so whichever stores it stores the same.
        let shared = shared_agent(&self.full_key())?;
        Ok(self.agent.get_or_init(|| shared))
    }

    /// The agent's key, with the environment's proxy when it is the one.
    fn full_key(&self) -> Arc<AgentKey> {
        if !self.proxy_from_environment {
            return Arc::clone(&self.key);
        }
        Arc::new(AgentKey {
            proxy: environment_proxy(),
            ..(*self.key).clone()
        })
    }

    /// Whether this client has set up its agent yet.
    #[cfg(test)]
    pub fn has_agent(&self) -> bool {
        self.agent.get().is_some()
    }
}

/// The proxy the environment sets for us, if any.
fn environment_proxy() -> Option<ureq::Proxy> {
    // ureq parses NO_PROXY before it looks for a proxy: skip both when no
    // proxy is set, the usual case.
    if !proxy_in_environment() {
        return None;
    }
    // As ureq without its SOCKS support does: a SOCKS proxy in the
    // environment is meant for other programs too; go direct.
    ureq::Proxy::try_from_env().filter(|p| {
        let usable = is_connect_proxy(p);
        if !usable {
            warn!("ignoring the SOCKS proxy in the environment: only HTTP CONNECT proxies are supported");
        }
        usable
    })
}

/// The agent of the live clients set up as `key` says, or a new one.
fn shared_agent(key: &Arc<AgentKey>) -> Result<Arc<Agent>, Error> {
    let mut agents = AGENTS.lock().unwrap_or_else(PoisonError::into_inner);
    agents.retain(|(_, agent)| agent.strong_count() > 0);
    if let Some(agent) = agents
        .iter()
        .find(|(known, _)| known == key)
        .and_then(|(_, agent)| agent.upgrade())
    {
        return Ok(agent);
    }
    let agent = Arc::new(new_agent(key)?);
    agents.push((Arc::clone(key), Arc::downgrade(&agent)));
    Ok(agent)
}

/// Whether one of the variables `ureq::Proxy::try_from_env` reads a proxy
/// from is set.
fn proxy_in_environment() -> bool {
    [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some())
}

/// Whether ureq tunnels through this proxy with HTTP CONNECT, the only kind
/// the agent's connectors handle.
fn is_connect_proxy(proxy: &ureq::Proxy) -> bool {
    matches!(
        proxy.protocol(),
        ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
    )
}

fn new_agent(key: &AgentKey) -> Result<Agent, Error> {
    let tls = TlsConnector::new(key.bundled_roots, &key.extra_roots)?;
    // ureq's default chain without its TLS: through an HTTP CONNECT proxy
    // if one is set (and NO_PROXY does not exempt the host), else directly;
    // then TLS for https.
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(RecordTcpConnector::default())
            .chain(tls);
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
        .accept("application/json")
        .proxy(key.proxy.clone())
        // Five phases, each bounded: `HttpSettings::longest_exchange` adds
        // them up; keep the two in step.
        .timeout_connect(Some(key.connect_timeout))
        .timeout_send_request(Some(key.io_timeout))
        .timeout_send_body(Some(key.io_timeout))
        .timeout_recv_response(Some(key.io_timeout))
        .timeout_recv_body(Some(key.io_timeout))
        .input_buffer_size(BUFFER_SIZE)
        .output_buffer_size(BUFFER_SIZE)
        // A shared agent may serve clients of several authorities: each
        // keeps its connection while the others keep theirs.
        .max_idle_connections(16)
        .max_idle_connections_per_host(2)
        // The pool keeps connections this long; each request says how old a
        // connection it takes (`DEFAULT_IDLE`, or a poll's own interval).
        .max_idle_age(MAX_IDLE)
        .build();
    Ok(Agent::with_parts(
        config,
        connector,
        DefaultResolver::default(),
    ))
}

impl Http {
    /// `POST` an `application/x-www-form-urlencoded` body. Only transport
    /// failures are errors; every HTTP status comes back as a [`Reply`].
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Reply, Error> {
        self.post_form_after_idle(url, form, DEFAULT_IDLE, None)
    }

    /// As [`post_form`](Self::post_form), taking a pooled connection that
    /// has been idle up to `idle` (at most [`MAX_IDLE`]): a poll after a long
    /// interval reuses the flow's connection if the server kept it open (it is
    /// checked before use), instead of a new TCP and TLS handshake each time.
    /// A `dpop` proof goes in the `DPoP` header.
    pub fn post_form_after_idle(
        &self,
        url: &str,
        form: &[(&str, &str)],
        idle: Duration,
        dpop: Option<&str>,
    ) -> Result<Reply, Error> {
        debug!("POST {url}");
        let mut request = self.agent()?.post(url);
        if let Some(proof) = dpop {
            request = request.header("DPoP", proof);
        }
        // The body ureq's `send_form` would send, encoded by us (cheaper).
        let body = crate::request::form_body(form);
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .config()
            .max_idle_age(idle.min(MAX_IDLE))
            .build()
            .send(body.as_slice())
            .map_err(|e| transport_error(url, e))?;
        read_reply(url, response)
    }

    /// `GET` a JSON document (discovery).
    pub fn get(&self, url: &str) -> Result<Reply, Error> {
        debug!("GET {url}");
        let response = self
            .agent()?
            .get(url)
            .config()
            .max_idle_age(DEFAULT_IDLE)
            .build()
            .call()
            .map_err(|e| transport_error(url, e))?;
        read_reply(url, response)
    }
}

fn read_reply(url: &str, mut response: ureq::http::Response<ureq::Body>) -> Result<Reply, Error> {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let location = header("location");
    let dpop_nonce = header("dpop-nonce");
    // Sized for the length the server announced (within the limit): no
    // growing, and no small probing reads, as for a body of unknown length.
    // A body of unknown length gets room for the most it may be, so that
    // the buffer never grows: a grown buffer frees its old block, tokens
    // and all, unwiped (the room is only address space until written).
    let room = header("content-length")
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(BODY_LIMIT.saturating_add(1), |n| n.min(BODY_LIMIT));
    let mut body = Vec::with_capacity(usize::try_from(room).unwrap_or(0));
    // Reading to the end is what returns the connection to the pool. As
    // ureq's `read_to_vec`, which gives no room for a size.
    let read = std::io::Read::read_to_end(
        &mut response.body_mut().with_config().limit(BODY_LIMIT).reader(),
        &mut body,
    );
    if read.is_err() {
        // Part of a token answer may have arrived before the failure.
        zeroize::Zeroize::zeroize(body.as_mut_slice());
    }
    read.map_err(ureq::Error::from)
    .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => Error::invalid(format!(
                "the answer from {url} is larger than {BODY_LIMIT} bytes: this is not an OAuth server answer"
            ))
            .with_status(status),
            other => transport_error(url, other),
        })?;
    debug!("{url} answered HTTP {status} ({} bytes)", body.len());
    Ok(Reply {
        status,
        body,
        content_type,
        retry_after,
        location,
        dpop_nonce,
    })
}

/// Maps a ureq failure to our error, deciding whether a retry may help.
fn transport_error(url: &str, error: ureq::Error) -> Error {
    use ureq::Error as U;
    let host = url
        .parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string));
    let host = host.unwrap_or_else(|| url.to_string());
    let (retryable, what) = match &error {
        U::Timeout(_) => (true, format!("timed out talking to {host}")),
        U::HostNotFound => (true, format!("could not resolve {host} (DNS)")),
        U::ConnectionFailed => (true, format!("could not connect to {host}")),
        U::Io(e) if is_tls_failure(e) => (false, tls_failure(&host, tls_cause(e))),
        U::Io(_) => (true, format!("the connection to {host} failed")),
        U::Protocol(_) => (true, format!("{host} broke the HTTP protocol")),
        U::Tls(_) => (false, tls_failure(&host, None)),
        U::InvalidProxyUrl => {
            return Error::config("the proxy URL is not valid").with_source(error);
        }
        U::BadUri(_) | U::Http(_) => {
            return Error::config(format!("the URL '{url}' cannot be requested"))
                .with_source(error);
        }
        _ => (false, format!("the request to {host} failed")),
    };
    let failure = Error::new(ErrorKind::Transport, what).retryable(retryable);
    match error {
        // ureq's `Io` only labels the I/O error ("io: ..."): the cause is
        // the I/O error itself.
        U::Io(io) => failure.with_source(io),
        other => failure.with_source(other),
    }
}

/// rustls reports a bad certificate as an I/O error wrapping its own error;
/// retrying cannot fix it, so it must not be mistaken for a network blip.
fn is_tls_failure(error: &std::io::Error) -> bool {
    tls_cause(error).is_some()
}

fn tls_cause(error: &std::io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

fn tls_failure(host: &str, cause: Option<&rustls::Error>) -> String {
    use rustls::CertificateError as C;
    let now = SystemTime::now();
    let clock = format!(
        "this device's clock reads {}",
        crate::clock::civil_date(now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    );
    let by_time = matches!(
        cause,
        Some(rustls::Error::InvalidCertificate(
            C::Expired | C::NotValidYet | C::ExpiredContext { .. } | C::NotValidYetContext { .. }
        ))
    );
    if let Err(wrong) = crate::clock::check_wall_clock(now) {
        // Every certificate looks "not yet valid" to a board stuck in 1970.
        return format!("the TLS connection to {host} failed: {wrong}");
    }
    if by_time {
        return format!(
            "the TLS connection to {host} failed: its certificate is expired or not yet valid, and {clock}; if that date is wrong, set the clock (NTP), otherwise the server's certificate is out of date"
        );
    }
    // What rustls said is the error's source, so it is not repeated here.
    if matches!(
        cause,
        Some(rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. }
        ))
    ) {
        return format!(
            "the TLS connection to {host} failed: its certificate is for another host name; check the host in the URL, and that no proxy or captive portal answers in the server's place"
        );
    }
    format!(
        "the TLS connection to {host} failed; check that the server's CA is trusted (a TLS-inspecting proxy needs its CA added with root_certificates_pem) and that the device clock is right ({clock})"
    )
}

/// Turns a `Retry-After` value (delay-seconds or an HTTP-date) into a delay
/// from `now`. Dates in the past mean "now"; nonsense means no advice.
pub(crate) fn retry_after_delay(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(parse_http_date(value)?))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the IMF-fixdate form of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`)
/// into seconds since the epoch.
fn parse_http_date(value: &str) -> Option<u64> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || h > 23
        || m > 59
        || s > 60
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    let days = crate::clock::days_from_civil(year, month, u8::try_from(day).ok()?)?;
    days.checked_mul(86_400)?.checked_add(h * 3600 + m * 60 + s)
}

/// Checks a URL that a server handed us (discovery) before we send to it.
pub(crate) fn check_server_url(url: &str, what: &str) -> Result<(), Error> {
    check_endpoint_url(url, what)
        .map_err(|e| Error::invalid(format!("the server gave an unusable {what}: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn retry_after_in_both_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_767); // Sun, 06 Nov 1994 08:49:27 GMT
        assert_eq!(retry_after_delay("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after_delay("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after_delay("Sun, 06 Nov 1994 08:40:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_delay("soon", now), None);
        assert_eq!(
            retry_after_delay("Sun, 32 Nov 1994 08:49:37 GMT", now),
            None
        );
        assert_eq!(retry_after_delay("-5", now), None);
    }

    #[test]
    fn certificate_time_failures_point_at_the_clock() {
        let wrap = |e: rustls::Error| ureq::Error::Io(std::io::Error::other(e));
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let err = transport_error("https://login.example/t", wrap(expired));
        assert_eq!(err.kind(), ErrorKind::Transport);
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(text.contains("expired or not yet valid"), "{text}");
        assert!(text.contains("this device's clock reads 20"), "{text}");
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let text = transport_error("https://login.example/t", wrap(unknown)).to_string();
        assert!(text.contains("CA is trusted"), "{text}");
    }

    #[test]
    fn absurd_http_dates_are_ignored_not_overflowed() {
        // Found by the retry_after fuzz target: a year that overflowed.
        let now = UNIX_EPOCH + Duration::from_secs(1_795_478_400);
        assert_eq!(
            retry_after_delay("112, 1 Oct 212022002002026 7:2:0 GMT", now),
            None
        );
        assert_eq!(
            retry_after_delay("Fri, 31 Dec 9999 23:59:59 GMT", now).map(|d| d.as_secs() > 0),
            Some(true)
        );
        assert_eq!(
            retry_after_delay("Sat, 01 Jan 10000 00:00:00 GMT", now),
            None
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(
            parse_http_date("Tue, 24 Nov 2026 00:00:00 GMT"),
            Some(1_795_478_400)
        );
    }

    #[test]
    fn a_socks_proxy_is_refused_when_the_client_is_built() {
        let settings = HttpSettings {
            proxy: ProxySetting::Url("socks5://127.0.0.1:1080".to_string()),
            ..HttpSettings::default()
        };
        let err = Http::new(&settings).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert!(err.to_string().contains("SOCKS"), "{err}");
        let settings = HttpSettings {
            proxy: ProxySetting::Url("http://127.0.0.1:3128".to_string()),
            ..HttpSettings::default()
        };
        // Without bundled roots, the settings fail for want of roots.
        assert!(
            Http::new(&settings).is_ok() || cfg!(not(feature = "bundled-roots")),
            "a CONNECT proxy is fine"
        );
    }

    /// A root certificate of its own, so that a test holds without the
    /// bundled roots.
    pub(crate) fn self_signed_pem() -> String {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn clients_set_up_alike_share_the_agent_their_first_requests_make() {
        // A timeout no other test uses: the registry is the process's.
        let settings = HttpSettings {
            io_timeout: Duration::from_millis(4_321),
            proxy: ProxySetting::Direct,
            extra_roots: parse_root_pem(self_signed_pem().as_bytes()).unwrap(),
            ..HttpSettings::default()
        };
        let clients: Vec<Http> = (0..4).map(|_| Http::new(&settings).unwrap()).collect();
        assert!(clients.iter().all(|c| !c.has_agent()), "none before use");
        let address = |agent: &Agent| std::ptr::from_ref(agent).addr();
        // First uses racing on several threads end with one agent.
        let agents: Vec<usize> = std::thread::scope(|s| {
            let racing: Vec<_> = clients
                .iter()
                .map(|c| s.spawn(move || address(c.agent().unwrap())))
                .collect();
            racing.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(agents.iter().all(|a| *a == agents[0]), "{agents:?}");
        assert_eq!(address(clients[1].agent().unwrap()), agents[0]);
        let other = Http::new(&HttpSettings {
            connect_timeout: Duration::from_millis(4_321),
            ..settings
        })
        .unwrap();
        assert_ne!(address(other.agent().unwrap()), agents[0]);
    }

    #[test]
    fn the_environment_proxy_is_read_at_the_first_request_not_at_build() {
        let settings = HttpSettings {
            extra_roots: parse_root_pem(self_signed_pem().as_bytes()).unwrap(),
            ..HttpSettings::default()
        };
        let http = Http::new(&settings).unwrap();
        assert!(http.proxy_from_environment);
        assert!(http.key.proxy.is_none(), "nothing read at build");
        assert!(http.full_key().proxy == environment_proxy());
        // A proxy set in code is known at build, and the key is the same.
        let http = Http::new(&HttpSettings {
            proxy: ProxySetting::Url("http://127.0.0.1:3128".to_string()),
            ..settings
        })
        .unwrap();
        assert!(!http.proxy_from_environment);
        assert!(http.key.proxy.is_some());
        assert!(Arc::ptr_eq(&http.full_key(), &http.key));
    }

    #[test]
    fn a_reply_shows_its_body_s_length_only() {
        let reply = Reply {
            status: 200,
            body: br#"{"access_token":"s3cr3t-at","refresh_token":"s3cr3t-rt"}"#.to_vec(),
            content_type: Some("application/json".to_string()),
            retry_after: None,
            location: None,
            dpop_nonce: None,
        };
        let shown = format!("{reply:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("[56 bytes]"), "{shown}");
    }

    #[test]
    fn html_detection() {
        let reply = |ct: Option<&str>, body: &str| Reply {
            status: 200,
            body: body.as_bytes().to_vec(),
            content_type: ct.map(str::to_string),
            retry_after: None,
            location: None,
            dpop_nonce: None,
        };
        assert!(reply(Some("text/html"), "x").looks_like_html());
        assert!(reply(None, "  <!DOCTYPE html>").looks_like_html());
        assert!(!reply(Some("application/json"), "{}").looks_like_html());
    }
}
