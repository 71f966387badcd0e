//! Showing the code through C callbacks (or on stdout when none is given).

use crate::error::c_text;
use crate::status::{DEVICECODE_OK, status_of};
use devicecode_rs::{CodeDisplay, DeviceFlow, Outcome, StdoutDisplay};
use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::ptr;

/// Shows the code to a person.
///
/// Called once per login, on the thread that called
/// `devicecode_client_login`, before the wait starts. The strings are
/// printable (control characters removed) and valid only during the call:
/// copy what you keep. `user_code` is what the person types at
/// `verification_uri`; `message` is the server's sentence saying so (or one
/// made from the two); `verification_uri_complete` embeds the code (for a QR
/// code) and is NULL when the server sent none; the code expires in
/// `expires_in_secs` seconds. Return 0 when the code was shown; anything else
/// stops the login with `DEVICECODE_SERVICE`.
pub type ShowFn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        user_code: *const c_char,
        verification_uri: *const c_char,
        message: *const c_char,
        verification_uri_complete: *const c_char,
        expires_in_secs: u64,
    ) -> c_int,
>;

/// Hears how the wait ended, so a display can clear the code.
///
/// Called on the login's thread when the wait ends. `status` is
/// `DEVICECODE_OK` with `text` the signed-in user name (NULL when the server
/// did not say), or the failure's status with `text` its message. `text` is
/// valid only during the call.
pub type FinishedFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, status: c_int, text: *const c_char)>;

/// The callbacks and the pointer they are given back.
#[derive(Clone, Copy)]
pub(crate) struct CDisplay {
    pub(crate) show: ShowFn,
    pub(crate) finished: FinishedFn,
    pub(crate) user_data: *mut c_void,
}

// SAFETY: the header documents that the callbacks run on whichever thread
// calls a login with the client, with `user_data`, so the C caller makes
// them fit for that; this crate never dereferences `user_data` itself.
unsafe impl Send for CDisplay {}
// SAFETY: as above; shared use only calls the callbacks.
unsafe impl Sync for CDisplay {}

impl CodeDisplay for CDisplay {
    fn show(&self, flow: &DeviceFlow) -> io::Result<()> {
        let Some(show) = self.show else {
            return StdoutDisplay::new().show(flow);
        };
        let user_code = c_text(flow.user_code());
        let uri = c_text(flow.verification_uri());
        let message = c_text(flow.message());
        let complete = flow.verification_uri_complete().map(c_text);
        let complete_ptr = complete.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        // SAFETY: a function pointer the C caller registered, given its own
        // user data and strings that live until it returns.
        let answer = unsafe {
            show(
                self.user_data,
                user_code.as_ptr(),
                uri.as_ptr(),
                message.as_ptr(),
                complete_ptr,
                flow.expires_in().as_secs(),
            )
        };
        if answer == 0 {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the show callback returned {answer} instead of 0"
            )))
        }
    }

    fn finished(&self, outcome: &Outcome<'_>) {
        let Some(finished) = self.finished else {
            return;
        };
        let (status, text) = match outcome {
            Outcome::SignedIn(account) => (DEVICECODE_OK, account.map(|a| c_text(a.username()))),
            Outcome::Failed(error) => (status_of(error.kind()), Some(c_text(error.to_string()))),
            _ => return,
        };
        let text_ptr = text.as_ref().map_or(ptr::null(), |t| t.as_ptr());
        // SAFETY: as in `show`.
        unsafe { finished(self.user_data, status, text_ptr) };
    }
}
