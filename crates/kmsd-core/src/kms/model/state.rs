//! The KMS state held in memory: keys by slot, aliases, outstanding import parameters,
//! retired grants.

use std::collections::{BTreeMap, HashMap};

use super::alias::{AliasKey, AliasRecord};
use super::entry::KeyEntry;
use super::imports::ImportParams;
use super::key::Origin;

#[derive(Debug, Default)]
pub(crate) struct State {
    /// By slot (`ids::slot`): the key id, or `<key id>@<region>` for a multi-Region key.
    pub(crate) keys: HashMap<String, KeyEntry>,
    pub(crate) aliases: BTreeMap<AliasKey, AliasRecord>,
    /// Outstanding GetParametersForImport parameters, by key id.
    pub(crate) imports: HashMap<String, Vec<ImportParams>>,
    /// Grants this node retired or revoked: their self-verifying tokens are never honoured
    /// again here, whatever their age.
    pub(crate) removed_grants: std::collections::HashSet<String>,
}

/// The earliest `ValidTo` of imported material still held, if any.
pub(crate) fn next_expiry(st: &State) -> Option<i64> {
    st.keys
        .values()
        .filter(|k| k.rec.origin == Origin::External)
        .flat_map(|k| k.rec.materials.iter())
        .filter_map(|m| m.import.as_ref())
        .filter(|i| i.present)
        .filter_map(|i| i.valid_to_millis)
        .min()
}
