//! The usual token file read in one quick pass: nested objects of strings,
//! which is all MSAL and we write. The pass goes through megabytes of
//! tokens a few bytes per instruction, where serde_json spends several
//! instructions a byte; it gives up on anything else (numbers, arrays,
//! literals, deep nesting, bad JSON), and serde_json reads the document
//! instead, so that what is valid and what a lookup sees are serde_json's
//! decisions either way.

use super::index::{Entry, Indexed, Section, Text, in_key_order};

/// Nesting followed in sections we do not know (a full parse allows 128).
const MAX_DEPTH: usize = 32;

/// The document in `text`, if it is in the usual form (its text is not kept:
/// the caller owns it).
pub(super) fn index(text: &str) -> Option<Indexed> {
    let mut scan = Scan { text, at: 0 };
    let mut indexed = Indexed::default();
    scan.space();
    scan.object(|scan, name| match Section::named(name.as_str(text)) {
        Some(section) => {
            let entries = scan.section()?;
            indexed.set_section(section, entries);
            Some(())
        }
        None => scan.skip(1),
    })?;
    scan.space();
    (scan.at == text.len()).then_some(indexed)
}

/// A string as found: where it is, or its value when it has escapes.
enum Str {
    Plain { start: usize, end: usize },
    Escaped(String),
}

impl Str {
    fn as_str<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Str::Plain { start, end } => text.get(*start..*end).unwrap_or_default(),
            Str::Escaped(value) => value,
        }
    }

    fn into_text(self) -> Text {
        match self {
            Str::Plain { start, end } => Text::At { start, end },
            Str::Escaped(value) => Text::Unescaped(value.into_boxed_str()),
        }
    }
}

struct Scan<'t> {
    text: &'t str,
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// JSON's whitespace, as serde_json reads it.
    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// An object, each member handed to `member` positioned at its value
    /// (which `member` must consume).
    fn object(&mut self, mut member: impl FnMut(&mut Self, Str) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        self.space();
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let name = self.string()?;
            self.space();
            if !self.eat(b':') {
                return None;
            }
            self.space();
            member(self, name)?;
            self.space();
            if !self.eat(b',') {
                return self.eat(b'}').then_some(());
            }
            self.space();
        }
    }

    fn string(&mut self) -> Option<Str> {
        let quote = self.at;
        if !self.eat(b'"') {
            return None;
        }
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut escaped = false;
        let end = loop {
            let rest = bytes.get(self.at..)?;
            let found = self.at.checked_add(memchr::memchr2(b'"', b'\\', rest)?)?;
            if bytes.get(found) == Some(&b'"') {
                self.at = found.checked_add(1)?;
                break found;
            }
            // A backslash and the byte it escapes (a quote does not end
            // the string); what the escape means is checked below.
            escaped = true;
            self.at = found.checked_add(2)?;
        };
        if escaped {
            // serde_json decides escapes as the full reader would.
            let quoted = self.text.get(quote..self.at)?;
            return serde_json::from_str(quoted).ok().map(Str::Escaped);
        }
        if has_control(bytes.get(start..end)?) {
            return None;
        }
        Some(Str::Plain { start, end })
    }

    /// A value we do not keep: strings and objects of them.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' if depth < MAX_DEPTH => self.object(|scan, _| scan.skip(depth + 1)),
            _ => None,
        }
    }

    /// A known section: entries of strings (and of objects of strings).
    fn section(&mut self) -> Option<Vec<Entry>> {
        let text = self.text;
        let mut entries = Vec::new();
        self.object(|scan, key| {
            let mut entry = Entry::default();
            entry.key = key.into_text();
            scan.object(|scan, name| {
                let value = if scan.peek() == Some(b'"') {
                    scan.string()?.into_text()
                } else {
                    // Not a string: a field lookups need reads as missing.
                    scan.skip(3)?;
                    Text::Empty
                };
                entry.set(text, name.as_str(text), value, None);
                Some(())
            })?;
            entries.push(entry);
            Some(())
        })?;
        Some(in_key_order(text, entries))
    }
}

/// Whether a string's bytes hold a control character, which JSON forbids
/// unescaped: eight bytes at a time (any byte below 0x20 sets its top bit
/// in `word - 0x20..` while its own top bit is clear).
fn has_control(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    let (words, tail) = bytes.as_chunks::<8>();
    words.iter().any(|word| {
        let word = u64::from_le_bytes(*word);
        word.wrapping_sub(ONES * 0x20) & !word & (ONES * 0x80) != 0
    }) || tail.iter().any(|b| *b < 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_anywhere() {
        let mut bytes = vec![b'a'; 40];
        assert!(!has_control(&bytes));
        bytes.extend("é€𝄞~\u{7f}".as_bytes());
        assert!(!has_control(&bytes));
        for at in 0..bytes.len() {
            for control in [0u8, 0x0a, 0x1f] {
                let mut with = bytes.clone();
                with[at] = control;
                assert!(has_control(&with), "{at} {control}");
            }
        }
    }
}
