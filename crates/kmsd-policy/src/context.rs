//! The typed request context of §4: condition keys (case-insensitive names) and their values.

/// A condition key's value in a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContextValue {
    /// A single-valued key.
    Single(String),
    /// A multi-valued key (`kms:EncryptionContextKeys`, `aws:TagKeys`, ...). May be empty.
    Multi(Vec<String>),
}

/// The facts of one request. Key names are stored lower-cased; lookups are case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    entries: Vec<(String, ContextValue)>,
    /// Set by [`RequestContext::unread`]: every `set` is dropped.
    unread: bool,
}

impl RequestContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context that records nothing, for a request none of whose policies reads a
    /// context key ([`crate::Policy::reads_context`]): building the keys would be wasted
    /// work on the hot path. Lookups find nothing, which is exact for such policies.
    pub fn unread() -> Self {
        RequestContext {
            entries: Vec::new(),
            unread: true,
        }
    }

    /// False for a context made by [`RequestContext::unread`]: callers can skip computing
    /// values that would be dropped.
    pub fn is_recording(&self) -> bool {
        !self.unread
    }

    /// Set a single-valued key (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.put(key, ContextValue::Single(value.into()));
    }

    /// Set a multi-valued key (replacing any earlier value).
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) {
        self.put(key, ContextValue::Multi(values));
    }

    /// Set a boolean key (`"true"` / `"false"`).
    pub fn set_bool(&mut self, key: &str, value: bool) {
        self.set(key, if value { "true" } else { "false" });
    }

    /// Add a request's encryption context (§4.3): `kms:EncryptionContext:<k>` for each pair and
    /// `kms:EncryptionContextKeys` with every key. An empty context sets no keys (the set is
    /// then absent, which the set operators treat like an empty one).
    pub fn set_encryption_context<'a, I>(&mut self, pairs: I)
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        let mut keys = Vec::new();
        for (k, v) in pairs {
            self.set(&format!("kms:EncryptionContext:{k}"), v.clone());
            keys.push(k.clone());
        }
        if !keys.is_empty() {
            self.set_multi("kms:EncryptionContextKeys", keys);
        }
    }

    /// Number of keys set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remove a key.
    pub fn remove(&mut self, key: &str) {
        let lower = key.to_ascii_lowercase();
        self.entries.retain(|(k, _)| *k != lower);
    }

    /// Look a key up, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// Look up a key whose name is already lower-cased (compiled policies store keys that way).
    #[inline]
    pub(crate) fn get_lower(&self, lower: &str) -> Option<&ContextValue> {
        self.entries
            .iter()
            .find(|(k, _)| k == lower)
            .map(|(_, v)| v)
    }

    /// All entries, lower-cased names.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ContextValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn put(&mut self, key: &str, value: ContextValue) {
        if self.unread {
            return;
        }
        let lower = key.to_ascii_lowercase();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == lower) {
            slot.1 = value;
        } else {
            self.entries.push((lower, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_keys_and_encryption_context() {
        let mut c = RequestContext::new();
        c.set("AWS:SourceIp", "10.0.0.1");
        assert_eq!(
            c.get("aws:sourceip"),
            Some(&ContextValue::Single("10.0.0.1".into()))
        );
        c.set("aws:SOURCEIP", "10.0.0.2");
        assert_eq!(c.len(), 1);
        let ec = std::collections::BTreeMap::from([("Dept".to_string(), "IT".to_string())]);
        c.set_encryption_context(&ec);
        assert_eq!(
            c.get("kms:encryptioncontext:dept"),
            Some(&ContextValue::Single("IT".into()))
        );
        assert_eq!(
            c.get("kms:EncryptionContextKeys"),
            Some(&ContextValue::Multi(vec!["Dept".into()]))
        );
        c.remove("KMS:EncryptionContextKeys");
        assert!(c.get("kms:EncryptionContextKeys").is_none());
    }

    #[test]
    fn unread_context_records_nothing() {
        let mut c = RequestContext::unread();
        assert!(!c.is_recording());
        c.set("aws:SourceIp", "10.0.0.1");
        c.set_multi("aws:TagKeys", vec!["a".into()]);
        assert!(c.is_empty());
        assert!(c.get("aws:SourceIp").is_none());
        assert!(RequestContext::new().is_recording());
    }
}
