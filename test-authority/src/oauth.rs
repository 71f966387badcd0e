//! The OAuth endpoints: device authorization (RFC 8628 section 3.1) and the
//! token endpoint (device code grant, refresh token grant), with answers and
//! errors shaped as the chosen [`Flavor`] shapes them.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::handler::method_not_allowed;
use super::http::{Request, Response};
use super::state::{Decision, DeviceCode, Grant, RefreshToken, State};
use super::util::{entra_timestamp, epoch_seconds, is_guid};
use super::{Approval, Flavor, IssuedAccessToken, Shared};

/// The `grant_type` of a device code poll (RFC 8628 section 3.4).
pub(super) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Entra-style user codes: 9 upper-case letters and digits.
const ENTRA_USER_CODE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// RFC 8628 section 6.1's suggestion: consonants only, so no words and no
/// 0/O or 1/I confusion; shown as `WDJB-MJHT`.
const GENERIC_USER_CODE: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Scopes of OpenID Connect itself, which the generic flavor does not echo
/// (many servers only echo the API scopes they granted).
const OIDC_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "address",
    "phone",
];

/// One request to an OAuth endpoint, with what it needs to be answered.
pub(super) struct Exchange<'a> {
    pub(super) shared: &'a Shared,
    pub(super) state: &'a mut State,
    pub(super) request: &'a Request,
    pub(super) form: &'a [(String, String)],
    /// The tenant path segment (Entra).
    pub(super) tenant: Option<&'a str>,
    /// The authority's clock when the request arrived.
    pub(super) now: Instant,
}

impl<'a> Exchange<'a> {
    /// A form parameter; empty values count as missing, as on Entra.
    fn param(&self, name: &str) -> Option<&'a str> {
        let form: &'a [(String, String)] = self.form;
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&'a str, OAuthError> {
        self.param(name).ok_or_else(|| OAuthError::missing(name))
    }

    fn flavor(&self) -> Flavor {
        self.shared.config.flavor
    }
}

/// An OAuth error answer, before it is shaped for the flavor.
#[derive(Debug, Clone)]
pub(super) struct OAuthError {
    pub(super) status: u16,
    /// The `error` value.
    pub(super) error: String,
    /// Entra's code, written as `AADSTSnnnn:` and in `error_codes`.
    pub(super) aadsts: Option<u32>,
    /// The description without the code and trace lines.
    pub(super) description: String,
}

impl OAuthError {
    fn new(error: &str, aadsts: u32, description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            error: error.to_string(),
            aadsts: Some(aadsts),
            description: description.into(),
        }
    }

    pub(super) fn invalid_request(aadsts: u32, description: impl Into<String>) -> Self {
        Self::new("invalid_request", aadsts, description)
    }

    /// An error without an Entra code (DPoP's, which Entra never sends).
    pub(super) fn plain(error: &str, description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            error: error.to_string(),
            aadsts: None,
            description: description.into(),
        }
    }

    fn missing(name: &str) -> Self {
        Self::invalid_request(
            900_144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    fn invalid_grant(aadsts: u32, description: impl Into<String>) -> Self {
        Self::new("invalid_grant", aadsts, description)
    }
}

/// Shapes an OAuth error as the flavor does.
///
/// Entra's body carries `error_codes`, trace and correlation ids and a
/// timestamp, both as fields and as lines appended to the description; the
/// correlation id echoes the client's `client-request-id` header as Entra
/// does. The generic flavor sends RFC 6749 section 5.2's two fields.
pub(super) fn error_response(
    shared: &Shared,
    state: &mut State,
    request: &Request,
    error: &OAuthError,
) -> Response {
    match shared.config.flavor {
        Flavor::Generic => Response::json(
            error.status,
            &json!({ "error": error.error, "error_description": error.description }),
        ),
        Flavor::Entra => {
            let trace = state.rng.uuid();
            let client_request_id = request.header("client-request-id").filter(|v| is_guid(v));
            let correlation = client_request_id
                .map(str::to_string)
                .unwrap_or_else(|| state.rng.uuid());
            let timestamp = entra_timestamp(shared.clock.wall());
            let mut description = match error.aadsts {
                Some(code) => format!("AADSTS{code}: {}", error.description),
                None => error.description.clone(),
            };
            description.push_str(&format!(
                "\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
            ));
            let mut body = Map::new();
            put(&mut body, "error", json!(error.error));
            put(&mut body, "error_description", json!(description));
            if let Some(code) = error.aadsts {
                put(&mut body, "error_codes", json!([code]));
            }
            put(&mut body, "timestamp", json!(timestamp));
            put(&mut body, "trace_id", json!(trace));
            put(&mut body, "correlation_id", json!(correlation));
            if let Some(code) = error.aadsts {
                put(
                    &mut body,
                    "error_uri",
                    json!(format!(
                        "https://login.microsoftonline.com/error?code={code}"
                    )),
                );
            }
            let mut response = Response::json(error.status, &Value::Object(body))
                .with_header("x-ms-request-id", trace);
            if let Some(id) = client_request_id {
                response = response.with_header("client-request-id", id);
            }
            response
        }
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.insert(key.to_string(), value);
}

/// The device authorization endpoint.
pub(super) fn device_authorization(x: &mut Exchange<'_>) -> (Response, String) {
    if x.request.method != "POST" {
        return method_not_allowed("POST");
    }
    match issue_device_code(x) {
        Ok(response) => (response, "device_code".to_string()),
        Err(error) => {
            let response = error_response(x.shared, x.state, x.request, &error);
            (response, error.error)
        }
    }
}

fn issue_device_code(x: &mut Exchange<'_>) -> Result<Response, OAuthError> {
    check_claims(x.param("claims"))?;
    check_tenant(x.shared, x.tenant)?;
    check_duplicates(x.form)?;
    let client_id = x.require("client_id")?;
    check_client(x, client_id)?;
    let scopes = split_scopes(x.param("scope").unwrap_or(""));
    // Entra needs to know what to sign in for; RFC 8628 makes scope optional.
    if scopes.is_empty() && x.flavor() == Flavor::Entra {
        return Err(OAuthError::missing("scope"));
    }
    let config = &x.shared.config;

    let device_code = loop {
        // Entra's device codes are long opaque strings; so are these.
        let candidate = x.state.rng.token(96);
        if !x.state.codes.contains_key(&candidate) {
            break candidate;
        }
    };
    let user_code = loop {
        let candidate = match x.flavor() {
            Flavor::Entra => x.state.rng.chars(ENTRA_USER_CODE, 9),
            Flavor::Generic => format!(
                "{}-{}",
                x.state.rng.chars(GENERIC_USER_CODE, 4),
                x.state.rng.chars(GENERIC_USER_CODE, 4)
            ),
        };
        if x.state.code_by_user_code(&candidate).is_none() {
            break candidate;
        }
    };
    x.state.codes.insert(
        device_code.clone(),
        DeviceCode {
            user_code: user_code.clone(),
            client_id: client_id.to_string(),
            scopes,
            tenant: x.tenant.map(str::to_string),
            issued: x.now,
            lifetime: Duration::from_secs(config.expires_in),
            // RFC 8628 section 3.2: clients use 5 s when no interval is sent.
            interval: config.interval.unwrap_or(5),
            last_poll: None,
            polls: 0,
            decision: Decision::Pending,
            redeemed: false,
        },
    );

    let uri = x.shared.verification_uri();
    let mut body = Map::new();
    put(&mut body, "user_code", json!(user_code));
    put(&mut body, "device_code", json!(device_code));
    if config.verification_url_field {
        put(&mut body, "verification_url", json!(uri));
    } else {
        put(&mut body, "verification_uri", json!(uri));
        if x.flavor() == Flavor::Generic {
            put(
                &mut body,
                "verification_uri_complete",
                json!(format!("{uri}?code={user_code}")),
            );
        }
    }
    put(&mut body, "expires_in", number(x.shared, config.expires_in));
    if let Some(interval) = config.interval {
        put(&mut body, "interval", number(x.shared, interval));
    }
    if config.send_message {
        put(
            &mut body,
            "message",
            json!(format!(
                "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
            )),
        );
    }
    Ok(Response::json(200, &Value::Object(body)))
}

/// A number, or a string of it when the authority imitates servers that
/// send numbers as strings.
fn number(shared: &Shared, n: u64) -> Value {
    if shared.config.numbers_as_strings {
        json!(n.to_string())
    } else {
        json!(n)
    }
}

/// The token endpoint.
pub(super) fn token(x: &mut Exchange<'_>) -> (Response, String) {
    if x.request.method != "POST" {
        return method_not_allowed("POST");
    }
    let (response, answer) = match redeem(x) {
        Ok(response) => (response, "token".to_string()),
        Err(mut error) => {
            if x.shared.config.errors_with_status_200 {
                error.status = 200;
            }
            let response = error_response(x.shared, x.state, x.request, &error);
            (response, error.error)
        }
    };
    // Every answer carries the nonce, so a client keeps the newest.
    match &x.shared.config.dpop {
        Some(policy) if policy.nonce => {
            let nonce = x.state.dpop.nonce.clone();
            (response.with_header("DPoP-Nonce", nonce), answer)
        }
        _ => (response, answer),
    }
}

/// The thumbprint of the key of the request's DPoP proof, once checked;
/// `None` without a proof (or when DPoP is off).
fn check_dpop(x: &mut Exchange<'_>) -> Result<Option<String>, OAuthError> {
    let Some(policy) = &x.shared.config.dpop else {
        return Ok(None);
    };
    let proofs: Vec<&str> = x
        .request
        .headers
        .iter()
        .filter(|(n, _)| n == "dpop")
        .map(|(_, v)| v.as_str())
        .collect();
    let proof = match proofs.as_slice() {
        [] if policy.required => {
            return Err(OAuthError::plain(
                "invalid_dpop_proof",
                "This server requires a DPoP proof on token requests.",
            ));
        }
        [] => return Ok(None),
        [one] => *one,
        _ => {
            return Err(OAuthError::plain(
                "invalid_dpop_proof",
                "A request carries one DPoP proof, not several.",
            ));
        }
    };
    let url = format!("{}{}", x.shared.base_url, x.request.path);
    let expected = crate::dpop::Expected {
        method: &x.request.method,
        url: &url,
        now: x.shared.clock.wall(),
        access_token: None,
    };
    crate::dpop::verify(policy, &mut x.state.dpop, proof, &expected).map(Some)
}

fn redeem(x: &mut Exchange<'_>) -> Result<Response, OAuthError> {
    check_tenant(x.shared, x.tenant)?;
    check_duplicates(x.form)?;
    let grant_type = x.require("grant_type")?;
    if grant_type != DEVICE_CODE_GRANT && grant_type != "refresh_token" {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = x.require("client_id")?;
    check_client(x, client_id)?;
    check_claims(x.param("claims"))?;
    let jkt = check_dpop(x)?;
    if grant_type == DEVICE_CODE_GRANT {
        device_code_grant(x, client_id, jkt)
    } else {
        refresh_token_grant(x, client_id, jkt)
    }
}

/// A poll (RFC 8628 section 3.4 and 3.5).
fn device_code_grant(
    x: &mut Exchange<'_>,
    client_id: &str,
    jkt: Option<String>,
) -> Result<Response, OAuthError> {
    let Some(presented) = x.param("device_code") else {
        if x.param("code").is_some() {
            // Some clients send the authorization code grant's parameter
            // name; strict servers refuse it.
            return Err(OAuthError::invalid_request(
                900_144,
                "The request body must contain the following parameter: 'device_code'. \
                 ('code' is not a parameter of the device code grant.)",
            ));
        }
        return Err(OAuthError::missing("device_code"));
    };
    let config = &x.shared.config;
    let now = x.now;
    let Some(code) = x.state.codes.get_mut(presented) else {
        return Err(OAuthError::invalid_grant(
            70_000,
            "The provided value for the input parameter 'device_code' is not valid.",
        ));
    };
    if code.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            70_000,
            "The device code was issued to a different client.",
        ));
    }
    if code.redeemed {
        return Err(OAuthError::invalid_grant(
            70_000,
            "The provided device code has already been redeemed.",
        ));
    }
    if code.expired(now) {
        return Err(OAuthError::new(
            "expired_token",
            70_019,
            "Verification code expired.",
        ));
    }
    let since = code.last_poll.unwrap_or(code.issued);
    code.last_poll = Some(now);
    if config.enforce_interval
        && now.saturating_duration_since(since) < Duration::from_secs(code.interval)
    {
        code.interval = code.interval.saturating_add(5);
        // Entra has no code of its own for this; it shares pending's.
        return Err(OAuthError::new(
            "slow_down",
            70_016,
            "OAuth 2.0 device flow error. Polling too fast: slow down.",
        ));
    }
    code.polls = code.polls.saturating_add(1);
    if code.decision == Decision::Pending {
        code.decision = match &config.approval {
            Approval::AfterPolls(n) if code.polls >= *n => Decision::Approved,
            Approval::DenyAfterPolls(n) if code.polls >= *n => Decision::Denied,
            Approval::After(delay) if now.saturating_duration_since(code.issued) >= *delay => {
                Decision::Approved
            }
            _ => Decision::Pending,
        };
    }
    match code.decision {
        Decision::Pending => Err(OAuthError::new(
            "authorization_pending",
            70_016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )),
        Decision::Denied => Err(match config.flavor {
            Flavor::Entra => OAuthError::new(
                "authorization_declined",
                70_000,
                "The user declined the authorization request.",
            ),
            Flavor::Generic => OAuthError::new(
                "access_denied",
                0,
                "The user declined the authorization request.",
            ),
        }),
        Decision::Approved => {
            code.redeemed = true;
            let scopes = code.scopes.clone();
            let tenant = code.tenant.clone();
            // Entra gives refresh tokens only for offline_access; many other
            // servers always do.
            let refresh = (config.flavor == Flavor::Generic
                || scopes.iter().any(|s| s == "offline_access"))
            .then(|| {
                let grant = x.state.new_grant();
                let binding = jkt.clone();
                new_refresh_token(
                    x.state,
                    grant,
                    client_id,
                    &scopes,
                    tenant.as_deref(),
                    binding,
                )
            });
            Ok(token_response(
                x,
                client_id,
                &scopes,
                tenant.as_deref(),
                refresh,
                jkt,
            ))
        }
    }
}

/// A refresh (RFC 6749 section 6), with rotation and replay detection.
fn refresh_token_grant(
    x: &mut Exchange<'_>,
    client_id: &str,
    jkt: Option<String>,
) -> Result<Response, OAuthError> {
    let presented = x.require("refresh_token")?;
    let Some(entry) = x.state.refresh_tokens.get(presented) else {
        return Err(OAuthError::invalid_grant(
            9_002_313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    if entry.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            70_000,
            "The refresh token was issued to a different client.",
        ));
    }
    // RFC 9449 section 5: a public client's bound refresh token is good
    // only with a proof by the same key; a copy without the key is useless.
    if let Some(bound) = &entry.jkt
        && jkt.as_ref() != Some(bound)
    {
        return Err(OAuthError::invalid_grant(
            70_000,
            "The refresh token is bound to a DPoP key; this request's proof is missing or made with another key.",
        ));
    }
    let binding = entry.jkt.clone();
    let (grant, spent) = (entry.grant, entry.spent);
    let granted = entry.scopes.clone();
    let tenant = entry.tenant.clone();
    match x.state.grant(grant) {
        Grant::Active => {}
        Grant::RevokedForReplay => {
            return Err(OAuthError::invalid_grant(
                70_000,
                "The sign-in was revoked because a refresh token was used twice. The user must sign in again.",
            ));
        }
        Grant::Revoked => {
            return Err(OAuthError::invalid_grant(
                50_173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. \
                 The user might have changed or reset their password.",
            ));
        }
    }
    if spent {
        // A token that was already exchanged is back: either an attacker or
        // a client that lost the newer one. Real servers assume theft.
        x.state.set_grant(grant, Grant::RevokedForReplay);
        log::debug!("test authority: a spent refresh token was replayed; its sign-in is revoked");
        return Err(OAuthError::invalid_grant(
            70_000,
            "The refresh token has already been used. The sign-in has been revoked: the user must sign in again.",
        ));
    }
    let scopes = match x.param("scope") {
        Some(scope) => split_scopes(scope),
        None => granted.clone(),
    };
    // RFC 6749 section 6: no scope beyond the original grant. (Entra allows
    // other resources with the same refresh token, so only the generic
    // flavor checks.)
    if x.flavor() == Flavor::Generic && !scopes.iter().all(|s| granted.contains(s)) {
        return Err(OAuthError::new(
            "invalid_scope",
            70_011,
            "The requested scope exceeds the scope granted by the resource owner.",
        ));
    }
    let refresh = if x.shared.config.rotate_refresh_tokens {
        if let Some(old) = x.state.refresh_tokens.get_mut(presented) {
            old.spent = true;
        }
        new_refresh_token(
            x.state,
            grant,
            client_id,
            &granted,
            tenant.as_deref(),
            binding,
        )
    } else {
        presented.to_string()
    };
    Ok(token_response(
        x,
        client_id,
        &scopes,
        tenant.as_deref(),
        Some(refresh),
        jkt,
    ))
}

fn new_refresh_token(
    state: &mut State,
    grant: usize,
    client_id: &str,
    scopes: &[String],
    tenant: Option<&str>,
    jkt: Option<String>,
) -> String {
    let token = loop {
        let candidate = state.rng.token(64);
        if !state.refresh_tokens.contains_key(&candidate) {
            break candidate;
        }
    };
    state.refresh_tokens.insert(
        token.clone(),
        RefreshToken {
            grant,
            client_id: client_id.to_string(),
            scopes: scopes.to_vec(),
            tenant: tenant.map(str::to_string),
            spent: false,
            jkt,
        },
    );
    token
}

/// Entra refuses a `claims` parameter that is not a JSON object.
fn check_claims(claims: Option<&str>) -> Result<(), OAuthError> {
    match claims.map(serde_json::from_str::<Value>) {
        None | Some(Ok(Value::Object(_))) => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(
            90_014,
            "The claims parameter is not a valid JSON object.",
        )),
    }
}

/// The client capabilities a `claims` parameter declares (`xms_cc`).
fn capabilities(claims: Option<&str>) -> Vec<String> {
    let Some(Ok(claims)) = claims.map(serde_json::from_str::<Value>) else {
        return Vec::new();
    };
    claims["access_token"]["xms_cc"]["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A successful token answer (RFC 6749 section 5.1), in the flavor's shape.
fn token_response(
    x: &mut Exchange<'_>,
    client_id: &str,
    scopes: &[String],
    tenant: Option<&str>,
    refresh_token: Option<String>,
    jkt: Option<String>,
) -> Response {
    let shared = x.shared;
    let config = &shared.config;
    let identity = &shared.identity;
    let issued_at = epoch_seconds(shared.clock.wall());
    let wants_id_token = scopes.iter().any(|s| s == "openid");
    let mut body = Map::new();
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    put(&mut body, "token_type", json!(token_type));
    match config.flavor {
        Flavor::Entra => {
            let mut granted: Vec<&str> = scopes
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "offline_access")
                .collect();
            for extra in &config.also_granted {
                if !granted.contains(&extra.as_str()) {
                    granted.push(extra);
                }
            }
            if !granted.is_empty() {
                put(&mut body, "scope", json!(granted.join(" ")));
            }
            let claims = x.param("claims");
            let capabilities = capabilities(claims);
            // CP1: the client handles claims challenges, so Entra may give
            // it a long-lived CAE token, revoked by event rather than by age.
            let lifetime = if capabilities.iter().any(|c| c == "CP1") {
                config.cae_token_lifetime
            } else {
                config.token_lifetime.unwrap_or(3599)
            };
            put(&mut body, "expires_in", number(shared, lifetime));
            put(&mut body, "ext_expires_in", number(shared, lifetime));
            if let Some(refresh_in) = config.refresh_in {
                put(&mut body, "refresh_in", number(shared, refresh_in));
            }
            let access_token = x.state.rng.token(64);
            x.state.access_tokens.insert(
                access_token.clone(),
                IssuedAccessToken {
                    scopes: scopes.to_vec(),
                    capabilities,
                    claims: claims.map(str::to_string),
                    lifetime,
                    revoked: false,
                    jkt: jkt.clone(),
                },
            );
            put(&mut body, "access_token", json!(access_token));
            let tid = tenant
                .filter(|t| is_guid(t))
                .unwrap_or(&identity.tenant_id)
                .to_ascii_lowercase();
            if wants_id_token {
                let claims = json!({
                    "aud": client_id,
                    "iss": shared.entra_issuer(&tid),
                    "iat": issued_at,
                    "nbf": issued_at,
                    "exp": issued_at + 3600,
                    "name": config.display_name,
                    "oid": identity.oid,
                    "preferred_username": config.username,
                    "sub": identity.subject,
                    "tid": tid,
                    "ver": "2.0",
                });
                put(&mut body, "id_token", json!(fake_jwt(x.state, &claims)));
            }
            if x.param("client_info") == Some("1") {
                let info = json!({ "uid": identity.oid, "utid": tid });
                put(
                    &mut body,
                    "client_info",
                    json!(URL_SAFE_NO_PAD.encode(info.to_string())),
                );
            }
        }
        Flavor::Generic => {
            let access_token = x.state.rng.token(48);
            let lifetime = config.token_lifetime.unwrap_or(3600);
            x.state.access_tokens.insert(
                access_token.clone(),
                IssuedAccessToken {
                    scopes: scopes.to_vec(),
                    lifetime,
                    jkt: jkt.clone(),
                    ..IssuedAccessToken::default()
                },
            );
            put(&mut body, "access_token", json!(access_token));
            put(&mut body, "expires_in", number(shared, lifetime));
            let api_scopes: Vec<&str> = scopes
                .iter()
                .map(String::as_str)
                .filter(|s| !OIDC_SCOPES.contains(s))
                .collect();
            if !api_scopes.is_empty() {
                put(&mut body, "scope", json!(api_scopes.join(" ")));
            }
            if wants_id_token {
                let claims = json!({
                    "iss": shared.base_url,
                    "sub": identity.subject,
                    "aud": client_id,
                    "iat": issued_at,
                    "exp": issued_at + 3600,
                    "email": config.username,
                    "name": config.display_name,
                    "preferred_username": config.username,
                });
                put(&mut body, "id_token", json!(fake_jwt(x.state, &claims)));
            }
        }
    }
    if let Some(refresh_token) = refresh_token {
        put(&mut body, "refresh_token", json!(refresh_token));
    }
    Response::json(200, &Value::Object(body))
}

/// A JWT that looks signed (RS256, 256 bytes of signature) but is not: the
/// client should only ever decode an ID token it got straight from the token
/// endpoint over TLS (OpenID Connect Core 3.1.3.7 allows skipping the check).
fn fake_jwt(state: &mut State, claims: &Value) -> String {
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": "test" });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(state.rng.bytes(256))
    )
}

/// Splits a `scope` parameter (space separated, RFC 6749 section 3.3).
fn split_scopes(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|seen| seen == s) {
            scopes.push(s.to_string());
        }
    }
    scopes
}

/// Entra only: the tenant path segment must be one of the configured ones.
pub(super) fn check_tenant(shared: &Shared, tenant: Option<&str>) -> Result<(), OAuthError> {
    let (Some(tenant), Some(known)) = (tenant, &shared.config.tenants) else {
        return Ok(());
    };
    if known.iter().any(|t| t.eq_ignore_ascii_case(tenant)) {
        return Ok(());
    }
    Err(OAuthError::invalid_request(
        90_002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are \
             signing into the correct cloud. Check with your subscription administrator, this may \
             happen if there are no active subscriptions for the tenant."
        ),
    ))
}

/// RFC 6749 section 3.2: parameters must not be included more than once.
fn check_duplicates(form: &[(String, String)]) -> Result<(), OAuthError> {
    for (i, (name, _)) in form.iter().enumerate() {
        if form[..i].iter().any(|(seen, _)| seen == name) {
            return Err(OAuthError::invalid_request(
                9_000_411,
                format!(
                    "The request is not properly formatted. The parameter '{name}' is duplicated."
                ),
            ));
        }
    }
    Ok(())
}

/// When client ids are configured, an unknown one is refused.
fn check_client(x: &Exchange<'_>, client_id: &str) -> Result<(), OAuthError> {
    let Some(known) = &x.shared.config.client_ids else {
        return Ok(());
    };
    if known.iter().any(|id| id == client_id) {
        return Ok(());
    }
    Err(match x.flavor() {
        Flavor::Entra => OAuthError::new(
            "invalid_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. \
                 This can happen if the application has not been installed by the administrator of \
                 the tenant or consented to by any user in the tenant. You may have sent your \
                 authentication request to the wrong tenant.",
                x.tenant.unwrap_or(super::DEFAULT_TENANT)
            ),
        ),
        Flavor::Generic => OAuthError::new("invalid_client", 0, "Unknown client."),
    })
}
