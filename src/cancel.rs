//! Stopping a wait from elsewhere: another thread or a signal handler.
//!
//! A wait blocks until the next poll in one system call that a cancel ends:
//! a condition variable that [`CancelHandle::cancel`] rings, or, when a
//! signal handler must end it, a socket that the handler writes a byte to.
//! A signal handler may only store a flag or write to a descriptor, and a
//! stored flag rings no bell: while only a bare flag can cancel, the wait
//! looks at it every 50 ms instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a wait looks at a flag that may be set without a wake-up (one
/// from [`CancelHandle::flag`] or [`CancelHandle::from_flag`], with no
/// [`signal_pipe`](CancelHandle::signal_pipe)): the longest a cancel can go
/// unnoticed then.
pub(crate) const BARE_FLAG_SLICE: Duration = Duration::from_millis(50);

/// The end of a wait on the signal pipe that is slept precisely: more than
/// two ticks of a kernel with HZ=100, by which a socket timeout may be late.
#[cfg(unix)]
const TICK_MARGIN: Duration = Duration::from_millis(25);

/// A cloneable handle that cancels a [`wait_for_token`](crate::PublicClient::wait_for_token).
///
/// [`cancel`](Self::cancel) ends a wait at once, from any thread. For
/// SIGINT/SIGTERM, register both the flag and the signal pipe with
/// `signal-hook` (no unsafe code needed): the flag makes
/// [`is_cancelled`](Self::is_cancelled) true, and the byte the handler writes
/// to the pipe wakes the wait at once.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use devicecode::CancelHandle;
/// use signal_hook::consts::{SIGINT, SIGTERM};
///
/// let cancel = CancelHandle::new();
/// for signal in [SIGINT, SIGTERM] {
///     signal_hook::flag::register(signal, cancel.flag())?;
///     signal_hook::low_level::pipe::register(signal, cancel.signal_pipe()?)?;
/// }
/// # Ok(()) }
/// ```
///
/// Registering only the flag still works, as before: the wait then notices
/// within 50 ms, because it must look at the flag instead of being woken. A
/// request already in flight finishes first (bounded by the client's
/// timeouts).
///
/// ```
/// use devicecode::CancelHandle;
///
/// let cancel = CancelHandle::new();
/// let for_thread = cancel.clone();
/// std::thread::spawn(move || for_thread.cancel()).join().unwrap();
/// assert!(cancel.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

/// What a waiting thread sleeps on; shared by every clone of a handle.
#[derive(Debug, Default)]
struct Waker {
    lock: Mutex<()>,
    bell: Condvar,
    /// The flag was handed out or came from outside: something may set it
    /// without ringing the bell.
    bare: AtomicBool,
    #[cfg(unix)]
    pipe: std::sync::OnceLock<Pipe>,
}

/// A connected socket pair: signal handlers write to `writer` (or a clone of
/// it), a waiting thread blocks reading `reader`.
#[cfg(unix)]
#[derive(Debug)]
struct Pipe {
    reader: std::os::unix::net::UnixStream,
    writer: std::os::unix::net::UnixStream,
    /// Held by the one thread blocked on `reader`: the read timeout is the
    /// socket's, so two readers would overwrite each other's deadline.
    reading: Mutex<()>,
}

#[cfg(unix)]
impl Pipe {
    fn new() -> std::io::Result<Pipe> {
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        // A full buffer must never block a canceller: one byte is enough.
        writer.set_nonblocking(true)?;
        Ok(Pipe {
            reader,
            writer,
            reading: Mutex::new(()),
        })
    }

    fn ring(&self) {
        use std::io::Write;
        // A full buffer already holds a wake-up; nothing else can fail here
        // that a caller could act on.
        let _ = (&self.writer).write(&[1]);
    }

    /// Blocks until a byte arrives (true) or `until` passes (false).
    fn wait(&self, flag: &AtomicBool, until: Instant) -> bool {
        use std::io::{ErrorKind, Read};
        loop {
            if flag.load(Ordering::SeqCst) {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // A socket's timeout ends on a kernel tick, up to two late; the
            // last moments are slept on a precise timer instead, so polls
            // are on time. A signal then waits at most that long.
            let Some(blocking) = left.checked_sub(TICK_MARGIN).filter(|d| !d.is_zero()) else {
                std::thread::sleep(left);
                continue;
            };
            if self.reader.set_read_timeout(Some(blocking)).is_err() {
                std::thread::sleep(left.min(BARE_FLAG_SLICE));
                return flag.load(Ordering::SeqCst);
            }
            match (&self.reader).read(&mut [0u8; 1]) {
                Ok(1..) => {
                    // Put the byte back so that every other waiter on a
                    // clone wakes too; a cancel is never undone.
                    flag.store(true, Ordering::SeqCst);
                    self.ring();
                    return true;
                }
                // Timed out, or another signal than ours interrupted.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                // Cannot happen while we hold the writer; never spin on it.
                _ => {
                    std::thread::sleep(left.min(BARE_FLAG_SLICE));
                    return flag.load(Ordering::SeqCst);
                }
            }
        }
    }
}

impl CancelHandle {
    /// A handle that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps an existing flag (e.g. one a signal handler sets). Nothing wakes
    /// a wait when the flag is set directly, so a wait looks at it every
    /// 50 ms, unless [`signal_pipe`](Self::signal_pipe) is also registered.
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        let handle = CancelHandle {
            flag,
            waker: Arc::default(),
        };
        handle.waker.bare.store(true, Ordering::SeqCst);
        handle
    }

    /// The shared flag: setting it to `true` cancels. A flag set directly
    /// wakes no wait: waits look at it every 50 ms from now on, unless
    /// [`signal_pipe`](Self::signal_pipe) is registered too.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.waker.bare.store(true, Ordering::SeqCst);
        Arc::clone(&self.flag)
    }

    /// The write end of a socket whose first byte cancels, for
    /// `signal_hook::low_level::pipe::register`: a wait blocked until its
    /// next poll wakes as soon as the signal handler writes. Each call
    /// returns a new descriptor of the same socket.
    ///
    /// Once it is called, waits sleep on the socket alone: a flag set
    /// directly then wakes no wait, so give the socket to every signal
    /// handler that sets the flag. The handler does not set the flag itself:
    /// register [`flag`](Self::flag) for the same signal first if anything
    /// reads [`is_cancelled`](Self::is_cancelled) outside a wait (a wait that
    /// reads the byte sets the flag).
    #[cfg(unix)]
    pub fn signal_pipe(&self) -> std::io::Result<std::os::unix::net::UnixStream> {
        let pipe = match self.waker.pipe.get() {
            Some(pipe) => pipe,
            None => {
                let made = Pipe::new()?;
                // Another thread may have made one meanwhile: theirs wins.
                let _ = self.waker.pipe.set(made);
                self.waker.pipe.get().ok_or_else(|| {
                    std::io::Error::other("the signal pipe of a cancel handle was not kept")
                })?
            }
        };
        pipe.writer.try_clone()
    }

    /// Cancels every wait that uses this handle or a clone of it.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.ring_bell();
        #[cfg(unix)]
        if let Some(pipe) = self.waker.pipe.get() {
            pipe.ring();
        }
    }

    fn ring_bell(&self) {
        // Under the lock, so that a waiter between its look at the flag and
        // its sleep cannot miss the bell.
        let _guard = self
            .waker
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.waker.bell.notify_all();
    }

    /// The wait of the thread that holds the socket: the others wait on the
    /// bell, which it rings when a signal's byte arrives.
    #[cfg(unix)]
    fn wait_on_pipe(&self, pipe: &Pipe, until: Instant) -> bool {
        let cancelled = pipe.wait(&self.flag, until);
        if cancelled {
            self.ring_bell();
        }
        cancelled
    }

    /// Whether [`cancel`](Self::cancel) was called or the flag was set.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Blocks the calling thread until the handle is cancelled or `timeout`
    /// passes, on the real monotonic clock; returns whether it is cancelled.
    /// It may return a little early when only a bare flag can cancel (see
    /// [`flag`](Self::flag)): callers that need the whole time loop. With a
    /// signal pipe, one waiting thread blocks on the socket; others waiting
    /// at the same time look at the flag every 50 ms.
    ///
    /// ```
    /// use devicecode::CancelHandle;
    /// use std::time::Duration;
    ///
    /// let cancel = CancelHandle::new();
    /// let other = cancel.clone();
    /// let waiter = std::thread::spawn(move || other.wait_timeout(Duration::from_secs(600)));
    /// cancel.cancel();
    /// assert!(waiter.join().unwrap());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let Some(until) = Instant::now().checked_add(timeout) else {
            // Longer than the clock can count: as good as forever, in slices
            // the caller's loop repeats.
            return self.wait_timeout(Duration::from_secs(86_400));
        };
        let mut bare = self.waker.bare.load(Ordering::SeqCst);
        #[cfg(unix)]
        if let Some(pipe) = self.waker.pipe.get() {
            match pipe.reading.try_lock() {
                Ok(_reading) => return self.wait_on_pipe(pipe, until),
                Err(std::sync::TryLockError::Poisoned(reading)) => {
                    let _reading = reading.into_inner();
                    return self.wait_on_pipe(pipe, until);
                }
                // Another thread waits on the socket and rings the bell when
                // a byte comes; a bare flag may still be set meanwhile.
                Err(std::sync::TryLockError::WouldBlock) => bare = true,
            }
        }
        let mut guard = self
            .waker
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.is_cancelled() {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let slice = if bare {
                left.min(BARE_FLAG_SLICE)
            } else {
                left
            };
            guard = self
                .waker
                .bell
                .wait_timeout(guard, slice)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if bare {
                return self.is_cancelled();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bounds are generous (a loaded 2-core machine, qemu): what is checked
    // is that the wait ends long before its 600 s timeout.
    const PROMPT: Duration = Duration::from_secs(5);

    fn waits_then_cancels(cancel: &CancelHandle, trigger: impl FnOnce() + Send + 'static) {
        let waiter = cancel.clone();
        let started = Instant::now();
        let thread = std::thread::spawn(move || waiter.wait_timeout(Duration::from_secs(600)));
        std::thread::sleep(Duration::from_millis(20));
        trigger();
        assert!(thread.join().unwrap());
        assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn cancel_wakes_a_waiting_thread() {
        let cancel = CancelHandle::new();
        let other = cancel.clone();
        waits_then_cancels(&cancel, move || other.cancel());
    }

    #[test]
    fn a_bare_flag_is_noticed() {
        let cancel = CancelHandle::new();
        let flag = cancel.flag();
        waits_then_cancels(&cancel, move || flag.store(true, Ordering::SeqCst));
    }

    #[cfg(unix)]
    #[test]
    fn a_byte_on_the_signal_pipe_cancels() {
        use std::io::Write;
        let cancel = CancelHandle::new();
        let flag = cancel.flag();
        let mut pipe = cancel.signal_pipe().unwrap();
        // As signal-hook's handler does: it writes, and sets no flag.
        waits_then_cancels(&cancel, move || {
            pipe.write_all(&[0]).unwrap();
        });
        assert!(flag.load(Ordering::SeqCst));
        // Cancelled stays cancelled, for every later wait.
        assert!(cancel.wait_timeout(Duration::from_secs(600)));
    }

    #[cfg(unix)]
    #[test]
    fn cancel_wakes_a_wait_on_the_signal_pipe() {
        let cancel = CancelHandle::new();
        let _pipe = cancel.signal_pipe().unwrap();
        let other = cancel.clone();
        waits_then_cancels(&cancel, move || other.cancel());
    }

    #[cfg(unix)]
    #[test]
    fn a_signal_wakes_every_waiter_and_deadlines_are_their_own() {
        use std::io::Write;
        let cancel = CancelHandle::new();
        let mut pipe = cancel.signal_pipe().unwrap();
        let long = cancel.clone();
        let long = std::thread::spawn(move || long.wait_timeout(Duration::from_secs(600)));
        std::thread::sleep(Duration::from_millis(20));
        // A second waiter with a short deadline ends on time, whoever
        // holds the socket.
        let started = Instant::now();
        assert!(!cancel.wait_timeout(Duration::from_millis(60)));
        assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
        let short = cancel.clone();
        let short = std::thread::spawn(move || short.wait_timeout(Duration::from_secs(600)));
        std::thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        pipe.write_all(&[0]).unwrap();
        assert!(long.join().unwrap() && short.join().unwrap());
        assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    }

    #[test]
    fn an_uncancelled_wait_times_out() {
        let cancel = CancelHandle::new();
        let full = |cancel: &CancelHandle, wait: Duration| {
            let started = Instant::now();
            assert!(!cancel.wait_timeout(wait));
            // Never early: a poll must not come before its interval.
            assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
        };
        full(&cancel, Duration::from_millis(30));
        full(&cancel, Duration::ZERO);
        #[cfg(unix)]
        {
            let _pipe = cancel.signal_pipe().unwrap();
            full(&cancel, Duration::from_millis(60));
            full(&cancel, Duration::from_millis(10));
        }
        assert!(!cancel.is_cancelled());
    }
}
