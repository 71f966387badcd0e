//! Changes to the cache document: saving what a sign-in or refresh returned
//! and signing accounts out. They work on the whole document as a tree so
//! that every section, entry and field we do not know is written back as it
//! was (MSAL Python, .NET and the Azure CLI share the file).

use super::index::Section;
use super::schema::AppScope;
use crate::secret::RefreshToken;
use crate::token::{Account, Token};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Our field on access and refresh token entries: the thumbprint of the DPoP
/// key they are bound to. MSAL has none and keeps fields it does not know.
const DPOP_BINDING: &str = "dpop_jkt";

type Entry = Map<String, Value>;

/// A refresh token to save, with what is saved beside it.
struct SavedRefresh<'a> {
    secret: &'a RefreshToken,
    family_id: Option<&'a str>,
    dpop_thumbprint: Option<&'a str>,
}

/// Stores what a sign-in or a refresh returned. `replaces` is the key of
/// the refresh token that was redeemed: its entry takes the rotated
/// secret (MSAL updates it in place). `grant` is the account's source.
pub(super) fn save(
    root: &mut Map<String, Value>,
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
    remove_where(root, Section::AccessToken, |e| {
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
    section_mut(root, Section::AccessToken).insert(key, Value::Object(at));

    if let Some(refresh) = token.refresh_token() {
        let saved = SavedRefresh {
            secret: refresh,
            family_id: token.family_id(),
            dpop_thumbprint: token.dpop_thumbprint(),
        };
        save_refresh_token(root, app, hid, &target, &saved, replaces, now);
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
        section_mut(root, Section::IdToken).insert(key, Value::Object(entry));
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
        let entry = entry_mut(root, Section::Account, key);
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
    let entry = entry_mut(
        root,
        Section::AppMetadata,
        format!("appmetadata-{env}-{cid}"),
    );
    put(entry, "client_id", cid);
    put(entry, "environment", env);
    if let Some(family) = token.family_id() {
        put(entry, "family_id", family);
    }
}

fn save_refresh_token(
    root: &mut Map<String, Value>,
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
    let section = section_mut(root, Section::RefreshToken);
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
pub(super) fn remove_account(
    root: &mut Map<String, Value>,
    app: &AppScope<'_>,
    hid: &str,
) -> usize {
    let credentials = [
        Section::AccessToken,
        Section::RefreshToken,
        Section::IdToken,
    ];
    let owned = |e: &Entry| {
        text(e, "client_id") == app.client_id
            && text(e, "environment") == app.environment
            && text(e, "home_account_id") == hid
    };
    let mut removed = 0;
    for section in credentials {
        removed += remove_where(root, section, owned);
    }
    let of_account =
        |e: &Entry| text(e, "home_account_id") == hid && text(e, "environment") == app.environment;
    let still_used = credentials.iter().any(|section| {
        root.get(section.name())
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(_, value)| value.as_object())
            .any(of_account)
    });
    if !still_used {
        removed += remove_where(root, Section::Account, of_account);
    }
    removed
}

/// Deletes every credential and account entry of the account, for every
/// application. Returns how many entries were removed.
pub(super) fn remove_account_everywhere(
    root: &mut Map<String, Value>,
    hid: &str,
    environment: &str,
) -> usize {
    [
        Section::AccessToken,
        Section::RefreshToken,
        Section::IdToken,
        Section::Account,
    ]
    .into_iter()
    .map(|section| {
        remove_where(root, section, |e| {
            text(e, "home_account_id") == hid && text(e, "environment") == environment
        })
    })
    .sum()
}

/// The section, made when missing. A section that is not an object is not
/// ours to repair: it is replaced only if we must write into it.
fn section_mut(root: &mut Map<String, Value>, section: Section) -> &mut Map<String, Value> {
    object_in(root.entry(section.name()).or_insert(Value::Null))
}

/// An entry to update in place (so fields other MSAL versions wrote stay).
fn entry_mut(root: &mut Map<String, Value>, section: Section, key: String) -> &mut Entry {
    object_in(section_mut(root, section).entry(key).or_insert(Value::Null))
}

fn remove_where(
    root: &mut Map<String, Value>,
    section: Section,
    doomed: impl Fn(&Entry) -> bool,
) -> usize {
    let Some(section) = root.get_mut(section.name()).and_then(Value::as_object_mut) else {
        return 0;
    };
    let before = section.len();
    section.retain(|_, value| !value.as_object().is_some_and(&doomed));
    before.saturating_sub(section.len())
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
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds(entry, name)?))
}

fn epoch(at: SystemTime) -> String {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

fn put(entry: &mut Entry, name: &str, value: &str) {
    entry.insert(name.to_string(), Value::String(value.to_string()));
}

/// MSAL's key: fields joined with `-`, lower-cased.
pub(super) fn msal_key(parts: &[&str]) -> String {
    let mut key = parts.join("-");
    // Keys are ASCII but for exotic scopes: lower-case those in place, the
    // rest as Unicode says (as MSAL Python's `lower()`).
    if key.is_ascii() {
        key.make_ascii_lowercase();
        key
    } else {
        key.to_lowercase()
    }
}

/// MSAL's `target`: the scopes sorted and joined with single spaces.
pub(super) fn target_of(scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(" ")
}

/// MSAL's access token key. A token type other than Bearer (a DPoP or PoP
/// token) is a credential of another kind for the same target, so MSAL .NET
/// appends it; a Bearer key stays exactly MSAL Python's.
pub(super) fn access_token_key(
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
    fn keys_and_targets_are_msal_s() {
        assert_eq!(
            msal_key(&["U.T", "Login.Example", "accesstoken", "CID", "Realm", "b A"]),
            "u.t-login.example-accesstoken-cid-realm-b a"
        );
        assert_eq!(
            msal_key(&["Ä", "ÉtÉ", "X"]),
            "ä-été-x",
            "Unicode lower-cased too"
        );
        assert_eq!(
            target_of(&["profile".into(), "User.Read".into(), "openid".into()]),
            "User.Read openid profile"
        );
        assert_eq!(
            access_token_key("h", "e", "c", "r", "t", "pop"),
            "h-e-accesstoken-c-r-t-pop"
        );
    }
}
