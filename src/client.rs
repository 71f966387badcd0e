//! The public client: configuration, and the two steps of a sign-in.

use crate::authority::{Authority, Endpoints};
use crate::cache::{AppId, Cache, Fetched, MemoryCache, TokenStore};
use crate::cancel::CancelHandle;
use crate::clock::{Clock, SystemClock};
use crate::device_flow::{self, DeviceFlow, WaitContext};
use crate::display::{CodeDisplay, Outcome, StdoutDisplay};
use crate::dpop::{Dpop, ResourceHeaders};
#[cfg(feature = "dpop")]
use crate::dpop::{DpopKey, DpopSigner};
use crate::error::{Error, ErrorKind};
use crate::http::{Http, HttpSettings, ProxySetting, check_server_url, parse_root_pem};
use crate::json::Object;
use crate::oauth;
use crate::request::{DEVICE_CODE_GRANT, Requests};
use crate::silent::{self, Silent, SilentOptions};
use crate::token::{Account, Token};
use log::debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The longest HTTP timeout a builder takes: beyond it a board is better off
/// failing and retrying, and deadlines stay far from overflowing.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// A public (secretless) OAuth client that signs a device in with the device
/// authorization grant.
///
/// Every request of a sign-in (code, polls, token) travels over one
/// kept-alive TLS connection of the client's HTTP agent, which clients set
/// up alike in one process share (one pool, one root store). The agent is
/// set up at the client's first request: a client that only answers from
/// the token cache never sets one up.
///
/// ```no_run
/// use devicecode::{Authority, CancelHandle, PublicClient};
///
/// let app = PublicClient::builder("11111111-2222-3333-4444-555555555555")
///     .authority(Authority::entra("contoso.onmicrosoft.com")?)
///     .build()?;
/// let flow = app.start_device_flow(&["User.Read"])?; // one request
/// app.display(&flow)?;                               // prints the code
/// let token = app.wait_for_token(&flow, &CancelHandle::new())?;
/// println!("signed in as {}", token.account().map_or("?", |a| a.username()));
/// # Ok::<(), devicecode::Error>(())
/// ```
pub struct PublicClient {
    client_id: String,
    authority: Authority,
    http: Http,
    clock: Arc<dyn Clock>,
    cache: Cache,
    // Who its tokens belong to in the cache, and what it sends.
    app: AppId,
    requests: Requests,
    display: Box<dyn CodeDisplay>,
    // Discovery runs once per client; Entra and explicit endpoints never need it.
    endpoints: Mutex<Option<Endpoints>>,
    dpop: Option<Dpop>,
}

impl std::fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicClient")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl PublicClient {
    /// Starts configuring a client for the application (client) id.
    pub fn builder(client_id: impl Into<String>) -> PublicClientBuilder {
        PublicClientBuilder {
            client_id: client_id.into(),
            authority: None,
            http: HttpSettings::default(),
            clock: None,
            display: None,
            cache: None,
            capabilities: Vec::new(),
            #[cfg(feature = "dpop")]
            dpop: None,
            #[cfg(feature = "dpop")]
            require_dpop: false,
            error: None,
        }
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Where this client signs in.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Step 1: asks the server for a device code.
    ///
    /// For Entra ID, `openid profile offline_access` are added to `scopes` (as
    /// MSAL does) so that the answer carries an id_token and a refresh token.
    /// For an Entra authority this is the first and only request before the
    /// code can be shown; an issuer authority first reads its discovery
    /// document (once per client).
    ///
    /// Before any request, the token cache is checked and room is reserved
    /// for what the sign-in will bring (see
    /// [`TokenStore::prepare_save`]): a cache that cannot be written fails
    /// here with [`ErrorKind::Cache`], before anyone is asked to sign in.
    ///
    /// With [client capabilities](PublicClientBuilder::client_capabilities),
    /// the code request and every poll carry them as `claims`.
    pub fn start_device_flow(&self, scopes: &[&str]) -> Result<DeviceFlow, Error> {
        self.start_device_flow_with_claims(scopes, None)
    }

    /// As [`start_device_flow`](Self::start_device_flow), for a sign-in that
    /// must satisfy a resource's claims challenge (the JSON object, e.g. from
    /// [`claims_challenge_from_www_authenticate`](crate::claims_challenge_from_www_authenticate)):
    /// the code request and every poll send it, merged with the client
    /// capabilities. A challenge that is not a JSON object fails with
    /// [`ErrorKind::Configuration`] before any request.
    pub fn start_device_flow_with_claims(
        &self,
        scopes: &[&str],
        claims_challenge: Option<&str>,
    ) -> Result<DeviceFlow, Error> {
        let claims = self.requests.claims(claims_challenge)?;
        self.cache.prepare()?;
        let endpoints = self.endpoints()?;
        device_flow::request_code(
            &self.wait_context(),
            &endpoints.device_authorization,
            &endpoints.token,
            self.requests.scopes(scopes),
            claims,
        )
    }

    /// Shows the code with the configured [`CodeDisplay`] (stdout by default).
    pub fn display(&self, flow: &DeviceFlow) -> Result<(), Error> {
        self.display.show(flow).map_err(|e| {
            Error::new(ErrorKind::Display, "the device code could not be shown").with_source(e)
        })
    }

    /// Step 2: polls until the person signs in, declines, or the code expires,
    /// or until `cancel` is triggered. The tokens are saved in the token
    /// cache before this returns; the display hears how it ended.
    pub fn wait_for_token(&self, flow: &DeviceFlow, cancel: &CancelHandle) -> Result<Token, Error> {
        self.wait(flow, cancel, None)
    }

    /// As [`wait_for_token`](Self::wait_for_token), giving up with
    /// [`ErrorKind::TimedOut`] after `limit` (monotonic time).
    pub fn wait_for_token_with_timeout(
        &self,
        flow: &DeviceFlow,
        cancel: &CancelHandle,
        limit: Duration,
    ) -> Result<Token, Error> {
        self.wait(flow, cancel, Some(limit))
    }

    /// Both steps: requests a code, shows it, and waits.
    pub fn sign_in_with_device_code(
        &self,
        scopes: &[&str],
        cancel: &CancelHandle,
    ) -> Result<Token, Error> {
        let flow = self.start_device_flow(scopes)?;
        self.display(&flow)?;
        self.wait_for_token(&flow, cancel)
    }

    fn wait(
        &self,
        flow: &DeviceFlow,
        cancel: &CancelHandle,
        limit: Option<Duration>,
    ) -> Result<Token, Error> {
        let ctx = self.wait_context();
        // The device code is spent once the server answers: from then on a
        // cache failure must not cost the tokens (they come back with
        // `Token::cache_error` set, and stay in memory until saved).
        let result = device_flow::wait(&ctx, flow, cancel, limit).and_then(|token| {
            self.cache
                .store_token(&self.app, self.clock.wall(), true, |_| {
                    Ok(Fetched::Issued {
                        token,
                        replaces: None,
                        grant: DEVICE_CODE_GRANT,
                    })
                })
        });
        match &result {
            Ok(token) => self.display.finished(&Outcome::SignedIn(token.account())),
            Err(error) => self.display.finished(&Outcome::Failed(error)),
        }
        result
    }

    /// The accounts signed in to this application at this authority, as
    /// the token cache holds them.
    pub fn accounts(&self) -> Result<Vec<Account>, Error> {
        Ok(self.cache.read()?.accounts(&self.app.scope()))
    }

    /// Signs `account` out of this application: its access, refresh and id
    /// tokens are deleted from the cache, and nothing else (other
    /// applications' tokens stay). Returns whether anything was deleted.
    pub fn remove_account(&self, account: &Account) -> Result<bool, Error> {
        let app = self.app.scope();
        self.cache.update(|doc| {
            let removed = doc.remove_account(&app, account.home_account_id());
            Ok((removed > 0, removed > 0))
        })
    }

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
        let endpoints = || self.endpoints();
        let ctx = Silent {
            http: &self.http,
            clock: self.clock.as_ref(),
            cache: &self.cache,
            app: &self.app,
            requests: &self.requests,
            endpoints: &endpoints,
            dpop: self.dpop.as_ref(),
        };
        silent::acquire(&ctx, scopes, account, options)
    }

    fn wait_context(&self) -> WaitContext<'_> {
        WaitContext {
            http: &self.http,
            clock: self.clock.as_ref(),
            requests: &self.requests,
            environment: self.authority.environment(),
            display: self.display.as_ref(),
            dpop: self.dpop.as_ref(),
        }
    }

    /// The headers for a request to a resource (an API) with `token`:
    /// `Authorization: DPoP <token>` and a fresh `DPoP` proof for `method`
    /// and `url` (with the token's hash, `ath`, and the newest nonce the
    /// resource gave, see [`dpop_nonce_from_resource`](Self::dpop_nonce_from_resource))
    /// for a DPoP-bound token; `Authorization: Bearer <token>` alone for a
    /// Bearer token. Make them for each request: a proof is good once.
    ///
    /// Fails with [`ErrorKind::Configuration`] for a DPoP-bound token when
    /// this client has DPoP off or another key (the token is useless
    /// without its key), or for a method that is not an HTTP token.
    pub fn resource_headers(
        &self,
        token: &Token,
        method: &str,
        url: &str,
    ) -> Result<ResourceHeaders, Error> {
        let authorization = token.authorization_header()?;
        if !token.token_type().eq_ignore_ascii_case("DPoP") {
            return Ok(ResourceHeaders {
                authorization,
                dpop: None,
            });
        }
        let Some(dpop) = &self.dpop else {
            return Err(Error::config(
                "the token is DPoP-bound, and this client has DPoP off: build it with the token's key (dpop_key_file) to use the token",
            ));
        };
        if token
            .dpop_thumbprint()
            .is_some_and(|bound| bound != dpop.thumbprint())
        {
            return Err(Error::config(
                "the token is bound to another DPoP key than this client's: use the client that got it",
            ));
        }
        let method = method.trim().to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(Error::config(format!(
                "'{method}' is not an HTTP method (GET, POST, ...)"
            )));
        }
        let proof = dpop.proof(
            &method,
            url,
            self.clock.wall(),
            Some(token.access_token().secret()),
        )?;
        Ok(ResourceHeaders {
            authorization,
            dpop: Some(proof),
        })
    }

    /// Keeps the `DPoP-Nonce` a resource sent (with a `401` and
    /// `WWW-Authenticate: DPoP error="use_dpop_nonce"`, or on any answer):
    /// the next [`resource_headers`](Self::resource_headers) for that
    /// server put it in their proof. Does nothing when DPoP is off.
    pub fn dpop_nonce_from_resource(&self, url: &str, nonce: &str) {
        if let Some(dpop) = &self.dpop {
            dpop.remember_nonce(url, Some(nonce));
        }
    }

    /// The RFC 7638 thumbprint of the DPoP key (what servers bind tokens
    /// to, `cnf.jkt`), or `None` when DPoP is off. Safe to log.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.dpop.as_ref().map(Dpop::thumbprint)
    }

    fn endpoints(&self) -> Result<Endpoints, Error> {
        if let Some(known) = self.authority.known_endpoints() {
            return Ok(known);
        }
        let mut cached = self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(endpoints) = cached.as_ref() {
            return Ok(endpoints.clone());
        }
        let endpoints = self.discover()?;
        *cached = Some(endpoints.clone());
        Ok(endpoints)
    }

    /// Reads the OpenID Connect discovery document, then the RFC 8414 one.
    fn discover(&self) -> Result<Endpoints, Error> {
        let Some((issuer, urls)) = self.authority.discovery_urls() else {
            return Err(Error::config("this authority has no discovery document"));
        };
        let mut last_error = None;
        for url in urls {
            let reply = self.http.get(&url)?;
            if reply.status == 404 {
                debug!("no discovery document at {url}");
                last_error = Some(Error::config(format!(
                    "the issuer '{issuer}' publishes no discovery document (HTTP 404 at {url}); check the issuer URL or give the endpoints explicitly"
                )));
                continue;
            }
            let doc = oauth::success(&reply, "discovery document", "the discovery request")?;
            return endpoints_from_discovery(&doc, issuer, &url);
        }
        Err(last_error.unwrap_or_else(|| Error::config("no discovery document was found")))
    }
}

/// The endpoints a discovery document (from `url`) gives, if it is the
/// issuer's own and names them as URLs we may send to.
pub(crate) fn endpoints_from_discovery(
    doc: &Object,
    issuer: &str,
    url: &str,
) -> Result<Endpoints, Error> {
    let named = doc.str("issuer")?.unwrap_or("");
    if named.trim_end_matches('/') != issuer {
        return Err(Error::invalid(format!(
            "the discovery document at {url} names the issuer '{named}', not '{issuer}': refusing to use it"
        )));
    }
    let device = doc.str("device_authorization_endpoint")?.ok_or_else(|| {
        Error::config(format!(
            "the issuer '{issuer}' does not advertise a device_authorization_endpoint: it may not support the device flow; give the endpoints explicitly if it does"
        ))
    })?;
    let token = doc.required_str("token_endpoint")?;
    check_server_url(device, "device_authorization_endpoint")?;
    check_server_url(token, "token_endpoint")?;
    Ok(Endpoints {
        device_authorization: device.to_string(),
        token: token.to_string(),
    })
}

/// Configures a [`PublicClient`]. Errors in the settings are reported by
/// [`build`](Self::build).
pub struct PublicClientBuilder {
    client_id: String,
    authority: Option<Authority>,
    http: HttpSettings,
    clock: Option<Arc<dyn Clock>>,
    display: Option<Box<dyn CodeDisplay>>,
    cache: Option<Box<dyn TokenStore>>,
    capabilities: Vec<String>,
    #[cfg(feature = "dpop")]
    dpop: Option<Arc<dyn DpopSigner>>,
    #[cfg(feature = "dpop")]
    require_dpop: bool,
    error: Option<Error>,
}

impl std::fmt::Debug for PublicClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicClientBuilder")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl PublicClientBuilder {
    /// Where to sign in. Defaults to `Authority::entra("organizations")`
    /// (work and school accounts of any tenant).
    pub fn authority(mut self, authority: Authority) -> Self {
        self.authority = Some(authority);
        self
    }

    /// How the code is shown. Defaults to [`StdoutDisplay`].
    pub fn display(mut self, display: impl CodeDisplay + 'static) -> Self {
        self.display = Some(Box::new(display));
        self
    }

    /// Where tokens are kept: a [`FileCache`](crate::FileCache), or your own
    /// [`TokenStore`]. Defaults to a [`MemoryCache`](crate::MemoryCache),
    /// which forgets everything when the process ends.
    pub fn token_cache(mut self, store: impl TokenStore + 'static) -> Self {
        self.cache = Some(Box::new(store));
        self
    }

    /// Client capabilities, MSAL's `client_capabilities`: `["CP1"]` says
    /// this client handles claims challenges (continuous access evaluation).
    /// They are sent as `claims={"access_token":{"xms_cc":{"values":["CP1"]}}}`
    /// on every token request, merged with any claims challenge. Entra then
    /// issues CAE access tokens that live up to 28 hours (it revokes them by
    /// event instead: a disabled account, a changed password), so a board
    /// refreshes far less often. Empty and blank names are ignored.
    pub fn client_capabilities<I, S>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.capabilities = capabilities
            .into_iter()
            .map(Into::into)
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        self
    }

    /// Turns DPoP (RFC 9449) on with this proof key: every token request
    /// (each poll, each refresh) carries a proof signed by it, so the tokens a
    /// DPoP server issues are bound to the key, and a copy of the token file
    /// is useless without it. A server that ignores DPoP (Entra ID) still
    /// issues `Bearer` tokens, which are accepted unless
    /// [`require_dpop`](Self::require_dpop) is set. Off by default.
    ///
    /// Give a [`DpopKey`] (see [`DpopKey::load_or_create`] to keep it in a
    /// private file), or your own [`DpopSigner`] for a key in a TPM.
    #[cfg(feature = "dpop")]
    pub fn dpop(mut self, signer: impl DpopSigner + 'static) -> Self {
        self.dpop = Some(Arc::new(signer));
        self
    }

    /// As [`dpop`](Self::dpop), with the key kept in a private file at
    /// `path` (PKCS#8 PEM, mode 0600), made there on first use. A key file
    /// that cannot be read or written fails [`build`](Self::build).
    #[cfg(feature = "dpop")]
    pub fn dpop_key_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        match DpopKey::load_or_create(path) {
            Ok(key) => self.dpop = Some(Arc::new(key)),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// With DPoP on, refuses tokens the server did not bind to the key (it
    /// answered `token_type` `Bearer`): the sign-in or refresh fails with
    /// [`ErrorKind::InvalidResponse`] and nothing is saved. Off by default.
    #[cfg(feature = "dpop")]
    pub fn require_dpop(mut self, required: bool) -> Self {
        self.require_dpop = required;
        self
    }

    /// The clock used for deadlines, intervals and expiries. Defaults to
    /// [`SystemClock`]; tests pass a [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Time allowed to open a connection, TLS included (default 10 s; at
    /// most one hour).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// Time allowed to send a request and to receive an answer (default 30 s
    /// each; at most one hour).
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.http.io_timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// Sends every request through this proxy (`http://host:port`,
    /// `socks5://…` is not supported). By default `HTTPS_PROXY`, `ALL_PROXY`
    /// and `NO_PROXY` are read from the environment.
    pub fn proxy(mut self, url: &str) -> Self {
        self.http.proxy = ProxySetting::Url(url.to_string());
        self
    }

    /// Connects directly, ignoring proxy settings in the environment.
    pub fn no_proxy(mut self) -> Self {
        self.http.proxy = ProxySetting::Direct;
        self
    }

    /// Trusts the root certificates of a PEM bundle in addition to the
    /// bundled ones: for a TLS-inspecting corporate proxy or a test authority.
    /// Every certificate of the bundle is used. A bundle that is not PEM
    /// certificates, or has one cut short or damaged, fails
    /// [`build`](Self::build); the certificates are parsed at the client's
    /// first request (a client served from the token cache never pays for
    /// it), which fails if one that looked whole cannot be a root (see
    /// [`check_root_certificates_pem`](crate::check_root_certificates_pem)).
    pub fn root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.add_roots(pem.as_ref());
        self
    }

    /// Trusts only the root certificates of this PEM bundle (the bundled
    /// roots are dropped); may be called more than once to add bundles.
    pub fn only_root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.http.replace_roots = true;
        self.add_roots(pem.as_ref());
        self
    }

    fn add_roots(&mut self, pem: &[u8]) {
        match parse_root_pem(pem) {
            Ok(certs) => self.http.extra_roots.extend(certs),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Checks the settings and makes the client.
    pub fn build(self) -> Result<PublicClient, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let client_id = self.client_id.trim().to_string();
        if client_id.is_empty()
            || client_id
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::config(
                "the client id is empty or has spaces: give the application (client) id of the app registration",
            ));
        }
        let authority = match self.authority {
            Some(authority) => authority,
            None => Authority::entra("organizations")?,
        };
        let app = AppId {
            client_id: client_id.clone(),
            environment: authority.environment().to_string(),
            tenant: authority.tenant().map(str::to_string),
            entra: authority.is_entra(),
        };
        #[cfg(feature = "dpop")]
        let dpop = {
            if self.require_dpop && self.dpop.is_none() {
                return Err(Error::config(
                    "DPoP is required but no DPoP key was given: call dpop() or dpop_key_file() too",
                ));
            }
            match self.dpop {
                Some(signer) => Some(Dpop::new(signer, self.require_dpop)?),
                None => None,
            }
        };
        #[cfg(not(feature = "dpop"))]
        let dpop: Option<Dpop> = None;
        Ok(PublicClient {
            dpop,
            requests: Requests::new(&client_id, authority.is_entra(), self.capabilities),
            app,
            client_id,
            authority,
            http: Http::new(&self.http)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            display: self
                .display
                .unwrap_or_else(|| Box::new(StdoutDisplay::new())),
            // The lock is held for one refresh at most: waiters wait that long.
            cache: Cache::new(
                self.cache.unwrap_or_else(|| Box::new(MemoryCache::new())),
                self.http.longest_exchange(),
            ),
            endpoints: Mutex::new(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::base64url_encode as b64;

    fn entra_answer() -> Object {
        let claims = r#"{"preferred_username":"ada@contoso.com","oid":"o-1","tid":"t-1"}"#;
        let jwt = format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims));
        let info = b64(r#"{"uid":"o-1","utid":"t-1"}"#);
        let json = format!(
            r#"{{"access_token":"cached-at","token_type":"Bearer","expires_in":3600,"scope":"User.Read","refresh_token":"rt","id_token":"{jwt}","client_info":"{info}"}}"#
        );
        Object::parse(json.as_bytes(), "token answer").unwrap()
    }

    #[test]
    fn a_cache_hit_sets_up_no_http() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<PublicClient>();

        // A closed loopback port: a request, if one were made, fails fast.
        let client = PublicClient::builder("11111111-2222-3333-4444-555555555555")
            .authority(Authority::entra_at("http://127.0.0.1:1", "organizations").unwrap())
            .only_root_certificates_pem(crate::http::tests::self_signed_pem())
            .no_proxy()
            .build()
            .unwrap();
        assert!(!client.http.has_agent(), "building makes no agent");

        let now = client.clock.wall();
        let token =
            Token::from_answer(&entra_answer(), &[], client.authority.environment(), now).unwrap();
        client
            .cache
            .store_token(&client.app, now, true, |_| {
                Ok(Fetched::Issued {
                    token,
                    replaces: None,
                    grant: DEVICE_CODE_GRANT,
                })
            })
            .unwrap();
        let token = client.acquire_token_silent(&["User.Read"], None).unwrap();
        assert_eq!(token.access_token().secret(), "cached-at");
        assert!(!client.http.has_agent(), "the cache hit made no agent");

        // The first request makes it; that it fails is the request's error.
        let err = client
            .acquire_token_silent_with(
                &["User.Read"],
                None,
                &SilentOptions::default().force_refresh(true),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
        assert!(client.http.has_agent(), "a request made the agent");
    }
}
