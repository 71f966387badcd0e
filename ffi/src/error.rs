//! The error object a failed call hands back, and the guard every exported
//! function runs its body in: no panic reaches C, and a failure becomes a
//! status code plus an optional error object.

use crate::status::{DEVICECODE_CONFIGURATION, DEVICECODE_INTERNAL, DEVICECODE_OK, status_of};
use std::ffi::{CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// Why a call failed.
///
/// Immutable once made: it may be read from several threads at once. Free it
/// once with `devicecode_error_free`.
pub struct Error {
    status: c_int,
    message: CString,
    oauth_error: Option<CString>,
    aadsts: u64,
}

impl Error {
    /// A failure that is not the library's: a NULL or unreadable argument.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(DEVICECODE_CONFIGURATION, message.into())
    }

    pub(crate) fn new(status: c_int, message: String) -> Self {
        Error {
            status,
            message: c_text(message),
            oauth_error: None,
            aadsts: 0,
        }
    }

    /// The status of this failure.
    pub(crate) fn status(&self) -> c_int {
        self.status
    }

    /// The message, for the finished callback.
    pub(crate) fn message(&self) -> &CString {
        &self.message
    }
}

impl From<devicecode_rs::Error> for Error {
    fn from(error: devicecode_rs::Error) -> Self {
        Error::from(&error)
    }
}

impl From<&devicecode_rs::Error> for Error {
    fn from(error: &devicecode_rs::Error) -> Self {
        let service = error.service_error();
        Error {
            status: status_of(error.kind()),
            // The library's Display is already stripped of control
            // characters, and its source is a detail it already summarises.
            message: c_text(error.to_string()),
            oauth_error: service.map(|s| c_text(s.error.clone())),
            aadsts: error.aadsts().unwrap_or(0),
        }
    }
}

/// A C string of `text`; NUL bytes, which C cannot carry, are dropped.
pub(crate) fn c_text(text: impl Into<String>) -> CString {
    let mut bytes = text.into().into_bytes();
    bytes.retain(|b| *b != 0);
    CString::new(bytes).unwrap_or_default()
}

/// Runs `body` so that no panic unwinds into C, and reports its outcome:
/// `DEVICECODE_OK`, or the failure's status with the error object stored in
/// `*error_out` (when `error_out` is not NULL).
///
/// # Safety
/// `error_out` is NULL or valid for writing one pointer.
pub(crate) unsafe fn guard(
    error_out: *mut *mut Error,
    body: impl FnOnce() -> Result<(), Error>,
) -> c_int {
    if !error_out.is_null() {
        // SAFETY: the caller gives NULL or a pointer valid for writes.
        unsafe { error_out.write(ptr::null_mut()) };
    }
    // The closures only hold references and raw pointers the call was given:
    // after a panic nothing of theirs is used again.
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(Error::new(
            DEVICECODE_INTERNAL,
            "libdevicecode hit a bug (a Rust panic, caught): please report it with the log".into(),
        ))
    });
    match outcome {
        Ok(()) => DEVICECODE_OK,
        Err(error) => {
            let status = error.status;
            if !error_out.is_null() {
                // SAFETY: as above; the caller owns the object from now on.
                unsafe { error_out.write(Box::into_raw(Box::new(error))) };
            }
            status
        }
    }
}

/// Runs `body` without unwinding into C; a panic gives `fallback`.
pub(crate) fn no_unwind<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The status of an error: one of the `DEVICECODE_*` codes, never 0.
/// `DEVICECODE_CONFIGURATION` for NULL.
///
/// # Safety
/// `error` is NULL or an error from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_error_status(error: *const Error) -> c_int {
    // SAFETY: NULL or a live error, as the caller promises.
    no_unwind(DEVICECODE_INTERNAL, || match unsafe { error.as_ref() } {
        Some(error) => error.status,
        None => DEVICECODE_CONFIGURATION,
    })
}

/// What happened and what to do, in one printable line (control characters
/// removed). Owned by the error: valid until `devicecode_error_free`; never
/// NULL for a non-NULL error.
///
/// # Safety
/// `error` is NULL or an error from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_error_message(error: *const Error) -> *const c_char {
    // SAFETY: NULL or a live error, as the caller promises.
    no_unwind(ptr::null(), || match unsafe { error.as_ref() } {
        Some(error) => error.message.as_ptr(),
        None => ptr::null(),
    })
}

/// The OAuth `error` code the server answered with (e.g. `"invalid_grant"`),
/// or NULL when the failure was not a server's OAuth error. Owned by the
/// error: valid until `devicecode_error_free`.
///
/// # Safety
/// `error` is NULL or an error from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_error_oauth_error(error: *const Error) -> *const c_char {
    // SAFETY: NULL or a live error, as the caller promises.
    no_unwind(ptr::null(), || match unsafe { error.as_ref() } {
        Some(Error {
            oauth_error: Some(code),
            ..
        }) => code.as_ptr(),
        _ => ptr::null(),
    })
}

/// Entra ID's `AADSTS` number for the failure (e.g. 70016), or 0 when the
/// server sent none.
///
/// # Safety
/// `error` is NULL or an error from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_error_aadsts(error: *const Error) -> u64 {
    // SAFETY: NULL or a live error, as the caller promises.
    no_unwind(0, || unsafe { error.as_ref() }.map_or(0, |e| e.aadsts))
}

/// Frees an error. NULL is ignored.
///
/// # Safety
/// `error` is NULL or an error from this library, freed only once; its
/// strings are invalid afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_error_free(error: *mut Error) {
    if !error.is_null() {
        // SAFETY: the pointer came from Box::into_raw in `guard` and is
        // freed once, as the caller promises.
        let error = unsafe { Box::from_raw(error) };
        no_unwind((), || drop(error));
    }
}
