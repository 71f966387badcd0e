//! MSAL's unified token cache schema: the one JSON document every cache
//! backend stores, and the lookups silent sign-in needs.
//!
//! A document is read once into views of the entries lookups need (see
//! `index`); it becomes a whole tree only to be changed (see `edit`), so
//! that sections, entries and fields we do not know survive a rewrite: the
//! file is shared with MSAL Python, .NET, Node and the Azure CLI. One read
//! under the lock to be changed goes straight into the tree.

use super::edit;
use super::index::{EntryRef, Indexed, Section, Unreadable};
use crate::authority::OIDC_SCOPES;
use crate::secret::{AccessToken, IdToken, RefreshToken};
use crate::token::{Account, AccountClaims, Token};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// An access token with less than this left is not handed out (MSAL's rule):
/// the caller needs time to use it.
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(300);

/// The whole cache document.
#[derive(Clone)]
pub(crate) struct CacheDoc {
    /// The text and the views lookups read: as loaded, or made when a
    /// lookup first needs them, from `source` or else from `tree`.
    read: OnceLock<Indexed>,
    /// The whole document, from the first change on (then it is the truth
    /// and `read` is derived from it), or from a load for a change on.
    tree: Option<Map<String, Value>>,
    /// The text `tree` was read from, while it is unchanged: a lookup before
    /// the change reads its views from it, with no rewrite of the tree.
    source: Option<String>,
    /// A change could not be made (see `tree_mut`): the document must not
    /// be written as if it had been.
    change_failed: bool,
}

impl Default for CacheDoc {
    fn default() -> Self {
        CacheDoc {
            change_failed: false,
            read: OnceLock::new(),
            tree: Some(Map::new()),
            source: None,
        }
    }
}

/// Never the contents: they are secrets.
impl fmt::Debug for CacheDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheDoc")
            .field("entries", &self.indexed().entries())
            .field("changed", &(self.tree.is_some() && self.source.is_none()))
            .finish()
    }
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
    fn realm_matches(&self, doc: &Indexed, hid: &str, realm: &str) -> bool {
        match self.tenant {
            None => true,
            Some(tenant) if realm.eq_ignore_ascii_case(tenant) => true,
            Some(tenant) if is_domain(tenant) => doc.section(Section::Account).any(|a| {
                a.home_account_id() == hid
                    && a.environment() == self.environment
                    && a.realm().eq_ignore_ascii_case(realm)
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
    #[cfg(any(test, feature = "__fuzz"))]
    pub fn parse(bytes: &[u8]) -> Result<CacheDoc, String> {
        Self::from_bytes(bytes.to_vec())
    }

    /// As [`parse`](Self::parse), keeping `bytes` as the document's text
    /// (a file of a thousand accounts is megabytes: no copy).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<CacheDoc, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err("it is empty (a write was interrupted, or it was truncated)".into());
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => return Err(not_json(e.as_bytes())),
        };
        match Indexed::parse(text) {
            Ok(indexed) => Ok(CacheDoc {
                change_failed: false,
                read: OnceLock::from(indexed),
                tree: None,
                source: None,
            }),
            Err(Unreadable::NotObject) => Err("it is JSON but not an object".into()),
            Err(Unreadable::NotJson(e)) => Err(format!("it is not valid JSON ({e})")),
        }
    }

    /// As [`from_bytes`](Self::from_bytes), for a document about to be
    /// changed: read straight into the tree a change needs, not first into
    /// the views lookups read (which are made from the text only if a lookup
    /// comes before the change). Any text the tree cannot be read from is
    /// left to `from_bytes`, which says why it is unreadable, or reads it
    /// as it always did (a change then fails, see `tree_mut`).
    pub fn from_bytes_to_change(bytes: Vec<u8>) -> Result<CacheDoc, String> {
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => return Self::from_bytes(e.into_bytes()),
        };
        match serde_json::from_str::<Map<String, Value>>(&text) {
            Ok(tree) => Ok(CacheDoc {
                change_failed: false,
                read: OnceLock::new(),
                tree: Some(tree),
                source: Some(text),
            }),
            Err(_) => Self::from_bytes(text.into_bytes()),
        }
    }

    /// The document as MSAL writes it (4-space indentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.tree {
            Some(tree) => pretty(tree),
            // Unchanged: rewritten all the same, in the layout MSAL writes.
            None => match serde_json::from_str::<Map<String, Value>>(self.indexed().text()) {
                Ok(tree) => pretty(&tree),
                // Cannot happen (the text was read as strictly); if it did,
                // the text as it was beats losing it.
                Err(_) => self.indexed().text().as_bytes().to_vec(),
            },
        }
    }

    fn indexed(&self) -> &Indexed {
        self.read.get_or_init(|| {
            // Read from the same text as by `from_bytes` (the tree was read
            // from it, so it is JSON); a copy: the tree may still change.
            if let Some(source) = &self.source {
                return Indexed::parse(source.clone()).unwrap_or_default();
            }
            let tree = self.tree.as_ref().map(pretty).unwrap_or_default();
            String::from_utf8(tree)
                .ok()
                .and_then(|text| Indexed::parse(text).ok())
                .unwrap_or_default()
        })
    }

    /// The whole document, to change it; the views lookups read are made
    /// again from it when next needed. `None` if the text cannot be built
    /// into a tree, which its strict reading rules out: then nothing changes.
    fn tree_mut(&mut self) -> Option<&mut Map<String, Value>> {
        if self.tree.is_none() {
            match serde_json::from_str(self.indexed().text()) {
                Ok(tree) => self.tree = Some(tree),
                Err(e) => {
                    log::error!(
                        "the token cache could not be read for a change ({e}); it is left as it was"
                    );
                    self.change_failed = true;
                    return None;
                }
            }
        }
        self.read = OnceLock::new();
        self.source = None;
        self.tree.as_mut()
    }

    /// A document whose change could not be made, for tests of what a
    /// save then does (no text reaches this state today: see `tree_mut`).
    #[cfg(test)]
    pub fn with_failed_change() -> CacheDoc {
        CacheDoc {
            change_failed: true,
            ..CacheDoc::default()
        }
    }

    /// Whether a change was asked for and could not be made: saving the
    /// document would drop it (an issued token would be lost).
    pub fn change_failed(&self) -> bool {
        self.change_failed
    }

    /// A cached access token for `wanted` with at least [`MIN_LIFETIME`] left
    /// at `now`, with the refresh token and account that go with it.
    pub fn access_token(
        &self,
        app: &AppScope<'_>,
        wanted: &Wanted<'_>,
        now: SystemTime,
    ) -> Option<Token> {
        let doc = self.indexed();
        let needed = match_scopes(wanted.scopes);
        let entry = doc
            .section(Section::AccessToken)
            .filter(|e| {
                owned_by(e, app, wanted.home_account_id)
                    && app.realm_matches(doc, wanted.home_account_id, e.realm())
                    && covers(e.target(), &needed)
            })
            .filter(|e| {
                let least = now.checked_add(MIN_LIFETIME);
                time(e.expires_on()).is_some_and(|at| least.is_some_and(|least| at >= least))
            })
            .max_by_key(|e| time(e.expires_on()))?;
        Some(self.token_from(app, wanted.home_account_id, &entry))
    }

    fn token_from(&self, app: &AppScope<'_>, hid: &str, at: &EntryRef<'_>) -> Token {
        let doc = self.indexed();
        let refresh = self.refresh_tokens(app, hid).into_iter().next();
        let id_token = doc
            .section(Section::IdToken)
            .find(|e| owned_by(e, app, hid) && e.realm().eq_ignore_ascii_case(at.realm()));
        let account = account_entry(doc, app, hid, at.realm(), id_token.as_ref());
        let scopes = at.target().split_whitespace().map(str::to_string).collect();
        let epoch = SystemTime::UNIX_EPOCH;
        let mut token = Token::from_cache(
            AccessToken::new(at.secret()),
            match at.token_type() {
                "" => "Bearer",
                other => other,
            },
            time(at.expires_on()).unwrap_or(epoch),
            time(at.extended_expires_on()),
            time(at.refresh_on()),
            time(at.cached_at()).unwrap_or(epoch),
            scopes,
            refresh.map(|r| r.secret),
            id_token.map(|e| IdToken::new(e.secret())),
            account,
        );
        match at.dpop_jkt() {
            "" => {}
            jkt => token.bind_dpop(jkt),
        }
        token
    }

    /// Refresh tokens usable for the account, best first: the app's own,
    /// newest first, then family (FOCI) tokens when the app is in the family.
    pub fn refresh_tokens(&self, app: &AppScope<'_>, hid: &str) -> Vec<CachedRefresh> {
        let doc = self.indexed();
        let in_family = doc.section(Section::AppMetadata).any(|e| {
            e.client_id() == app.client_id
                && e.environment() == app.environment
                && e.family_id() == "1"
        });
        let mut found: Vec<(bool, u64, EntryRef<'_>)> = doc
            .section(Section::RefreshToken)
            .filter(|e| {
                e.home_account_id() == hid
                    && e.environment() == app.environment
                    && !e.secret().is_empty()
            })
            .filter_map(|e| {
                let own = e.client_id() == app.client_id;
                let family = in_family && e.family_id() == "1";
                (own || family).then(|| (own, e.last_modification_time().unwrap_or(0), e))
            })
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse((f.0, f.1)));
        found
            .into_iter()
            .map(|(_, _, e)| CachedRefresh {
                key: e.key().to_string(),
                secret: RefreshToken::new(e.secret()),
                dpop_thumbprint: Some(e.dpop_jkt())
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            })
            .collect()
    }

    /// The accounts that hold tokens of this application, one per home
    /// account id, ordered by username.
    pub fn accounts(&self, app: &AppScope<'_>) -> Vec<Account> {
        let doc = self.indexed();
        let mine =
            |e: &EntryRef<'_>| e.client_id() == app.client_id && e.environment() == app.environment;
        // One pass over each section, not one per account: a file of a
        // thousand accounts must not cost a million comparisons.
        let realm = app.realm(None);
        let mut entries: IdMap<'_, AccountEntries<'_>> =
            IdMap::with_capacity_and_hasher(doc.len(Section::Account), Default::default());
        for e in doc.section(Section::Account) {
            if e.environment() == app.environment {
                entries
                    .entry(e.home_account_id())
                    .or_default()
                    .offer(e, &realm);
            }
        }
        let mut id_tokens: IdMap<'_, EntryRef<'_>> =
            IdMap::with_capacity_and_hasher(doc.len(Section::IdToken), Default::default());
        for e in doc.section(Section::IdToken).filter(mine) {
            id_tokens.entry(e.home_account_id()).or_insert(e);
        }
        // Listed: accounts that hold a token of the application.
        for e in [
            Section::AccessToken,
            Section::RefreshToken,
            Section::IdToken,
        ]
        .into_iter()
        .flat_map(|section| doc.section(section))
        .filter(mine)
        {
            if let Some(account) = entries.get_mut(e.home_account_id()) {
                account.holds_tokens = true;
            }
        }
        let mut accounts: Vec<Account> = entries
            .iter()
            .filter(|(hid, found)| found.holds_tokens && !hid.is_empty())
            .filter_map(|(hid, found)| {
                Some(account_of(
                    &found.best()?,
                    app.environment,
                    hid,
                    id_tokens.get(hid),
                ))
            })
            .collect();
        // Account ids are unique: an unstable sort orders as a stable one.
        accounts.sort_unstable_by(|a, b| {
            (a.username(), a.home_account_id()).cmp(&(b.username(), b.home_account_id()))
        });
        accounts
    }

    /// The account `hid` if it holds tokens of this application: the one
    /// [`accounts`](Self::accounts) lists, without making the others.
    pub fn account(&self, app: &AppScope<'_>, hid: &str) -> Option<Account> {
        let doc = self.indexed();
        let mine = |e: &EntryRef<'_>| {
            e.client_id() == app.client_id
                && e.environment() == app.environment
                && e.home_account_id() == hid
        };
        let holds_tokens = [
            Section::AccessToken,
            Section::RefreshToken,
            Section::IdToken,
        ]
        .into_iter()
        .flat_map(|section| doc.section(section))
        .any(|e| mine(&e));
        if hid.is_empty() || !holds_tokens {
            return None;
        }
        let id_token = doc.section(Section::IdToken).find(mine);
        account_entry(doc, app, hid, &app.realm(None), id_token.as_ref())
    }

    /// Every account in the document, whatever application signed it in:
    /// one per home account id and environment, ordered by username.
    pub fn all_accounts(&self) -> Vec<Account> {
        let doc = self.indexed();
        // The first id_token of each account, whichever application got it.
        let mut id_tokens: HashMap<(&str, &str), EntryRef<'_>> = HashMap::new();
        for t in doc.section(Section::IdToken) {
            id_tokens
                .entry((t.home_account_id(), t.environment()))
                .or_insert(t);
        }
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        let mut accounts = Vec::new();
        for e in doc.section(Section::Account) {
            let (hid, env) = (e.home_account_id(), e.environment());
            // The first entry of an account is the one in its own realm.
            if hid.is_empty() || !seen.insert((hid, env)) {
                continue;
            }
            accounts.push(account_of(&e, env, hid, id_tokens.get(&(hid, env))));
        }
        accounts.sort_by(|a, b| a.username().cmp(b.username()));
        accounts
    }

    /// Whether tokens without an account (from a server that sends no
    /// id_token) are cached for the application.
    pub fn has_anonymous_tokens(&self, app: &AppScope<'_>) -> bool {
        let doc = self.indexed();
        [Section::AccessToken, Section::RefreshToken]
            .into_iter()
            .flat_map(|section| doc.section(section))
            .any(|e| owned_by(&e, app, ""))
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
        if let Some(tree) = self.tree_mut() {
            edit::save(tree, app, token, replaces, grant, now);
        }
    }

    /// Signs the account out of this application: its access, refresh and id
    /// tokens go, and its Account entry too unless another application still
    /// holds tokens for it. Returns how many entries were removed.
    pub fn remove_account(&mut self, app: &AppScope<'_>, hid: &str) -> usize {
        self.tree_mut()
            .map_or(0, |tree| edit::remove_account(tree, app, hid))
    }

    /// Deletes every credential and account entry of the account, for every
    /// application. Returns how many entries were removed.
    pub fn remove_account_everywhere(&mut self, hid: &str, environment: &str) -> usize {
        self.tree_mut().map_or(0, |tree| {
            edit::remove_account_everywhere(tree, hid, environment)
        })
    }
}

/// A map keyed by account id, for the joins of [`CacheDoc::accounts`].
type IdMap<'a, V> = HashMap<&'a str, V, BuildHasherDefault<IdHasher>>;

/// A multiply-rotate hash (as rustc's FxHash) eight bytes at a time: SipHash
/// cost a tenth of listing a thousand accounts. It does not resist chosen
/// collisions, which only a writer of the token file could choose, and such
/// a writer can do much worse than slow a listing down.
#[derive(Default)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let (words, tail) = bytes.as_chunks::<8>();
        for word in words {
            self.add(u64::from_le_bytes(*word));
        }
        let mut last = [0u8; 8];
        for (slot, byte) in last.iter_mut().zip(tail) {
            *slot = *byte;
        }
        self.add(u64::from_le_bytes(last) ^ (tail.len() as u64));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The reason bytes that are not UTF-8 are no token cache, in a JSON
/// parser's words (with the line and column).
fn not_json(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Err(e) => format!("it is not valid JSON ({e})"),
        Ok(_) => "it is not valid JSON (it is not UTF-8)".to_string(),
    }
}

/// The document in MSAL's layout (4-space indentation).
fn pretty(tree: &Map<String, Value>) -> Vec<u8> {
    crate::json_write::pretty(tree)
}

/// The account of `hid`, from its Account entry (the one in `realm` if
/// there are several) and the claims of its id_token.
fn account_entry(
    doc: &Indexed,
    app: &AppScope<'_>,
    hid: &str,
    realm: &str,
    id_token: Option<&EntryRef<'_>>,
) -> Option<Account> {
    let mut entries = AccountEntries::default();
    for e in doc.section(Section::Account) {
        if e.home_account_id() == hid && e.environment() == app.environment {
            entries.offer(e, realm);
        }
    }
    Some(account_of(&entries.best()?, app.environment, hid, id_token))
}

/// The Account entries of one account, as one pass over the section finds
/// them: the first in the wanted realm wins, else the first of any realm.
#[derive(Default)]
struct AccountEntries<'a> {
    in_realm: Option<EntryRef<'a>>,
    first: Option<EntryRef<'a>>,
    /// Whether the account holds tokens of the application.
    holds_tokens: bool,
}

impl<'a> AccountEntries<'a> {
    fn offer(&mut self, entry: EntryRef<'a>, realm: &str) {
        if self.in_realm.is_none() && entry.realm().eq_ignore_ascii_case(realm) {
            self.in_realm = Some(entry);
        }
        self.first.get_or_insert(entry);
    }

    fn best(&self) -> Option<EntryRef<'a>> {
        self.in_realm.or(self.first)
    }
}

/// An account from its Account entry and the claims of its id_token (read
/// only if the account is asked for something the entry does not say).
fn account_of(
    entry: &EntryRef<'_>,
    environment: &str,
    hid: &str,
    id_token: Option<&EntryRef<'_>>,
) -> Account {
    Account::from_cache(
        entry.username().to_string(),
        entry.local_account_id(),
        entry.realm(),
        hid.to_string(),
        environment.to_string(),
        id_token.map_or_else(|| Arc::new(AccountClaims::of("")), EntryRef::claims),
    )
}

/// Whether a credential entry belongs to this app, place and account.
fn owned_by(entry: &EntryRef<'_>, app: &AppScope<'_>, hid: &str) -> bool {
    entry.client_id() == app.client_id
        && entry.environment() == app.environment
        && entry.home_account_id() == hid
}

fn time(seconds: Option<u64>) -> Option<SystemTime> {
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds?))
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

#[cfg(test)]
mod tests {
    use super::super::scan;
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
    fn layout_is_msal_s() {
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

    const NOW: u64 = 1_800_000_000;

    /// A document of one account signed in to APP, with `extra` members
    /// spliced into its top level and into its access token entry.
    fn one_account(extra_top: &str, extra_entry: &str) -> String {
        let claims = crate::json::base64url_encode(r#"{"name":"Ann","tid":"tenant"}"#);
        format!(
            r#"{{{extra_top}
            "AccessToken": {{"h-login.example-accesstoken-cid-organizations-x": {{
                "secret": "at", "home_account_id": "h", "environment": "login.example",
                "client_id": "cid", "realm": "organizations", "target": "x",
                "expires_on": "{}", {extra_entry} "cached_at": "{NOW}"}}}},
            "RefreshToken": {{"r": {{"secret": "rt", "home_account_id": "h",
                "environment": "login.example", "client_id": "cid"}}}},
            "IdToken": {{"i": {{"secret": "h.{claims}.s", "home_account_id": "h",
                "environment": "login.example", "client_id": "cid", "realm": "organizations"}}}},
            "Account": {{"a": {{"home_account_id": "h", "environment": "login.example",
                "realm": "organizations", "username": "ann@x"}}}}
            }}"#,
            NOW + 3600
        )
    }

    fn at(now: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(now)
    }

    fn cached_secret(doc: &CacheDoc) -> Option<String> {
        let scopes = ["x".to_string()];
        let wanted = Wanted {
            scopes: &scopes,
            home_account_id: "h",
        };
        doc.access_token(&APP, &wanted, at(NOW))
            .map(|t| t.access_token().secret().to_string())
    }

    #[test]
    fn what_we_do_not_know_survives_a_change_after_a_quick_read() {
        // One document in the usual form (the quick pass), one with a number
        // and a literal in it (serde_json reads it).
        let unknown = r#""Other": {"k": {"v": "1", "deep": {"x": "\u00e9"}}},"#;
        let odd = r#""Other": {"n": [1e3]}, "AppMetadata": "odd","#;
        for (extra_top, extra_entry, quick) in [
            (unknown, r#""custom": {"keep": "me"}, "#, true),
            (odd, r#""custom": [1, 2.5, true, null], "ext": 12, "#, false),
        ] {
            let text = one_account(extra_top, extra_entry);
            assert_eq!(scan::index(&text).is_some(), quick, "{extra_entry}");
            let mut doc = CacheDoc::parse(text.as_bytes()).unwrap();
            assert_eq!(cached_secret(&doc).as_deref(), Some("at"));
            // A change: an access token for other scopes.
            doc.save(
                &APP,
                &issued("new", &["y"], at(NOW), 3600),
                None,
                "g",
                at(NOW),
            );
            let before: Value = serde_json::from_str(&text).unwrap();
            let after: Value = serde_json::from_slice(&doc.to_bytes()).unwrap();
            assert_eq!(after["Other"], before["Other"]);
            let key = "h-login.example-accesstoken-cid-organizations-x";
            assert_eq!(after["AccessToken"][key], before["AccessToken"][key]);
            for section in ["RefreshToken", "IdToken", "Account"] {
                assert_eq!(after[section], before[section], "{section}");
            }
            // A section that was not an object had to become one.
            assert!(after["AppMetadata"].is_object());
            assert_eq!(after["AppMetadata"].as_object().unwrap().len(), 1);
            // Lookups on the changed document see old and new alike.
            assert_eq!(cached_secret(&doc).as_deref(), Some("at"));
            let scopes = ["y".to_string()];
            let wanted = Wanted {
                scopes: &scopes,
                home_account_id: "",
            };
            let new = doc.access_token(&APP, &wanted, at(NOW)).unwrap();
            assert_eq!(new.access_token().secret(), "new");
            // An unchanged document is rewritten as it was, in MSAL's layout.
            let unchanged = CacheDoc::parse(text.as_bytes()).unwrap();
            let rewritten: Value = serde_json::from_slice(&unchanged.to_bytes()).unwrap();
            assert_eq!(rewritten, before);
        }
    }

    #[test]
    fn a_document_read_to_change_reads_and_changes_as_one_read_for_lookups() {
        let unknown = r#""Other": {"k": {"v": "1", "deep": {"x": "\u00e9"}}},"#;
        let odd = r#""Other": {"n": [1e3]}, "AppMetadata": "odd","#;
        for (extra_top, extra_entry) in [(unknown, r#""custom": {"keep": "me"}, "#), (odd, "")] {
            let text = one_account(extra_top, extra_entry);
            let mut looked = CacheDoc::parse(text.as_bytes()).unwrap();
            let mut to_change = CacheDoc::from_bytes_to_change(text.clone().into_bytes()).unwrap();
            assert!(
                to_change.read.get().is_none(),
                "no views made before a lookup"
            );
            assert_eq!(to_change.to_bytes(), looked.to_bytes(), "the same rewrite");
            // A lookup before the change reads the text.
            assert_eq!(cached_secret(&to_change).as_deref(), Some("at"));
            assert_eq!(
                format!("{:?}", to_change.all_accounts()),
                format!("{:?}", looked.all_accounts())
            );
            for doc in [&mut looked, &mut to_change] {
                let token = issued("new", &["y"], at(NOW), 3600);
                doc.save(&APP, &token, None, "g", at(NOW));
                assert!(!doc.change_failed());
            }
            assert_eq!(to_change.to_bytes(), looked.to_bytes(), "changed alike");
            // A lookup after the change sees it, not the text as loaded.
            let scopes = ["y".to_string()];
            let wanted = Wanted {
                scopes: &scopes,
                home_account_id: "",
            };
            let new = to_change.access_token(&APP, &wanted, at(NOW)).unwrap();
            assert_eq!(new.access_token().secret(), "new");
            assert_eq!(cached_secret(&to_change).as_deref(), Some("at"));
        }
        // What cannot be read is refused in the same words.
        for bytes in [
            &b""[..],
            b" \n\t",
            b"[1, 2]",
            b"{\"AccessToken\": {",
            b"{} x",
            b"\xff\xfe",
        ] {
            assert_eq!(
                CacheDoc::from_bytes_to_change(bytes.to_vec()).unwrap_err(),
                CacheDoc::parse(bytes).unwrap_err(),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_malformed_entry_is_skipped_beside_good_ones() {
        for bad in [
            r#""AccessToken": {"0": "not an entry", "1": 5, "2": null, "3": [],"#,
            r#""AccessToken": {"0": {"secret": 5, "client_id": ["cid"], "expires_on": {}},"#,
        ] {
            let text = one_account("", "").replacen(r#""AccessToken": {"#, bad, 1);
            let doc = CacheDoc::parse(text.as_bytes()).unwrap();
            assert_eq!(cached_secret(&doc).as_deref(), Some("at"), "{bad}");
            assert_eq!(doc.accounts(&APP).len(), 1);
        }
    }

    #[test]
    fn an_id_token_is_decoded_once_whatever_the_lookups() {
        let text = one_account("", "");
        let doc = CacheDoc::parse(text.as_bytes()).unwrap();
        let before = crate::token::DECODED.with(|n| n.get());
        let accounts = doc.accounts(&APP);
        assert_eq!(accounts[0].name(), Some("Ann"));
        assert_eq!(doc.account(&APP, "h"), Some(accounts[0].clone()));
        assert_eq!(doc.all_accounts(), accounts);
        let scopes = ["x".to_string()];
        let wanted = Wanted {
            scopes: &scopes,
            home_account_id: "h",
        };
        let token = doc.access_token(&APP, &wanted, at(NOW)).unwrap();
        assert_eq!(token.account(), Some(&accounts[0]));
        assert_eq!(crate::token::DECODED.with(|n| n.get()) - before, 1);
        assert_eq!(doc.account(&APP, "nobody"), None);
        assert_eq!(doc.account(&APP, ""), None);
    }

    #[test]
    fn a_cache_hit_decodes_no_id_token() {
        let text = one_account("", "");
        let doc = CacheDoc::parse(text.as_bytes()).unwrap();
        let decoded = || crate::token::DECODED.with(|n| n.get());
        let before = decoded();
        // What `devicecode token` does: list the accounts, pick one by its
        // username, get its cached token.
        let accounts = doc.accounts(&APP);
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].username(), "ann@x");
        let scopes = ["x".to_string()];
        let wanted = Wanted {
            scopes: &scopes,
            home_account_id: accounts[0].home_account_id(),
        };
        let token = doc.access_token(&APP, &wanted, at(NOW)).unwrap();
        assert_eq!(token.access_token().secret(), "at");
        assert_eq!(decoded() - before, 0, "nothing needed the id_token");
        // The first question only the id_token answers decodes it, once
        // for every account made from the document.
        assert_eq!(token.account().unwrap().tenant_id(), Some("tenant"));
        assert_eq!(accounts[0].name(), Some("Ann"));
        assert_eq!(decoded() - before, 1);
    }

    #[test]
    fn a_damaged_id_token_in_the_file_says_nothing_when_asked() {
        for secret in ["not-a-jwt", "h.@@@.s", "h.WzFd.s", ""] {
            let text = one_account("", "").replacen(
                r#""secret": "h."#,
                &format!(r#""secret": "{secret}", "was": "h."#),
                1,
            );
            let doc = CacheDoc::parse(text.as_bytes()).unwrap();
            let accounts = doc.accounts(&APP);
            let account = &accounts[0];
            // The Account entry's fields; the realm stands for the tenant.
            assert_eq!(account.username(), "ann@x", "{secret}");
            assert_eq!(
                (account.name(), account.oid(), account.tenant_id()),
                (None, None, Some("organizations")),
                "{secret}"
            );
            assert_eq!(doc.account(&APP, "h").as_ref(), Some(account));
        }
        // Without a username in its entry, the id_token gives it.
        let claims = crate::json::base64url_encode(r#"{"upn":"u@x","oid":"o"}"#);
        let text = one_account("", "")
            .replacen(r#", "username": "ann@x""#, "", 1)
            .replacen(
                r#""secret": "h."#,
                &format!(r#""secret": "h.{claims}.s", "was": "h."#),
                1,
            );
        let doc = CacheDoc::parse(text.as_bytes()).unwrap();
        let account = &doc.accounts(&APP)[0];
        assert_eq!((account.username(), account.oid()), ("u@x", Some("o")));
        assert_eq!(account.tenant_id(), Some("organizations"));
    }

    #[test]
    fn a_document_is_never_shown_with_its_secrets() {
        let text = one_account("", "");
        let doc = CacheDoc::parse(text.as_bytes()).unwrap();
        let shown = format!("{doc:?}");
        assert!(!shown.contains("at\"") && !shown.contains("rt"), "{shown}");
        assert!(shown.contains("entries: 4"), "{shown}");
        let reason = CacheDoc::parse(b"{\"a\": \"\xff\"}").unwrap_err();
        assert!(
            reason.contains("not valid JSON (") && reason.contains("line 1"),
            "{reason}"
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
        let access_tokens = |doc: &CacheDoc| {
            doc.indexed()
                .section(Section::AccessToken)
                .map(|e| e.key().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            access_tokens(&doc),
            [
                "-login.example-accesstoken-cid-organizations-mail.read email",
                "-login.example-accesstoken-cid-organizations-user.read email"
            ]
        );
        // A rewrite drops what has expired by then.
        let later = now + Duration::from_secs(7200);
        save(
            &mut doc,
            &issued("files", &["Files.Read"], later, 3600),
            later,
        );
        assert_eq!(access_tokens(&doc).len(), 1);
    }
}
