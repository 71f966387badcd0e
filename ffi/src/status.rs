//! Status codes: the numbers of the `devicecode` command's exit codes, so a
//! C program and a shell script read the same outcome the same way.

use devicecode_rs::ErrorKind;
use std::ffi::{c_char, c_int};

/// Success.
pub const DEVICECODE_OK: c_int = 0;
/// A bug in libdevicecode (a Rust panic, caught at the boundary). Please
/// report it; the process may go on.
pub const DEVICECODE_INTERNAL: c_int = 1;
/// Wrong configuration or arguments: a NULL or non-UTF-8 argument, a bad URL,
/// tenant, client id or certificate file.
pub const DEVICECODE_CONFIGURATION: c_int = 2;
/// No token can be had silently: sign in with `devicecode_client_login`.
pub const DEVICECODE_INTERACTION_REQUIRED: c_int = 3;
/// The person declined the sign-in.
pub const DEVICECODE_DECLINED: c_int = 4;
/// The code expired before anyone signed in, or the login's own time
/// limit ran out.
pub const DEVICECODE_EXPIRED: c_int = 5;
/// The wait was cancelled with `devicecode_cancel_request`.
pub const DEVICECODE_CANCELLED: c_int = 6;
/// The server could not be reached or gave no usable answer (network, TLS,
/// HTTP 5xx or 429): try again later.
pub const DEVICECODE_NETWORK: c_int = 7;
/// The server refused the request (see `devicecode_error_oauth_error` and
/// `devicecode_error_aadsts`), answered nonsense, the display callback
/// failed, or the system clock is obviously wrong.
pub const DEVICECODE_SERVICE: c_int = 8;
/// The token file could not be read, locked or written.
pub const DEVICECODE_CACHE: c_int = 9;

/// The status of a library error, as the `devicecode` command maps it.
pub(crate) fn status_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::Configuration => DEVICECODE_CONFIGURATION,
        ErrorKind::InteractionRequired => DEVICECODE_INTERACTION_REQUIRED,
        ErrorKind::Declined => DEVICECODE_DECLINED,
        ErrorKind::Expired | ErrorKind::TimedOut => DEVICECODE_EXPIRED,
        ErrorKind::Cancelled => DEVICECODE_CANCELLED,
        ErrorKind::Transport => DEVICECODE_NETWORK,
        ErrorKind::Cache => DEVICECODE_CACHE,
        _ => DEVICECODE_SERVICE,
    }
}

/// A short name for a status code (`"ok"`, `"declined"`, ...), or
/// `"unknown"`.
///
/// The string is static: do not free it. Safe to call from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn devicecode_status_name(status: c_int) -> *const c_char {
    let name: &'static str = match status {
        DEVICECODE_OK => "ok\0",
        DEVICECODE_INTERNAL => "internal error\0",
        DEVICECODE_CONFIGURATION => "configuration\0",
        DEVICECODE_INTERACTION_REQUIRED => "interaction required\0",
        DEVICECODE_DECLINED => "declined\0",
        DEVICECODE_EXPIRED => "expired\0",
        DEVICECODE_CANCELLED => "cancelled\0",
        DEVICECODE_NETWORK => "network\0",
        DEVICECODE_SERVICE => "service\0",
        DEVICECODE_CACHE => "cache\0",
        _ => "unknown\0",
    };
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn kinds_map_to_the_cli_exit_codes() {
        assert_eq!(status_of(ErrorKind::TimedOut), 5);
        assert_eq!(status_of(ErrorKind::Expired), 5);
        assert_eq!(status_of(ErrorKind::Cancelled), 6);
        assert_eq!(status_of(ErrorKind::InvalidResponse), 8);
        assert_eq!(status_of(ErrorKind::Cache), 9);
    }

    #[test]
    fn every_status_has_a_name() {
        for status in 0..=9 {
            // SAFETY: the names are static NUL-terminated strings.
            let name = unsafe { CStr::from_ptr(devicecode_status_name(status)) };
            assert_ne!(name.to_str().unwrap(), "unknown", "{status}");
        }
        // SAFETY: as above.
        let name = unsafe { CStr::from_ptr(devicecode_status_name(-1)) };
        assert_eq!(name.to_str().unwrap(), "unknown");
    }
}
