//! The usual token file read in one quick pass: nested objects of strings,
//! which is all MSAL and we write. The pass goes through megabytes of
//! tokens eight bytes at a time, where serde_json (in a size-optimised
//! build) spends several instructions a byte; it gives up on anything else (numbers, arrays,
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

// The byte-sized steps are inlined even in a size-optimised build: called
// for every byte of indentation, a call each costs more than the step.
impl Scan<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// JSON's whitespace, as serde_json reads it.
    #[inline(always)]
    fn space(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.at) {
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
            let stop = self.at.checked_add(special_at(bytes.get(self.at..)?)?)?;
            match bytes.get(stop)? {
                b'"' => {
                    self.at = stop.checked_add(1)?;
                    break stop;
                }
                // A backslash and the byte it escapes (a quote does not end
                // the string); what the escape means is checked below.
                b'\\' => {
                    escaped = true;
                    self.at = stop.checked_add(2)?;
                }
                // A control character, which JSON forbids unescaped.
                _ => return None,
            }
        };
        if escaped {
            // serde_json decides escapes as the full reader would.
            let quoted = self.text.get(quote..self.at)?;
            return serde_json::from_str(quoted).ok().map(Str::Escaped);
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

/// Where the first byte that ends or interrupts a string's plain run is: a
/// quote, a backslash or a control character. Eight bytes at a time: tokens
/// are kilobytes long, and every byte of the file but the indentation is in
/// a string.
#[inline(always)]
fn special_at(bytes: &[u8]) -> Option<usize> {
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let found = special(u64::from_le_bytes(*word));
        if found != 0 {
            // Only bytes after a special one can be flagged wrongly (a
            // borrow runs upwards): the lowest flag is a real one.
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let at = tail
        .iter()
        .position(|b| matches!(b, b'"' | b'\\') || *b < 0x20)?;
    Some(words.len() * 8 + at)
}

/// The top bit of each byte of `word` that is `"`, `\` or below 0x20 (and
/// possibly of bytes after it): `x - 0x01..` has the top bit of a byte set
/// while the byte's own is clear only where the byte was zero, or after
/// one; likewise below 0x20 with `x - 0x20..`.
#[inline(always)]
fn special(word: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const TOPS: u64 = ONES * 0x80;
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    (zero_byte(quote) | zero_byte(backslash) | (word.wrapping_sub(ONES * 0x20) & !word)) & TOPS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_special_byte_is_found_anywhere() {
        let plain: Vec<u8> = [&[b'a'; 40][..], "é€𝄞~\u{7f}".as_bytes(), b"!#[]/"].concat();
        assert_eq!(special_at(&plain), None);
        for at in 0..plain.len() {
            for byte in [b'"', b'\\', 0, 0x0a, 0x1f] {
                let mut with = plain.clone();
                with[at] = byte;
                // A second one later never hides the first.
                with.push(b'"');
                assert_eq!(special_at(&with), Some(at), "{at} {byte}");
            }
        }
    }
}
