//! The settings a client is made from, set one call at a time (as libcurl
//! does), so the ABI has no struct layout to keep stable.

use crate::args::{give, object_mut, optional_text, out_ptr, text};
use crate::display::{CDisplay, FinishedFn, ShowFn};
use crate::error::{Error, guard, no_unwind};
use devicecode_rs::Authority;
use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::time::Duration;

/// Where the client keeps its tokens.
#[derive(Clone)]
pub(crate) enum CacheChoice {
    /// In memory only, forgotten when the client is freed.
    Memory,
    /// `$STATE_DIRECTORY`, `$XDG_STATE_HOME/devicecode` or
    /// `~/.local/state/devicecode`, as the `devicecode` command uses.
    DefaultFile,
    /// This token file.
    File(PathBuf),
}

/// The settings of a client.
///
/// Thread safety: use a config from one thread at a time. Free it with
/// `devicecode_config_free`; clients made from it do not need it any more.
pub struct Config {
    pub(crate) client_id: String,
    pub(crate) authority: Option<Authority>,
    pub(crate) scopes: Vec<String>,
    pub(crate) cache: CacheChoice,
    pub(crate) ca_pems: Vec<Vec<u8>>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) io_timeout: Option<Duration>,
    pub(crate) display: Option<CDisplay>,
}

/// Makes the settings for the application (client) id `client_id`, in
/// `*config_out`. Until told otherwise the client signs in to Entra ID's
/// `organizations`, keeps tokens in memory only, trusts the bundled root
/// certificates and shows the code on stdout. Free it with
/// `devicecode_config_free`.
///
/// # Safety
/// `client_id` is NULL or a NUL-terminated string; `config_out` is valid for
/// writing one pointer; `error_out` is NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_new(
    client_id: *const c_char,
    config_out: *mut *mut Config,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            out_ptr(config_out, "config_out")?;
            let client_id = text(client_id, "the client id")?;
            give(
                config_out,
                Config {
                    client_id: client_id.to_string(),
                    authority: None,
                    scopes: Vec::new(),
                    cache: CacheChoice::Memory,
                    ca_pems: Vec::new(),
                    connect_timeout: None,
                    io_timeout: None,
                    display: None,
                },
            );
            Ok(())
        })
    }
}

/// Sets the authority once; a second one is a mistake worth reporting.
fn choose(
    config: &mut Config,
    authority: Result<Authority, devicecode_rs::Error>,
) -> Result<(), Error> {
    if config.authority.is_some() {
        return Err(Error::invalid(
            "an authority is already set: give exactly one of a tenant, an authority URL, an issuer, or the two endpoints",
        ));
    }
    config.authority = Some(authority?);
    Ok(())
}

/// Signs in to an Entra ID tenant: a GUID, a verified domain, or
/// `organizations`, `common` or `consumers`. Only one of the four authority
/// calls may be made on a config.
///
/// # Safety
/// `config` is NULL or a live config used by no other thread during the
/// call; `tenant` is NULL or a NUL-terminated string; `error_out` is NULL or
/// valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_tenant(
    config: *mut Config,
    tenant: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            choose(config, Authority::entra(text(tenant, "the tenant")?))
        })
    }
}

/// Signs in to an Entra-style authority URL, e.g.
/// `https://login.microsoftonline.com/contoso.onmicrosoft.com`.
///
/// # Safety
/// As `devicecode_config_set_tenant`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_authority(
    config: *mut Config,
    url: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            choose(
                config,
                Authority::entra_url(text(url, "the authority URL")?),
            )
        })
    }
}

/// Signs in to any OpenID Connect / RFC 8414 server, whose endpoints are
/// found by discovery at its issuer URL.
///
/// # Safety
/// As `devicecode_config_set_tenant`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_issuer(
    config: *mut Config,
    url: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            choose(config, Authority::issuer(text(url, "the issuer URL")?))
        })
    }
}

/// Signs in with explicit device authorization and token endpoints (no
/// discovery request).
///
/// # Safety
/// As `devicecode_config_set_tenant`, for both strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_endpoints(
    config: *mut Config,
    device_authorization_url: *const c_char,
    token_url: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            let device = text(
                device_authorization_url,
                "the device authorization endpoint",
            )?;
            let token = text(token_url, "the token endpoint")?;
            choose(config, Authority::endpoints(device, token))
        })
    }
}

/// Adds a scope to request (e.g. `User.Read`); call once per scope. For
/// Entra ID, `openid profile offline_access` are always added.
///
/// # Safety
/// As `devicecode_config_set_tenant`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_add_scope(
    config: *mut Config,
    scope: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            let scope = text(scope, "the scope")?;
            if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid(format!(
                    "the scope {scope:?} is empty or has spaces: add one scope per call"
                )));
            }
            config.scopes.push(scope.to_string());
            Ok(())
        })
    }
}

/// Keeps tokens in the token file `path` (MSAL's format, mode 0600, with a
/// lock file next to it), or, for NULL, in the `devicecode` command's
/// default file (`$STATE_DIRECTORY`, `$XDG_STATE_HOME/devicecode` or
/// `~/.local/state/devicecode`, `tokens.json`).
///
/// # Safety
/// As `devicecode_config_set_tenant`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_cache_file(
    config: *mut Config,
    path: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            config.cache = match optional_text(path, "the token file path")? {
                Some("") => {
                    return Err(Error::invalid(
                        "the token file path is empty: give a path, or NULL for the default",
                    ));
                }
                Some(path) => CacheChoice::File(PathBuf::from(path)),
                None => CacheChoice::DefaultFile,
            };
            Ok(())
        })
    }
}

/// Also trusts the root certificates of the PEM file at `path` (a
/// TLS-inspecting proxy, a private authority). The file is read now; its
/// certificates are checked by `devicecode_client_new`.
///
/// # Safety
/// As `devicecode_config_set_tenant`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_add_ca_file(
    config: *mut Config,
    path: *const c_char,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            let path = text(path, "the CA file path")?;
            let pem = std::fs::read(path)
                .map_err(|e| Error::invalid(format!("cannot read the CA file {path:?}: {e}")))?;
            config.ca_pems.push(pem);
            Ok(())
        })
    }
}

/// Sets the time allowed to connect (TLS included; default 10 s) and to
/// send a request or receive an answer (default 30 s each), in
/// milliseconds; 0 keeps the default, and at most one hour is used.
///
/// # Safety
/// `config` is NULL or a live config used by no other thread during the
/// call; `error_out` is NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_timeouts(
    config: *mut Config,
    connect_ms: u64,
    io_ms: u64,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            let millis = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
            config.connect_timeout = millis(connect_ms);
            config.io_timeout = millis(io_ms);
            Ok(())
        })
    }
}

/// Shows the code through `show` instead of on stdout, and tells `finished`
/// (may be NULL) how each wait ended; both get `user_data`. With `show`
/// NULL the code goes to stdout and `finished` is still called.
///
/// The callbacks run on the thread that calls `devicecode_client_login`, so
/// if several threads log in with one client at once, they run concurrently.
/// They must not free the client.
///
/// # Safety
/// `config` is NULL or a live config used by no other thread during the
/// call; the callbacks, when not NULL, are functions with the documented
/// signatures, callable with `user_data` for as long as a client made from
/// this config lives; `error_out` is NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_set_display(
    config: *mut Config,
    show: ShowFn,
    finished: FinishedFn,
    user_data: *mut c_void,
    error_out: *mut *mut Error,
) -> c_int {
    // SAFETY: every pointer is as the caller promises.
    unsafe {
        guard(error_out, || {
            let config = object_mut(config, "config")?;
            config.display = Some(CDisplay {
                show,
                finished,
                user_data,
            });
            Ok(())
        })
    }
}

/// Frees a config. NULL is ignored.
///
/// # Safety
/// `config` is NULL or a config from `devicecode_config_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn devicecode_config_free(config: *mut Config) {
    if !config.is_null() {
        // SAFETY: made by Box::into_raw in `give`, freed once as promised.
        let config = unsafe { Box::from_raw(config) };
        no_unwind((), || drop(config));
    }
}
