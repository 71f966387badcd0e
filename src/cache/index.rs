//! The cache document read without building it: one pass over the text
//! checks that it is JSON (as strictly as a full parse would) and notes, for
//! each entry of the sections lookups read, where its fields are in the
//! text. Nothing else is kept: sections, entries and fields we do not know
//! live on in the text until a change rebuilds the whole document from it.
//!
//! A file of a thousand accounts is megabytes of tokens; building a tree of
//! maps and strings from it cost most of a silent call.

use super::scan;
use crate::json::{Checked, ObjectOnly, ReadMembers, Scalar};
use crate::token::AccountClaims;
use serde::de::{DeserializeSeed, MapAccess};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

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

    pub(super) fn named(name: &str) -> Option<Section> {
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
#[derive(Clone, Default)]
pub(super) enum Text {
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
    /// A string member's value read by serde: where it lies in `text` when
    /// it was borrowed from it, else the value.
    fn of(text: &str, value: Cow<'_, str>) -> Text {
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
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) key: Text,
    /// Whether the value was an object (entries that are not are dropped
    /// once repeated keys are resolved).
    pub(super) object: bool,
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
    /// An id_token's claims, shared by the accounts made from this
    /// document, which decode them when first asked.
    claims: OnceLock<Arc<AccountClaims>>,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            key: Text::Empty,
            object: true,
            client_id: Text::Empty,
            environment: Text::Empty,
            home_account_id: Text::Empty,
            realm: Text::Empty,
            target: Text::Empty,
            secret: Text::Empty,
            token_type: Text::Empty,
            family_id: Text::Empty,
            dpop_jkt: Text::Empty,
            username: Text::Empty,
            local_account_id: Text::Empty,
            cached_at: None,
            expires_on: None,
            extended_expires_on: None,
            refresh_on: None,
            last_modification_time: None,
            claims: OnceLock::new(),
        }
    }
}

impl Entry {
    /// Keeps member `name` if a lookup needs it. `value` is the member when
    /// it is a string ([`Text::Empty`] otherwise), `int` when it is a
    /// non-negative integer (times may be written as numbers).
    pub(super) fn set(&mut self, text: &str, name: &str, value: Text, int: Option<u64>) {
        // The first byte picks the few names to compare with: every member
        // of every entry comes through here.
        let field = match name.as_bytes().first() {
            Some(b'c') if name == "client_id" => &mut self.client_id,
            Some(b'e') if name == "environment" => &mut self.environment,
            Some(b'h') if name == "home_account_id" => &mut self.home_account_id,
            Some(b'r') if name == "realm" => &mut self.realm,
            Some(b't') if name == "target" => &mut self.target,
            Some(b's') if name == "secret" => &mut self.secret,
            Some(b't') if name == "token_type" => &mut self.token_type,
            Some(b'f') if name == "family_id" => &mut self.family_id,
            Some(b'd') if name == "dpop_jkt" => &mut self.dpop_jkt,
            Some(b'u') if name == "username" => &mut self.username,
            Some(b'l') if name == "local_account_id" => &mut self.local_account_id,
            Some(b'c' | b'e' | b'r' | b'l') => {
                let time = match name {
                    "cached_at" => &mut self.cached_at,
                    "expires_on" => &mut self.expires_on,
                    "extended_expires_on" => &mut self.extended_expires_on,
                    "refresh_on" => &mut self.refresh_on,
                    "last_modification_time" => &mut self.last_modification_time,
                    _ => return,
                };
                // Epoch seconds, written by MSAL as decimal strings.
                *time = match value {
                    Text::Empty => int,
                    value => value.get(text).trim().parse().ok(),
                };
                return;
            }
            _ => return,
        };
        *field = value;
    }
}

/// An entry as lookups see it. String fields missing from the entry, or
/// not strings, are empty; times are epoch seconds.
#[derive(Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    text: &'a str,
    entry: &'a Entry,
}

/// Accessors for the string fields: each is found in the text only when a
/// lookup asks for it.
macro_rules! text_fields {
    ($($name:ident),*) => {
        impl<'a> EntryRef<'a> {
            $(
                pub fn $name(&self) -> &'a str {
                    self.entry.$name.get(self.text)
                }
            )*
        }
    };
}

text_fields!(
    key,
    client_id,
    environment,
    home_account_id,
    realm,
    target,
    secret,
    token_type,
    family_id,
    dpop_jkt,
    username,
    local_account_id
);

impl<'a> EntryRef<'a> {
    pub fn cached_at(&self) -> Option<u64> {
        self.entry.cached_at
    }
    pub fn expires_on(&self) -> Option<u64> {
        self.entry.expires_on
    }
    pub fn extended_expires_on(&self) -> Option<u64> {
        self.entry.extended_expires_on
    }
    pub fn refresh_on(&self) -> Option<u64> {
        self.entry.refresh_on
    }
    pub fn last_modification_time(&self) -> Option<u64> {
        self.entry.last_modification_time
    }

    /// The claims of the id_token in `secret`, decoded at most once per
    /// document whatever the number of accounts made from it, and only if
    /// one of them is asked for what only the id_token says.
    pub fn claims(&self) -> Arc<AccountClaims> {
        let secret = self.secret();
        Arc::clone(
            self.entry
                .claims
                .get_or_init(|| Arc::new(AccountClaims::of(secret))),
        )
    }
}

/// The document's text and the entries of its known sections, each section
/// in key order with one entry per key (the last one written), as a full
/// parse into a map would leave them.
#[derive(Clone, Default)]
pub(crate) struct Indexed {
    text: String,
    access_tokens: Vec<Entry>,
    refresh_tokens: Vec<Entry>,
    id_tokens: Vec<Entry>,
    accounts: Vec<Entry>,
    app_metadata: Vec<Entry>,
}

/// Never the contents: they are secrets.
impl fmt::Debug for Indexed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Indexed")
            .field("bytes", &self.text.len())
            .field("entries", &self.entries())
            .finish()
    }
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
        // The usual file (objects of plain strings) in one quick pass; any
        // other, valid or not, is left to serde_json, which has the last word.
        if let Some(mut indexed) = scan::index(&text) {
            indexed.text = text;
            return Ok(indexed);
        }
        Self::parse_any(text)
    }

    /// [`parse`](Self::parse) for any document, through serde_json.
    fn parse_any(text: String) -> Result<Indexed, Unreadable> {
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

    /// The section's entries, as a scan of the document found them.
    pub(super) fn set_section(&mut self, section: Section, entries: Vec<Entry>) {
        match section {
            Section::AccessToken => self.access_tokens = entries,
            Section::RefreshToken => self.refresh_tokens = entries,
            Section::IdToken => self.id_tokens = entries,
            Section::Account => self.accounts = entries,
            Section::AppMetadata => self.app_metadata = entries,
        }
    }

    /// The text the document was read from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How many entries a section holds.
    pub fn len(&self, section: Section) -> usize {
        self.entries_of(section).len()
    }

    fn entries_of(&self, section: Section) -> &[Entry] {
        match section {
            Section::AccessToken => &self.access_tokens,
            Section::RefreshToken => &self.refresh_tokens,
            Section::IdToken => &self.id_tokens,
            Section::Account => &self.accounts,
            Section::AppMetadata => &self.app_metadata,
        }
    }

    /// The entries of a section, in key order.
    pub fn section(&self, section: Section) -> impl Iterator<Item = EntryRef<'_>> {
        let entries = self.entries_of(section);
        let text = self.text.as_str();
        entries.iter().map(move |entry| EntryRef { text, entry })
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
            indexed.set_section(section, entries);
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
        let mut entries = Vec::new();
        while let Some(key) = members.next_key::<Scalar<'de>>()? {
            let entry = members.next_value_seed(ObjectOnly(EntryMembers { text }))?;
            let key = match key {
                Scalar::Str(key) => Text::of(text, key),
                // JSON keys are strings.
                Scalar::Int(_) | Scalar::Other => Text::Empty,
            };
            entries.push(match entry {
                Some(entry) => Entry { key, ..entry },
                None => Entry {
                    key,
                    object: false,
                    ..Entry::default()
                },
            });
        }
        Ok(in_key_order(text, entries))
    }
}

/// A section's entries in key order, one per key (the last one written),
/// without the values that were not objects: what a map would hold, and
/// lookups would skip. Files are written sorted: that takes one look.
pub(super) fn in_key_order(text: &str, mut entries: Vec<Entry>) -> Vec<Entry> {
    let sorted = entries
        .windows(2)
        .all(|pair| matches!(pair, [a, b] if a.key.get(text) < b.key.get(text)));
    if !sorted {
        // A stable sort of the reversed list puts the last of equal keys
        // first, which is the one `dedup_by` keeps.
        entries.reverse();
        entries.sort_by(|a, b| a.key.get(text).cmp(b.key.get(text)));
        entries.dedup_by(|later, kept| later.key.get(text) == kept.key.get(text));
    }
    entries.retain(|e| e.object);
    entries
}

struct EntryMembers<'t> {
    text: &'t str,
}

impl<'de> ReadMembers<'de> for EntryMembers<'_> {
    type Out = Entry;

    fn read<A: MapAccess<'de>>(self, mut members: A) -> Result<Entry, A::Error> {
        let text = self.text;
        let mut entry = Entry::default();
        while let Some(name) = members.next_key::<Scalar<'de>>()? {
            // Every value is checked; only the fields lookups need are kept,
            // and the last of a repeated field counts, as in a full parse.
            let (value, int) = match members.next_value::<Scalar<'de>>()? {
                Scalar::Str(value) => (Text::of(text, value), None),
                Scalar::Int(n) => (Text::Empty, Some(n)),
                Scalar::Other => (Text::Empty, None),
            };
            entry.set(text, name.as_str().unwrap_or_default(), value, int);
        }
        Ok(entry)
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
            .map(|e| format!("{}={}", e.key(), e.secret()))
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
        assert_eq!((e.key(), e.secret(), e.client_id()), ("k1", "a\"b", "cid"));
        assert_eq!((e.home_account_id(), e.realm(), e.username()), ("", "", ""));
        assert_eq!((e.expires_on(), e.cached_at()), (Some(12), Some(7)));
        assert_eq!((e.refresh_on(), e.extended_expires_on()), (None, None));
        assert_eq!(e.last_modification_time(), None);
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

    /// Everything lookups can see of a document.
    fn seen(indexed: &Indexed) -> Vec<String> {
        let sections = [
            Section::AccessToken,
            Section::RefreshToken,
            Section::IdToken,
            Section::Account,
            Section::AppMetadata,
        ];
        sections
            .into_iter()
            .flat_map(|section| indexed.section(section).map(move |e| (section, e)))
            .map(|(section, e)| {
                format!(
                    "{section:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    e.key(),
                    e.client_id(),
                    e.environment(),
                    e.home_account_id(),
                    e.realm(),
                    e.target(),
                    e.secret(),
                    e.token_type(),
                    e.family_id(),
                    e.dpop_jkt(),
                    e.username(),
                    e.local_account_id(),
                    e.cached_at(),
                    e.expires_on(),
                    e.extended_expires_on(),
                    e.refresh_on(),
                    e.last_modification_time()
                )
            })
            .collect()
    }

    const USUAL: &str = r#"{
        "AccessToken": {
            "h-e-accesstoken-c-r-t": {"credential_type": "AccessToken", "secret": "at",
                "home_account_id": "h", "environment": "e", "client_id": "c", "realm": "r",
                "target": "t", "token_type": "Bearer", "cached_at": "10", "expires_on": " 20",
                "extended_expires_on": "x", "refresh_on": "15", "dpop_jkt": "j"}
        },
        "RefreshToken": {"h-e-refreshtoken-c--t": {"secret": "rt", "home_account_id": "h",
            "environment": "e", "client_id": "c", "family_id": "1", "last_modification_time": "5"}},
        "IdToken": {"b": {"secret": "id2"}, "a": {"secret": "id1"}, "b": {"secret": "id3"}},
        "Account": {"h-e-r": {"home_account_id": "h", "environment": "e", "realm": "r",
            "username": "ann@x \u00e9\"\\\/", "local_account_id": "o", "extra": {"n": {"m": "v"}}}},
        "AppMetadata": {"appmetadata-e-c": {"client_id": "c", "environment": "e", "family_id": "1"}},
        "Other\u0073": {"k": {"deep": {"deeper": "s"}}, "s": "plain"},
        "": {}
    }"#;

    #[test]
    fn the_quick_pass_sees_what_serde_json_sees() {
        let usual = scan::index(USUAL).expect("the usual form takes the quick pass");
        let mut quick = usual.clone();
        quick.text = USUAL.to_string();
        let full = Indexed::parse_any(USUAL.to_string()).unwrap();
        assert_eq!(seen(&quick), seen(&full));
        assert_eq!(seen(&quick).len(), 6, "{:#?}", seen(&quick));
        // Variations of it, valid or not: when the quick pass takes one,
        // serde_json reads it the same; when it gives up, serde_json decides.
        let variations = [
            USUAL.replace("\"at\"", "\"a\tt\""),
            USUAL.replace("\"at\"", "\"a\u{0}t\""),
            USUAL.replace("\"at\"", "\"a\\qt\""),
            USUAL.replace("\"at\"", "\"\\ud800\""),
            USUAL.replace("\"at\"", "\"\\ud83d\\ude00\""),
            USUAL.replace("\"at\"", "\"at\\\""),
            USUAL.replace("\"5\"", "20"),
            USUAL.replace("\"5\"", "1e400"),
            USUAL.replace("\"5\"", "null"),
            USUAL.replace("\"5\"", "[]"),
            USUAL.replace("\"v\"", "true"),
            USUAL.replace("\"v\"", "{\"a\": {\"b\": {}}}"),
            USUAL.replace("\"plain\"", "5"),
            USUAL.replace("}},", "}},,"),
            USUAL.replace("\"h-e-r\": {", "\"h-e-r\" {"),
            USUAL.replace("\"1\"}}", "\"1\",}}"),
            USUAL.replace("\"IdToken\": {", "\"IdToken\": \"x\", \"IdToken\": {"),
            USUAL.replace("\"IdToken\": {", "\"IdToken\": 7, \"I\": {"),
            USUAL.replace("\"b\": {\"secret\": \"id2\"}", "\"b\": \"gone\""),
            USUAL.replace("\"b\": {\"secret\": \"id3\"}", "\"b\": \"gone\""),
            format!("{USUAL} "),
            format!("{USUAL} {{}}"),
            format!("\n{USUAL}\r\n\t"),
            USUAL.replace("\"e\"", "\"\u{e9}\u{20ac}\""),
            USUAL[..USUAL.len() - 3].to_string(),
            format!(
                "{{\"X\": {}\"s\"{}}}",
                "{\"a\": ".repeat(40),
                "}".repeat(40)
            ),
            "{}".to_string(),
            " { } ".to_string(),
            "{\"AccessToken\": {}}".to_string(),
            "{\"a\": \"b\"".to_string(),
        ];
        for (i, text) in variations.iter().enumerate() {
            let full = Indexed::parse_any(text.clone());
            match scan::index(text) {
                Some(mut quick) => {
                    quick.text = text.clone();
                    let full = full.unwrap_or_else(|e| panic!("{i}: quick pass took it: {e:?}"));
                    assert_eq!(seen(&quick), seen(&full), "{i}");
                }
                None => {
                    let parsed = Indexed::parse(text.clone());
                    assert_eq!(parsed.is_ok(), full.is_ok(), "{i}");
                }
            }
        }
        // What goes through the quick pass, among them.
        let quick = variations
            .iter()
            .filter(|t| scan::index(t).is_some())
            .count();
        assert_eq!(quick, 8);
    }

    #[test]
    fn mutated_documents_are_read_as_serde_json_reads_them() {
        // Deterministic xorshift: the same mutations on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let pieces: [&[u8]; 14] = [
            b"\"", b"\\", b"{", b"}", b",", b":", b" ", b"\n", b"\t", b"1", b"[", b"\\u00",
            b"\x01", b"x",
        ];
        let mut taken = 0;
        for _ in 0..4000 {
            let mut bytes = USUAL.as_bytes().to_vec();
            for _ in 0..=next(3) {
                let at = next(bytes.len());
                match next(3) {
                    0 => drop(bytes.remove(at)),
                    1 => {
                        let piece = pieces[next(pieces.len())];
                        bytes.splice(at..at, piece.iter().copied());
                    }
                    _ => bytes[at] = pieces[next(pieces.len())][0],
                }
            }
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let full = Indexed::parse_any(text.clone());
            if let Some(mut quick) = scan::index(&text) {
                taken += 1;
                quick.text = text.clone();
                let full = full.unwrap_or_else(|e| panic!("{text}\n{e:?}"));
                assert_eq!(seen(&quick), seen(&full), "{text}");
            }
        }
        // Most mutations break the document; enough of them do not.
        assert!(taken > 100, "{taken}");
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
