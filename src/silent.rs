//! Silent acquisition, as MSAL's `acquire_token_silent`: a cached access
//! token, else a refresh under the cache lock. Every decision of a silent call
//! is made here.

use crate::authority::Endpoints;
use crate::cache::schema::{AppScope, CacheDoc, CachedRefresh, Wanted};
use crate::cache::{AppId, Cache, Fetched};
use crate::clock::{Clock, check_wall_clock};
use crate::dpop::{self, Dpop};
use crate::error::{Error, ErrorKind};
use crate::http::{DEFAULT_IDLE, Http};
use crate::oauth::{self, Answer};
use crate::request::{REFRESH_TOKEN_GRANT, Requests, scope_list};
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

/// Options for [`PublicClient::acquire_token_silent_with`](crate::PublicClient::acquire_token_silent_with).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SilentOptions {
    /// Redeem the refresh token even when a cached access token would do
    /// (a token that was just revoked, or new claims).
    pub force_refresh: bool,
    /// A resource's claims challenge (a JSON object, or the base64 of one
    /// that its header carries; see
    /// [`claims_challenge_from_www_authenticate`](crate::claims_challenge_from_www_authenticate)):
    /// the cached access token is skipped, as it is the one the resource
    /// refused, and the refresh asks for these claims, merged with the
    /// client capabilities.
    pub claims_challenge: Option<String>,
}

impl SilentOptions {
    /// Sets [`force_refresh`](Self::force_refresh).
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }

    /// Sets [`claims_challenge`](Self::claims_challenge).
    pub fn claims_challenge(mut self, claims: impl Into<String>) -> Self {
        self.claims_challenge = Some(claims.into());
        self
    }
}

/// Everything a silent call needs from the client.
pub(crate) struct Silent<'a> {
    pub http: &'a Http,
    pub clock: &'a dyn Clock,
    pub cache: &'a Cache,
    pub app: &'a AppId,
    pub requests: &'a Requests,
    /// The token endpoint, found by discovery for an issuer authority: run
    /// before the lock is taken, never under it.
    pub endpoints: &'a dyn Fn() -> Result<Endpoints, Error>,
    /// Proofs of possession for the refresh, when DPoP is on.
    pub dpop: Option<&'a Dpop>,
}

/// A cached access token for `scopes`, or one got by redeeming the cached
/// refresh token (see `PublicClient::acquire_token_silent`).
pub(crate) fn acquire(
    ctx: &Silent<'_>,
    scopes: &[&str],
    account: Option<&Account>,
    options: &SilentOptions,
) -> Result<Token, Error> {
    let started = ctx.clock.wall();
    // With a clock at 1970 every token looks valid for decades; at 2099,
    // expired. Neither is true: say what is wrong instead.
    check_wall_clock(started)?;
    let scopes = scope_list(scopes, &[]);
    let app = ctx.app.scope();
    let claims = ctx.requests.claims(options.claims_challenge.as_deref())?;
    // A claims challenge means the resource refused the cached token: it is
    // neither served nor fallen back on (MSAL bypasses the cache too).
    let bypass = options.force_refresh || options.claims_challenge.is_some();
    let (hid, early) = {
        let doc = ctx.cache.read()?;
        let hid = pick_account(&doc, &app, account, &ctx.cache.describe())?;
        let wanted = Wanted {
            scopes: &scopes,
            home_account_id: &hid,
        };
        match doc.access_token(&app, &wanted, started) {
            _ if bypass => (hid, None),
            Some(token) if !renewal_due(&token, started) => {
                debug!("silent: a cached access token is still valid");
                return Ok(token);
            }
            // Inside the token's refresh-ahead window (spread per token, or
            // the server's `refresh_in`): it stays usable if the renewal
            // fails, as in MSAL.
            early => (hid, early),
        }
    };
    // Discovery (an issuer authority's first request) happens before the
    // lock: the lock is held for the refresh request alone.
    let endpoints = (ctx.endpoints)()?;
    let result = ctx
        .cache
        .store_token(ctx.app, ctx.clock.wall(), false, |doc| {
            // Under the lock, the file may hold what another process got
            // while we waited: use its token, or at least its refresh token
            // (the one we read before may be spent by now).
            if !bypass
                && let Some(token) = fresh(doc, &app, &scopes, &hid, ctx.clock.wall())
            {
                debug!("silent: another process refreshed meanwhile; using its tokens");
                return Ok(Fetched::Cached(token));
            }
            let Some(refresh) = doc.refresh_tokens(&app, &hid).into_iter().next() else {
                return Err(Error::new(
                    ErrorKind::InteractionRequired,
                    format!(
                        "no refresh token is cached for this account in {}: sign in with the device code",
                        ctx.cache.describe()
                    ),
                ));
            };
            check_binding(ctx, &refresh)?;
            let mut token = redeem(ctx, &endpoints, &refresh, &scopes, claims.as_deref())?;
            same_user(&token, &hid)?;
            if token.account().is_none() {
                token.keep_account(doc.account(&app, &hid));
            }
            Ok(Fetched::Issued {
                token,
                replaces: Some(refresh.key),
                grant: REFRESH_TOKEN_GRANT,
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

/// A refresh token bound to a DPoP key is only ever sent with a proof by
/// that key: with another key (or none) the server refuses it, and a strict
/// one may revoke the sign-in for it. A lost key means signing in again.
fn check_binding(ctx: &Silent<'_>, refresh: &CachedRefresh) -> Result<(), Error> {
    let Some(bound) = refresh.dpop_thumbprint.as_deref() else {
        return Ok(());
    };
    match ctx.dpop.map(Dpop::thumbprint) {
        Some(have) if have == bound => Ok(()),
        Some(have) => Err(Error::new(
            ErrorKind::InteractionRequired,
            format!(
                "the cached refresh token is bound to the DPoP key {bound}, but this client's key is {have}: the key was lost or replaced, so the token cannot be used; sign in again with the device code (and keep the key file from now on)"
            ),
        )),
        None => Err(Error::new(
            ErrorKind::InteractionRequired,
            format!(
                "the cached refresh token is bound to the DPoP key {bound}, and this client has DPoP off: enable it with that key (dpop_key_file) or sign in again with the device code"
            ),
        )),
    }
}

/// Redeems a refresh token (RFC 6749 section 6) for `scopes`.
fn redeem(
    ctx: &Silent<'_>,
    endpoints: &Endpoints,
    refresh: &CachedRefresh,
    scopes: &[String],
    claims: Option<&str>,
) -> Result<Token, Error> {
    let asked = ctx.requests.refresh_scopes(scopes);
    let scope = asked.join(" ");
    let form = ctx
        .requests
        .refresh(refresh.secret.secret(), &scope, claims);
    debug!("silent: redeeming the refresh token at {}", endpoints.token);
    let wall = || ctx.clock.wall();
    let reply = dpop::post_token_request(
        ctx.http,
        ctx.dpop,
        &endpoints.token,
        &form,
        DEFAULT_IDLE,
        &wall,
    )?;
    let now = ctx.clock.wall();
    let answer = match oauth::read(&reply, "token answer", "the refresh request") {
        Answer::Success(answer) => answer,
        // A server in trouble (5xx, 429) decides nothing, whatever its body
        // says: only a refusal at a client status means "sign in again".
        Answer::Refused(service)
            if service.status < 500
                && service.status != 429
                && SIGN_IN_AGAIN.contains(&service.error.as_str()) =>
        {
            return Err(Error::service(
                ErrorKind::InteractionRequired,
                "the server refused the cached refresh token; the account must sign in again with the device code",
                service,
            ));
        }
        // 5xx, 429 and `temporarily_unavailable` are outages, whatever
        // the body: Transport, retryable, with the server's Retry-After.
        Answer::Refused(service) => {
            let error = oauth::refusal(service, "the refresh request");
            return Err(oauth::advised(error, &reply, now));
        }
        Answer::Transient(error) => return Err(oauth::advised(error, &reply, now)),
        Answer::Invalid(error) => return Err(error),
    };
    let mut token = Token::from_answer(&answer, &asked, &ctx.app.environment, now)
        .map_err(|e| e.with_status(reply.status))?;
    if let Some(dpop) = ctx.dpop {
        dpop.accept(&mut token)?;
    }
    Ok(token)
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

/// Whether a silent call at `now` renews the token rather than serve it: its
/// refresh-ahead point (spread per token, see `refresh_ahead`) has passed.
fn renewal_due(token: &Token, now: SystemTime) -> bool {
    token.renew_after() <= now
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
