//! Stopping a wait from elsewhere: another thread or a signal handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cloneable handle that cancels a [`wait_for_token`](crate::PublicClient::wait_for_token).
///
/// Cancelling is one atomic store, so it is safe from any thread and from a
/// signal handler: register [`CancelHandle::flag`] with
/// `signal_hook::flag::register` for SIGINT/SIGTERM. The wait notices within
/// 50 ms while it sleeps between polls; a request already in flight finishes
/// first (bounded by the client's timeouts).
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
}

impl CancelHandle {
    /// A handle that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps an existing flag (e.g. one a signal handler sets).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        CancelHandle { flag }
    }

    /// The shared flag: setting it to `true` cancels.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Cancels every wait that uses this handle or a clone of it.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}
