//! KMS grants as the decision sees them (§2.5).

use std::collections::BTreeMap;

/// Encryption-context constraints of a grant. Matching is case-sensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantConstraints {
    /// The request's encryption context must equal this map exactly.
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    /// Every pair here must appear in the request's encryption context.
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
}

/// One grant on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grant_id: String,
    pub name: Option<String>,
    /// Account root, user, role or assumed-role session ARN.
    pub grantee_principal: String,
    /// Operation names as in the API (`Decrypt`, `Encrypt`, `GenerateDataKey`, `ReEncryptFrom`, ...).
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
}
