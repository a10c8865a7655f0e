//! Redaction: the member names that may carry plaintext, key material, data-key blobs or
//! credential secrets, and the serializers that skip them at any depth.

use serde::{Serialize, Serializer};

/// Member names (compared case-insensitively, ignoring `_` and `-`) that may carry
/// plaintext, key material, data-key blobs or credential secrets.
const SECRET_MEMBERS: &[&str] = &[
    "plaintext",
    "ciphertextblob",
    "sourceciphertextblob",
    "ciphertextforrecipient",
    "privatekeyplaintext",
    "privatekeyciphertextblob",
    "keymaterial",
    "encryptedkeymaterial",
    "importtoken",
    "sharedsecret",
    "secretaccesskey",
    "sessiontoken",
    "password",
    "message",
    "mac",
    "securitytoken",
];

pub(super) fn is_secret_member(name: &str) -> bool {
    SECRET_MEMBERS
        .iter()
        .any(|secret| same_member_name(name, secret))
}

/// `name` equals `lower` (lower-case, no separators) ignoring ASCII case and `_`/`-`.
/// Non-ASCII names never equal a secret member name (all of which are ASCII).
fn same_member_name(name: &str, lower: &str) -> bool {
    let mut want = lower.bytes();
    for b in name.bytes().filter(|b| *b != b'_' && *b != b'-') {
        if want.next() != Some(b.to_ascii_lowercase()) {
            return false;
        }
    }
    want.next().is_none()
}

/// Serializes a JSON value without any member whose name denotes a secret (at any depth),
/// without building a redacted copy.
pub(super) struct Redacted<'a>(pub(super) &'a serde_json::Value);

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut m = s.serialize_map(None)?;
                for (k, v) in map.iter().filter(|(k, _)| !is_secret_member(k)) {
                    m.serialize_entry(k, &Redacted(v))?;
                }
                m.end()
            }
            serde_json::Value::Array(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(&Redacted(v))?;
                }
                q.end()
            }
            other => other.serialize(s),
        }
    }
}

pub(super) fn serialize_redacted<S: Serializer>(
    v: &serde_json::Value,
    s: S,
) -> Result<S::Ok, S::Error> {
    Redacted(v).serialize(s)
}

pub(super) fn serialize_redacted_opt<S: Serializer>(
    v: &Option<serde_json::Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => Redacted(v).serialize(s),
        None => s.serialize_none(),
    }
}
