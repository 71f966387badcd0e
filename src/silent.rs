//! Silent acquisition, as MSAL's `acquire_token_silent`: a cached access
//! token, else a refresh under the cache lock. Every decision of a silent call
//! is made here.

use crate::authority::{Endpoints, OIDC_SCOPES};
use crate::cache::Fetched;
use crate::cache::schema::{AppScope, CacheDoc, CachedRefresh, Wanted};
use crate::client::{PublicClient, scope_list};
use crate::clock::check_wall_clock;
use crate::device_flow::read_answer;
use crate::error::{Error, ErrorKind};
use crate::token::{Account, Token};
use log::{debug, warn};
use std::time::SystemTime;

/// OAuth errors after which only a new sign-in helps.
const SIGN_IN_AGAIN: [&str; 4] = [
    "invalid_grant",
    "interaction_required",
    "consent_required",
    "login_required",
];

/// Options for [`PublicClient::acquire_token_silent_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SilentOptions {
    /// Redeem the refresh token even when a cached access token would do
    /// (a token that was just revoked, or new claims).
    pub force_refresh: bool,
}

impl SilentOptions {
    /// Sets [`force_refresh`](Self::force_refresh).
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }
}

impl PublicClient {
    /// A token without showing a code: a cached access token for `scopes`
    /// with at least 5 minutes left, else one got by redeeming the cached
    /// refresh token (which the answer's rotated refresh token replaces).
    ///
    /// `account` is one of [`accounts`](Self::accounts); `None` means the only
    /// account signed in to this application.
    ///
    /// Fails with [`ErrorKind::InteractionRequired`] when no token can be had
    /// silently: nothing is cached, or the server refused the refresh token
    /// (`invalid_grant`, `interaction_required`, `consent_required`,
    /// `login_required`). Sign in with the device code then. The refused
    /// refresh token is kept, as MSAL does: a Conditional Access challenge
    /// can leave it valid, and the next sign-in replaces it. A network error or
    /// an HTTP 5xx is [`ErrorKind::Transport`] and retryable; the refresh
    /// token is kept.
    ///
    /// ```no_run
    /// use devicecode::{CancelHandle, FileCache, PublicClient};
    ///
    /// let app = PublicClient::builder("11111111-2222-3333-4444-555555555555")
    ///     .token_cache(FileCache::new("/var/lib/mydaemon/tokens.json"))
    ///     .build()?;
    /// let token = match app.acquire_token_silent(&["User.Read"], None) {
    ///     Ok(token) => token,
    ///     Err(e) if e.is_interaction_required() => {
    ///         app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())?
    ///     }
    ///     Err(e) => return Err(e),
    /// };
    /// # let _ = token;
    /// # Ok::<(), devicecode::Error>(())
    /// ```
    pub fn acquire_token_silent(
        &self,
        scopes: &[&str],
        account: Option<&Account>,
    ) -> Result<Token, Error> {
        self.acquire_token_silent_with(scopes, account, &SilentOptions::default())
    }

    /// As [`acquire_token_silent`](Self::acquire_token_silent), with options.
    pub fn acquire_token_silent_with(
        &self,
        scopes: &[&str],
        account: Option<&Account>,
        options: &SilentOptions,
    ) -> Result<Token, Error> {
        let started = self.clock.wall();
        // With a clock at 1970 every token looks valid for decades; at 2099,
        // expired. Neither is true: say what is wrong instead.
        check_wall_clock(started)?;
        let scopes = scope_list(scopes, &[]);
        let app = self.app_scope();
        let (hid, early) = {
            let doc = self.cache.read()?;
            let hid = pick_account(&doc, &app, account, &self.cache_description())?;
            let wanted = Wanted {
                scopes: &scopes,
                home_account_id: &hid,
            };
            match doc.access_token(&app, &wanted, started) {
                _ if options.force_refresh => (hid, None),
                Some(token) if !renewal_due(&token, started) => {
                    debug!("silent: a cached access token is still valid");
                    return Ok(token);
                }
                // The server asked for an early renewal (`refresh_in`): the
                // token stays usable if the renewal fails, as in MSAL.
                early => (hid, early),
            }
        };
        // Discovery (an issuer authority's first request) happens before
        // the lock: the lock is held for the refresh request alone.
        let endpoints = self.endpoints()?;
        let result = self.cache.store_token(&self.app_id(), self.clock.wall(), false, |doc| {
            // Under the lock, the file may hold what another process got
            // while we waited: use its token, or at least its refresh token
            // (the one we read before may be spent by now).
            if !options.force_refresh
                && let Some(token) = fresh(doc, &app, &scopes, &hid, self.clock.wall())
            {
                debug!("silent: another process refreshed meanwhile; using its tokens");
                return Ok(Fetched::Cached(token));
            }
            let Some(refresh) = doc.refresh_tokens(&app, &hid).into_iter().next() else {
                return Err(Error::new(
                    ErrorKind::InteractionRequired,
                    format!(
                        "no refresh token is cached for this account in {}: sign in with the device code",
                        self.cache_description()
                    ),
                ));
            };
            let mut token = self.redeem(&endpoints, &refresh, &scopes)?;
            same_user(&token, &hid)?;
            if token.account().is_none() {
                let known = doc.accounts(&app).into_iter().find(|a| a.home_account_id() == hid);
                token.keep_account(known);
            }
            Ok(Fetched::Issued {
                token,
                replaces: Some(refresh.key),
                grant: "refresh_token",
            })
        });
        match (result, early) {
            (Err(e), Some(cached)) if !e.is_interaction_required() => {
                warn!("the early refresh failed ({e:#}); using the cached access token");
                Ok(cached)
            }
            (result, _) => result,
        }
    }

    /// Redeems a refresh token (RFC 6749 section 6) for `scopes`.
    fn redeem(
        &self,
        endpoints: &Endpoints,
        refresh: &CachedRefresh,
        scopes: &[String],
    ) -> Result<Token, Error> {
        let extra: &[&str] = if self.authority.is_entra() {
            &OIDC_SCOPES
        } else {
            &[]
        };
        let named: Vec<&str> = scopes.iter().map(String::as_str).collect();
        // Sorted, as MSAL sends them.
        let mut asked = scope_list(&named, extra);
        asked.sort_unstable();
        let scope = asked.join(" ");
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.secret.secret()),
            ("scope", scope.as_str()),
        ];
        if self.authority.is_entra() {
            form.push(("client_info", "1"));
        }
        debug!("silent: redeeming the refresh token at {}", endpoints.token);
        let reply = self.http.post_form(&endpoints.token, &form)?;
        let answer = read_answer(&reply, "token answer", "the refresh request").map_err(|e| {
            match e.service_error() {
                Some(service) if SIGN_IN_AGAIN.contains(&service.error.as_str()) => Error::service(
                    ErrorKind::InteractionRequired,
                    "the server refused the cached refresh token; the account must sign in again with the device code",
                    service.clone(),
                ),
                _ => e,
            }
        })?;
        Token::from_answer(
            &answer,
            &asked,
            self.authority.environment(),
            self.clock.wall(),
        )
        .map_err(|e| e.with_status(reply.status))
    }

    pub(crate) fn app_scope(&self) -> AppScope<'_> {
        AppScope {
            client_id: &self.client_id,
            environment: self.authority.environment(),
            tenant: self.authority.tenant(),
            entra: self.authority.is_entra(),
        }
    }
}

/// A cached access token good for the call, unless the server asked for it to
/// be renewed early (`refresh_in`).
fn fresh(
    doc: &CacheDoc,
    app: &AppScope<'_>,
    scopes: &[String],
    hid: &str,
    now: SystemTime,
) -> Option<Token> {
    let wanted = Wanted {
        scopes,
        home_account_id: hid,
    };
    doc.access_token(app, &wanted, now)
        .filter(|token| !renewal_due(token, now))
}

/// A refresh answer must be for the account whose refresh token was redeemed
/// (OpenID Connect Core 12.2: the id_token's `sub` is the same). A token for
/// someone else is refused and nothing is saved: saving it would sign the
/// device in as a second account nobody chose.
fn same_user(token: &Token, hid: &str) -> Result<(), Error> {
    match token.account() {
        Some(account) if !hid.is_empty() && account.home_account_id() != hid => {
            Err(Error::invalid(format!(
                "the refresh answer is for another account ({}) than the one refreshed; it was not saved. The server or a proxy in front of it is misbehaving: report it to its operator",
                account.username()
            )))
        }
        _ => Ok(()),
    }
}

/// Whether the server's `refresh_in` advice says to renew the token by now.
fn renewal_due(token: &Token, now: SystemTime) -> bool {
    token.refresh_at().is_some_and(|at| at <= now)
}

/// The home account id a silent call is for.
fn pick_account(
    doc: &CacheDoc,
    app: &AppScope<'_>,
    account: Option<&Account>,
    cache: &str,
) -> Result<String, Error> {
    if let Some(account) = account {
        if account.environment() != app.environment {
            return Err(Error::config(format!(
                "the account {} signed in at {}, not at this client's authority ({})",
                account.username(),
                account.environment(),
                app.environment
            )));
        }
        return Ok(account.home_account_id().to_string());
    }
    let accounts = doc.accounts(app);
    match accounts.as_slice() {
        [only] => Ok(only.home_account_id().to_string()),
        [] if doc.has_anonymous_tokens(app) => Ok(String::new()),
        [] => Err(Error::new(
            ErrorKind::InteractionRequired,
            format!(
                "no account is signed in to this application in {cache}: sign in with the device code"
            ),
        )),
        many => Err(Error::config(format!(
            "{} accounts are signed in ({}): choose one from accounts() and pass it",
            many.len(),
            many.iter()
                .map(Account::username)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
