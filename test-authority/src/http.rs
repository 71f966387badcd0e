//! Just enough HTTP/1.1 for an authorization server: requests with a
//! `Content-Length` body, answers with a `Content-Length` body, persistent
//! connections.
//!
//! Limits are small and strict on purpose (16 KiB of head, 64 KiB of body, no
//! chunked uploads): a client that trips them is doing something no real
//! device flow needs.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The most bytes of request line and headers accepted.
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// The most bytes of request body accepted.
pub(super) const MAX_BODY: usize = 64 * 1024;
/// How long a connection may sit idle between requests before the server
/// closes it. Real time, not the authority's clock: it only exists so that
/// threads end, and a fast-forwarded test clock must not cut connections.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the rest of a started request may take to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    /// The path, without the query string.
    pub(super) path: String,
    /// The raw query string (after `?`), if any.
    pub(super) query: Option<String>,
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub(super) http11: bool,
    /// Header names lower-cased, values trimmed, in the order received.
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    /// The first value of a header (`name` in lower case).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True if a `Connection` header lists `token`.
    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// True if the client asked for (or, on HTTP/1.0, defaults to) closing
    /// the connection after this exchange.
    pub(super) fn wants_close(&self) -> bool {
        if self.http11 {
            self.connection_has("close")
        } else {
            !self.connection_has("keep-alive")
        }
    }

    /// True if the body is declared as a form (parameters such as `charset`
    /// are allowed).
    pub(super) fn is_form(&self) -> bool {
        self.header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
    }
}

/// A request that could not be accepted; it gets `status` and the
/// connection is closed.
#[derive(Debug)]
pub(super) struct Rejected {
    pub(super) status: u16,
    /// A short label for stats and logs.
    pub(super) label: &'static str,
    /// What was understood of the request, for the record.
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
}

/// What reading the next request gave.
#[derive(Debug)]
pub(super) enum Incoming {
    Request(Request),
    Rejected(Rejected),
    /// The peer closed, went idle for too long, or the server is stopping.
    Closed,
}

/// Reads requests one after another from a connection, keeping any bytes
/// that arrived beyond the current request (pipelining) for the next one.
#[derive(Debug, Default)]
pub(super) struct RequestReader {
    buf: Vec<u8>,
}

enum Fill {
    Data,
    Done,
}

impl RequestReader {
    /// Reads the next request. The stream must have a short read timeout, so
    /// that `stop` is noticed promptly.
    pub(super) fn next<S: Read + Write>(&mut self, stream: &mut S, stop: &AtomicBool) -> Incoming {
        let head_len = loop {
            // RFC 9112 section 2.2: ignore empty lines before a request line.
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if self.buf.len() > MAX_HEAD {
                return Incoming::Rejected(Rejected {
                    status: 431,
                    label: "headers_too_large",
                    method: String::new(),
                    path: String::new(),
                    headers: Vec::new(),
                });
            }
            if let Fill::Done = self.fill(stream, stop) {
                return Incoming::Closed;
            }
        };
        if head_len > MAX_HEAD {
            return Incoming::Rejected(Rejected {
                status: 431,
                label: "headers_too_large",
                method: String::new(),
                path: String::new(),
                headers: Vec::new(),
            });
        }
        let head: Vec<u8> = self.buf.drain(..head_len + 4).collect();
        let mut request = match parse_head(&head[..head_len]) {
            Ok(request) => request,
            Err(rejected) => return Incoming::Rejected(rejected),
        };
        let reject = |request: Request, status, label| {
            Incoming::Rejected(Rejected {
                status,
                label,
                method: request.method,
                path: request.path,
                headers: request.headers,
            })
        };

        if request.header("transfer-encoding").is_some() {
            // Chunked uploads are not needed for forms; say so plainly.
            return reject(request, 411, "length_required");
        }
        let mut lengths = request
            .headers
            .iter()
            .filter(|(n, _)| n == "content-length")
            .map(|(_, v)| v.as_str());
        let length = match lengths.next() {
            None => 0,
            Some(first) => {
                let valid = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
                let agreed = lengths.all(|other| other == first);
                match first.parse::<usize>() {
                    Ok(n) if valid && agreed => n,
                    _ => return reject(request, 400, "bad_content_length"),
                }
            }
        };
        if length > MAX_BODY {
            return reject(request, 413, "payload_too_large");
        }
        let expects_continue = request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue && request.http11 && self.buf.len() < length {
            // Tell the client (curl does this for bigger bodies) to go on.
            let sent = stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .and_then(|()| stream.flush());
            if sent.is_err() {
                return Incoming::Closed;
            }
        }
        while self.buf.len() < length {
            if let Fill::Done = self.fill(stream, stop) {
                return Incoming::Closed;
            }
        }
        request.body = self.buf.drain(..length).collect();
        Incoming::Request(request)
    }

    /// Reads more bytes into the buffer, waiting through read timeouts until
    /// data arrives, the peer closes, the deadline passes or `stop` is set.
    fn fill<S: Read>(&mut self, stream: &mut S, stop: &AtomicBool) -> Fill {
        let patience = if self.buf.is_empty() {
            IDLE_TIMEOUT
        } else {
            REQUEST_TIMEOUT
        };
        let deadline = Instant::now() + patience;
        let mut chunk = [0u8; 4096];
        loop {
            if stop.load(Ordering::SeqCst) {
                return Fill::Done;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Fill::Done,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Fill::Data;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Fill::Done;
                    }
                }
                // Resets, TLS alerts, EOF without close_notify: all mean gone.
                Err(_) => return Fill::Done,
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// True for the characters RFC 9110 allows in a method or header name.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_head(head: &[u8]) -> Result<Request, Rejected> {
    let bad = |status, label, method: &str, path: &str| Rejected {
        status,
        label,
        method: method.to_string(),
        path: path.to_string(),
        headers: Vec::new(),
    };
    let text = std::str::from_utf8(head).map_err(|_| bad(400, "bad_request", "", ""))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad(400, "bad_request", "", ""));
    };
    if !is_token(method) || !target.starts_with('/') {
        return Err(bad(400, "bad_request", "", ""));
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (target, None),
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(bad(505, "http_version_not_supported", method, path)),
    };
    let mut headers = Vec::new();
    for line in lines {
        // Obsolete line folding is a known smuggling vector: refuse it.
        let folded = line.starts_with(' ') || line.starts_with('\t');
        let Some((name, value)) = line.split_once(':').filter(|_| !folded) else {
            return Err(bad(400, "bad_header", method, path));
        };
        if !is_token(name) {
            return Err(bad(400, "bad_header", method, path));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let request = Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        http11,
        headers,
        body: Vec::new(),
    };
    if request.http11 && request.header("host").is_none() {
        // RFC 9112 section 3.2: a server MUST answer 400 without Host.
        return Err(Rejected {
            status: 400,
            label: "missing_host",
            method: request.method,
            path: request.path,
            headers: request.headers,
        });
    }
    Ok(request)
}

/// An answer to send.
#[derive(Debug, Clone)]
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: Option<&'static str>,
    /// Extra headers (besides type, length, connection, cache control).
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// Close the connection after this answer whatever the client wants.
    pub(super) close: bool,
}

impl Response {
    /// An answer with a body of the given type.
    pub(super) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type: Some(content_type),
            headers: Vec::new(),
            body: body.into(),
            close: false,
        }
    }

    /// A JSON answer in UTF-8 (the type Entra and most servers send).
    pub(super) fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::new(status, "application/json; charset=utf-8", value.to_string())
    }

    /// An HTML page.
    pub(super) fn html(status: u16, page: String) -> Self {
        Response::new(status, "text/html; charset=utf-8", page)
    }

    /// A plain text answer.
    pub(super) fn text(status: u16, text: &str) -> Self {
        Response::new(status, "text/plain; charset=utf-8", text)
    }

    /// Adds a header.
    pub(super) fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Marks the connection to be closed after this answer.
    pub(super) fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The bytes on the wire.
    pub(super) fn to_bytes(&self, framing: &Framing<'_>) -> Vec<u8> {
        // 204 and 304 must not carry a body (RFC 9110 sections 15.3.5, 15.4.5).
        let bodyless = matches!(self.status, 204 | 304);
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        head.push_str("Server: devicecode-test-authority\r\n");
        head.push_str(&format!("Date: {}\r\n", framing.date));
        // Token answers must not be cached (RFC 6749 section 5.1); nothing
        // this server says is cacheable anyway.
        head.push_str("Cache-Control: no-store\r\nPragma: no-cache\r\n");
        if let (Some(ct), false) = (self.content_type, bodyless) {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if !bodyless {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        for (name, value) in &self.headers {
            // Values come from this crate or from a test's fault; strip line
            // breaks so that neither can split the header block.
            let value: String = value
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect();
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(if framing.keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let mut bytes = head.into_bytes();
        // A HEAD answer has the headers of a GET, without the body.
        if !bodyless && !framing.head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

/// How an answer is sent, decided by the connection rather than the handler.
#[derive(Debug)]
pub(super) struct Framing<'a> {
    /// Keep the connection open (`Connection: keep-alive`) or not (`close`).
    pub(super) keep_alive: bool,
    /// The request was `HEAD`: send no body.
    pub(super) head_only: bool,
    /// The `Date` header value (the authority's wall clock).
    pub(super) date: &'a str,
}

/// The reason phrase for a status (any phrase is valid; these help people
/// reading a capture).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// An in-memory stream: each read returns the next scripted chunk (so a
    /// test decides where the network splits the bytes); writes are kept.
    struct Scripted {
        reads: VecDeque<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Scripted {
        fn new(chunks: &[&[u8]]) -> Self {
            Scripted {
                reads: chunks.iter().map(|c| c.to_vec()).collect(),
                output: Vec::new(),
            }
        }
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut chunk) = self.reads.pop_front() else {
                return Ok(0);
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.reads.push_front(chunk.split_off(n));
            }
            Ok(n)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn read_all(stream: &mut Scripted) -> Vec<Incoming> {
        let mut reader = RequestReader::default();
        let stop = AtomicBool::new(false);
        let mut out = Vec::new();
        loop {
            match reader.next(stream, &stop) {
                Incoming::Closed => break,
                Incoming::Rejected(r) => {
                    out.push(Incoming::Rejected(r));
                    break;
                }
                other => out.push(other),
            }
        }
        out
    }

    #[test]
    fn pipelined_requests_are_split_by_content_length() {
        let mut stream = Scripted::new(&[
            b"\r\nPOST /token?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n",
        ]);
        let got = read_all(&mut stream);
        assert_eq!(got.len(), 2);
        let Incoming::Request(first) = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("POST", "/token")
        );
        assert_eq!(first.query.as_deref(), Some("x=1"));
        assert_eq!(first.body, b"abc");
        assert!(!first.wants_close());
        let Incoming::Request(second) = &got[1] else {
            panic!("{got:?}")
        };
        assert!(second.wants_close(), "HTTP/1.0 closes by default");
    }

    #[test]
    fn requests_split_across_reads_are_joined() {
        let mut stream = Scripted::new(&[
            b"POST /t HTTP/1.1\r\nHo",
            b"st: a\r\nContent-Length: 4\r\n\r\nab",
            b"cd",
        ]);
        let got = read_all(&mut stream);
        assert!(matches!(got.as_slice(), [Incoming::Request(r)] if r.body == b"abcd"));
    }

    #[test]
    fn bad_requests_are_rejected_not_panicked_on() {
        let cases: [(&[u8], u16); 7] = [
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n\r\n", 400), // no Host
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n",
                413,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                411,
            ),
        ];
        for (input, status) in cases {
            let got = read_all(&mut Scripted::new(&[input]));
            match got.as_slice() {
                [Incoming::Rejected(r)] => assert_eq!(r.status, status, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
        let mut huge = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        let got = read_all(&mut Scripted::new(&[&huge]));
        assert!(matches!(got.as_slice(), [Incoming::Rejected(r)] if r.status == 431));
    }

    #[test]
    fn expect_continue_is_answered_before_the_body() {
        let mut stream = Scripted::new(&[
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            b"hi",
        ]);
        let got = read_all(&mut stream);
        assert!(matches!(got.as_slice(), [Incoming::Request(r)] if r.body == b"hi"));
        assert_eq!(stream.output, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn responses_have_length_and_connection() {
        let bytes = Response::text(404, "Not Found")
            .with_header("Retry-After", "1\r\nX-Evil: 1")
            .to_bytes(&Framing {
                keep_alive: false,
                head_only: false,
                date: "Thu, 01 Jan 1970 00:00:00 GMT",
            });
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 9\r\n"));
        assert!(text.contains("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        assert!(text.contains("Retry-After: 1X-Evil: 1\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\nNot Found"));

        let head = Response::text(200, "body").to_bytes(&Framing {
            keep_alive: true,
            head_only: true,
            date: "",
        });
        let text = String::from_utf8(head).unwrap();
        assert!(text.ends_with("Content-Length: 4\r\nConnection: keep-alive\r\n\r\n"));
    }
}
