//! The token answer: tokens, their expiry, and the account they belong to.

use crate::error::Error;
use crate::json::{Object, ObjectOnly, ReadMembers, Scalar, base64url_decode};
use crate::refresh_ahead;
use crate::sanitize::{printable, printable_owned};
use crate::secret::{AccessToken, AuthorizationHeader, IdToken, RefreshToken};
use log::warn;
use serde::de::{DeserializeSeed, MapAccess};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// When a server gives no `expires_in`, assume a short life so the token is
/// refreshed early rather than used after it died (MSAL does the same).
const DEFAULT_EXPIRES_IN: u64 = 600;
/// Bounds an absurd `expires_in` so time arithmetic cannot overflow.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;

/// The tokens a sign-in or a refresh produced, with absolute expiries.
///
/// Everything a token cache needs is here; the secrets are
/// [redacted](crate::AccessToken) when printed with `{:?}`.
#[derive(Debug, Clone)]
pub struct Token {
    access_token: AccessToken,
    token_type: String,
    expires_at: SystemTime,
    ext_expires_at: Option<SystemTime>,
    refresh_at: Option<SystemTime>,
    received_at: SystemTime,
    scopes: Vec<String>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    account: Option<Account>,
    family_id: Option<String>,
    dpop_thumbprint: Option<String>,
    cache_error: Option<Arc<Error>>,
}

impl Token {
    /// The access token, for `Authorization: Bearer …`.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    /// The token type, almost always `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }
    /// When the access token expires (wall clock, from `expires_in`).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
    /// Entra's extended expiry (`ext_expires_in`), for outages of the service.
    pub fn ext_expires_at(&self) -> Option<SystemTime> {
        self.ext_expires_at
    }
    /// When the server advises refreshing early (`refresh_in`), if it did.
    pub fn refresh_at(&self) -> Option<SystemTime> {
        self.refresh_at
    }
    /// From when a silent call renews this access token instead of handing
    /// it out (a failed renewal still hands it out): a point in the five
    /// minutes before the token's last five, or before the server's
    /// `refresh_in` advice, drawn from the token itself so that a fleet of
    /// boards signed in together does not refresh in the same second.
    pub fn renew_after(&self) -> SystemTime {
        refresh_ahead::renew_after(
            self.expires_at,
            self.refresh_at,
            self.received_at,
            refresh_ahead::seed_of(self.access_token.secret()),
        )
    }
    /// When the answer arrived (wall clock).
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }
    /// The scopes granted: the answer's `scope`, or the requested ones when
    /// the server did not say.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// The refresh token, if one was issued (Entra: `offline_access`).
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    /// The OpenID Connect id_token, if one was issued.
    pub fn id_token(&self) -> Option<&IdToken> {
        self.id_token.as_ref()
    }
    /// The account that signed in, from the id_token and `client_info`.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }
    /// The family of client ids this refresh token serves (Entra `foci`).
    pub fn family_id(&self) -> Option<&str> {
        self.family_id.as_deref()
    }

    /// The claims of the id_token, read-only: `name`, `oid`, `tid`, `roles`,
    /// whatever the server put in. `None` without an id_token, or when it is
    /// not a JWT with a JSON payload. The signature is not checked: a public
    /// client got it straight from the token endpoint over TLS (OpenID Connect
    /// Core 3.1.3.7), so use it to show who signed in, not to grant access.
    pub fn id_token_claims(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let id_token = self.id_token.as_ref()?;
        decode_jwt_claims(id_token.secret())
            .ok()
            .map(Object::into_map)
    }

    /// The `Authorization` header value for an API call: `Bearer <token>`,
    /// or the token type the server gave (`DPoP`, ...). A lower-case
    /// `bearer` is sent as `Bearer`, which some APIs insist on.
    ///
    /// Fails with [`InvalidResponse`](crate::ErrorKind::InvalidResponse) when
    /// the token or its type could smuggle anything into an HTTP request (a
    /// line break, a space, a control character): the server sent something
    /// no API would accept, and it is not handed on.
    pub fn authorization_header(&self) -> Result<AuthorizationHeader, Error> {
        let kind = match self.token_type.as_str() {
            t if t.eq_ignore_ascii_case("bearer") => "Bearer",
            t => t,
        };
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::invalid(
                "the server gave a token type that cannot be sent in an Authorization header; report it to the server's operator",
            ));
        }
        let token = self.access_token.secret();
        if !is_b64token(token) {
            return Err(Error::invalid(
                "the access token has characters an Authorization header cannot carry (RFC 6750 b64token); report it to the server's operator",
            ));
        }
        Ok(AuthorizationHeader::new(format!("{kind} {token}")))
    }

    /// Why this token, just issued by the server, could not be written to
    /// the token cache (a full disk, a file made read-only meanwhile), if it
    /// could not. The token is valid all the same; the client keeps it, and
    /// above all a rotated refresh token, in memory and saves it at its next
    /// call that can. A process about to exit should report this: what is
    /// only in memory is lost with it.
    pub fn cache_error(&self) -> Option<&Error> {
        self.cache_error.as_deref()
    }

    /// The RFC 7638 thumbprint of the DPoP key this token's refresh token is
    /// bound to, when the server issued it as a DPoP token to this client
    /// (see [`PublicClientBuilder::dpop`](crate::PublicClientBuilder::dpop));
    /// `None` for a Bearer token. Saved with the refresh token in the cache.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.dpop_thumbprint.as_deref()
    }

    pub(crate) fn bind_dpop(&mut self, thumbprint: &str) {
        self.dpop_thumbprint = Some(thumbprint.to_string());
    }

    pub(crate) fn set_cache_error(&mut self, error: Error) {
        self.cache_error = Some(Arc::new(error));
    }

    /// A token read back from the cache.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_cache(
        access_token: AccessToken,
        token_type: &str,
        expires_at: SystemTime,
        ext_expires_at: Option<SystemTime>,
        refresh_at: Option<SystemTime>,
        received_at: SystemTime,
        scopes: Vec<String>,
        refresh_token: Option<RefreshToken>,
        id_token: Option<IdToken>,
        account: Option<Account>,
    ) -> Token {
        Token {
            access_token,
            token_type: token_type.to_string(),
            expires_at,
            ext_expires_at,
            refresh_at,
            received_at,
            scopes,
            refresh_token,
            id_token,
            account,
            family_id: None,
            dpop_thumbprint: None,
            cache_error: None,
        }
    }

    /// Gives the token the account it was refreshed for, when the refresh
    /// answer named none (no id_token), so it is saved with its account.
    pub(crate) fn keep_account(&mut self, account: Option<Account>) {
        if self.account.is_none() {
            self.account = account;
        }
    }

    /// Reads a successful token answer. `requested` are the scopes sent,
    /// used when the answer has no `scope`; `now` is the wall clock.
    pub(crate) fn from_answer(
        answer: &Object,
        requested: &[String],
        environment: &str,
        now: SystemTime,
    ) -> Result<Token, Error> {
        let access_token = AccessToken::new(answer.required_str("access_token")?);
        let token_type = answer.str("token_type")?.unwrap_or("Bearer").to_string();
        let after = |seconds: u64| {
            now.checked_add(Duration::from_secs(seconds.min(MAX_EXPIRES_IN)))
                .unwrap_or(now)
        };
        let expires_at = after(answer.seconds("expires_in")?.unwrap_or(DEFAULT_EXPIRES_IN));
        let ext_expires_at = answer.seconds("ext_expires_in")?.map(after);
        let refresh_at = answer.seconds("refresh_in")?.map(after);
        let scopes = match answer.str("scope")? {
            Some(granted) if !granted.trim().is_empty() => {
                granted.split_whitespace().map(str::to_string).collect()
            }
            _ => requested.to_vec(),
        };
        let refresh_token = answer
            .str("refresh_token")?
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new);
        let id_token = answer
            .str("id_token")?
            .filter(|s| !s.is_empty())
            .map(IdToken::new);
        let client_info = answer.str("client_info")?;
        let account = Account::from_tokens(id_token.as_ref(), client_info, environment);
        let family_id = answer.str("foci")?.map(str::to_string);
        Ok(Token {
            access_token,
            token_type,
            expires_at,
            ext_expires_at,
            refresh_at,
            received_at: now,
            scopes,
            refresh_token,
            id_token,
            account,
            family_id,
            dpop_thumbprint: None,
            cache_error: None,
        })
    }
}

/// The person (or service principal) a token belongs to.
///
/// An account read from the token cache decodes its id_token only when
/// [`name`](Self::name), [`tenant_id`](Self::tenant_id) or a field its cache
/// entry lacks is asked for: serving a cached token needs none of them.
#[derive(Clone)]
pub struct Account {
    /// The sign-in name as the cache entry (or the sign-in) gave it, made
    /// printable; empty when only the id_token can tell.
    username: String,
    /// As the cache entry gave it (`local_account_id`); else the id_token's.
    oid: Option<String>,
    /// The tenant when the id_token names none: the cache entry's realm.
    realm: Option<String>,
    home_account_id: String,
    environment: String,
    /// Shared by the clones of an account and by every account read from
    /// one cache document: one decode between them.
    id_token: Arc<AccountClaims>,
}

impl Account {
    /// The sign-in name: `preferred_username`, else `upn`, `email`, `sub`.
    pub fn username(&self) -> &str {
        match self.username.as_str() {
            "" => self.id_token.get().username.as_deref().unwrap_or_default(),
            name => name,
        }
    }
    /// The display name (`name` claim).
    pub fn name(&self) -> Option<&str> {
        self.id_token.get().name.as_deref()
    }
    /// The object id in the tenant (`oid`), MSAL's `local_account_id`.
    pub fn oid(&self) -> Option<&str> {
        self.oid
            .as_deref()
            .or_else(|| self.id_token.get().oid.as_deref())
    }
    /// The tenant id the token was issued in (`tid`).
    pub fn tenant_id(&self) -> Option<&str> {
        self.id_token.get().tid.as_deref().or(self.realm.as_deref())
    }
    /// MSAL's home account id: `uid.utid` from `client_info`, else `sub`.
    pub fn home_account_id(&self) -> &str {
        &self.home_account_id
    }
    /// The lower-cased host that issued the tokens.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// An account as the token cache describes it: its Account entry's
    /// fields (empty when missing) and the claims of its id_token, decoded
    /// when first needed.
    pub(crate) fn from_cache(
        username: String,
        local_account_id: &str,
        realm: &str,
        home_account_id: String,
        environment: String,
        id_token: Arc<AccountClaims>,
    ) -> Account {
        let given = |v: &str| Some(v).filter(|v| !v.is_empty()).map(str::to_string);
        Account {
            // The cache file may hold what another program wrote: shown
            // names are made printable again.
            username: printable_owned(username),
            oid: given(local_account_id),
            realm: given(realm),
            home_account_id,
            environment,
            id_token,
        }
    }

    /// Builds the account; a malformed id_token or client_info is logged and
    /// ignored rather than throwing away tokens the person just approved.
    fn from_tokens(
        id_token: Option<&IdToken>,
        client_info: Option<&str>,
        environment: &str,
    ) -> Option<Account> {
        let claims = match id_token.map(|t| IdClaims::decode(t.secret())) {
            Some(Ok(claims)) => claims,
            Some(Err(e)) => {
                warn!("ignoring an id_token that cannot be decoded: {e:#}");
                IdClaims::default()
            }
            None => IdClaims::default(),
        };
        let home_from_info = client_info.and_then(|info| match decode_client_info(info) {
            Ok(home) => Some(home),
            Err(e) => {
                warn!("ignoring a client_info that cannot be decoded: {e:#}");
                None
            }
        });
        let home_account_id = home_from_info.or_else(|| claims.sub.clone())?;
        let username = claims
            .username()
            .or(claims.sub.as_deref())
            .unwrap_or_default();
        Some(Account {
            // Names are shown ("signed in as ..."): no terminal escapes.
            username: printable(username),
            oid: claims.oid,
            realm: None,
            home_account_id,
            environment: environment.to_string(),
            id_token: Arc::new(AccountClaims::known(Described {
                username: None,
                name: claims.name.as_deref().map(printable),
                oid: None,
                tid: claims.tid,
            })),
        })
    }
}

/// Equal when every field reads the same, however each was found.
impl PartialEq for Account {
    fn eq(&self, other: &Self) -> bool {
        self.home_account_id == other.home_account_id
            && self.environment == other.environment
            && self.username() == other.username()
            && self.oid() == other.oid()
            && self.tenant_id() == other.tenant_id()
            && self.name() == other.name()
    }
}

impl Eq for Account {}

/// The fields as their accessors give them (the id_token is never shown).
impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username())
            .field("name", &self.name())
            .field("oid", &self.oid())
            .field("tid", &self.tenant_id())
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .finish()
    }
}

/// What an account's id_token says of it, decoded at the first question.
/// A token that is not a JWT with a JSON object payload says nothing, as
/// when there is none.
pub(crate) struct AccountClaims {
    id_token: Option<IdToken>,
    described: OnceLock<Described>,
}

/// The claims an [`Account`] shows, names made printable.
#[derive(Default)]
struct Described {
    username: Option<String>,
    name: Option<String>,
    oid: Option<String>,
    tid: Option<String>,
}

impl AccountClaims {
    /// The claims of `id_token` (empty: none), decoded when first asked for.
    /// Its signature is not kept: the header and payload alone are all the
    /// decode reads and prove nothing, so the accounts a program keeps
    /// hold no credential (review).
    pub fn of(id_token: &str) -> AccountClaims {
        let unsigned = match id_token.match_indices('.').nth(1) {
            Some((signature_dot, _)) => id_token.get(..signature_dot).unwrap_or(id_token),
            None => id_token,
        };
        AccountClaims {
            id_token: Some(unsigned).filter(|t| !t.is_empty()).map(IdToken::new),
            described: OnceLock::new(),
        }
    }

    fn known(described: Described) -> AccountClaims {
        AccountClaims {
            id_token: None,
            described: OnceLock::from(described),
        }
    }

    fn get(&self) -> &Described {
        self.described.get_or_init(|| {
            let Some(claims) = self
                .id_token
                .as_ref()
                .and_then(|t| IdClaims::decode(t.secret()).ok())
            else {
                return Described::default();
            };
            Described {
                username: claims.username().map(printable),
                name: claims.name.as_deref().map(printable),
                oid: claims.oid,
                tid: claims.tid,
            }
        })
    }
}

/// The claims of an id_token that say whose account it is; each is kept
/// only when it is a string that is not empty. Read without building the
/// rest of the payload: the token cache decodes one per account it lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdClaims {
    pub sub: Option<String>,
    pub preferred_username: Option<String>,
    pub upn: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub oid: Option<String>,
    pub tid: Option<String>,
}

impl IdClaims {
    /// The claims of a JWT, signature unchecked (see [`decode_jwt_claims`]).
    pub fn decode(jwt: &str) -> Result<IdClaims, Error> {
        #[cfg(test)]
        DECODED.with(|count| count.set(count.get() + 1));
        let json = jwt_payload(jwt)?;
        let mut reader = serde_json::Deserializer::from_slice(&json);
        let claims = ObjectOnly(ClaimMembers)
            .deserialize(&mut reader)
            .and_then(|claims| reader.end().map(|()| claims));
        match claims {
            Ok(Some(claims)) => Ok(claims),
            Ok(None) => Err(Error::invalid(
                "the id_token claims is JSON but not an object",
            )),
            Err(e) => Err(Error::invalid("the id_token claims is not valid JSON").with_source(e)),
        }
    }

    /// The sign-in name: `preferred_username`, else `upn`, else `email`.
    pub fn username(&self) -> Option<&str> {
        self.preferred_username
            .as_deref()
            .or(self.upn.as_deref())
            .or(self.email.as_deref())
    }
}

// How many id_tokens this thread decoded: tests count them.
#[cfg(test)]
thread_local! {
    pub(crate) static DECODED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

struct ClaimMembers;

impl<'de> ReadMembers<'de> for ClaimMembers {
    type Out = IdClaims;

    fn read<A: MapAccess<'de>>(self, mut members: A) -> Result<IdClaims, A::Error> {
        let mut claims = IdClaims::default();
        while let Some(name) = members.next_key::<Scalar<'de>>()? {
            let value = members.next_value::<Scalar<'de>>()?;
            let slot = match name.as_str().unwrap_or_default() {
                "sub" => &mut claims.sub,
                "preferred_username" => &mut claims.preferred_username,
                "upn" => &mut claims.upn,
                "email" => &mut claims.email,
                "name" => &mut claims.name,
                "oid" => &mut claims.oid,
                "tid" => &mut claims.tid,
                _ => continue,
            };
            // The last of repeated members counts, as in a full parse.
            *slot = value.as_str().filter(|v| !v.is_empty()).map(str::to_string);
        }
        Ok(claims)
    }
}

/// Whether `token` is an RFC 6750 `b64token`: nothing in it can end a header
/// or start another.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// The claims of a JWT, without checking its signature: a public client
/// received it directly from the token endpoint over TLS, as MSAL reasons.
pub(crate) fn decode_jwt_claims(jwt: &str) -> Result<Object, Error> {
    Object::parse(&jwt_payload(jwt)?, "id_token claims")
}

/// The decoded payload of a JWT: its JSON text.
fn jwt_payload(jwt: &str) -> Result<Vec<u8>, Error> {
    let mut parts = jwt.split('.');
    let payload = match (parts.next(), parts.next()) {
        (Some(_header), Some(payload)) => payload,
        _ => {
            return Err(Error::invalid(
                "the id_token is not a JWT (header.payload.signature)",
            ));
        }
    };
    base64url_decode(payload).ok_or_else(|| Error::invalid("the id_token payload is not base64url"))
}

/// `client_info` is base64url JSON `{"uid": …, "utid": …}`; gives `uid.utid`.
fn decode_client_info(info: &str) -> Result<String, Error> {
    let json =
        base64url_decode(info).ok_or_else(|| Error::invalid("client_info is not base64url"))?;
    let object = Object::parse(&json, "client_info")?;
    Ok(format!(
        "{}.{}",
        object.required_str("uid")?,
        object.required_str("utid")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_keep_no_id_token_signature() {
        let payload = "eyJuYW1lIjoiQSJ9"; // {"name":"A"}
        let claims = AccountClaims::of(&format!("e30.{payload}.c2lnbmF0dXJl"));
        let kept = claims.id_token.as_ref().map(|t| t.secret().to_string());
        assert_eq!(kept.as_deref(), Some("e30.eyJuYW1lIjoiQSJ9"));
        assert_eq!(claims.get().name.as_deref(), Some("A"));
        // Two parts are read as before; one part is no JWT either way.
        assert_eq!(
            AccountClaims::of(&format!("e30.{payload}"))
                .get()
                .name
                .as_deref(),
            Some("A")
        );
        assert_eq!(AccountClaims::of(payload).get().name, None);
        assert!(AccountClaims::of("").id_token.is_none());
    }
    use crate::ErrorKind;
    use crate::json::base64url_encode as b64;

    fn answer(json: &str) -> Object {
        Object::parse(json.as_bytes(), "token answer").unwrap()
    }

    #[test]
    fn entra_answer_with_account() {
        let claims = r#"{"preferred_username":"ada@contoso.com","name":"Ada","oid":"o-1","tid":"t-1","sub":"s-1"}"#;
        let jwt = format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims));
        let info = b64(r#"{"uid":"o-1","utid":"t-1"}"#);
        let json = format!(
            r#"{{"access_token":"at","token_type":"Bearer","expires_in":"3599","ext_expires_in":7200,"scope":"User.Read openid","refresh_token":"rt","id_token":"{jwt}","client_info":"{info}","foci":"1"}}"#
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let token = Token::from_answer(&answer(&json), &[], "login.example", now).unwrap();
        assert_eq!(token.access_token().secret(), "at");
        assert_eq!(token.expires_at(), now + Duration::from_secs(3599));
        assert_eq!(
            token.ext_expires_at(),
            Some(now + Duration::from_secs(7200))
        );
        assert_eq!(token.scopes(), ["User.Read", "openid"]);
        assert_eq!(token.refresh_token().map(RefreshToken::secret), Some("rt"));
        assert_eq!(token.family_id(), Some("1"));
        let account = token.account().unwrap();
        assert_eq!(account.username(), "ada@contoso.com");
        assert_eq!(account.home_account_id(), "o-1.t-1");
        assert_eq!(
            (account.name(), account.oid(), account.tenant_id()),
            (Some("Ada"), Some("o-1"), Some("t-1"))
        );
        assert_eq!(account.environment(), "login.example");
    }

    #[test]
    fn header_and_claims_for_the_user_of_the_token() {
        let jwt = format!("h.{}.s", b64(r#"{"name":"Ada","roles":["a","b"]}"#));
        let json = format!(
            r#"{{"access_token":"eyJ0.x-y_z==","token_type":"bearer","id_token":"{jwt}"}}"#
        );
        let token = Token::from_answer(&answer(&json), &[], "h", SystemTime::UNIX_EPOCH).unwrap();
        let header = token.authorization_header().unwrap();
        assert_eq!(header.secret(), "Bearer eyJ0.x-y_z==");
        assert!(!format!("{header:?}").contains("eyJ0"));
        let claims = token.id_token_claims().unwrap();
        assert_eq!(claims["name"], "Ada");
        assert_eq!(claims["roles"][1], "b");
        for (at, kind) in [
            ("a b", "Bearer"),
            ("a\\r\\nX: 1", "Bearer"),
            ("a", "Bea rer"),
            ("a", ""),
        ] {
            let json = format!(r#"{{"access_token":"{at}","token_type":"{kind}"}}"#);
            let token =
                Token::from_answer(&answer(&json), &[], "h", SystemTime::UNIX_EPOCH).unwrap();
            let err = token.authorization_header().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{at:?} {kind:?}");
            assert!(token.id_token_claims().is_none());
        }
        let dpop = r#"{"access_token":"t","token_type":"DPoP"}"#;
        let token = Token::from_answer(&answer(dpop), &[], "h", SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(token.authorization_header().unwrap().secret(), "DPoP t");
    }

    #[test]
    fn username_fallbacks_and_home_from_sub() {
        for (claims, expected) in [
            (r#"{"upn":"u@x","email":"e@x","sub":"s"}"#, "u@x"),
            (r#"{"email":"e@x","sub":"s"}"#, "e@x"),
            (r#"{"sub":"s"}"#, "s"),
        ] {
            let json = format!(r#"{{"access_token":"a","id_token":"h.{}.s"}}"#, b64(claims));
            let token =
                Token::from_answer(&answer(&json), &["x".into()], "h", SystemTime::UNIX_EPOCH)
                    .unwrap();
            let account = token.account().unwrap();
            assert_eq!(account.username(), expected);
            assert_eq!(account.home_account_id(), "s");
            assert_eq!(token.scopes(), ["x"]);
            assert_eq!(
                token.expires_at(),
                SystemTime::UNIX_EPOCH + Duration::from_secs(600)
            );
        }
    }

    #[test]
    fn id_claims_are_read_leniently_and_errors_say_why() {
        let jwt = |payload: &str| format!("h.{}.s", b64(payload));
        let claims = IdClaims::decode(&jwt(
            r#"{"sub":"s","upn":"u@x","email":"","name":7,"oid":null,"tid":"t","tid":"t2",
                "roles":["a",{"b":1}],"exp":1.5e9,"nested":{"name":"no"}}"#,
        ))
        .unwrap();
        assert_eq!(
            claims,
            IdClaims {
                sub: Some("s".into()),
                upn: Some("u@x".into()),
                tid: Some("t2".into()),
                ..IdClaims::default()
            }
        );
        assert_eq!(claims.username(), Some("u@x"));
        for (payload, why) in [
            ("[1]", "not an object"),
            ("\"x\"", "not an object"),
            ("{\"a\": 1", "not valid JSON"),
            ("{\"a\": \"\\ud800\"}", "not valid JSON"),
            ("{} {}", "not valid JSON"),
        ] {
            let e = IdClaims::decode(&jwt(payload)).unwrap_err();
            assert!(e.to_string().contains(why), "{payload}: {e}");
        }
        assert!(IdClaims::decode("no-dots").is_err());
        assert!(IdClaims::decode("h.@@@.s").is_err());
    }

    #[test]
    fn broken_id_token_keeps_the_tokens() {
        let json =
            r#"{"access_token":"a","refresh_token":"r","id_token":"not-a-jwt","client_info":"@@"}"#;
        let token = Token::from_answer(&answer(json), &[], "h", SystemTime::UNIX_EPOCH).unwrap();
        assert!(token.account().is_none());
        assert!(token.refresh_token().is_some());
    }

    #[test]
    fn bad_fields_are_typed_errors() {
        for json in [
            r#"{"token_type":"Bearer"}"#,
            r#"{"access_token":5}"#,
            r#"{"access_token":"a","expires_in":-3}"#,
            r#"{"access_token":"a","expires_in":{}}"#,
        ] {
            let err =
                Token::from_answer(&answer(json), &[], "h", SystemTime::UNIX_EPOCH).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{json}");
        }
        let huge = r#"{"access_token":"a","expires_in":18446744073709551615}"#;
        assert!(Token::from_answer(&answer(huge), &[], "h", SystemTime::UNIX_EPOCH).is_ok());
    }
}
