//! Small helpers that turn fuzz bytes into structured values (strings of a restricted
//! alphabet, choices from dictionaries, JSON values).

use arbitrary::Unstructured;

/// A byte, or 0 when the input is exhausted.
pub fn byte(u: &mut Unstructured<'_>) -> u8 {
    u.arbitrary::<u8>().unwrap_or(0)
}

/// A raw body length: one byte, where 255 means "the rest of the input".
pub fn raw_len(u: &mut Unstructured<'_>) -> usize {
    match byte(u) {
        255 => u.len(),
        n => usize::from(n).min(u.len()),
    }
}

/// A length-prefixed UTF-8 string (lossy), at most `max` bytes.
pub fn string(u: &mut Unstructured<'_>, max: usize) -> String {
    let n = usize::from(byte(u)) % (max + 1);
    let b = u.bytes(n.min(u.len())).unwrap_or_default();
    String::from_utf8_lossy(b).into_owned()
}

/// A length-prefixed string over `alphabet` (non-empty when `non_empty`).
pub fn string_of(u: &mut Unstructured<'_>, alphabet: &[u8], max: usize, non_empty: bool) -> String {
    let mut n = usize::from(byte(u)) % (max + 1);
    if non_empty && n == 0 {
        n = 1;
    }
    (0..n)
        .map(|_| char::from(alphabet[usize::from(byte(u)) % alphabet.len()]))
        .collect()
}

/// One of `items` (the first when the input is exhausted).
pub fn pick<'a>(u: &mut Unstructured<'_>, items: &[&'a str]) -> &'a str {
    items[usize::from(byte(u)) % items.len()]
}

/// A JSON value: strings come from `words` or the input, object keys from `keys`.
pub fn json(
    u: &mut Unstructured<'_>,
    keys: &[&str],
    words: &[&str],
    depth: u32,
) -> serde_json::Value {
    use serde_json::Value;
    let tag = byte(u);
    match tag % 10 {
        0 => Value::Null,
        1 => Value::Bool(tag & 0x10 != 0),
        2 => {
            let n = u.arbitrary::<i64>().unwrap_or(0);
            let n = match tag >> 4 {
                0 => n,
                1 => n.rem_euclid(64),
                2 => n.rem_euclid(2000),
                3 => -n.rem_euclid(10),
                _ => n.rem_euclid(8),
            };
            Value::from(n)
        }
        3 => Value::from(u.arbitrary::<f64>().unwrap_or(0.5)),
        4..=6 => Value::String(pick(u, words).to_string()),
        7 => Value::String(string(u, 48)),
        8 if depth > 0 => {
            let n = usize::from(byte(u) % 4);
            Value::Array((0..n).map(|_| json(u, keys, words, depth - 1)).collect())
        }
        9 if depth > 0 => {
            let n = usize::from(byte(u) % 5);
            let mut m = serde_json::Map::new();
            for _ in 0..n {
                let k = if byte(u) < 230 {
                    pick(u, keys).to_string()
                } else {
                    string(u, 16)
                };
                m.insert(k, json(u, keys, words, depth - 1));
            }
            Value::Object(m)
        }
        _ => Value::String(pick(u, words).to_string()),
    }
}

/// Lower-case letters, digits and `-`.
pub const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
/// Upper-case letters and digits.
pub const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
