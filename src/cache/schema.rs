//! MSAL's unified token cache schema: the one JSON document every cache
//! backend stores, its keys and entries, and the lookups silent sign-in needs.
//!
//! The document is kept as parsed JSON rather than typed structs so that
//! sections, entries and fields we do not know survive a rewrite: the file is
//! shared with MSAL Python, .NET, Node and the Azure CLI.

use crate::authority::OIDC_SCOPES;
use crate::json::Object;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use crate::token::{Account, Token, decode_jwt_claims};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ACCESS_TOKEN: &str = "AccessToken";
const REFRESH_TOKEN: &str = "RefreshToken";
/// Our field on access and refresh token entries: the thumbprint of the DPoP
/// key they are bound to. MSAL has none and keeps fields it does not know.
const DPOP_BINDING: &str = "dpop_jkt";
const ID_TOKEN: &str = "IdToken";
const ACCOUNT: &str = "Account";
const APP_METADATA: &str = "AppMetadata";

/// An access token with less than this left is not handed out (MSAL's rule):
/// the caller needs time to use it.
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(300);

type Entry = Map<String, Value>;

/// The whole cache document.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheDoc {
    root: Map<String, Value>,
}

/// The application and place the tokens belong to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppScope<'a> {
    pub client_id: &'a str,
    /// Lower-cased host of the authority.
    pub environment: &'a str,
    /// The tenant segment of the authority (Entra), if any.
    pub tenant: Option<&'a str>,
    /// Whether the authority is Entra ID (its account type and realms).
    pub entra: bool,
}

impl AppScope<'_> {
    /// MSAL's `realm` for tokens of `account`: the tenant of the token
    /// endpoint, except that a domain authority is stored under the tenant id
    /// the id_token names (MSAL learns it from discovery; we need no request).
    pub fn realm(&self, account: Option<&Account>) -> String {
        match self.tenant {
            Some(tenant) if is_domain(tenant) => account
                .and_then(Account::tenant_id)
                .unwrap_or(tenant)
                .to_string(),
            Some(tenant) => tenant.to_string(),
            None => String::new(),
        }
    }

    /// Realms a cached access token of `hid` may be stored under.
    fn realm_matches(&self, doc: &CacheDoc, hid: &str, realm: &str) -> bool {
        match self.tenant {
            None => true,
            Some(tenant) if realm.eq_ignore_ascii_case(tenant) => true,
            Some(tenant) if is_domain(tenant) => doc.section(ACCOUNT).any(|(_, a)| {
                text(a, "home_account_id") == hid
                    && text(a, "environment") == self.environment
                    && text(a, "realm").eq_ignore_ascii_case(realm)
            }),
            Some(_) => false,
        }
    }
}

/// A tenant given as a domain (not a GUID nor a well-known alias).
fn is_domain(tenant: &str) -> bool {
    tenant.contains('.')
}

/// What a silent call asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    /// The scopes the caller named (OpenID scopes are ignored in matching).
    pub scopes: &'a [String],
    /// The account's home account id (`""` for servers without id_tokens).
    pub home_account_id: &'a str,
}

/// A refresh token to save, with what is saved beside it.
struct SavedRefresh<'a> {
    secret: &'a RefreshToken,
    family_id: Option<&'a str>,
    dpop_thumbprint: Option<&'a str>,
}

/// A refresh token found in the cache, and where it lives.
#[derive(Debug)]
pub(crate) struct CachedRefresh {
    pub key: String,
    pub secret: RefreshToken,
    /// The DPoP key it is bound to (RFC 7638 thumbprint), if any.
    pub dpop_thumbprint: Option<String>,
}

impl CacheDoc {
    /// Reads a cache document. Empty or unparsable bytes are an error (the
    /// caller decides what to do with the file); the message says why.
    pub fn parse(bytes: &[u8]) -> Result<CacheDoc, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err("it is empty (a write was interrupted, or it was truncated)".into());
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(root)) => Ok(CacheDoc { root }),
            Ok(_) => Err("it is JSON but not an object".into()),
            Err(e) => Err(format!("it is not valid JSON ({e})")),
        }
    }

    /// The document as MSAL writes it (4-space indentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        // Serialising a map of JSON values into a Vec cannot fail.
        if serde::Serialize::serialize(&self.root, &mut serializer).is_err() {
            out.clear();
        }
        out
    }

    fn section(&self, name: &str) -> impl Iterator<Item = (&String, &Entry)> {
        self.root
            .get(name)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| Some((key, value.as_object()?)))
    }

    /// The section, made when missing. A section that is not an object is not
    /// ours to repair: it is replaced only if we must write into it.
    fn section_mut(&mut self, name: &str) -> &mut Map<String, Value> {
        object_in(self.root.entry(name).or_insert(Value::Null))
    }

    /// An entry to update in place (so fields other MSAL versions wrote stay).
    fn entry_mut(&mut self, section: &str, key: String) -> &mut Entry {
        object_in(self.section_mut(section).entry(key).or_insert(Value::Null))
    }

    fn remove_where(&mut self, name: &str, doomed: impl Fn(&Entry) -> bool) -> usize {
        let Some(section) = self.root.get_mut(name).and_then(Value::as_object_mut) else {
            return 0;
        };
        let before = section.len();
        section.retain(|_, value| !value.as_object().is_some_and(&doomed));
        before - section.len()
    }

    /// A cached access token for `wanted` with at least [`MIN_LIFETIME`] left
    /// at `now`, with the refresh token and account that go with it.
    pub fn access_token(
        &self,
        app: &AppScope<'_>,
        wanted: &Wanted<'_>,
        now: SystemTime,
    ) -> Option<Token> {
        let needed = match_scopes(wanted.scopes);
        let (_, entry) = self
            .section(ACCESS_TOKEN)
            .filter(|(_, e)| {
                owned_by(e, app, wanted.home_account_id)
                    && app.realm_matches(self, wanted.home_account_id, text(e, "realm"))
                    && covers(text(e, "target"), &needed)
            })
            .filter(|(_, e)| time(e, "expires_on").is_some_and(|at| at >= now + MIN_LIFETIME))
            .max_by_key(|(_, e)| time(e, "expires_on"))?;
        Some(self.token_from(app, wanted.home_account_id, entry))
    }

    fn token_from(&self, app: &AppScope<'_>, hid: &str, at: &Entry) -> Token {
        let realm = text(at, "realm");
        let refresh = self.refresh_tokens(app, hid).into_iter().next();
        let id_token = self
            .section(ID_TOKEN)
            .find(|(_, e)| owned_by(e, app, hid) && text(e, "realm").eq_ignore_ascii_case(realm))
            .map(|(_, e)| IdToken::new(text(e, "secret")));
        let account = self.account_entry(app, hid, realm, id_token.as_ref());
        let scopes = text(at, "target")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let epoch = SystemTime::UNIX_EPOCH;
        let expires_at = time(at, "expires_on").unwrap_or(epoch);
        let mut token = Token::from_cache(
            AccessToken::new(text(at, "secret")),
            match text(at, "token_type") {
                "" => "Bearer",
                other => other,
            },
            expires_at,
            time(at, "extended_expires_on"),
            time(at, "refresh_on"),
            time(at, "cached_at").unwrap_or(epoch),
            scopes,
            refresh.map(|r| r.secret),
            id_token,
            account,
        );
        match text(at, DPOP_BINDING) {
            "" => {}
            jkt => token.bind_dpop(jkt),
        }
        token
    }

    /// Refresh tokens usable for the account, best first: the app's own,
    /// newest first, then family (FOCI) tokens when the app is in the family.
    pub fn refresh_tokens(&self, app: &AppScope<'_>, hid: &str) -> Vec<CachedRefresh> {
        let in_family = self.section(APP_METADATA).any(|(_, e)| {
            text(e, "client_id") == app.client_id
                && text(e, "environment") == app.environment
                && text(e, "family_id") == "1"
        });
        let mut found: Vec<(bool, u64, &String, &Entry)> = self
            .section(REFRESH_TOKEN)
            .filter(|(_, e)| {
                text(e, "home_account_id") == hid
                    && text(e, "environment") == app.environment
                    && !text(e, "secret").is_empty()
            })
            .filter_map(|(key, e)| {
                let own = text(e, "client_id") == app.client_id;
                let family = in_family && text(e, "family_id") == "1";
                (own || family).then(|| {
                    let modified = seconds(e, "last_modification_time").unwrap_or(0);
                    (own, modified, key, e)
                })
            })
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse((f.0, f.1)));
        found
            .into_iter()
            .map(|(_, _, key, e)| CachedRefresh {
                key: key.clone(),
                secret: RefreshToken::new(text(e, "secret")),
                dpop_thumbprint: Some(text(e, DPOP_BINDING))
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            })
            .collect()
    }

    /// The accounts that hold tokens of this application, one per home
    /// account id, ordered by username.
    pub fn accounts(&self, app: &AppScope<'_>) -> Vec<Account> {
        let mut hids: Vec<&str> = [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN]
            .iter()
            .flat_map(|section| self.section(section))
            .filter(|(_, e)| {
                text(e, "client_id") == app.client_id && text(e, "environment") == app.environment
            })
            .map(|(_, e)| text(e, "home_account_id"))
            .filter(|hid| !hid.is_empty())
            .collect();
        hids.sort_unstable();
        hids.dedup();
        // One pass over each section, not one per account: a file of a
        // thousand accounts must not cost a million comparisons.
        let mut id_tokens: HashMap<&str, &Entry> = HashMap::with_capacity(hids.len());
        for (_, e) in self.section(ID_TOKEN) {
            if text(e, "client_id") == app.client_id && text(e, "environment") == app.environment {
                id_tokens.entry(text(e, "home_account_id")).or_insert(e);
            }
        }
        let realm = app.realm(None);
        let mut entries: HashMap<&str, AccountEntries<'_>> = HashMap::with_capacity(hids.len());
        for (_, e) in self.section(ACCOUNT) {
            if text(e, "environment") == app.environment {
                entries
                    .entry(text(e, "home_account_id"))
                    .or_default()
                    .offer(e, &realm);
            }
        }
        let mut accounts: Vec<Account> = hids
            .into_iter()
            .filter_map(|hid| {
                let entry = entries.get(hid)?.best()?;
                let id_token = id_tokens.get(hid).map(|e| text(e, "secret"));
                Some(account_of(entry, app.environment, hid, id_token))
            })
            .collect();
        accounts.sort_by(|a, b| a.username().cmp(b.username()));
        accounts
    }

    /// Every account in the document, whatever application signed it in:
    /// one per home account id and environment, ordered by username.
    pub fn all_accounts(&self) -> Vec<Account> {
        // The first id_token of each account, whichever application got it.
        let mut id_tokens: HashMap<(&str, &str), &Entry> = HashMap::new();
        for (_, t) in self.section(ID_TOKEN) {
            let key = (text(t, "home_account_id"), text(t, "environment"));
            id_tokens.entry(key).or_insert(t);
        }
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        let mut accounts = Vec::new();
        for (_, e) in self.section(ACCOUNT) {
            let (hid, env) = (text(e, "home_account_id"), text(e, "environment"));
            // The first entry of an account is the one in its own realm.
            if hid.is_empty() || !seen.insert((hid, env)) {
                continue;
            }
            let id_token = id_tokens.get(&(hid, env)).map(|t| text(t, "secret"));
            accounts.push(account_of(e, env, hid, id_token));
        }
        accounts.sort_by(|a, b| a.username().cmp(b.username()));
        accounts
    }

    /// Deletes every credential and account entry of the account, for every
    /// application. Returns how many entries were removed.
    pub fn remove_account_everywhere(&mut self, hid: &str, environment: &str) -> usize {
        [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN, ACCOUNT]
            .iter()
            .map(|section| {
                self.remove_where(section, |e| {
                    text(e, "home_account_id") == hid && text(e, "environment") == environment
                })
            })
            .sum()
    }

    /// Whether tokens without an account (from a server that sends no
    /// id_token) are cached for the application.
    pub fn has_anonymous_tokens(&self, app: &AppScope<'_>) -> bool {
        [ACCESS_TOKEN, REFRESH_TOKEN]
            .iter()
            .flat_map(|section| self.section(section))
            .any(|(_, e)| owned_by(e, app, ""))
    }

    /// The account of `hid`, from its Account entry (the one in `realm` if
    /// there are several) and the claims of its id_token.
    fn account_entry(
        &self,
        app: &AppScope<'_>,
        hid: &str,
        realm: &str,
        id_token: Option<&IdToken>,
    ) -> Option<Account> {
        let mut entries = AccountEntries::default();
        for (_, e) in self.section(ACCOUNT) {
            if text(e, "home_account_id") == hid && text(e, "environment") == app.environment {
                entries.offer(e, realm);
            }
        }
        Some(account_of(
            entries.best()?,
            app.environment,
            hid,
            id_token.map(IdToken::secret),
        ))
    }

    /// Stores what a sign-in or a refresh returned. `replaces` is the key of
    /// the refresh token that was redeemed: its entry takes the rotated
    /// secret (MSAL updates it in place). `grant` is the account's source.
    pub fn save(
        &mut self,
        app: &AppScope<'_>,
        token: &Token,
        replaces: Option<&str>,
        grant: &str,
        now: SystemTime,
    ) {
        let account = token.account();
        let hid = account.map_or("", Account::home_account_id);
        let env = app.environment;
        let cid = app.client_id;
        let realm = app.realm(account);
        let target = target_of(token.scopes());

        // An access token is keyed by its target, as MSAL keys it: tokens for
        // other scope sets of the account stay side by side, and only an entry
        // with the same key is replaced (by the insert below). This app's
        // expired tokens are of no use to anyone and would only grow the file.
        self.remove_where(ACCESS_TOKEN, |e| {
            text(e, "client_id") == cid && time(e, "expires_on").is_none_or(|at| at <= now)
        });
        let mut at = Entry::new();
        put(&mut at, "credential_type", "AccessToken");
        put(&mut at, "secret", token.access_token().secret());
        put(&mut at, "home_account_id", hid);
        put(&mut at, "environment", env);
        put(&mut at, "client_id", cid);
        put(&mut at, "target", &target);
        put(&mut at, "realm", &realm);
        put(&mut at, "token_type", token.token_type());
        if let Some(jkt) = token.dpop_thumbprint() {
            put(&mut at, DPOP_BINDING, jkt);
        }
        put(&mut at, "cached_at", &epoch(token.received_at()));
        put(&mut at, "expires_on", &epoch(token.expires_at()));
        put(
            &mut at,
            "extended_expires_on",
            &epoch(token.ext_expires_at().unwrap_or(token.expires_at())),
        );
        if let Some(refresh_on) = token.refresh_at() {
            put(&mut at, "refresh_on", &epoch(refresh_on));
        }
        let key = access_token_key(hid, env, cid, &realm, &target, token.token_type());
        self.section_mut(ACCESS_TOKEN)
            .insert(key, Value::Object(at));

        if let Some(refresh) = token.refresh_token() {
            let saved = SavedRefresh {
                secret: refresh,
                family_id: token.family_id(),
                dpop_thumbprint: token.dpop_thumbprint(),
            };
            self.save_refresh_token(app, hid, &target, &saved, replaces, now);
        }

        if let Some(id_token) = token.id_token() {
            let mut entry = Entry::new();
            put(&mut entry, "credential_type", "IdToken");
            put(&mut entry, "secret", id_token.secret());
            put(&mut entry, "home_account_id", hid);
            put(&mut entry, "environment", env);
            put(&mut entry, "realm", &realm);
            put(&mut entry, "client_id", cid);
            let key = msal_key(&[hid, env, "idtoken", cid, &realm, ""]);
            self.section_mut(ID_TOKEN).insert(key, Value::Object(entry));
        }

        if let Some(account) = account {
            let key = msal_key(&[hid, env, &realm]);
            let authority_type = if !app.entra {
                "Generic"
            } else if realm.eq_ignore_ascii_case("adfs") {
                "ADFS"
            } else {
                "MSSTS"
            };
            let entry = self.entry_mut(ACCOUNT, key);
            put(entry, "home_account_id", hid);
            put(entry, "environment", env);
            put(entry, "realm", &realm);
            put(
                entry,
                "local_account_id",
                account.oid().unwrap_or(account.home_account_id()),
            );
            put(entry, "username", account.username());
            put(entry, "authority_type", authority_type);
            if !entry.contains_key("account_source") {
                put(entry, "account_source", grant);
            }
        }

        // The only key MSAL does not lower-case.
        let entry = self.entry_mut(APP_METADATA, format!("appmetadata-{env}-{cid}"));
        put(entry, "client_id", cid);
        put(entry, "environment", env);
        if let Some(family) = token.family_id() {
            put(entry, "family_id", family);
        }
    }

    fn save_refresh_token(
        &mut self,
        app: &AppScope<'_>,
        hid: &str,
        target: &str,
        saved: &SavedRefresh<'_>,
        replaces: Option<&str>,
        now: SystemTime,
    ) {
        let (refresh, family_id) = (saved.secret, saved.family_id);
        let env = app.environment;
        let cid = app.client_id;
        let section = self.section_mut(REFRESH_TOKEN);
        if let Some(Value::Object(entry)) = replaces.and_then(|key| section.get_mut(key)) {
            put(entry, "secret", refresh.secret());
            put(entry, "last_modification_time", &epoch(now));
            if let Some(family) = family_id {
                put(entry, "family_id", family);
            }
            // The new token's binding, whatever the old one's was.
            match saved.dpop_thumbprint {
                Some(jkt) => put(entry, DPOP_BINDING, jkt),
                None => {
                    entry.remove(DPOP_BINDING);
                }
            }
            return;
        }
        // A new sign-in supersedes this app's older refresh tokens for the
        // account: Entra's are multi-resource, and a stale one left behind
        // could be replayed later, which rotating servers punish.
        section.retain(|_, value| {
            !value.as_object().is_some_and(|e| {
                text(e, "home_account_id") == hid
                    && text(e, "environment") == env
                    && text(e, "client_id") == cid
            })
        });
        let mut entry = Entry::new();
        put(&mut entry, "credential_type", "RefreshToken");
        put(&mut entry, "secret", refresh.secret());
        put(&mut entry, "home_account_id", hid);
        put(&mut entry, "environment", env);
        put(&mut entry, "client_id", cid);
        put(&mut entry, "target", target);
        put(&mut entry, "last_modification_time", &epoch(now));
        if let Some(family) = family_id {
            put(&mut entry, "family_id", family);
        }
        if let Some(jkt) = saved.dpop_thumbprint {
            put(&mut entry, DPOP_BINDING, jkt);
        }
        let key = msal_key(&[hid, env, "refreshtoken", cid, "", target]);
        section.insert(key, Value::Object(entry));
    }

    /// Signs the account out of this application: its access, refresh and id
    /// tokens go, and its Account entry too unless another application still
    /// holds tokens for it. Returns how many entries were removed.
    pub fn remove_account(&mut self, app: &AppScope<'_>, hid: &str) -> usize {
        let mut removed = 0;
        for section in [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN] {
            removed += self.remove_where(section, |e| owned_by(e, app, hid));
        }
        let still_used = [ACCESS_TOKEN, REFRESH_TOKEN, ID_TOKEN]
            .iter()
            .flat_map(|section| self.section(section))
            .any(|(_, e)| {
                text(e, "home_account_id") == hid && text(e, "environment") == app.environment
            });
        if !still_used {
            removed += self.remove_where(ACCOUNT, |e| {
                text(e, "home_account_id") == hid && text(e, "environment") == app.environment
            });
        }
        removed
    }
}

/// The object in `slot`; anything else there (null, or a value that is not
/// an object and that we must write into) is replaced by an empty object.
fn object_in(slot: &mut Value) -> &mut Map<String, Value> {
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("the slot holds an object: it was just made one"),
    }
}

/// The Account entries of one account, as one pass over the section finds
/// them: the first in the wanted realm wins, else the first of any realm.
#[derive(Default)]
struct AccountEntries<'a> {
    in_realm: Option<&'a Entry>,
    first: Option<&'a Entry>,
}

impl<'a> AccountEntries<'a> {
    fn offer(&mut self, entry: &'a Entry, realm: &str) {
        if self.in_realm.is_none() && text(entry, "realm").eq_ignore_ascii_case(realm) {
            self.in_realm = Some(entry);
        }
        self.first.get_or_insert(entry);
    }

    fn best(&self) -> Option<&'a Entry> {
        self.in_realm.or(self.first)
    }
}

/// An account from its Account entry and the claims of its id_token.
fn account_of(entry: &Entry, environment: &str, hid: &str, id_token: Option<&str>) -> Account {
    let claims = id_token.and_then(|t| decode_jwt_claims(t).ok());
    let claim = |name: &str| {
        claims
            .as_ref()
            .and_then(|c: &Object| c.str(name).ok().flatten())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let username = match text(entry, "username") {
        "" => claim("preferred_username")
            .or_else(|| claim("upn"))
            .or_else(|| claim("email"))
            .unwrap_or_default(),
        name => name.to_string(),
    };
    let oid = Some(text(entry, "local_account_id"))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .or_else(|| claim("oid"));
    let tid = claim("tid").or_else(|| {
        let realm = text(entry, "realm");
        (!realm.is_empty()).then(|| realm.to_string())
    });
    Account::from_parts(
        username,
        claim("name"),
        oid,
        tid,
        hid.to_string(),
        environment.to_string(),
    )
}

/// Whether a credential entry belongs to this app, place and account.
fn owned_by(entry: &Entry, app: &AppScope<'_>, hid: &str) -> bool {
    text(entry, "client_id") == app.client_id
        && text(entry, "environment") == app.environment
        && text(entry, "home_account_id") == hid
}

/// A string field; missing or non-string fields read as empty, so a damaged
/// entry simply matches nothing.
fn text<'a>(entry: &'a Entry, name: &str) -> &'a str {
    entry.get(name).and_then(Value::as_str).unwrap_or("")
}

/// Epoch seconds, written by MSAL as decimal strings (numbers accepted too).
fn seconds(entry: &Entry, name: &str) -> Option<u64> {
    match entry.get(name)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn time(entry: &Entry, name: &str) -> Option<SystemTime> {
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds(entry, name)?))
}

fn seconds_of(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn epoch(at: SystemTime) -> String {
    seconds_of(at).to_string()
}

fn put(entry: &mut Entry, name: &str, value: &str) {
    entry.insert(name.to_string(), Value::String(value.to_string()));
}

/// MSAL's key: fields joined with `-`, lower-cased.
fn msal_key(parts: &[&str]) -> String {
    parts.join("-").to_lowercase()
}

/// MSAL's `target`: the scopes sorted and joined with single spaces.
fn target_of(scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(" ")
}

/// Scopes as they are compared: lower-cased, without the OpenID ones, which
/// Entra does not list in an access token's `scope`.
fn match_scopes(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
        .map(str::to_ascii_lowercase)
        .collect()
}

fn covers(target: &str, needed: &[String]) -> bool {
    let have: Vec<String> = target
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    needed.iter().all(|scope| have.contains(scope))
}

/// MSAL's access token key. A token type other than Bearer (a DPoP or PoP
/// token) is a credential of another kind for the same target, so MSAL .NET
/// appends it; a Bearer key stays exactly MSAL Python's.
fn access_token_key(
    hid: &str,
    env: &str,
    cid: &str,
    realm: &str,
    target: &str,
    token_type: &str,
) -> String {
    if token_type.is_empty() || token_type.eq_ignore_ascii_case("bearer") {
        msal_key(&[hid, env, "accesstoken", cid, realm, target])
    } else {
        msal_key(&[hid, env, "accesstoken", cid, realm, target, token_type])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: AppScope<'static> = AppScope {
        client_id: "cid",
        environment: "login.example",
        tenant: Some("organizations"),
        entra: true,
    };

    #[test]
    fn unreadable_documents_say_why() {
        for (bytes, why) in [
            (&b""[..], "empty"),
            (b" \n\t", "empty"),
            (b"[1, 2]", "not an object"),
            (b"{\"AccessToken\": {", "not valid JSON"),
            (b"\xff\xfe", "not valid JSON"),
        ] {
            let reason = CacheDoc::parse(bytes).unwrap_err();
            assert!(reason.contains(why), "{bytes:?}: {reason}");
        }
    }

    #[test]
    fn damaged_entries_match_nothing_and_do_not_panic() {
        let doc = CacheDoc::parse(
            br#"{
                "AccessToken": {"a": 5, "b": {"client_id": 7, "secret": [], "expires_on": "soon"},
                                "c": {"client_id": "cid", "environment": "login.example",
                                      "home_account_id": "h", "realm": "organizations",
                                      "target": "x", "secret": "s", "expires_on": -1}},
                "RefreshToken": [],
                "Account": "nope",
                "IdToken": {"i": null}
            }"#,
        )
        .unwrap();
        let scopes = ["x".to_string()];
        let wanted = Wanted {
            scopes: &scopes,
            home_account_id: "h",
        };
        assert!(doc.access_token(&APP, &wanted, SystemTime::now()).is_none());
        assert!(doc.refresh_tokens(&APP, "h").is_empty());
        assert!(doc.accounts(&APP).is_empty());
        assert!(doc.all_accounts().is_empty());
    }

    #[test]
    fn keys_targets_and_layout_are_msal_s() {
        assert_eq!(
            msal_key(&["U.T", "Login.Example", "accesstoken", "CID", "Realm", "b A"]),
            "u.t-login.example-accesstoken-cid-realm-b a"
        );
        assert_eq!(
            target_of(&["profile".into(), "User.Read".into(), "openid".into()]),
            "User.Read openid profile"
        );
        assert!(covers(
            "User.Read openid profile",
            &match_scopes(&["user.read".into(), "openid".into()])
        ));
        assert!(!covers("User.Read", &match_scopes(&["Mail.Read".into()])));
        let doc = CacheDoc::parse(br#"{"Other": {"k": {"v": "1"}}}"#).unwrap();
        let text = String::from_utf8(doc.to_bytes()).unwrap();
        assert!(text.contains("\n    \"Other\": {\n        \"k\""), "{text}");
    }

    #[test]
    fn times_are_read_from_strings_or_numbers() {
        let entry: Entry =
            serde_json::from_str(r#"{"a": "1795478400", "b": 12, "c": "x", "d": -4}"#).unwrap();
        assert_eq!(seconds(&entry, "a"), Some(1_795_478_400));
        assert_eq!(seconds(&entry, "b"), Some(12));
        assert_eq!(seconds(&entry, "c"), None);
        assert_eq!(seconds(&entry, "d"), None);
        assert_eq!(seconds(&entry, "missing"), None);
    }

    #[test]
    fn accounts_pick_entries_and_order_as_before() {
        // Keys sort, so section order is key order: the other app's id_token
        // comes first, and h1's entry in another realm before its own.
        let doc = CacheDoc::parse(
            br#"{
                "IdToken": {
                    "a-other": {"client_id": "other", "environment": "login.example",
                                "home_account_id": "h1", "secret": "h.eyJuYW1lIjoiT3RoZXIgYXBwIn0.s"},
                    "b-mine": {"client_id": "cid", "environment": "login.example",
                               "home_account_id": "h1", "secret": "h.eyJuYW1lIjoiQW5uIn0.s"}
                },
                "RefreshToken": {
                    "r1": {"client_id": "cid", "environment": "login.example",
                           "home_account_id": "h1", "secret": "s"},
                    "r2": {"client_id": "cid", "environment": "login.example",
                           "home_account_id": "h2", "secret": "s"}
                },
                "Account": {
                    "h0": {"home_account_id": "h0", "environment": "other.example",
                           "realm": "organizations", "username": "aaa"},
                    "h1-a": {"home_account_id": "h1", "environment": "login.example",
                             "realm": "tenant-x", "username": "ann@x", "local_account_id": "oid-x"},
                    "h1-b": {"home_account_id": "h1", "environment": "login.example",
                             "realm": "Organizations", "username": "ann@x", "local_account_id": "oid-org"},
                    "h2-a": {"home_account_id": "h2", "environment": "login.example",
                             "realm": "organizations", "username": "ann@x"},
                    "h3": {"home_account_id": "h3", "environment": "login.example",
                           "realm": "organizations", "username": "bob@x"}
                }
            }"#,
        )
        .unwrap();
        let seen = |accounts: Vec<Account>| -> Vec<String> {
            accounts
                .iter()
                .map(|a| {
                    format!(
                        "{} {} {} {:?} {:?} {:?}",
                        a.username(),
                        a.home_account_id(),
                        a.environment(),
                        a.oid(),
                        a.name(),
                        a.tenant_id()
                    )
                })
                .collect()
        };
        // The app's own id_token, the entry in the app's realm; equal names
        // stay in home account id order.
        assert_eq!(
            seen(doc.accounts(&APP)),
            [
                r#"ann@x h1 login.example Some("oid-org") Some("Ann") Some("Organizations")"#,
                r#"ann@x h2 login.example None None Some("organizations")"#,
            ]
        );
        // Any app's first id_token, the account's first entry.
        assert_eq!(
            seen(doc.all_accounts()),
            [
                r#"aaa h0 other.example None None Some("organizations")"#,
                r#"ann@x h1 login.example Some("oid-x") Some("Other app") Some("tenant-x")"#,
                r#"ann@x h2 login.example None None Some("organizations")"#,
                r#"bob@x h3 login.example None None Some("organizations")"#,
            ]
        );
    }

    fn issued(secret: &str, scopes: &[&str], now: SystemTime, life: u64) -> Token {
        Token::from_cache(
            AccessToken::new(secret),
            "Bearer",
            now + Duration::from_secs(life),
            None,
            None,
            now,
            scopes.iter().map(|s| s.to_string()).collect(),
            None,
            None,
            None,
        )
    }

    #[test]
    fn access_tokens_for_other_scopes_stay_side_by_side() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut doc = CacheDoc::default();
        let save = |doc: &mut CacheDoc, token: &Token, at: SystemTime| {
            doc.save(&APP, token, None, "grant", at)
        };
        // Entra lists `email` beside both: they share a scope, not a key.
        save(
            &mut doc,
            &issued("user", &["User.Read", "email"], now, 3600),
            now,
        );
        save(
            &mut doc,
            &issued("mail", &["Mail.Read", "email"], now, 3600),
            now,
        );
        let secret = |doc: &CacheDoc, scope: &str| {
            let scopes = [scope.to_string()];
            let wanted = Wanted {
                scopes: &scopes,
                home_account_id: "",
            };
            doc.access_token(&APP, &wanted, now)
                .map(|t| t.access_token().secret().to_string())
        };
        assert_eq!(secret(&doc, "user.read").as_deref(), Some("user"));
        assert_eq!(secret(&doc, "Mail.Read").as_deref(), Some("mail"));
        // The same key is replaced; a Bearer key is MSAL Python's exactly.
        save(
            &mut doc,
            &issued("user2", &["email", "User.Read"], now, 3600),
            now,
        );
        assert_eq!(secret(&doc, "User.Read").as_deref(), Some("user2"));
        assert_eq!(doc.section(ACCESS_TOKEN).count(), 2);
        assert!(
            doc.section(ACCESS_TOKEN)
                .any(|(k, _)| k == "-login.example-accesstoken-cid-organizations-user.read email")
        );
        // A rewrite drops what has expired by then.
        let later = now + Duration::from_secs(7200);
        save(
            &mut doc,
            &issued("files", &["Files.Read"], later, 3600),
            later,
        );
        assert_eq!(doc.section(ACCESS_TOKEN).count(), 1);
        assert_eq!(
            access_token_key("h", "e", "c", "r", "t", "pop"),
            "h-e-accesstoken-c-r-t-pop"
        );
    }
}
