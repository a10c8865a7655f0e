//! Other nodes' KMS changes (a shared store's change feed) applied to memory.
//!
//! A batch holds each changed record once, as the database has it now. Keys are rebuilt
//! with the same function the start-up load uses (`persist::key_entry`, keeping the
//! material versions already unwrapped), then grants and aliases are applied. If a batch
//! cannot be applied record by record (a record this node cannot place), the whole KMS
//! state is reloaded from the store instead, through the start-up load.

use std::collections::{BTreeSet, HashMap};

use crate::error::ApiError;
use crate::kms::model::alias::{AliasKey, AliasRecord};
use crate::kms::model::grant::GrantRecord;
use crate::kms::model::key::KeyRecord;
use crate::kms::model::state::State;
use crate::kms::persist::tables::{ALIASES, GRANTS, KEYS, MATERIAL};
use crate::kms::{persist, Kms};
use crate::store::Changed;

impl Kms {
    /// Apply other nodes' changes (a shared store's change feed): see `feed`.
    pub fn apply_feed(&self, changes: &[crate::store::Changed]) -> Result<(), String> {
        self.apply_changes(changes)
    }

    /// Apply a batch of other writers' records (tables of other services are ignored).
    pub(crate) fn apply_changes(&self, changes: &[Changed]) -> Result<(), String> {
        if !changes
            .iter()
            .any(|c| [KEYS, MATERIAL, GRANTS, ALIASES].contains(&c.table.as_str()))
        {
            return Ok(());
        }
        let mut st = self.state.write();
        if self.apply_records(&mut st, changes).is_err() {
            *st = persist::load(self.store.as_ref(), &self.root_key).map_err(|e| e.to_string())?;
        }
        self.recompute_due(&st);
        Ok(())
    }

    fn apply_records(&self, st: &mut State, changes: &[Changed]) -> Result<(), ApiError> {
        let decode_err = |what: &str, key: &str, e: serde_json::Error| {
            persist::store_err(&format!("{what} {key}: {e}"))
        };
        let wrapped: HashMap<&str, &[u8]> = changes
            .iter()
            .filter(|c| c.table == MATERIAL)
            .filter_map(|c| c.value.as_deref().map(|v| (c.key.as_str(), v)))
            .collect();
        let mut compiled = HashMap::new();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for c in changes.iter().filter(|c| c.table == KEYS) {
            match &c.value {
                None => {
                    st.keys.remove(&c.key);
                    st.aliases.retain(|_, a| a.target_key_id != c.key);
                }
                Some(bytes) => {
                    let rec: KeyRecord =
                        serde_json::from_slice(bytes).map_err(|e| decode_err("key", &c.key, e))?;
                    let existing = st.keys.remove(&rec.slot());
                    let entry = persist::key_entry(
                        rec,
                        existing,
                        &|k: &str| wrapped.get(k).copied(),
                        &self.root_key,
                        &mut compiled,
                    )?;
                    st.keys.insert(entry.rec.slot(), entry);
                }
            }
        }
        for c in changes.iter().filter(|c| c.table == GRANTS) {
            let Some((key_id, grant_id)) = c.key.split_once('#') else {
                continue;
            };
            match &c.value {
                None => {
                    if let Some(k) = st.keys.get_mut(key_id) {
                        k.grants.remove(grant_id);
                        touched.insert(key_id.to_string());
                    }
                }
                Some(bytes) => {
                    let g: GrantRecord = serde_json::from_slice(bytes)
                        .map_err(|e| decode_err("grant", &c.key, e))?;
                    let k = st.keys.get_mut(&g.key_id).ok_or_else(|| {
                        persist::store_err(&format!("grant {} of an unknown key", c.key))
                    })?;
                    touched.insert(g.key_id.clone());
                    k.grants.insert(g.grant_id.clone(), g);
                }
            }
        }
        for c in changes.iter().filter(|c| c.table == ALIASES) {
            let (ak, new) = match &c.value {
                Some(bytes) => {
                    let a: AliasRecord = serde_json::from_slice(bytes)
                        .map_err(|e| decode_err("alias", &c.key, e))?;
                    (a.key(), Some(a))
                }
                None => {
                    let mut parts = c.key.splitn(3, '|');
                    let (Some(acct), Some(region), Some(name)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let ak: AliasKey = (acct.to_string(), region.to_string(), name.to_string());
                    (ak, None)
                }
            };
            if let Some(old) = st.aliases.remove(&ak) {
                if let Some(k) = st.keys.get_mut(&old.target_key_id) {
                    k.aliases.retain(|n| *n != old.name);
                }
            }
            if let Some(a) = new {
                let k = st.keys.get_mut(&a.target_key_id).ok_or_else(|| {
                    persist::store_err(&format!("alias {} of an unknown key", c.key))
                })?;
                k.aliases.push(a.name.clone());
                k.aliases.sort();
                k.aliases.dedup();
                st.aliases.insert(ak, a);
            }
        }
        for id in touched {
            if let Some(k) = st.keys.get_mut(&id) {
                k.refresh_grants();
            }
        }
        Ok(())
    }
}
