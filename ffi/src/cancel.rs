//! Cancelling a wait from another thread or from a signal handler.

use crate::args::{give, out_ptr};
use crate::error::{Error, guard, no_unwind};
use devicecode_rs::CancelHandle;
use std::ffi::c_int;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stops a `devicecode_client_login` wait.
///
/// Thread safety: share it freely between threads and signal handlers while
/// it lives; free it once, after every login using it has returned.
pub struct Cancel {
    handle: CancelHandle,
    // The handle's own flag, kept here so that cancelling is one atomic
    // store through a plain pointer: no allocation, no lock, no reference
    // count, which is what a signal handler may do.
    flag: Arc<AtomicBool>,
}

impl Cancel {
    /// The handle a wait polls.
    pub(crate) fn handle(&self) -> &CancelHandle {
        &self.handle
    }
}

/// Makes a cancel handle that is not cancelled, in `*cancel_out`. Free it
/// with `devicecode_cancel_free`.
///
/// # Safety
/// `cancel_out` is valid for writing one pointer; `error_out` is NULL or
/// valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_cancel_new(
    cancel_out: *mut *mut Cancel,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: the pointers are as the caller promises.
    unsafe {
        guard(error_out, || {
            out_ptr(cancel_out, "cancel_out")?;
            let handle = CancelHandle::new();
            let flag = handle.flag();
            give(cancel_out, Cancel { handle, flag });
            Ok(())
        })
    }
}

/// Cancels every login waiting with this handle: the login returns
/// `DEVICECODE_CANCELLED` within about 50 ms while it sleeps between polls,
/// or after the request in flight (bounded by the client's timeouts). A
/// handle stays cancelled; make a new one for the next login. NULL is
/// ignored.
///
/// **Async-signal-safe**: it is one atomic store, with no allocation, lock or
/// log, so it may be called from a `sigaction` handler for SIGTERM or SIGINT,
/// and from any thread.
///
/// # Safety
/// `cancel` is NULL or a handle from `devicecode_cancel_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_cancel_request(cancel: *const Cancel) {
    // catch_unwind costs nothing unless something panics (nothing here can):
    // it allocates nothing and takes no lock.
    no_unwind((), || {
        // SAFETY: NULL or a live handle, as the caller promises; only shared
        // references are made, and the flag is atomic.
        if let Some(cancel) = unsafe { cancel.as_ref() } {
            cancel.flag.store(true, Ordering::SeqCst);
        }
    })
}

/// 1 when `devicecode_cancel_request` was called on this handle, else 0
/// (also for NULL). Async-signal-safe, like the request.
///
/// # Safety
/// `cancel` is NULL or a handle from `devicecode_cancel_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_cancel_is_requested(cancel: *const Cancel) -> c_int {
    no_unwind(0, || {
        // SAFETY: NULL or a live handle, as the caller promises.
        match unsafe { cancel.as_ref() } {
            Some(cancel) => c_int::from(cancel.flag.load(Ordering::SeqCst)),
            None => 0,
        }
    })
}

/// Frees a cancel handle. NULL is ignored. Not from a signal handler.
///
/// # Safety
/// `cancel` is NULL or a handle from `devicecode_cancel_new`, freed once,
/// when no login and no signal handler can use it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_cancel_free(cancel: *mut Cancel) {
    if !cancel.is_null() {
        // SAFETY: made by Box::into_raw in `give`, freed once as promised.
        let cancel = unsafe { Box::from_raw(cancel) };
        no_unwind((), || drop(cancel));
    }
}
