//! Request decoding and model-constraint validation for the KMS JSON shapes, in AWS's
//! wording (`1 validation error detected: Value '…' at 'keyId' failed to satisfy constraint: …`),
//! plus the small response helpers (blobs; timestamps are `model::ts`) and the audit sanitizers.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{ApiError, KmsError};

/// `keyId` from `KeyId`: the member name AWS puts in validation messages.
pub(crate) fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => {
            let mut out = String::with_capacity(name.len());
            out.push(f.to_ascii_lowercase());
            out.push_str(c.as_str());
            out
        }
        None => String::new(),
    }
}

fn serialization(field: &str) -> ApiError {
    ApiError::new(
        KmsError::SerializationException,
        format!("Unexpected value type for field {field}"),
    )
}

/// Up to this many members, a member is looked up by comparing names.
const SMALL_OBJECT: usize = 12;

/// A decoded request body with a collector of model-constraint violations.
pub(crate) struct Input<'a> {
    obj: Option<&'a Map<String, Value>>,
    violations: Vec<String>,
    /// A semantic error found while decoding, reported after the model violations.
    deferred: Option<ApiError>,
}

impl<'a> Input<'a> {
    /// The body must be a JSON object (`null` counts as empty).
    pub(crate) fn new(v: &'a Value) -> Result<Self, ApiError> {
        match v {
            Value::Object(m) => Ok(Input {
                obj: Some(m),
                violations: Vec::new(),
                deferred: None,
            }),
            Value::Null => Ok(Input {
                obj: None,
                violations: Vec::new(),
                deferred: None,
            }),
            _ => Err(ApiError::new(
                KmsError::SerializationException,
                "Start of list found where not expected",
            )),
        }
    }

    fn raw(&self, name: &str) -> Option<&'a Value> {
        self.obj
            .and_then(|m| {
                // Request bodies have a handful of members: comparing names is cheaper than
                // hashing `name` (SipHash) for every member an operation asks for. Names are
                // unique in a map, so both find the same member.
                if m.len() <= SMALL_OBJECT {
                    m.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
                } else {
                    m.get(name)
                }
            })
            .filter(|v| !v.is_null())
    }

    /// True if the member is present (and not null).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// Record one violation in AWS's wording.
    pub(crate) fn violate(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let v = match value {
            Some(v) => format!("Value '{v}' at"),
            None => "Value at".to_string(),
        };
        self.violations.push(format!(
            "{v} '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Record "must not be null" for a required member that is absent.
    pub(crate) fn null(&mut self, name: &str) {
        self.violate_null(&lower_camel(name));
    }

    fn violate_null(&mut self, path: &str) {
        self.violations.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// A length violation, if any; `path` is only built when there is one.
    fn check_len(
        &mut self,
        value: Option<&str>,
        path: impl FnOnce() -> String,
        len: usize,
        min: usize,
        max: usize,
    ) {
        if len < min {
            self.violate(
                value,
                &path(),
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.violate(
                value,
                &path(),
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// An optional string member with a length range (in characters).
    pub(crate) fn str_opt(
        &mut self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<&'a str>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let n = s.chars().count();
                self.check_len(Some(s), || lower_camel(name), n, min, max);
                Ok(Some(s.as_str()))
            }
            Some(_) => Err(serialization(name)),
        }
    }

    /// A required string member.
    pub(crate) fn str_req(
        &mut self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<&'a str, ApiError> {
        match self.str_opt(name, min, max)? {
            Some(s) => Ok(s),
            None => {
                self.violate_null(&lower_camel(name));
                Ok("")
            }
        }
    }

    /// An optional string that must match `pattern_ok`; `pattern` is quoted in the message.
    pub(crate) fn pattern_check(
        &mut self,
        name: &str,
        value: Option<&str>,
        ok: bool,
        pattern: &str,
    ) {
        if !ok {
            self.violate(
                value,
                &lower_camel(name),
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// An optional enum member.
    pub(crate) fn enum_opt(
        &mut self,
        name: &str,
        allowed: &[&str],
    ) -> Result<Option<&'a str>, ApiError> {
        let v = self.str_opt(name, 0, usize::MAX)?;
        if let Some(s) = v {
            if !allowed.contains(&s) {
                self.violate(
                    Some(s),
                    &lower_camel(name),
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Ok(v)
    }

    /// An optional integer member with a value range.
    pub(crate) fn int_opt(
        &mut self,
        name: &str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let Some(i) = n.as_i64() else {
                    return Err(serialization(name));
                };
                let path = lower_camel(name);
                if i < min {
                    self.violate(
                        Some(&i.to_string()),
                        &path,
                        &format!("Member must have value greater than or equal to {min}"),
                    );
                } else if i > max {
                    self.violate(
                        Some(&i.to_string()),
                        &path,
                        &format!("Member must have value less than or equal to {max}"),
                    );
                }
                Ok(Some(i))
            }
            Some(_) => Err(serialization(name)),
        }
    }

    /// An optional boolean member.
    pub(crate) fn bool_opt(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(serialization(name)),
        }
    }

    /// An optional base64 blob with a length range in bytes; the value never appears in messages.
    pub(crate) fn blob_opt(
        &mut self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|_| {
                        ApiError::new(
                            KmsError::SerializationException,
                            format!("Invalid base64 in field {name}"),
                        )
                    })?;
                self.check_len(None, || lower_camel(name), bytes.len(), min, max);
                Ok(Some(zeroize::Zeroizing::new(bytes)))
            }
            Some(_) => Err(serialization(name)),
        }
    }

    /// An optional map of strings to strings (encryption contexts).
    pub(crate) fn map_opt(
        &mut self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => map_of_strings(v, name).map(Some),
        }
    }

    /// An optional list of strings with per-item and list length ranges.
    pub(crate) fn str_list_opt(
        &mut self,
        name: &str,
        item_min: usize,
        item_max: usize,
        list_min: usize,
        list_max: usize,
    ) -> Result<Option<Vec<&'a str>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let path = lower_camel(name);
                let mut out = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    let Value::String(s) = it else {
                        return Err(serialization(name));
                    };
                    let n = s.chars().count();
                    self.check_len(
                        Some(s),
                        || format!("{path}.{}.member", i + 1),
                        n,
                        item_min,
                        item_max,
                    );
                    out.push(s.as_str());
                }
                if items.len() < list_min {
                    self.violate(
                        None,
                        &path,
                        &format!("Member must have length greater than or equal to {list_min}"),
                    );
                } else if items.len() > list_max {
                    self.violate(
                        None,
                        &path,
                        &format!("Member must have length less than or equal to {list_max}"),
                    );
                }
                Ok(Some(out))
            }
            Some(_) => Err(serialization(name)),
        }
    }

    /// The raw JSON of a member (structures such as `Constraints` and `Tags`).
    pub(crate) fn value(&self, name: &str) -> Option<&'a Value> {
        self.raw(name)
    }

    /// Report a semantic error once the model violations (if any) have been reported.
    pub(crate) fn defer(&mut self, e: ApiError) {
        if self.deferred.is_none() {
            self.deferred = Some(e);
        }
    }

    /// Fail with every violation collected so far, in AWS's one-message form (then with a
    /// deferred semantic error, if any).
    pub(crate) fn finish(&mut self) -> Result<(), ApiError> {
        if self.violations.is_empty() {
            return match self.deferred.take() {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
        let n = self.violations.len();
        let head = if n == 1 {
            "1 validation error detected: ".to_string()
        } else {
            format!("{n} validation errors detected: ")
        };
        let msg = head + &self.violations.join("; ");
        self.violations.clear();
        Err(ApiError::validation(msg))
    }
}

/// A JSON object of strings.
pub(crate) fn map_of_strings(v: &Value, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Value::Object(m) = v else {
        return Err(serialization(name));
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let Value::String(s) = v else {
            return Err(serialization(name));
        };
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

/// Base64 of a blob.
pub(crate) fn b64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Fields that carry secrets or opaque key bytes: never copied into audit records.
const SECRET_FIELDS: &[&str] = &[
    "Plaintext",
    "CiphertextBlob",
    "GrantToken",
    "GrantTokens",
    "PrivateKeyPlaintext",
    "PrivateKeyCiphertextBlob",
    "CiphertextForRecipient",
    "SharedSecret",
    "Message",
    "Mac",
    "Signature",
    "EncryptedKeyMaterial",
    "ImportToken",
    "KeyStorePassword",
];

/// camelCase copy of an input/output object without secrets.
pub(crate) fn sanitize(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if SECRET_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                out.insert(lower_camel(k), sanitize_member(k, v));
            }
            Value::Object(out)
        }
        Value::Null => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

/// Members whose value is a user map (keys are data, copied verbatim).
const MAP_FIELDS: &[&str] = &[
    "EncryptionContext",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "EncryptionContextEquals",
    "EncryptionContextSubset",
];

fn sanitize_member(name: &str, v: &Value) -> Value {
    if MAP_FIELDS.contains(&name) {
        return v.clone();
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if SECRET_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                out.insert(lower_camel(k), sanitize_member(k, v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| sanitize_member("", x)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_match_aws() {
        let v = serde_json::json!({"NumberOfBytes": 2048, "KeyId": ""});
        let mut i = Input::new(&v)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = i.int_opt("NumberOfBytes", 1, 1024);
        let e = i.finish().err().and_then(|e| e.message).unwrap_or_default();
        assert_eq!(e, "1 validation error detected: Value '2048' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
        let _ = i.str_req("KeyId", 1, 2048);
        let _ = i.str_req("Missing", 1, 2048);
        let e = i.finish().err().and_then(|e| e.message).unwrap_or_default();
        assert!(e.starts_with("2 validation errors detected: "), "{e}");
        assert!(e.contains("Value null at 'missing'"), "{e}");
    }

    #[test]
    fn member_lookup_small_and_large_objects() {
        for n in [0usize, 1, 5, SMALL_OBJECT, SMALL_OBJECT + 1, 40] {
            let mut m = Map::new();
            for i in 0..n {
                m.insert(format!("M{i}"), Value::from(i));
            }
            m.insert("Null".into(), Value::Null);
            let v = Value::Object(m);
            let i = Input::new(&v).unwrap_or_else(|e| panic!("{e:?}"));
            for k in 0..n {
                assert_eq!(i.raw(&format!("M{k}")), Some(&Value::from(k)), "{n} {k}");
            }
            assert_eq!(i.raw("Missing"), None);
            assert_eq!(i.raw("Null"), None, "null members read as absent");
            assert!(!i.has("m0"), "names are case-sensitive");
        }
    }

    #[test]
    fn sanitize_drops_secrets() {
        let v = serde_json::json!({"KeyId": "k", "Plaintext": "c2VjcmV0", "EncryptionContext": {"A": "b"}});
        let s = sanitize(&v);
        assert_eq!(
            s,
            serde_json::json!({"keyId": "k", "encryptionContext": {"A": "b"}})
        );
    }
}
