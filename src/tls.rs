//! TLS for the HTTP agent: rustls on top of the connection that ureq's TCP
//! and CONNECT-proxy connectors open.
//!
//! ureq's own rustls support takes roots only as whole certificates, which
//! it parses into trust anchors (and hashes, to cache the result) in every
//! process. Here the bundled roots are anchors already (`webpki-roots`), the
//! roots a program adds are looked over when it gives them and parsed when
//! its first request makes the agent, and the rustls configuration is made
//! once per agent, on its first TLS connection. The
//! buffers are allocated zeroed in one go, and the TCP connection under TLS
//! gets small ones: it carries records, not HTTP messages.

mod provider;
mod roots;

pub(crate) use roots::AddedRoots;

/// The full parse of one bundle, without the look over (for the fuzz target).
#[cfg(any(test, feature = "__fuzz"))]
pub(crate) fn parse_anchors(pem: &[u8]) -> Result<Vec<TrustAnchor<'static>>, Error> {
    roots::parse(pem, roots::THE_BUNDLE)
}

use crate::error::Error;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::{ServerName, TrustAnchor};
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};
use ureq::Agent;
use ureq::unversioned::transport::time::{Duration as Wait, Instant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, TcpConnector, Transport,
    TransportAdapter,
};

/// The buffers of a TCP connection that carries TLS. It only carries
/// records, which rustls gathers across reads itself, so it needs none of
/// the room the HTTP messages above it need (`PlainBuffers`): a record
/// larger than this takes a few reads or writes instead of one. ureq fills
/// them with zeros byte by byte (at opt-level "z"): 2 KiB rather than 4 KiB
/// saved ~22 K instructions per connection, and a token answer still comes
/// in one or two reads.
const RECORD_BUFFER_SIZE: usize = 2 * 1024;

/// A PEM bundle of root certificates to trust, looked over now and parsed
/// into trust anchors when the agent is made (see [`roots`]).
pub(crate) fn parse_root_pem(pem: &[u8]) -> Result<AddedRoots, Error> {
    AddedRoots::from_pem(pem)
}

/// Checks a PEM bundle as
/// [`PublicClientBuilder::root_certificates_pem`](crate::PublicClientBuilder::root_certificates_pem)
/// and the client's first request do, without building a client; returns
/// how many certificates it holds.
///
/// Fails with [`ErrorKind::Configuration`](crate::ErrorKind::Configuration)
/// when the bundle cannot be read, holds no certificate, or holds one that
/// cannot be a root: the error the builder's `build` returns, or, for a
/// certificate whole in its PEM and DER framing but not X.509 inside, the
/// one the client's first request returns (the builder looks the bundle
/// over; it is parsed when the first connection needs it).
///
/// ```
/// let error = devicecode::check_root_certificates_pem("no PEM here").unwrap_err();
/// assert_eq!(error.kind(), devicecode::ErrorKind::Configuration);
/// ```
pub fn check_root_certificates_pem(pem: impl AsRef<[u8]>) -> Result<usize, Error> {
    let pem = pem.as_ref();
    roots::look_over(pem, roots::THE_BUNDLE)?;
    roots::parse(pem, roots::THE_BUNDLE).map(|certificates| certificates.len())
}

/// The rustls set-up of one agent: TLS 1.2 and 1.3 with ring, SNI on, the
/// bundled roots (unless `bundled` is false) and `extra` trusted.
fn client_config(
    bundled: bool,
    extra: &[TrustAnchor<'static>],
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut roots = RootCertStore::empty();
    if bundled {
        roots.roots.extend(bundled_roots().iter().cloned());
    }
    roots.roots.extend(extra.iter().cloned());
    let config = ClientConfig::builder_with_provider(Arc::new(provider::provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(feature = "bundled-roots")]
fn bundled_roots() -> &'static [TrustAnchor<'static>] {
    webpki_roots::TLS_SERVER_ROOTS
}

#[cfg(not(feature = "bundled-roots"))]
fn bundled_roots() -> &'static [TrustAnchor<'static>] {
    &[]
}

/// Fails as [`TlsConnector::new`] would for want of roots: the client
/// builder checks before any connector exists (it is made at the first
/// request).
pub(crate) fn check_roots(bundled: bool, extra: &AddedRoots) -> Result<(), Error> {
    if extra.is_empty() && (!bundled || bundled_roots().is_empty()) {
        return Err(Error::config(
            "no trusted root certificates: enable the `bundled-roots` feature or give a PEM bundle with root_certificates_pem",
        ));
    }
    Ok(())
}

/// ureq's TCP connector, opening connections that TLS will wrap with
/// buffers of [`RECORD_BUFFER_SIZE`].
#[derive(Default)]
pub(crate) struct RecordTcpConnector(TcpConnector);

impl fmt::Debug for RecordTcpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordTcpConnector")
    }
}

impl<In: Transport> Connector<In> for RecordTcpConnector {
    type Out = <TcpConnector as Connector<In>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // A proxy tunnel, or plain HTTP: as ureq's own chain does.
        if chained.is_some() || !details.needs_tls() {
            return self.0.connect(details, chained);
        }
        // Buffer sizes and `no_delay` are all the TCP connector reads from
        // its configuration. Made per connection rather than per agent: a
        // configuration reads the proxy environment variables, which a
        // process that never connects need not do twice.
        let record_config = Agent::config_builder()
            .no_delay(details.config.no_delay())
            .input_buffer_size(RECORD_BUFFER_SIZE)
            .output_buffer_size(RECORD_BUFFER_SIZE)
            .build();
        let direct = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config: &record_config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: Arc::clone(&details.current_time),
            run_connector: Arc::clone(&details.run_connector),
            register_shutdown: Arc::clone(&details.register_shutdown),
        };
        self.0.connect(&direct, None)
    }
}

/// The last link of the agent's connector chain: wraps an `https`
/// connection in TLS, passes anything else through.
pub(crate) struct TlsConnector {
    bundled: bool,
    extra: Vec<TrustAnchor<'static>>,
    /// Made on the first TLS connection, so that a process that never
    /// connects (a token served from the cache) does not pay for it, and
    /// kept for every later one.
    config: OnceLock<Result<Arc<ClientConfig>, rustls::Error>>,
}

impl TlsConnector {
    /// Trusts the bundled roots (unless `bundled` is false) and `extra`,
    /// which are parsed here: a bundle that the builder's look over let
    /// through and that holds no usable root fails the first request.
    pub(crate) fn new(bundled: bool, extra: &AddedRoots) -> Result<Self, Error> {
        check_roots(bundled, extra)?;
        Ok(TlsConnector {
            bundled,
            extra: extra.anchors()?,
            config: OnceLock::new(),
        })
    }

    fn config(&self) -> Result<Arc<ClientConfig>, ureq::Error> {
        self.config
            .get_or_init(|| client_config(self.bundled, &self.extra))
            .clone()
            .map_err(tls_error)
    }
}

/// A rustls error as rustls's own I/O reports it, which is what
/// `http::transport_error` explains.
fn tls_error(error: rustls::Error) -> ureq::Error {
    ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, error))
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConnector")
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // A CONNECT tunnel is not TLS to the target even when the proxy was
        // reached over TLS, so `is_tls` decides, not the connector before.
        let Some(inner) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || inner.is_tls() {
            return Ok(Some(Either::A(inner)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("the URL has no host name for TLS"))?;
        // An IPv6 literal comes bracketed in a URL, not in a server name.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::Tls("the host is not a valid TLS server name"))?
            .to_owned();
        let mut conn = ClientConnection::new(self.config()?, name).map_err(tls_error)?;
        let mut sock = TransportAdapter::new(inner.boxed(), Arc::clone(&details.current_time));
        // The connect timeout covers TCP and TLS together: what is left of
        // it after the TCP connection is what the handshake may take.
        sock.set_timeout(left_of(details));
        // A failed handshake comes back as an I/O error holding rustls's
        // error, which `http::transport_error` explains.
        conn.complete_io(&mut sock)?;
        Ok(Some(Either::B(TlsTransport {
            stream: StreamOwned::new(conn, sock),
            buffers: PlainBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
        })))
    }
}

/// The part of the connection's timeout not yet spent since it started.
fn left_of(details: &ConnectionDetails) -> NextTimeout {
    let mut timeout = details.timeout;
    if let (Wait::Exact(limit), Instant::Exact(start), Instant::Exact(now)) =
        (timeout.after, details.now, (details.current_time)())
    {
        let spent = now.saturating_duration_since(start);
        timeout.after = Wait::Exact(limit.saturating_sub(spent));
    }
    timeout
}

/// An established TLS connection, carrying HTTP for ureq.
pub(crate) struct TlsTransport {
    stream: StreamOwned<ClientConnection, TransportAdapter>,
    buffers: PlainBuffers,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("inner", &self.stream.sock.inner())
            .finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.sock.set_timeout(timeout);
        // ureq never asks for more than the buffer it was given; if it did,
        // sending part of a request would be worse than failing it.
        let output = self.buffers.output.get(..amount).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a request larger than its output buffer",
            )
        })?;
        self.stream.write_all(output)?;
        // `write` leaves a failure to send for the next call; flushing
        // reports it for this request.
        self.stream.flush()?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let room = self.buffers.input_append_buf();
        if room.is_empty() {
            // An answer head that fills the buffer: ureq gives up on no
            // progress, with no need to wait for the network first.
            return Ok(false);
        }
        self.stream.sock.set_timeout(timeout);
        let read = self.stream.read(room)?;
        self.buffers.input_appended(read);
        Ok(read > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.sock.get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The least room ureq is given to read a request body into (see
/// [`Buffers::tmp_and_output`]): it must never be empty, or ureq would take
/// an empty read for the end of the body.
const MIN_TMP: usize = 4 * 1024;

/// The plaintext buffers of one connection, allocated zeroed in one go (a
/// zeroed `vec!` is one `calloc`; growing a vector to a size writes it byte
/// by byte at opt-level "z"). The output buffer has its full size from the
/// start: ureq writes a request's head into it whole. The input buffer
/// starts at [`MIN_TMP`], which holds the usual answer's head, and is
/// replaced by one twice as large when an answer's head fills it, up to
/// the size ureq was configured with: the limit of an answer's head.
struct PlainBuffers {
    input: Vec<u8>,
    /// The most `input` grows to.
    input_limit: usize,
    /// `input[consumed..filled]` has been read but not yet used by ureq.
    consumed: usize,
    filled: usize,
    output: Vec<u8>,
    /// Whether ureq used any input the last time it looked: if not, what is
    /// buffered is not enough, and more must be read before it looks again.
    progress: bool,
}

impl PlainBuffers {
    fn new(input: usize, output: usize) -> Self {
        PlainBuffers {
            input: vec![0; MIN_TMP],
            input_limit: input.max(MIN_TMP),
            consumed: 0,
            filled: 0,
            output: vec![0; output.max(1)],
            progress: false,
        }
    }

    /// Moves the unused input to the front, making the room behind it as
    /// large as it can be.
    fn compact(&mut self) {
        if self.consumed > 0 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled = self.filled.saturating_sub(self.consumed);
            self.consumed = 0;
        }
    }

    /// Replaces a full input buffer by one twice as large (up to the limit)
    /// holding the same input. The old one is wiped first: an answer's
    /// head may hold a cookie.
    fn grow_input(&mut self) {
        let size = self.input.len().saturating_mul(2).min(self.input_limit);
        if self.filled < self.input.len() || size <= self.input.len() {
            return;
        }
        let mut grown = vec![0; size];
        if let (Some(to), Some(from)) =
            (grown.get_mut(..self.filled), self.input.get(..self.filled))
        {
            to.copy_from_slice(from);
        }
        crate::secret::wipe_bytes(&mut self.input);
        self.input = grown;
    }
}

/// The buffers hold requests and answers in plain text, refresh tokens and
/// access tokens among them.
impl Drop for PlainBuffers {
    fn drop(&mut self) {
        crate::secret::wipe_bytes(&mut self.input);
        crate::secret::wipe_bytes(&mut self.output);
    }
}

impl Buffers for PlainBuffers {
    fn output(&mut self) -> &mut [u8] {
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        self.input
            .get(self.consumed..self.filled)
            .unwrap_or_default()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        // No growing past the limit: an answer head larger than that is an
        // error (ureq sees no room), not a reason to take more memory.
        self.compact();
        self.grow_input();
        self.input.get_mut(self.filled..).unwrap_or_default()
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled = self.filled.saturating_add(amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = self.consumed.saturating_add(amount).min(self.filled);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.compact();
        // Only when the server sent more than the buffer holds before the
        // request body went out: rare, and bounded by the request body.
        let needed = self.filled.saturating_add(MIN_TMP);
        if self.input.len() < needed {
            self.input.resize(needed, 0);
        }
        let tmp = self.input.get_mut(self.filled..).unwrap_or_default();
        (tmp, &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.progress && self.filled > self.consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_input_survives_making_room() {
        let mut buffers = PlainBuffers::new(8, 8);
        assert_eq!(buffers.input.len(), MIN_TMP, "never below the minimum");
        buffers.input_append_buf()[..5].copy_from_slice(b"hello");
        buffers.input_appended(5);
        assert!(!buffers.can_use_input(), "nothing used yet");
        buffers.input_consume(2);
        assert!(buffers.can_use_input());
        assert_eq!(buffers.input(), b"llo");
        buffers.input_consume(0);
        assert!(!buffers.can_use_input(), "no progress: read more first");
        let room = buffers.input_append_buf().len();
        assert_eq!(room, MIN_TMP - 3, "the used bytes were given back");
        let full = buffers.input_append_buf().len();
        buffers.input_appended(full);
        assert!(
            buffers.input_append_buf().is_empty(),
            "a full buffer does not grow for more input"
        );
        assert!(buffers.input().starts_with(b"llo"));
        assert_eq!(buffers.input().len(), MIN_TMP);
    }

    #[test]
    fn the_input_buffer_grows_for_a_long_head_up_to_its_limit() {
        let limit = 2 * MIN_TMP + 100;
        let mut buffers = PlainBuffers::new(limit, 16);
        assert_eq!(buffers.input.len(), MIN_TMP, "small until needed");
        let mut seen = Vec::new();
        for (round, size) in [(0u8, MIN_TMP), (1, 2 * MIN_TMP), (2, limit)] {
            let room = buffers.input_append_buf();
            assert_eq!(room.len(), size - seen.len(), "round {round}");
            room.fill(b'a' + round);
            let read = room.len();
            seen.resize(seen.len() + read, b'a' + round);
            buffers.input_appended(read);
            buffers.input_consume(0);
            assert_eq!(buffers.input(), seen.as_slice(), "round {round}");
        }
        assert!(
            buffers.input_append_buf().is_empty(),
            "a head as long as the limit is as far as it grows"
        );
        assert_eq!(buffers.input.len(), limit);
    }

    #[test]
    fn the_body_buffer_is_never_empty() {
        let mut buffers = PlainBuffers::new(MIN_TMP, 16);
        let full = buffers.input_append_buf().len();
        buffers.input_appended(full);
        let (tmp, output) = buffers.tmp_and_output();
        assert!(tmp.len() >= MIN_TMP, "{}", tmp.len());
        assert_eq!(output.len(), 16);
        assert_eq!(buffers.input().len(), full, "unused input kept");
    }

    #[test]
    fn absurd_amounts_do_not_overflow() {
        let mut buffers = PlainBuffers::new(16, 16);
        buffers.input_appended(usize::MAX);
        buffers.input_consume(usize::MAX);
        assert!(buffers.input().is_empty());
        assert!(!buffers.input_append_buf().is_empty());
    }

    #[test]
    fn pem_bundles() {
        use crate::error::ErrorKind;
        assert_eq!(
            parse_root_pem(b"").unwrap_err().kind(),
            ErrorKind::Configuration
        );
        assert!(
            parse_root_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(
            parse_root_pem(garbage)
                .unwrap_err()
                .to_string()
                .contains("certificate 1")
        );
    }

    #[test]
    fn no_roots_at_all_is_a_configuration_error() {
        let err = TlsConnector::new(false, &AddedRoots::default()).unwrap_err();
        assert!(err.to_string().contains("no trusted root"), "{err}");
    }

    #[test]
    fn tls_1_2_and_1_3_and_mozillas_roots() {
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        let config = client_config(true, &[]).unwrap();
        let suites = &config.crypto_provider().cipher_suites;
        for version in [TLSv1_2, TLSv1_3] {
            assert!(suites.iter().any(|s| s.version().version == version));
        }
        assert!(config.enable_sni);
        assert!(
            bundled_roots().is_empty() || bundled_roots().len() > 100,
            "Mozilla's roots, or none"
        );
        let connector = TlsConnector::new(true, &AddedRoots::default());
        assert_eq!(connector.is_ok(), !bundled_roots().is_empty());
    }

    /// A CA and a loopback server certificate it signed: (CA PEM, server
    /// configuration speaking only `version`).
    fn server_config(
        version: &'static rustls::SupportedProtocolVersion,
    ) -> (String, Arc<rustls::ServerConfig>) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key.into())
            .unwrap();
        (ca_pem, Arc::new(config))
    }

    fn client_trusting(ca_pem: &str, connect_timeout: std::time::Duration) -> crate::http::Http {
        let settings = crate::http::HttpSettings {
            connect_timeout,
            proxy: crate::http::ProxySetting::Direct,
            extra_roots: parse_root_pem(ca_pem.as_bytes()).unwrap(),
            replace_roots: true,
            ..Default::default()
        };
        crate::http::Http::new(&settings).unwrap()
    }

    type Seen = (Option<rustls::ProtocolVersion>, Option<String>);

    /// A loopback server that answers one request with `answer` and tells
    /// which TLS version and server name the client used.
    fn serve_once(
        config: Arc<rustls::ServerConfig>,
        answer: Vec<u8>,
    ) -> (u16, std::thread::JoinHandle<Seen>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut byte = [0];
            while !request.ends_with(b"\r\n\r\n") {
                tls.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            // A client that gives up early closes the connection mid-answer.
            let _ = tls.write_all(&answer).and_then(|()| tls.flush());
            let seen = (
                tls.conn.protocol_version(),
                tls.conn.server_name().map(str::to_string),
            );
            // Keep the connection open until the client is done with it.
            let _ = tls.read(&mut byte);
            seen
        });
        (port, server)
    }

    #[test]
    fn a_tls_1_2_server_gets_the_host_name_and_answers() {
        let (ca_pem, config) = server_config(&rustls::version::TLS12);
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let (port, server) = serve_once(config, answer.to_vec());
        let http = client_trusting(&ca_pem, std::time::Duration::from_secs(10));
        let reply = http.get(&format!("https://localhost:{port}/")).unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
        drop(http);
        let (version, name) = server.join().unwrap();
        assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_2));
        assert_eq!(name.as_deref(), Some("localhost"), "SNI");
    }

    #[test]
    fn full_size_records_pass_through_the_small_record_buffers() {
        let (ca_pem, config) = server_config(&rustls::version::TLS13);
        // Written at once: rustls sends it in records of 16 KiB.
        let body: Vec<u8> = (0..60 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
        let mut answer =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        answer.extend_from_slice(&body);
        let (port, server) = serve_once(config, answer);
        let http = client_trusting(&ca_pem, std::time::Duration::from_secs(10));
        let reply = http.get(&format!("https://localhost:{port}/")).unwrap();
        assert_eq!(reply.status, 200);
        assert!(reply.body == body, "{} bytes", reply.body.len());
        drop(http);
        server.join().unwrap();
    }

    #[test]
    fn an_answer_head_longer_than_the_first_buffer_is_read() {
        let (ca_pem, config) = server_config(&rustls::version::TLS13);
        let mut answer = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
        answer.resize(10 * 1024, b'a');
        answer.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
        let (port, server) = serve_once(config, answer);
        let http = client_trusting(&ca_pem, std::time::Duration::from_secs(10));
        let reply = http.get(&format!("https://localhost:{port}/")).unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
        drop(http);
        server.join().unwrap();
    }

    #[test]
    fn an_answer_head_larger_than_the_buffer_fails_at_once() {
        let (ca_pem, config) = server_config(&rustls::version::TLS13);
        let mut answer = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
        answer.resize(40 * 1024, b'a');
        answer.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
        let (port, server) = serve_once(config, answer);
        let http = client_trusting(&ca_pem, std::time::Duration::from_secs(10));
        let started = std::time::Instant::now();
        let err = http.get(&format!("https://localhost:{port}/")).unwrap_err();
        // Not after the 30 s I/O timeout.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(err.kind(), crate::error::ErrorKind::Transport, "{err}");
        drop(http);
        let (version, _) = server.join().unwrap();
        assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_3));
    }

    #[test]
    fn the_connect_timeout_bounds_a_handshake_that_never_ends() {
        let (ca_pem, _) = server_config(&rustls::version::TLS13);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, reads the client's hello, and never answers.
        let server = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = tcp.read_to_end(&mut sink);
        });
        let http = client_trusting(&ca_pem, std::time::Duration::from_secs(1));
        let started = std::time::Instant::now();
        let err = http.get(&format!("https://127.0.0.1:{port}/")).unwrap_err();
        // The I/O timeout (30 s) would be later still.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(err.is_retryable());
        assert!(err.to_string().contains("timed out"), "{err}");
        drop(http);
        server.join().unwrap();
    }

    #[test]
    fn a_bundle_is_counted_or_refused_as_the_builder_would() {
        let auth = devicecode_test_authority::TestAuthority::start().unwrap();
        let root = auth.ca_pem();
        assert_eq!(check_root_certificates_pem(&root).unwrap(), 1);
        assert_eq!(check_root_certificates_pem(root.repeat(2)).unwrap(), 2);
        for bad in [
            "",
            "no PEM",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let error = check_root_certificates_pem(bad).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Configuration, "{bad}");
            let built = crate::PublicClient::builder("c")
                .root_certificates_pem(bad)
                .build()
                .unwrap_err();
            assert_eq!(error.to_string(), built.to_string(), "{bad}");
        }
    }
}
