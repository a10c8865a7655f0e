//! The typed request context of §4: condition keys (case-insensitive names) and their values.

/// A condition key's value in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl RequestContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a single-valued key (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.put(key, ContextValue::Single(value.into()));
    }

    /// Set a multi-valued key (replacing any earlier value).
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) {
        self.put(key, ContextValue::Multi(values));
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
        let lower = key.to_ascii_lowercase();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == lower) {
            slot.1 = value;
        } else {
            self.entries.push((lower, value));
        }
    }
}
