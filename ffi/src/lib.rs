//! libdevicecode: the `devicecode` crate for C and C++ programs.
//!
//! This crate is only the boundary: every call checks its arguments, runs
//! the Rust library inside `catch_unwind`, and turns the outcome into a
//! status code (the numbers of the `devicecode` command's exit codes) and,
//! on failure, an error object. The C documentation is in the header that
//! cbindgen generates from these doc comments (`include/devicecode.h`).
//!
//! All `unsafe` of the project lives here, each block with its `SAFETY:`
//! reason; the library crate keeps `#![forbid(unsafe_code)]`.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod accounts;
mod args;
mod cancel;
mod client;
mod config;
mod display;
mod error;
mod logger;
mod status;
mod token;

pub use accounts::*;
pub use cancel::*;
pub use client::*;
pub use config::*;
pub use display::*;
pub use error::*;
pub use logger::*;
pub use status::*;
pub use token::*;

use std::ffi::c_char;

/// The version of libdevicecode, e.g. `"0.1.0"`.
///
/// The string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn devicecode_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{CStr, c_int};
    use std::ptr::{null, null_mut};

    /// The message of an error, which the test then frees.
    fn message(error: *mut Error) -> String {
        // SAFETY: a live error from the library, freed right after reading.
        unsafe {
            let text = CStr::from_ptr(devicecode_error_message(error))
                .to_string_lossy()
                .into_owned();
            devicecode_error_free(error);
            text
        }
    }

    #[test]
    fn null_arguments_are_configuration_errors_not_crashes() {
        let mut error = null_mut();
        let mut config = null_mut();
        // SAFETY: every pointer is NULL or a valid out-pointer.
        unsafe {
            assert_eq!(devicecode_config_new(null(), &mut config, &mut error), 2);
            assert!(config.is_null());
            assert!(message(error).contains("client id is NULL"));
            assert_eq!(
                devicecode_config_new(c"id".as_ptr(), null_mut(), null_mut()),
                2
            );
            assert_eq!(
                devicecode_config_set_tenant(null_mut(), c"t".as_ptr(), null_mut()),
                2
            );
            assert_eq!(
                devicecode_client_new(null(), &mut null_mut(), null_mut()),
                2
            );
            assert_eq!(
                devicecode_client_login(null(), null(), 0, null_mut(), null_mut()),
                2
            );
            assert_eq!(
                devicecode_client_token(null(), null(), 0, null_mut(), null_mut()),
                2
            );
            assert_eq!(
                devicecode_client_accounts(null(), &mut null_mut(), null_mut()),
                2
            );
            let mut removed: c_int = 7;
            assert_eq!(
                devicecode_client_remove_account(null(), null(), &mut removed, null_mut()),
                2
            );
            assert_eq!(removed, 0);
            assert_eq!(devicecode_cancel_new(null_mut(), null_mut()), 2);
            devicecode_cancel_request(null());
            assert_eq!(devicecode_cancel_is_requested(null()), 0);
            assert!(devicecode_token_access_token(null()).is_null());
            assert_eq!(devicecode_token_expires_at(null()), 0);
            assert!(devicecode_token_cache_error(null()).is_null());
            assert_eq!(devicecode_accounts_count(null()), 0);
            assert!(devicecode_accounts_username(null(), 0).is_null());
            assert_eq!(devicecode_error_status(null()), 2);
            assert!(devicecode_error_message(null()).is_null());
            assert!(devicecode_error_oauth_error(null()).is_null());
            assert_eq!(devicecode_error_aadsts(null()), 0);
            devicecode_error_free(null_mut());
            devicecode_token_free(null_mut());
            devicecode_accounts_free(null_mut());
            devicecode_client_free(null_mut());
            devicecode_config_free(null_mut());
            devicecode_cancel_free(null_mut());
        }
    }

    #[test]
    fn config_checks_its_arguments_when_they_are_set() {
        let mut config = null_mut();
        let mut error = null_mut();
        // SAFETY: valid pointers; the config and errors are freed here.
        unsafe {
            assert_eq!(
                devicecode_config_new(c"client".as_ptr(), &mut config, null_mut()),
                0
            );
            let not_utf8 = [0xffu8, 0xfe, 0];
            assert_eq!(
                devicecode_config_set_tenant(config, not_utf8.as_ptr().cast(), &mut error),
                2
            );
            assert!(message(error).contains("not valid UTF-8"));
            assert_eq!(
                devicecode_config_set_tenant(config, c"contoso.com".as_ptr(), null_mut()),
                0
            );
            assert_eq!(
                devicecode_config_set_issuer(
                    config,
                    c"https://issuer.example".as_ptr(),
                    &mut error
                ),
                2
            );
            assert!(message(error).contains("exactly one"));
            assert_eq!(
                devicecode_config_add_scope(config, c"two scopes".as_ptr(), &mut error),
                2
            );
            assert!(message(error).contains("one scope per call"));
            assert_eq!(
                devicecode_config_set_cache_file(config, c"".as_ptr(), &mut error),
                2
            );
            let _ = message(error);
            assert_eq!(
                devicecode_config_add_ca_file(config, c"/nonexistent/ca.pem".as_ptr(), &mut error),
                2
            );
            assert!(message(error).contains("/nonexistent/ca.pem"));
            assert_eq!(
                devicecode_config_set_timeouts(config, u64::MAX, 0, null_mut()),
                0
            );
            let mut client = null_mut();
            assert_eq!(devicecode_client_new(config, &mut client, &mut error), 0);
            assert!(error.is_null());
            devicecode_client_free(client);
            devicecode_config_free(config);
        }
    }

    #[test]
    fn a_cancel_request_is_one_flag_seen_by_the_handle() {
        let mut cancel = null_mut();
        // SAFETY: a valid out-pointer; the handle is freed here.
        unsafe {
            assert_eq!(devicecode_cancel_new(&mut cancel, null_mut()), 0);
            assert_eq!(devicecode_cancel_is_requested(cancel), 0);
            devicecode_cancel_request(cancel);
            assert_eq!(devicecode_cancel_is_requested(cancel), 1);
            assert!((*cancel).handle().is_cancelled());
            devicecode_cancel_free(cancel);
        }
    }

    #[test]
    fn an_unknown_log_level_is_refused() {
        let mut error = null_mut();
        // SAFETY: a valid out-pointer; no callback is installed.
        unsafe {
            assert_eq!(devicecode_set_logger(None, null_mut(), 9, &mut error), 2);
            assert!(message(error).contains("log level 9"));
            assert_eq!(devicecode_set_logger(None, null_mut(), 0, null_mut()), 0);
        }
    }

    #[test]
    fn the_version_is_the_crate_version() {
        // SAFETY: a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(devicecode_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    /// Moves the token file's directory away once the code is shown, so
    /// that the save after the server's answer fails.
    unsafe extern "C" fn break_the_directory(
        user_data: *mut std::ffi::c_void,
        _user_code: *const std::ffi::c_char,
        _uri: *const std::ffi::c_char,
        _message: *const std::ffi::c_char,
        _complete: *const std::ffi::c_char,
        _expires_in: u64,
    ) -> c_int {
        // SAFETY: the test passes a PathBuf that outlives the login.
        let dir = unsafe { &*(user_data as *const std::path::PathBuf) };
        std::fs::rename(dir.join("state"), dir.join("state.old")).unwrap();
        std::fs::write(dir.join("state"), "not a directory").unwrap();
        0
    }

    #[test]
    fn a_token_the_file_could_not_keep_carries_a_cache_error() {
        use devicecode_test_authority::{Approval, TestAuthority};
        use std::ffi::CString;

        let auth = TestAuthority::builder()
            .approval(Approval::AfterPolls(1))
            .interval(Some(1))
            .start()
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "devicecode-ffi-unit-{}-unsaved",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        std::fs::write(dir.join("ca.pem"), auth.ca_pem()).unwrap();
        let c = |s: String| CString::new(s).unwrap();
        let authority = c(format!("{}/organizations", auth.base_url()));
        let ca = c(dir.join("ca.pem").display().to_string());
        let cache = c(dir.join("state/tokens.json").display().to_string());
        let mut config = null_mut();
        let mut client = null_mut();
        let mut token = null_mut();
        let mut error = null_mut();
        // SAFETY: valid strings and out-pointers; `dir` outlives the login;
        // every object is freed here.
        unsafe {
            assert_eq!(
                devicecode_config_new(c"client-id".as_ptr(), &mut config, null_mut()),
                0
            );
            assert_eq!(
                devicecode_config_set_authority(config, authority.as_ptr(), null_mut()),
                0
            );
            assert_eq!(
                devicecode_config_add_ca_file(config, ca.as_ptr(), null_mut()),
                0
            );
            assert_eq!(
                devicecode_config_set_cache_file(config, cache.as_ptr(), null_mut()),
                0
            );
            let user_data = &dir as *const std::path::PathBuf as *mut std::ffi::c_void;
            let display: ShowFn = Some(break_the_directory);
            assert_eq!(
                devicecode_config_set_display(config, display, None, user_data, null_mut()),
                0
            );
            assert_eq!(devicecode_client_new(config, &mut client, null_mut()), 0);
            devicecode_config_free(config);
            let status = devicecode_client_login(client, null(), 0, &mut token, &mut error);
            assert_eq!(
                status,
                0,
                "{}",
                if error.is_null() {
                    String::new()
                } else {
                    message(error)
                }
            );
            assert!(!devicecode_token_access_token(token).is_null());
            let unsaved = devicecode_token_cache_error(token);
            assert!(!unsaved.is_null(), "the save should have failed");
            assert_eq!(devicecode_error_status(unsaved), 9);
            let text = CStr::from_ptr(devicecode_error_message(unsaved)).to_string_lossy();
            assert!(!text.is_empty());
            devicecode_token_free(token);
            devicecode_client_free(client);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    unsafe extern "C" fn show_nothing(
        _user_data: *mut std::ffi::c_void,
        _user_code: *const std::ffi::c_char,
        _uri: *const std::ffi::c_char,
        _message: *const std::ffi::c_char,
        _complete: *const std::ffi::c_char,
        _expires_in: u64,
    ) -> c_int {
        0
    }

    /// Records how the wait ended, as "status text".
    unsafe extern "C" fn record_finish(
        user_data: *mut std::ffi::c_void,
        status: c_int,
        text: *const std::ffi::c_char,
    ) {
        // SAFETY: the test passes a Mutex<Vec<String>> that outlives the
        // login, and `text` is NULL or a string valid during the call.
        let (seen, text) = unsafe {
            (
                &*(user_data as *const std::sync::Mutex<Vec<String>>),
                text.as_ref()
                    .map(|t| CStr::from_ptr(t).to_string_lossy().into_owned()),
            )
        };
        seen.lock()
            .unwrap()
            .push(format!("{status} {}", text.unwrap_or_default()));
    }

    #[test]
    fn accounts_are_listed_and_removed_and_the_finish_is_told() {
        use devicecode_test_authority::{Approval, TestAuthority};
        use std::ffi::CString;

        let auth = TestAuthority::builder()
            .approval(Approval::AfterPolls(1))
            .interval(Some(1))
            .start()
            .unwrap();
        let ca_path = std::env::temp_dir().join(format!(
            "devicecode-ffi-unit-{}-accounts.pem",
            std::process::id()
        ));
        std::fs::write(&ca_path, auth.ca_pem()).unwrap();
        let authority = CString::new(format!("{}/organizations", auth.base_url())).unwrap();
        let ca = CString::new(ca_path.display().to_string()).unwrap();
        let seen = std::sync::Mutex::new(Vec::<String>::new());
        let (mut config, mut client, mut token, mut accounts) =
            (null_mut(), null_mut(), null_mut(), null_mut());
        let mut removed: c_int = 0;
        // SAFETY: valid strings and out-pointers; `seen` outlives the
        // client; every object is freed here. Tokens stay in memory.
        unsafe {
            assert_eq!(
                devicecode_config_new(c"client-id".as_ptr(), &mut config, null_mut()),
                0
            );
            let entra = devicecode_config_set_authority(config, authority.as_ptr(), null_mut());
            assert_eq!(entra, 0);
            assert_eq!(
                devicecode_config_add_ca_file(config, ca.as_ptr(), null_mut()),
                0
            );
            assert_eq!(
                devicecode_config_add_scope(config, c"User.Read".as_ptr(), null_mut()),
                0
            );
            let user_data = &seen as *const _ as *mut std::ffi::c_void;
            let show: ShowFn = Some(show_nothing);
            let finished: FinishedFn = Some(record_finish);
            assert_eq!(
                devicecode_config_set_display(config, show, finished, user_data, null_mut()),
                0
            );
            assert_eq!(devicecode_client_new(config, &mut client, null_mut()), 0);
            devicecode_config_free(config);

            assert_eq!(
                devicecode_client_login(client, null(), 0, &mut token, null_mut()),
                0
            );
            assert!(devicecode_token_cache_error(token).is_null());
            assert!(devicecode_token_expires_at(token) > 0);
            let user = devicecode_token_username(token);
            assert!(!user.is_null(), "Entra's answer names the account");
            let user = CStr::from_ptr(user).to_owned();
            assert_eq!(
                seen.lock().unwrap().clone(),
                [format!("0 {}", user.to_string_lossy())]
            );
            devicecode_token_free(token);

            assert_eq!(
                devicecode_client_accounts(client, &mut accounts, null_mut()),
                0
            );
            assert_eq!(devicecode_accounts_count(accounts), 1);
            assert_eq!(
                CStr::from_ptr(devicecode_accounts_username(accounts, 0)),
                &*user
            );
            assert!(!devicecode_accounts_home_account_id(accounts, 0).is_null());
            assert!(devicecode_accounts_username(accounts, 1).is_null());
            devicecode_accounts_free(accounts);

            assert_eq!(
                devicecode_client_remove_account(client, user.as_ptr(), &mut removed, null_mut()),
                0
            );
            assert_eq!(removed, 1);
            assert_eq!(
                devicecode_client_remove_account(client, user.as_ptr(), &mut removed, null_mut()),
                0
            );
            assert_eq!(removed, 0);
            let mut error = null_mut();
            assert_eq!(
                devicecode_client_token(client, null(), 0, &mut token, &mut error),
                3
            );
            assert!(token.is_null());
            assert_eq!(devicecode_error_status(error), 3);
            devicecode_error_free(error);
            devicecode_client_free(client);
        }
        let _ = std::fs::remove_file(&ca_path);
    }
}
