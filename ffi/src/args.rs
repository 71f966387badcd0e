//! Reading what C passes in: strings that may be NULL or not UTF-8, handles
//! that may be NULL, and out-pointers. Each failure is an error status.

use crate::error::Error;
use std::ffi::{CStr, c_char};

/// The string at `ptr`, which must be non-NULL UTF-8.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string readable for the whole call.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!(
            "{what} is NULL: give a NUL-terminated UTF-8 string"
        )));
    }
    // SAFETY: non-NULL, and NUL-terminated and readable as the caller promises.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// The string at `ptr`, or `None` for NULL.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: as the caller promises.
        unsafe { text(ptr, what) }.map(Some)
    }
}

/// The object behind a handle, which must be non-NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` made by this library, not written
/// to by another thread during the call.
pub(crate) unsafe fn object<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: NULL or a live object, as the caller promises.
    unsafe { ptr.as_ref() }.ok_or_else(|| null_handle(what))
}

/// The object behind a handle, for changing it.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` made by this library that no other
/// thread uses during the call.
pub(crate) unsafe fn object_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: NULL or a live object used by this call alone, as promised.
    unsafe { ptr.as_mut() }.ok_or_else(|| null_handle(what))
}

fn null_handle(what: &str) -> Error {
    Error::invalid(format!(
        "the {what} is NULL: pass the one devicecode_{what}_new made"
    ))
}

/// Checks an out-pointer before any work is done, and clears it so that a
/// failed call leaves NULL there.
///
/// # Safety
/// `out` is NULL or valid for writing one pointer.
pub(crate) unsafe fn out_ptr<T>(out: *mut *mut T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::invalid(format!(
            "{what} is NULL: give the address of a pointer to receive the result"
        )));
    }
    // SAFETY: non-NULL and writable, as the caller promises.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

/// Hands `value` to C through an out-pointer checked with [`out_ptr`].
///
/// # Safety
/// `out` is non-NULL and valid for writing one pointer.
pub(crate) unsafe fn give<T>(out: *mut *mut T, value: T) {
    // SAFETY: as the caller promises; C owns the object from now on and
    // gives it back to the matching free function.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
}
