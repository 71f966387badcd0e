//! The network side: the accept loop, one thread per connection, TLS, and the
//! request/answer loop of a persistent connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};

use super::Shared;
use super::handler::{self, Outcome};
use super::http::{Framing, Incoming, RequestReader, Response};
use super::util::http_date;

/// How long one blocking read waits before the thread checks whether the
/// server is stopping.
const READ_SLICE: Duration = Duration::from_millis(100);
/// A client that does not take an answer within this is given up on.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a TLS handshake may take (real time).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client to close after we stopped sending.
const LINGER: Duration = Duration::from_millis(500);

/// Starts the accept loop on its own thread.
pub(super) fn spawn(shared: Arc<Shared>, listener: TcpListener) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("test-authority-accept".to_string())
        .spawn(move || accept_loop(&shared, &listener))
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        // Checked after accept: the handle's Drop connects to wake us up.
        if shared.stopping() {
            break;
        }
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                log::debug!("test authority: accept failed: {e}");
                // Out of descriptors and the like: do not spin.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let index = {
            let mut state = shared.lock();
            state.stats.connections += 1;
            state.stats.connections
        };
        let worker_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("test-authority-conn-{index}"))
            .spawn(move || serve_connection(&worker_shared, tcp, index));
        match spawned {
            Ok(worker) => {
                let mut workers = shared
                    .workers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                workers.retain(|w| !w.is_finished());
                workers.push(worker);
            }
            Err(e) => log::debug!("test authority: cannot start a connection thread: {e}"),
        }
    }
}

/// A connection, plain or TLS, that can be closed politely.
trait Transport: Read + Write {
    fn tcp(&self) -> &TcpStream;
    /// Ends the session cleanly (TLS: `close_notify`) before the TCP close.
    fn end_session(&mut self);
}

impl Transport for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
    fn end_session(&mut self) {}
}

impl Transport for StreamOwned<ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn end_session(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
    }
}

fn serve_connection(shared: &Shared, tcp: TcpStream, index: usize) {
    let _ = tcp.set_nodelay(true);
    if tcp.set_read_timeout(Some(READ_SLICE)).is_err()
        || tcp.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    match &shared.tls {
        None => serve(shared, tcp, index),
        Some(tls) => {
            let certificate = shared.lock().certificate;
            let config = match tls.config(certificate) {
                Ok(config) => config,
                Err(e) => {
                    log::debug!("test authority: no {certificate:?} certificate: {e}");
                    return;
                }
            };
            let Some(stream) = handshake(shared, &config, tcp) else {
                return;
            };
            shared.lock().stats.tls_handshakes += 1;
            serve(shared, stream, index);
        }
    }
}

/// Runs the TLS handshake to completion, tolerating the short read timeouts.
fn handshake(
    shared: &Shared,
    config: &Arc<rustls::ServerConfig>,
    mut tcp: TcpStream,
) -> Option<StreamOwned<ServerConnection, TcpStream>> {
    let mut conn = match ServerConnection::new(Arc::clone(config)) {
        Ok(conn) => conn,
        Err(e) => {
            log::debug!("test authority: cannot start TLS: {e}");
            return None;
        }
    };
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    while conn.is_handshaking() {
        if shared.stopping() || Instant::now() >= deadline {
            return None;
        }
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) if conn.is_handshaking() => {
                // The peer closed before finishing (a port probe, or the
                // wake-up connection of Drop).
                return None;
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                // Typically a client that does not trust our CA.
                log::debug!("test authority: TLS handshake failed: {e}");
                return None;
            }
        }
    }
    Some(StreamOwned::new(conn, tcp))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The request/answer loop of one connection.
fn serve<S: Transport>(shared: &Shared, mut stream: S, index: usize) {
    let mut reader = RequestReader::default();
    loop {
        let (response, client_wants_close, head_only) =
            match reader.next(&mut stream, &shared.shutdown) {
                Incoming::Closed => return,
                Incoming::Rejected(rejected) => {
                    (handler::rejected(shared, index, &rejected), true, false)
                }
                Incoming::Request(request) => match handler::handle(shared, index, &request) {
                    Outcome::Respond(response) => {
                        (response, request.wants_close(), request.method == "HEAD")
                    }
                    Outcome::Drop => {
                        // No close_notify and no answer: as abrupt as a dead link.
                        let _ = stream.tcp().shutdown(Shutdown::Both);
                        return;
                    }
                    Outcome::Stall => {
                        stall(shared);
                        return;
                    }
                    Outcome::Trickle(response, every) => {
                        trickle(shared, &mut stream, &response, every);
                        return;
                    }
                    Outcome::Cut(response) => {
                        let bytes = closing_bytes(shared, &response);
                        let half = bytes.len() - response.body.len() / 2;
                        let _ = stream.write_all(bytes.get(..half).unwrap_or(&bytes));
                        let _ = stream.flush();
                        let _ = stream.tcp().shutdown(Shutdown::Both);
                        return;
                    }
                    Outcome::Endless => {
                        endless(shared, &mut stream);
                        return;
                    }
                },
            };
        let keep_alive = shared.config.keep_alive && !client_wants_close && !response.close;
        let date = http_date(shared.clock.wall());
        let framing = Framing {
            keep_alive,
            head_only,
            date: &date,
        };
        let written = stream
            .write_all(&response.to_bytes(&framing))
            .and_then(|()| stream.flush());
        if let Err(e) = written {
            log::debug!("test authority: writing an answer failed: {e}");
            return;
        }
        if !keep_alive {
            close_politely(&mut stream);
            return;
        }
    }
}

/// The bytes of an answer after which the connection closes.
fn closing_bytes(shared: &Shared, response: &Response) -> Vec<u8> {
    let date = http_date(shared.clock.wall());
    response.to_bytes(&Framing {
        keep_alive: false,
        head_only: false,
        date: &date,
    })
}

/// Says nothing until the authority stops (at most a minute).
fn stall(shared: &Shared) {
    let until = Instant::now() + Duration::from_secs(60);
    while !shared.stopping() && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends an answer one byte per `every`, until done or the client leaves.
fn trickle<S: Transport>(shared: &Shared, stream: &mut S, response: &Response, every: Duration) {
    for byte in closing_bytes(shared, response) {
        if shared.stopping()
            || stream
                .write_all(&[byte])
                .and_then(|()| stream.flush())
                .is_err()
        {
            return;
        }
        let next = Instant::now() + every;
        while !shared.stopping() && Instant::now() < next {
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A JSON answer whose chunked body never ends.
fn endless<S: Transport>(shared: &Shared, stream: &mut S) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = format!("1000\r\n{}\r\n", "0,".repeat(2048));
    let mut sent = 0usize;
    while !shared.stopping() && sent < 256 << 20 {
        if stream
            .write_all(chunk.as_bytes())
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        sent += chunk.len();
    }
}

/// Closes after a final answer without losing it: stop sending, then drain
/// what the client still sends until it closes, so that unread request bytes
/// do not make the kernel reset the connection over the answer.
fn close_politely<S: Transport>(stream: &mut S) {
    stream.end_session();
    let tcp = stream.tcp();
    let _ = tcp.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut raw = tcp;
    while Instant::now() < deadline {
        match raw.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}
