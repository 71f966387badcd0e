//! The client: sign in with the device code, get tokens silently, list and
//! remove accounts.

use crate::accounts::Accounts;
use crate::args::{give, object, optional_text, out_ptr};
use crate::cancel::Cancel;
use crate::config::{CacheChoice, Config};
use crate::error::{Error, guard, no_unwind};
use crate::status::DEVICECODE_INTERACTION_REQUIRED;
use crate::token::Token;
use devicecode_rs::{Account, CancelHandle, FileCache, PublicClient, SilentOptions};
use std::ffi::{c_char, c_int};
use std::time::Duration;

/// A client.
///
/// Thread safety: a client may be shared between threads; its calls may run
/// at once (the token file is locked across processes and threads). The
/// display callbacks run on the thread that logs in. Free it once, when no
/// call is running.
pub struct Client {
    app: PublicClient,
    scopes: Vec<String>,
}

// The thread-safety promise above rests on this.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Client>();
};

impl Client {
    fn scopes(&self) -> Vec<&str> {
        self.scopes.iter().map(String::as_str).collect()
    }

    /// The account named `name` (user name, any case, or home account id),
    /// or `None` for no name.
    fn account(&self, name: Option<&str>) -> Result<Option<Account>, Error> {
        let Some(name) = name else {
            return Ok(None);
        };
        let found = self
            .app
            .accounts()?
            .into_iter()
            .find(|a| a.username().eq_ignore_ascii_case(name) || a.home_account_id() == name);
        match found {
            Some(account) => Ok(Some(account)),
            None => Err(Error::new(
                DEVICECODE_INTERACTION_REQUIRED,
                format!("no account {name:?} is signed in: log in first"),
            )),
        }
    }
}

fn build(config: &Config) -> Result<Client, Error> {
    let mut builder = PublicClient::builder(config.client_id.clone());
    if let Some(authority) = &config.authority {
        builder = builder.authority(authority.clone());
    }
    builder = match &config.cache {
        CacheChoice::Memory => builder,
        CacheChoice::DefaultFile => builder.token_cache(FileCache::at_default_location()?),
        CacheChoice::File(path) => builder.token_cache(FileCache::new(path)),
    };
    for pem in &config.ca_pems {
        builder = builder.root_certificates_pem(pem);
    }
    if let Some(timeout) = config.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = config.io_timeout {
        builder = builder.io_timeout(timeout);
    }
    if let Some(display) = config.display {
        builder = builder.display(display);
    }
    Ok(Client {
        app: builder.build()?,
        scopes: config.scopes.clone(),
    })
}

/// Hands a token to C; with nowhere to hand it, a failed save is the
/// caller's failure, since nobody else could see it.
///
/// # Safety
/// `token_out` is NULL or valid for writing one pointer (already cleared).
unsafe fn hand_token(
    token: &devicecode_rs::Token,
    token_out: *mut *mut Token,
) -> Result<(), Error> {
    let token = Token::new(token)?;
    if token_out.is_null() {
        return match token.cache_error() {
            Some(error) => Err(Error::new(
                error.status(),
                error.message().to_string_lossy().into_owned(),
            )),
            None => Ok(()),
        };
    }
    // SAFETY: non-NULL and writable, as the caller promises.
    unsafe { give(token_out, token) };
    Ok(())
}

/// Makes a client from `config` in `*client_out`; `config` is only read and
/// may be freed or reused afterwards. Fails with `DEVICECODE_CONFIGURATION`
/// for a bad client id or CA file, `DEVICECODE_CACHE` when the default token
/// file has no home. Free the client with `devicecode_client_free`.
///
/// # Safety
/// `config` is NULL or a live config used by no other thread during the
/// call; `client_out` is valid for writing one pointer; `error_out` is NULL
/// or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_client_new(
    config: *const Config,
    client_out: *mut *mut Client,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            out_ptr(client_out, "client_out")?;
            let client = build(object(config, "config")?)?;
            give(client_out, client);
            Ok(())
        })
    }
}

/// Signs in with the device code: asks for a code, shows it (through the
/// config's display callbacks, or on stdout), and waits until the person
/// signs in, declines (`DEVICECODE_DECLINED`), the code expires or
/// `timeout_secs` pass (`DEVICECODE_EXPIRED`; 0 waits until the code
/// expires), or `cancel` is requested (`DEVICECODE_CANCELLED`; NULL: not
/// cancellable). The tokens are saved in the token file before this
/// returns.
///
/// On success the token is in `*token_out`: free it with
/// `devicecode_token_free`, and check `devicecode_token_cache_error`: a
/// token the server issued but the file could not keep is still a success.
/// With `token_out` NULL the token is dropped, and a failed save returns
/// `DEVICECODE_CACHE`.
///
/// Blocks for up to the code's lifetime (Entra: 15 minutes).
///
/// # Safety
/// `client` is NULL or a live client; `cancel` is NULL or a live cancel
/// handle; `token_out` and `error_out` are NULL or valid for writing one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_client_login(
    client: *const Client,
    cancel: *const Cancel,
    timeout_secs: u64,
    token_out: *mut *mut Token,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            if !token_out.is_null() {
                out_ptr(token_out, "token_out")?;
            }
            let client = object(client, "client")?;
            let cancel = match cancel.as_ref() {
                Some(cancel) => cancel.handle().clone(),
                None => CancelHandle::new(),
            };
            let flow = client.app.start_device_flow(&client.scopes())?;
            client.app.display(&flow)?;
            let token = match timeout_secs {
                0 => client.app.wait_for_token(&flow, &cancel),
                secs => client.app.wait_for_token_with_timeout(
                    &flow,
                    &cancel,
                    Duration::from_secs(secs),
                ),
            }?;
            hand_token(&token, token_out)
        })
    }
}

/// Gets a token without showing a code: a cached access token with at least
/// 5 minutes left, else a new one for the cached refresh token (with
/// `force_refresh` non-zero, always a new one). `account` is a user name
/// (any case) or home account id, or NULL for the only signed-in account.
///
/// Fails with `DEVICECODE_INTERACTION_REQUIRED` when nobody is signed in or
/// the server refused the refresh token: call `devicecode_client_login`.
/// On success `*token_out` holds the token, as for the login.
///
/// # Safety
/// `client` is NULL or a live client; `account` is NULL or a NUL-terminated
/// string; `token_out` and `error_out` are NULL or valid for writing one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_client_token(
    client: *const Client,
    account: *const c_char,
    force_refresh: c_int,
    token_out: *mut *mut Token,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            if !token_out.is_null() {
                out_ptr(token_out, "token_out")?;
            }
            let client = object(client, "client")?;
            let account = client.account(optional_text(account, "the account")?)?;
            let options = SilentOptions::default().force_refresh(force_refresh != 0);
            let token = client.app.acquire_token_silent_with(
                &client.scopes(),
                account.as_ref(),
                &options,
            )?;
            hand_token(&token, token_out)
        })
    }
}

/// Lists the accounts signed in to this client's application at its
/// authority, in `*accounts_out`. Free it with `devicecode_accounts_free`.
///
/// # Safety
/// `client` is NULL or a live client; `accounts_out` is valid for writing
/// one pointer; `error_out` is NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_client_accounts(
    client: *const Client,
    accounts_out: *mut *mut Accounts,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            out_ptr(accounts_out, "accounts_out")?;
            let client = object(client, "client")?;
            let accounts = client.app.accounts()?;
            give(accounts_out, Accounts::new(&accounts));
            Ok(())
        })
    }
}

/// Signs `account` (a user name or home account id) out of this
/// application: its tokens are deleted from the token file, other
/// applications' stay. `*removed_out` (when not NULL) is 1 when something was
/// deleted, 0 when the account was not signed in (which is not an error).
///
/// # Safety
/// `client` is NULL or a live client; `account` is NULL or a NUL-terminated
/// string; `removed_out` is NULL or valid for writing one int; `error_out` is
/// NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_client_remove_account(
    client: *const Client,
    account: *const c_char,
    removed_out: *mut c_int,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            if !removed_out.is_null() {
                removed_out.write(0);
            }
            let client = object(client, "client")?;
            let name = crate::args::text(account, "the account")?;
            let removed = match client.account(Some(name)) {
                Ok(Some(account)) => client.app.remove_account(&account)?,
                Ok(None) => false,
                Err(e) if e.status() == DEVICECODE_INTERACTION_REQUIRED => false,
                Err(e) => return Err(e),
            };
            if !removed_out.is_null() {
                removed_out.write(c_int::from(removed));
            }
            Ok(())
        })
    }
}

/// Frees a client. NULL is ignored.
///
/// # Safety
/// `client` is NULL or a client from `devicecode_client_new`, freed once,
/// when no call with it is running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_client_free(client: *mut Client) {
    if !client.is_null() {
        // SAFETY: made by Box::into_raw, freed once as the caller promises.
        let client = unsafe { Box::from_raw(client) };
        no_unwind((), || drop(client));
    }
}
