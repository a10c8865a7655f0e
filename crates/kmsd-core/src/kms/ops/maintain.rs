//! Work that falls due with time: deletions at the end of their waiting period, automatic
//! rotations, the expiry of imported material; and the removal of a key with everything
//! stored under it.

use std::sync::atomic::Ordering;

use crate::error::ApiError;
use crate::kms::model::alias::AliasKey;
use crate::kms::model::key;
use crate::kms::model::state::State;
use crate::kms::ops::multi_region;
use crate::kms::persist::imports;
use crate::kms::{persist, Kms};

impl Kms {
    pub(crate) fn maintain_if_due(&self) -> Result<(), ApiError> {
        if self.now() >= self.next_due.load(Ordering::Acquire) {
            self.maintain_retrying()?;
        }
        Ok(())
    }

    /// [`Kms::maintain`]; on a shared store another node may have done the same work first
    /// (its commit conflicts with ours): catch up and look again.
    pub(crate) fn maintain_retrying(&self) -> Result<usize, ApiError> {
        let mut attempts = 0;
        loop {
            crate::store::take_conflict();
            let r = self.maintain();
            if r.is_err()
                && crate::store::take_conflict()
                && attempts < 4
                && self.store.sync().is_ok()
            {
                attempts += 1;
                continue;
            }
            return r;
        }
    }

    /// Deletions and automatic rotations whose time has come.
    pub(crate) fn maintain(&self) -> Result<usize, ApiError> {
        let now = self.now();
        let mut st = self.state.write();
        let due_delete: Vec<String> = st
            .keys
            .values()
            .filter(|k| {
                k.rec.state == key::KeyState::PendingDeletion
                    && k.rec.deletion_millis.is_some_and(|d| d <= now)
            })
            .map(|k| k.rec.slot())
            .collect();
        let mut deleted = 0;
        for id in due_delete {
            self.delete_key_now(&mut st, &id)?;
            deleted += 1;
        }
        let due_rotate: Vec<String> = st
            .keys
            .values()
            .filter(|k| {
                // A multi-Region replica rotates with its primary.
                k.rec.rotation_enabled
                    && !k.rec.is_replica()
                    && k.rec.state == key::KeyState::Enabled
                    && k.rec.next_rotation_millis.is_some_and(|d| d <= now)
            })
            .map(|k| k.rec.slot())
            .collect();
        for id in due_rotate {
            self.rotate_now(&mut st, &id, key::MaterialOrigin::Automatic)?;
        }
        self.expire_imported(&mut st, now)?;
        self.recompute_due(&st);
        Ok(deleted)
    }

    /// Remove a key with its material, grants and aliases (one commit).
    pub(crate) fn delete_key_now(&self, st: &mut State, id: &str) -> Result<(), ApiError> {
        let Some(k) = st.keys.get(id) else {
            return Ok(());
        };
        let mut muts = vec![persist::delete_key(id)];
        for m in &k.rec.materials {
            muts.push(persist::delete_material(id, m.version));
        }
        for g in k.grants.keys() {
            muts.push(persist::delete_grant(id, g));
        }
        muts.extend(imports::delete_all_params(st, id));
        let alias_keys: Vec<AliasKey> = st
            .aliases
            .iter()
            .filter(|(_, a)| a.target_key_id == id)
            .map(|(k, _)| k.clone())
            .collect();
        for ak in &alias_keys {
            muts.push(persist::delete_alias(ak));
        }
        // The last replica of a primary key waiting in PendingReplicaDeletion: the primary's
        // waiting period begins.
        let mut primary_due: Option<key::KeyRecord> = None;
        if k.rec.is_replica() {
            let others = multi_region::related(st, &k.rec);
            let primary = others
                .iter()
                .find(|o| !o.rec.is_replica())
                .filter(|p| p.rec.state == key::KeyState::PendingReplicaDeletion);
            let last = others.iter().filter(|o| o.rec.is_replica()).count() == 1;
            if let (Some(p), true) = (primary, last) {
                let mut rec = p.rec.clone();
                let days = i64::from(rec.pending_window_days.unwrap_or(30));
                rec.state = key::KeyState::PendingDeletion;
                rec.deletion_millis = Some(self.now() + days * 86_400_000);
                rec.usage = p.last_use.snapshot();
                muts.push(persist::put_key(&rec)?);
                primary_due = Some(rec);
            }
        }
        self.commit(&muts)?;
        if let Some(rec) = primary_due {
            if let Some(p) = st.keys.get_mut(&rec.slot()) {
                p.rec = rec;
            }
        }
        st.keys.remove(id);
        st.imports.remove(id);
        for ak in alias_keys {
            st.aliases.remove(&ak);
        }
        Ok(())
    }
}
