//! The accounts in the token file, listed for C.

use crate::error::{c_text, no_unwind};
use std::ffi::{CString, c_char};
use std::ptr;

/// A list of accounts.
///
/// Immutable once made: it may be read from several threads at once. Free it
/// once with `devicecode_accounts_free`.
pub struct Accounts {
    entries: Vec<(CString, CString)>,
}

impl Accounts {
    pub(crate) fn new(accounts: &[devicecode_rs::Account]) -> Accounts {
        Accounts {
            entries: accounts
                .iter()
                .map(|a| (c_text(a.username()), c_text(a.home_account_id())))
                .collect(),
        }
    }
}

/// How many accounts the list has (0 for NULL).
///
/// # Safety
/// `accounts` is NULL or a list from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_accounts_count(accounts: *const Accounts) -> usize {
    // SAFETY: NULL or a live list, as the caller promises.
    no_unwind(0, || {
        unsafe { accounts.as_ref() }.map_or(0, |a| a.entries.len())
    })
}

/// The user name of account `index` (from 0), or NULL when `index` is past
/// the end. Owned by the list: valid until `devicecode_accounts_free`.
///
/// # Safety
/// `accounts` is NULL or a list from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_accounts_username(
    accounts: *const Accounts,
    index: usize,
) -> *const c_char {
    // SAFETY: NULL or a live list, as the caller promises.
    no_unwind(ptr::null(), || {
        unsafe { accounts.as_ref() }
            .and_then(|a| a.entries.get(index))
            .map_or(ptr::null(), |(name, _)| name.as_ptr())
    })
}

/// The home account id of account `index`, or NULL past the end. Owned by
/// the list.
///
/// # Safety
/// `accounts` is NULL or a list from this library not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_accounts_home_account_id(
    accounts: *const Accounts,
    index: usize,
) -> *const c_char {
    // SAFETY: NULL or a live list, as the caller promises.
    no_unwind(ptr::null(), || {
        unsafe { accounts.as_ref() }
            .and_then(|a| a.entries.get(index))
            .map_or(ptr::null(), |(_, id)| id.as_ptr())
    })
}

/// Frees a list of accounts. NULL is ignored.
///
/// # Safety
/// `accounts` is NULL or a list from this library, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_accounts_free(accounts: *mut Accounts) {
    if !accounts.is_null() {
        // SAFETY: made by Box::into_raw, freed once as the caller promises.
        let accounts = unsafe { Box::from_raw(accounts) };
        no_unwind((), || drop(accounts));
    }
}
