//! Writing the token cache in MSAL's layout (JSON indented by 4 spaces), byte
//! for byte as serde_json's pretty printer writes it, at a third of its
//! cost: serde's formatter is called per token and checks every byte of a
//! string for escaping one at a time (111 K instructions for a sign-in's
//! 4 KB file, callgrind; this writer 41 K). Strings are copied in runs
//! between the bytes that need escaping, found eight bytes at a time.

use serde_json::{Map, Value};

const INDENT: &[u8] = b"    ";

/// `tree` as MSAL writes it.
pub(crate) fn pretty(tree: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    object(&mut out, tree, 0);
    out
}

fn value(out: &mut Vec<u8>, v: &Value, depth: usize) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Rare in a token cache: serde_json's own digits (ryu, itoa).
        Value::Number(n) => {
            if serde_json::to_writer(&mut *out, n).is_err() {
                out.extend_from_slice(b"null");
            }
        }
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.extend_from_slice(b"[]");
                return;
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i == 0, depth.saturating_add(1));
                value(out, item, depth.saturating_add(1));
            }
            newline(out, depth);
            out.push(b']');
        }
        Value::Object(map) => object(out, map, depth),
    }
}

fn object(out: &mut Vec<u8>, map: &Map<String, Value>, depth: usize) {
    if map.is_empty() {
        out.extend_from_slice(b"{}");
        return;
    }
    out.push(b'{');
    for (i, (key, v)) in map.iter().enumerate() {
        separator(out, i == 0, depth.saturating_add(1));
        string(out, key);
        out.extend_from_slice(b": ");
        value(out, v, depth.saturating_add(1));
    }
    newline(out, depth);
    out.push(b'}');
}

/// What goes before the member or item at `depth`.
fn separator(out: &mut Vec<u8>, first: bool, depth: usize) {
    if !first {
        out.push(b',');
    }
    newline(out, depth);
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(INDENT);
    }
}

/// A JSON string as serde_json escapes it: `"`, `\` and the control
/// characters, nothing else (not `/`, not non-ASCII).
fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len().saturating_add(2));
    out.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(at) = needs_escape(rest) {
        let (plain, tail) = rest.split_at(at);
        out.extend_from_slice(plain);
        let Some((&byte, tail)) = tail.split_first() else {
            break;
        };
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                let digit = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    digit(byte >> 4),
                    digit(byte & 0xf),
                ]);
            }
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Where the first byte that must be escaped is. Tokens are kilobytes of
/// base64: eight bytes are checked at a time.
fn needs_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let escaped = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
    let (words, _) = bytes.as_chunks::<8>();
    let mut checked: usize = 0;
    for word in words {
        let x = u64::from_ne_bytes(*word);
        // A zero byte in `v` sets its high bit in `zero(v)` (and only a byte
        // at or after a zero byte can be a false positive, so a hit is
        // looked at byte by byte); below 0x20, as for a zero byte of `x`
        // minus 0x20 per byte, only on bytes under 0x80.
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let control = x.wrapping_sub(ONES.wrapping_mul(0x20)) & !x & HIGH;
        if control | zero(x ^ ONES.wrapping_mul(0x22)) | zero(x ^ ONES.wrapping_mul(0x5c)) != 0 {
            break;
        }
        checked = checked.saturating_add(8);
    }
    let rest = bytes.get(checked..)?;
    rest.iter()
        .position(escaped)
        .map(|at| at.saturating_add(checked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_pretty(tree: &Map<String, Value>) -> Vec<u8> {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        serde::Serialize::serialize(tree, &mut serializer).unwrap();
        out
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let mut every_byte = String::new();
        for c in (0u8..0x80)
            .map(char::from)
            .chain(['é', '€', '😀', '\u{2028}'])
        {
            every_byte.push(c);
        }
        let doc = serde_json::json!({
            "AccessToken": {
                "key-\"1\"": {"secret": every_byte, "cached_at": "1700000000"},
                "empty": {},
            },
            "Account": {},
            "list": [],
            "nested": [[1, -2, 3.5, 1e300, 0.1], {"a": null, "b": true, "c": false}, [[]], u64::MAX],
            "": "",
            "z\\/": "a/b\\c",
        });
        let serde_json::Value::Object(tree) = doc else {
            panic!("an object");
        };
        let ours = pretty(&tree);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(serde_pretty(&tree)).unwrap()
        );
        let empty = Map::new();
        assert_eq!(pretty(&empty), serde_pretty(&empty));
    }

    #[test]
    fn finds_the_first_byte_to_escape_at_any_offset() {
        for special in [0u8, 0x1f, b'"', b'\\', b'\n'] {
            for len in 0..20 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    // Neighbours of the special bytes must not be taken for them.
                    for (i, b) in bytes.iter_mut().enumerate() {
                        *b = [b'!', b'#', b'[', b']', b' ', 0x7f, 0xc3][i % 7];
                    }
                    bytes[at] = special;
                    assert_eq!(needs_escape(&bytes), Some(at), "{special} at {at} of {len}");
                    bytes[at] = b'A';
                    assert_eq!(needs_escape(&bytes), None, "{len}");
                }
            }
        }
    }

    #[test]
    fn deep_documents_are_written_whole() {
        let mut v = Value::String("leaf".into());
        for _ in 0..64 {
            let mut map = Map::new();
            map.insert("k".into(), Value::Array(vec![v]));
            v = Value::Object(map);
        }
        let Value::Object(tree) = v else {
            panic!("an object");
        };
        assert_eq!(pretty(&tree), serde_pretty(&tree));
    }
}
