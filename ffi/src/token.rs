//! The token a login or a silent call hands to C: the access token (zeroed
//! when freed), its expiry, the account, and whether it could be saved.

use crate::error::{Error, c_text, no_unwind};
use crate::status::DEVICECODE_SERVICE;
use std::ffi::{CString, c_char};
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

/// A token.
///
/// Immutable once made: it may be read from several threads at once. Free it
/// once with `devicecode_token_free`, which zeroes the access token.
pub struct Token {
    // NUL-terminated; built in a buffer of its final size so that no
    // reallocation leaves a copy behind that would not be zeroed.
    access_token: Zeroizing<Vec<u8>>,
    token_type: CString,
    expires_at: i64,
    username: Option<CString>,
    home_account_id: Option<CString>,
    cache_error: Option<Error>,
}

impl Token {
    pub(crate) fn new(token: &devicecode_rs::Token) -> Result<Token, Error> {
        let secret = token.access_token().secret().as_bytes();
        if secret.contains(&0) {
            return Err(Error::new(
                DEVICECODE_SERVICE,
                "the server's access token contains a NUL byte, which C cannot carry".into(),
            ));
        }
        let mut access_token = Zeroizing::new(Vec::with_capacity(secret.len().saturating_add(1)));
        access_token.extend_from_slice(secret);
        access_token.push(0);
        let account = token.account();
        Ok(Token {
            access_token,
            token_type: c_text(token.token_type()),
            expires_at: unix_seconds(token.expires_at()),
            username: account.map(|a| c_text(a.username())),
            home_account_id: account.map(|a| c_text(a.home_account_id())),
            cache_error: token.cache_error().map(Error::from),
        })
    }

    /// The failure to save it, when there was one.
    pub(crate) fn cache_error(&self) -> Option<&Error> {
        self.cache_error.as_ref()
    }
}

/// Seconds since 1970 (negative before), saturating at the ends of i64.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The access token, for `Authorization: Bearer ...`. A secret: do not log
/// it. Owned by the token: valid until `devicecode_token_free`, which zeroes
/// it; NULL only for a NULL token.
///
/// # Safety
/// `token` is NULL or a token from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_access_token(token: *const Token) -> *const c_char {
    // SAFETY: NULL or a live token, as the caller promises.
    no_unwind(ptr::null(), || match unsafe { token.as_ref() } {
        Some(token) => token.access_token.as_ptr().cast(),
        None => ptr::null(),
    })
}

/// The token type, almost always `"Bearer"`. Owned by the token.
///
/// # Safety
/// `token` is NULL or a token from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_type(token: *const Token) -> *const c_char {
    // SAFETY: NULL or a live token, as the caller promises.
    no_unwind(ptr::null(), || match unsafe { token.as_ref() } {
        Some(token) => token.token_type.as_ptr(),
        None => ptr::null(),
    })
}

/// When the access token expires, in seconds since 1970 (wall clock); 0 for
/// a NULL token.
///
/// # Safety
/// `token` is NULL or a token from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_expires_at(token: *const Token) -> i64 {
    // SAFETY: NULL or a live token, as the caller promises.
    no_unwind(0, || unsafe { token.as_ref() }.map_or(0, |t| t.expires_at))
}

/// The signed-in user's name (e.g. `user@contoso.com`), or NULL when the
/// server did not say. Owned by the token.
///
/// # Safety
/// `token` is NULL or a token from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_username(token: *const Token) -> *const c_char {
    // SAFETY: NULL or a live token, as the caller promises.
    no_unwind(ptr::null(), || {
        unsafe { token.as_ref() }
            .and_then(|t| t.username.as_ref())
            .map_or(ptr::null(), |u| u.as_ptr())
    })
}

/// The account's home account id (`<oid>.<tenant id>` for Entra), or NULL
/// when the server did not say. Owned by the token.
///
/// # Safety
/// `token` is NULL or a token from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_home_account_id(token: *const Token) -> *const c_char {
    // SAFETY: NULL or a live token, as the caller promises.
    no_unwind(ptr::null(), || {
        unsafe { token.as_ref() }
            .and_then(|t| t.home_account_id.as_ref())
            .map_or(ptr::null(), |u| u.as_ptr())
    })
}

/// Why this token, valid and issued by the server, could not be saved in
/// the token file (a full disk, a file made read-only), or NULL when it was
/// saved. Its status is `DEVICECODE_CACHE`.
///
/// The client keeps the tokens (above all a new refresh token) in memory and
/// saves them at its next call that can; a process about to exit should
/// report this, because what is only in memory is lost with it.
///
/// The error is owned by the token: do NOT pass it to
/// `devicecode_error_free`; it is freed with the token.
///
/// # Safety
/// `token` is NULL or a token from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_cache_error(token: *const Token) -> *const Error {
    // SAFETY: NULL or a live token, as the caller promises.
    no_unwind(ptr::null(), || {
        unsafe { token.as_ref() }
            .and_then(Token::cache_error)
            .map_or(ptr::null(), |e| e as *const Error)
    })
}

/// Frees a token, zeroing the access token first. NULL is ignored.
///
/// # Safety
/// `token` is NULL or a token from this library, freed once; its strings are
/// invalid afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_token_free(token: *mut Token) {
    if !token.is_null() {
        // SAFETY: made by Box::into_raw, freed once as the caller promises.
        let token = unsafe { Box::from_raw(token) };
        // Zeroizing clears the secret's whole buffer on drop.
        no_unwind((), || drop(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unix_seconds_saturate_instead_of_overflowing() {
        assert_eq!(unix_seconds(UNIX_EPOCH), 0);
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(90)), 90);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(90)), -90);
        let far = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX / 2));
        if let Some(far) = far {
            assert_eq!(unix_seconds(far), i64::MAX);
        }
    }
}
