//! The cache document read without building it: one pass over the text
//! checks that it is JSON (as strictly as a full parse would) and notes, for
//! each entry of the sections lookups read, where its fields are in the
//! text. Nothing else is kept: sections, entries and fields we do not know
//! live on in the text until a change rebuilds the whole document from it.
//!
//! A file of a thousand accounts is megabytes of tokens; building a tree of
//! maps and strings from it cost most of a silent call.

use crate::json::{Checked, ObjectOnly, ReadMembers, Scalar};
use crate::token::IdClaims;
use serde::de::{DeserializeSeed, MapAccess};
use std::borrow::Cow;
use std::sync::OnceLock;

/// The sections lookups read (the rest of the document is only rewritten).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    AccessToken,
    RefreshToken,
    IdToken,
    Account,
    AppMetadata,
}

impl Section {
    /// The section's name in the document.
    pub fn name(self) -> &'static str {
        match self {
            Section::AccessToken => "AccessToken",
            Section::RefreshToken => "RefreshToken",
            Section::IdToken => "IdToken",
            Section::Account => "Account",
            Section::AppMetadata => "AppMetadata",
        }
    }

    fn named(name: &str) -> Option<Section> {
        Some(match name {
            "AccessToken" => Section::AccessToken,
            "RefreshToken" => Section::RefreshToken,
            "IdToken" => Section::IdToken,
            "Account" => Section::Account,
            "AppMetadata" => Section::AppMetadata,
            _ => return None,
        })
    }
}

/// A string of the document: where it is in the text, or its value when it
/// was written with escapes (rare: keys and tokens are plain ASCII).
#[derive(Debug, Clone, Default)]
enum Text {
    /// Missing, or not a string: lookups read it as empty, so a damaged
    /// entry simply matches nothing.
    #[default]
    Empty,
    At {
        start: usize,
        end: usize,
    },
    Unescaped(Box<str>),
}

impl Text {
    /// Where `value` lies in `text`, when it was borrowed from it.
    fn of(text: &str, value: Scalar<'_>) -> Text {
        let value = match value {
            Scalar::Str(value) => value,
            Scalar::Int(_) | Scalar::Other => return Text::Empty,
        };
        let value = match value {
            Cow::Borrowed(value) => value,
            Cow::Owned(value) => return Text::Unescaped(value.into_boxed_str()),
        };
        // Addresses, not pointer arithmetic: a string that is not a slice of
        // `text` (it cannot be one, but nothing relies on that) is copied.
        let start = (value.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        match start.checked_add(value.len()) {
            Some(end) if text.get(start..end).is_some() => Text::At { start, end },
            _ => Text::Unescaped(value.into()),
        }
    }

    fn get<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Text::Empty => "",
            Text::At { start, end } => text.get(*start..*end).unwrap_or_default(),
            Text::Unescaped(value) => value,
        }
    }
}

/// One entry of a section: the fields any lookup needs.
#[derive(Debug, Clone, Default)]
struct Entry {
    key: Text,
    client_id: Text,
    environment: Text,
    home_account_id: Text,
    realm: Text,
    target: Text,
    secret: Text,
    token_type: Text,
    family_id: Text,
    dpop_jkt: Text,
    username: Text,
    local_account_id: Text,
    cached_at: Option<u64>,
    expires_on: Option<u64>,
    extended_expires_on: Option<u64>,
    refresh_on: Option<u64>,
    last_modification_time: Option<u64>,
    /// An id_token's claims, decoded the first time a lookup needs them
    /// (`None` inside: the secret is not a JWT).
    claims: OnceLock<Option<Box<IdClaims>>>,
}

/// An entry as lookups see it. String fields missing from the entry, or
/// not strings, are empty; times are epoch seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    pub key: &'a str,
    pub client_id: &'a str,
    pub environment: &'a str,
    pub home_account_id: &'a str,
    pub realm: &'a str,
    pub target: &'a str,
    pub secret: &'a str,
    pub token_type: &'a str,
    pub family_id: &'a str,
    pub dpop_jkt: &'a str,
    pub username: &'a str,
    pub local_account_id: &'a str,
    pub cached_at: Option<u64>,
    pub expires_on: Option<u64>,
    pub extended_expires_on: Option<u64>,
    pub refresh_on: Option<u64>,
    pub last_modification_time: Option<u64>,
    claims: &'a OnceLock<Option<Box<IdClaims>>>,
}

impl<'a> EntryRef<'a> {
    /// The claims of the id_token in `secret`, decoded once per document
    /// whatever the number of lookups that need them.
    pub fn claims(&self) -> Option<&'a IdClaims> {
        let secret = self.secret;
        self.claims
            .get_or_init(|| IdClaims::decode(secret).ok().map(Box::new))
            .as_deref()
    }
}

/// The document's text and the entries of its known sections, each section
/// in key order with one entry per key (the last one written), as a full
/// parse into a map would leave them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Indexed {
    text: String,
    access_tokens: Vec<Entry>,
    refresh_tokens: Vec<Entry>,
    id_tokens: Vec<Entry>,
    accounts: Vec<Entry>,
    app_metadata: Vec<Entry>,
}

/// Why a text is not a cache document.
#[derive(Debug)]
pub(crate) enum Unreadable {
    NotJson(serde_json::Error),
    NotObject,
}

impl Indexed {
    /// Reads the document in `text`.
    pub fn parse(text: String) -> Result<Indexed, Unreadable> {
        let mut reader = serde_json::Deserializer::from_str(&text);
        let read = ObjectOnly(DocumentMembers { text: &text })
            .deserialize(&mut reader)
            .and_then(|read| reader.end().map(|()| read));
        let mut indexed = match read {
            Ok(Some(indexed)) => indexed,
            Ok(None) => return Err(Unreadable::NotObject),
            Err(e) => return Err(Unreadable::NotJson(e)),
        };
        indexed.text = text;
        Ok(indexed)
    }

    /// The text the document was read from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The entries of a section, in key order.
    pub fn section(&self, section: Section) -> impl Iterator<Item = EntryRef<'_>> {
        let entries = match section {
            Section::AccessToken => &self.access_tokens,
            Section::RefreshToken => &self.refresh_tokens,
            Section::IdToken => &self.id_tokens,
            Section::Account => &self.accounts,
            Section::AppMetadata => &self.app_metadata,
        };
        let text = self.text.as_str();
        entries.iter().map(move |e| EntryRef {
            key: e.key.get(text),
            client_id: e.client_id.get(text),
            environment: e.environment.get(text),
            home_account_id: e.home_account_id.get(text),
            realm: e.realm.get(text),
            target: e.target.get(text),
            secret: e.secret.get(text),
            token_type: e.token_type.get(text),
            family_id: e.family_id.get(text),
            dpop_jkt: e.dpop_jkt.get(text),
            username: e.username.get(text),
            local_account_id: e.local_account_id.get(text),
            cached_at: e.cached_at,
            expires_on: e.expires_on,
            extended_expires_on: e.extended_expires_on,
            refresh_on: e.refresh_on,
            last_modification_time: e.last_modification_time,
            claims: &e.claims,
        })
    }

    /// How many entries the known sections hold (for `Debug` of a document:
    /// never its contents, which are secrets).
    pub fn entries(&self) -> usize {
        [
            &self.access_tokens,
            &self.refresh_tokens,
            &self.id_tokens,
            &self.accounts,
            &self.app_metadata,
        ]
        .iter()
        .map(|s| s.len())
        .sum()
    }
}

/// The top level: the known sections are read, anything else is checked.
struct DocumentMembers<'t> {
    text: &'t str,
}

impl<'de> ReadMembers<'de> for DocumentMembers<'_> {
    type Out = Indexed;

    fn read<A: MapAccess<'de>>(self, mut members: A) -> Result<Indexed, A::Error> {
        let mut indexed = Indexed::default();
        while let Some(name) = members.next_key::<Scalar<'de>>()? {
            let Some(section) = name.as_str().and_then(Section::named) else {
                members.next_value::<Checked>()?;
                continue;
            };
            // A section that is not an object is no section (a repeated
            // one replaces the earlier, as in a full parse).
            let entries = members
                .next_value_seed(ObjectOnly(SectionMembers { text: self.text }))?
                .unwrap_or_default();
            match section {
                Section::AccessToken => indexed.access_tokens = entries,
                Section::RefreshToken => indexed.refresh_tokens = entries,
                Section::IdToken => indexed.id_tokens = entries,
                Section::Account => indexed.accounts = entries,
                Section::AppMetadata => indexed.app_metadata = entries,
            }
        }
        Ok(indexed)
    }
}

struct SectionMembers<'t> {
    text: &'t str,
}

impl<'de> ReadMembers<'de> for SectionMembers<'_> {
    type Out = Vec<Entry>;

    fn read<A: MapAccess<'de>>(self, mut members: A) -> Result<Vec<Entry>, A::Error> {
        let text = self.text;
        // A value that is not an object is kept as `None` until repeated
        // keys are resolved: it still replaces an earlier entry of its key.
        let mut entries: Vec<(Text, Option<Entry>)> = Vec::new();
        while let Some(key) = members.next_key::<Scalar<'de>>()? {
            let entry = members.next_value_seed(ObjectOnly(EntryMembers { text }))?;
            entries.push((Text::of(text, key), entry));
        }
        // Key order, and the last of repeated keys, as a map gives them.
        // Files are written sorted, which the sort notices in one pass.
        entries.reverse();
        entries.sort_by(|a, b| a.0.get(text).cmp(b.0.get(text)));
        entries.dedup_by(|later, kept| later.0.get(text) == kept.0.get(text));
        Ok(entries
            .into_iter()
            .filter_map(|(key, entry)| entry.map(|entry| Entry { key, ..entry }))
            .collect())
    }
}

struct EntryMembers<'t> {
    text: &'t str,
}

impl<'de> ReadMembers<'de> for EntryMembers<'_> {
    type Out = Entry;

    fn read<A: MapAccess<'de>>(self, mut members: A) -> Result<Entry, A::Error> {
        let text = self.text;
        let mut e = Entry::default();
        while let Some(name) = members.next_key::<Scalar<'de>>()? {
            // Every value is checked; only the fields below are kept, and
            // the last of a repeated field counts, as in a full parse.
            let value = members.next_value::<Scalar<'de>>()?;
            let field = match name.as_str().unwrap_or_default() {
                "client_id" => &mut e.client_id,
                "environment" => &mut e.environment,
                "home_account_id" => &mut e.home_account_id,
                "realm" => &mut e.realm,
                "target" => &mut e.target,
                "secret" => &mut e.secret,
                "token_type" => &mut e.token_type,
                "family_id" => &mut e.family_id,
                "dpop_jkt" => &mut e.dpop_jkt,
                "username" => &mut e.username,
                "local_account_id" => &mut e.local_account_id,
                other => {
                    let time = match other {
                        "cached_at" => &mut e.cached_at,
                        "expires_on" => &mut e.expires_on,
                        "extended_expires_on" => &mut e.extended_expires_on,
                        "refresh_on" => &mut e.refresh_on,
                        "last_modification_time" => &mut e.last_modification_time,
                        _ => continue,
                    };
                    *time = value.seconds();
                    continue;
                }
            };
            *field = Text::of(text, value);
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parse(text: &str) -> Result<Indexed, Unreadable> {
        Indexed::parse(text.to_string())
    }

    fn keys(indexed: &Indexed, section: Section) -> Vec<String> {
        indexed
            .section(section)
            .map(|e| format!("{}={}", e.key, e.secret))
            .collect()
    }

    #[test]
    fn fields_come_from_the_text_or_unescaped() {
        let indexed = parse(
            r#"{"IdToken": {"k\u0031": {"secret": "a\"b", "client_id": "cid",
                "home_account_id": 5, "realm": null, "username": {"x": [1]},
                "expires_on": " 12 ", "cached_at": 7, "refresh_on": -1,
                "extended_expires_on": 1.5, "last_modification_time": "x"}}}"#,
        )
        .unwrap();
        let e = indexed.section(Section::IdToken).next().unwrap();
        assert_eq!((e.key, e.secret, e.client_id), ("k1", "a\"b", "cid"));
        assert_eq!((e.home_account_id, e.realm, e.username), ("", "", ""));
        assert_eq!((e.expires_on, e.cached_at), (Some(12), Some(7)));
        assert_eq!((e.refresh_on, e.extended_expires_on), (None, None));
        assert_eq!(e.last_modification_time, None);
    }

    #[test]
    fn sections_and_entries_resolve_as_a_full_parse_does() {
        let indexed = parse(
            r#"{"Account": {"b": {"secret": "1"}, "a": {"secret": "2"}, "b": {"secret": "3"},
                            "c": {"secret": "4"}, "c": 5, "d": 6, "e": []},
                "IdToken": {"x": {"secret": "old"}}, "IdToken": {"y": {"secret": "new"}},
                "RefreshToken": {"r": {"secret": "s"}}, "RefreshToken": [],
                "AccessToken": "nope", "Other": {"a": {"secret": "z"}}}"#,
        )
        .unwrap();
        assert_eq!(keys(&indexed, Section::Account), ["a=2", "b=3"]);
        assert_eq!(keys(&indexed, Section::IdToken), ["y=new"]);
        assert!(keys(&indexed, Section::RefreshToken).is_empty());
        assert!(keys(&indexed, Section::AccessToken).is_empty());
        assert!(keys(&indexed, Section::AppMetadata).is_empty());
        assert_eq!(indexed.entries(), 3);
    }

    #[test]
    fn what_a_full_parse_refuses_is_refused() {
        let deep = format!("{{\"Other\": {}1{}}}", "[".repeat(200), "]".repeat(200));
        let docs = [
            r#"{"a": "\ud800"}"#,
            r#"{"AccessToken": {"k": {"secret": "\udc00x"}}}"#,
            r#"{"AccessToken": {"k": {"other": "\ud83d\ude00"}}}"#,
            r#"{"Other": [1e400]}"#,
            r#"{"AccessToken": {"k": {"expires_on": -1e400}}}"#,
            r#"{"Other": 1e-400, "n": 123456789012345678901234567890}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": "\x"}"#,
            r#"{"a": 1,}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 01}"#,
            r#"{"Account": {"k": {"username": "u"}}, "Account": {"#,
            &deep,
            "[1, 2]",
            "\"text\"",
            "[1, 2",
            r#"{"a": {"a": {"a": {"a": {"a": null}}}}, "b": true, "c": [[], {}]}"#,
        ];
        for doc in docs {
            let full = serde_json::from_str::<Value>(doc);
            let ours = parse(doc);
            let same = matches!(
                (&full, &ours),
                (Ok(Value::Object(_)), Ok(_))
                    | (Ok(_), Err(Unreadable::NotObject))
                    | (Err(_), Err(Unreadable::NotJson(_)))
            );
            assert!(same, "{doc}: {full:?} / {ours:?}");
        }
    }
}
