//! Persistence of KMS state: table names, record encodings (serde_json), the mutations each
//! change writes, and loading everything back at start.
//!
//! Tables: `kms_keys` (slot → [`KeyRecord`]), `kms_material` (`<slot>#<version>` → the
//! material wrapped by the root key with AAD binding slot and version), `kms_grants`
//! (`<slot>#<grant id>` → [`GrantRecord`]), `kms_aliases` (`<account>|<region>|<alias>` →
//! [`AliasRecord`]). Key material is never stored unwrapped: an HMAC key's material (its one
//! version) is wrapped in the MAC key format of `kmsd_crypto::mac`, an asymmetric key's
//! PKCS#8 private key in the v4 format of `kmsd_crypto::asymmetric`, with the same AAD.
//!
//! A key's slot (`ids::slot`) is its key id, or `<key id>@<region>` for a multi-Region key
//! (related keys in other Regions share the key id); stores written before multi-Region keys
//! hold only UUID key ids, whose slot is the id itself, so they load unchanged.
//!
//! The persistence layer of `kms/`: imports only the model (and the store and crypto).

mod feed;
pub(crate) mod imports;
pub mod root_rotation;
pub(crate) mod tables;

use tables::{ALIASES, GRANTS, KEYS, MATERIAL};

use crate::clock::Clock;
use crate::kms::model::quota;
use crate::kms::model::state::next_expiry;
use crate::principal::PrincipalDirectory;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use kmsd_crypto::asymmetric::PrivateKey;
use kmsd_crypto::{wrap_aad, KeyMaterial, MacKey, RootKey};
use kmsd_policy::SourcedPolicy;

use crate::error::{ApiError, KmsError};
use crate::kms::model::alias::{AliasKey, AliasRecord};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::grant::GrantRecord;
use crate::kms::model::key::KeyRecord;
use crate::kms::model::policy::compile_key_policy;
use crate::kms::model::state::State;
use crate::kms::model::{ids, key};
use crate::kms::Kms;
use crate::store::{Mutation, Store};
use parking_lot::RwLockUpgradableReadGuard;
use parking_lot::RwLockWriteGuard;
use std::sync::atomic::Ordering;

pub(crate) fn store_err(what: &str) -> ApiError {
    ApiError::new(
        KmsError::KMSInternalException,
        format!("cannot load KMS state: {what}"),
    )
}

pub(crate) fn material_key(id: &str, version: u32) -> String {
    format!("{id}#{version:010}")
}

fn alias_key(k: &AliasKey) -> String {
    format!("{}|{}|{}", k.0, k.1, k.2)
}

pub(crate) fn put_key(rec: &KeyRecord) -> Result<Mutation, ApiError> {
    Ok(Mutation::Put {
        table: KEYS,
        key: rec.slot(),
        value: serde_json::to_vec(rec).map_err(|_| crate::kms::model::ids::internal())?,
    })
}

pub(crate) fn delete_key(id: &str) -> Mutation {
    Mutation::Delete {
        table: KEYS,
        key: id.to_string(),
    }
}

/// The material wrapped under the root key, AAD = key id + version.
pub(crate) fn put_material(
    root: &RootKey,
    id: &str,
    version: u32,
    m: &KeyMaterial,
) -> Result<Mutation, ApiError> {
    let wrapped = root
        .wrap(m, &wrap_aad(id, version))
        .map_err(|_| crate::kms::model::ids::internal())?;
    Ok(Mutation::Put {
        table: MATERIAL,
        key: material_key(id, version),
        value: wrapped,
    })
}

/// HMAC material wrapped under the root key, AAD = key id + version.
pub(crate) fn put_mac_material(
    root: &RootKey,
    id: &str,
    version: u32,
    m: &MacKey,
) -> Result<Mutation, ApiError> {
    let wrapped = root
        .wrap_mac(m, &wrap_aad(id, version))
        .map_err(|_| crate::kms::model::ids::internal())?;
    Ok(Mutation::Put {
        table: MATERIAL,
        key: material_key(id, version),
        value: wrapped,
    })
}

/// An asymmetric private key wrapped under the root key (format v4), AAD = key id + version.
pub(crate) fn put_private_key(
    root: &RootKey,
    id: &str,
    version: u32,
    k: &PrivateKey,
) -> Result<Mutation, ApiError> {
    let wrapped = root
        .wrap_private_key(k, &wrap_aad(id, version))
        .map_err(|_| crate::kms::model::ids::internal())?;
    Ok(Mutation::Put {
        table: MATERIAL,
        key: material_key(id, version),
        value: wrapped,
    })
}

pub(crate) fn delete_material(id: &str, version: u32) -> Mutation {
    Mutation::Delete {
        table: MATERIAL,
        key: material_key(id, version),
    }
}

pub(crate) fn put_grant(g: &GrantRecord) -> Result<Mutation, ApiError> {
    Ok(Mutation::Put {
        table: GRANTS,
        key: format!("{}#{}", g.key_id, g.grant_id),
        value: serde_json::to_vec(g).map_err(|_| crate::kms::model::ids::internal())?,
    })
}

pub(crate) fn delete_grant(key_id: &str, grant_id: &str) -> Mutation {
    Mutation::Delete {
        table: GRANTS,
        key: format!("{key_id}#{grant_id}"),
    }
}

pub(crate) fn put_alias(a: &AliasRecord) -> Result<Mutation, ApiError> {
    Ok(Mutation::Put {
        table: ALIASES,
        key: alias_key(&a.key()),
        value: serde_json::to_vec(a).map_err(|_| crate::kms::model::ids::internal())?,
    })
}

pub(crate) fn delete_alias(k: &AliasKey) -> Mutation {
    Mutation::Delete {
        table: ALIASES,
        key: alias_key(k),
    }
}

/// Read every KMS table back into memory, unwrapping material with the root key.
pub(crate) fn load(store: &dyn Store, root: &RootKey) -> Result<State, ApiError> {
    if !store
        .load(tables::ROTATION_TABLE)
        .map_err(|e| store_err(&e.to_string()))?
        .is_empty()
    {
        return Err(store_err(
            "a root-key rotation of this data directory is unfinished; run `kmsd rotate-root-key` \
             again with the same old and new root keys to finish it",
        ));
    }
    let mut wrapped: HashMap<String, Vec<u8>> = HashMap::new();
    for (k, v) in store
        .load(MATERIAL)
        .map_err(|e| store_err(&e.to_string()))?
    {
        wrapped.insert(k, v);
    }
    let mut keys: HashMap<String, KeyEntry> = HashMap::new();
    let mut compiled: HashMap<String, SourcedPolicy> = HashMap::new();
    for (id, bytes) in store.load(KEYS).map_err(|e| store_err(&e.to_string()))? {
        let rec: KeyRecord =
            serde_json::from_slice(&bytes).map_err(|e| store_err(&format!("key {id}: {e}")))?;
        let entry = key_entry(
            rec,
            None,
            &|k: &str| wrapped.get(k).map(Vec::as_slice),
            root,
            &mut compiled,
        )?;
        keys.insert(entry.rec.slot(), entry);
    }
    for (k, bytes) in store.load(GRANTS).map_err(|e| store_err(&e.to_string()))? {
        let g: GrantRecord =
            serde_json::from_slice(&bytes).map_err(|e| store_err(&format!("grant {k}: {e}")))?;
        if let Some(key) = keys.get_mut(&g.key_id) {
            key.grants.insert(g.grant_id.clone(), g);
        }
    }
    let mut aliases = BTreeMap::new();
    for (k, bytes) in store.load(ALIASES).map_err(|e| store_err(&e.to_string()))? {
        let a: AliasRecord =
            serde_json::from_slice(&bytes).map_err(|e| store_err(&format!("alias {k}: {e}")))?;
        if let Some(key) = keys.get_mut(&a.target_key_id) {
            key.aliases.push(a.name.clone());
        }
        aliases.insert(a.key(), a);
    }
    for key in keys.values_mut() {
        // The engine's view is built in grant-id order, the order CreateGrant, RetireGrant and
        // RevokeGrant keep when they change it in place (see `GrantView`): a restart sees the
        // grants in the order the running server did.
        key.refresh_grants();
        key.aliases.sort();
    }
    let imports = crate::kms::persist::imports::load(store)?;
    Ok(State {
        keys,
        aliases,
        imports,
        removed_grants: Default::default(),
    })
}

/// Build a key's in-memory entry from its record: material versions are taken from
/// `existing` (a version's material never changes) or unwrapped from `wrapped` (by store
/// key); grants and aliases are kept from `existing`. Used by [`load`] and by the change
/// feed (`feed`), so both build keys the same way.
pub(crate) fn key_entry<'w>(
    rec: KeyRecord,
    existing: Option<KeyEntry>,
    wrapped: &dyn Fn(&str) -> Option<&'w [u8]>,
    root: &RootKey,
    compiled: &mut HashMap<String, SourcedPolicy>,
) -> Result<KeyEntry, ApiError> {
    let id = rec.slot();
    let mut materials = Vec::with_capacity(rec.materials.len());
    let mut mac = None;
    let mut asym = None;
    for (i, m) in rec.materials.iter().enumerate() {
        let expected = u32::try_from(i + 1).map_err(|_| store_err("material versions"))?;
        if m.version != expected {
            return Err(store_err(&format!(
                "key {id}: material versions out of order"
            )));
        }
        // Imported material that was deleted or expired has no row.
        if m.import.as_ref().is_some_and(|i| !i.present) {
            if rec.key_spec.mac_algorithm().is_none() && rec.key_spec.asymmetric().is_none() {
                materials.push(None);
            }
            continue;
        }
        if let Some(spec) = rec.key_spec.asymmetric() {
            if let Some(k) = existing.as_ref().and_then(|old| old.asym.clone()) {
                asym = Some(k);
                continue;
            }
            let w = wrapped(&material_key(&id, m.version))
                .ok_or_else(|| store_err(&format!("key {id}: material v{} missing", m.version)))?;
            let k = root
                .unwrap_private_key(w, &wrap_aad(&id, m.version))
                .map_err(|_| {
                    store_err(&format!(
                        "key {id}: material v{} does not unwrap (wrong root key?)",
                        m.version
                    ))
                })?;
            if k.spec() != spec || asym.is_some() {
                return Err(store_err(&format!(
                    "key {id}: private key does not match the key spec"
                )));
            }
            asym = Some(Arc::new(k));
            continue;
        }
        if let Some(old) = &existing {
            match rec.key_spec.mac_algorithm() {
                None => {
                    if let Some(Some(mat)) = old.materials.get(i) {
                        materials.push(Some(mat.clone()));
                        continue;
                    }
                }
                Some(_) => {
                    if let Some(k) = &old.mac {
                        mac = Some(k.clone());
                        continue;
                    }
                }
            }
        }
        let w = wrapped(&material_key(&id, m.version))
            .ok_or_else(|| store_err(&format!("key {id}: material v{} missing", m.version)))?;
        let unwrap_failed = || {
            store_err(&format!(
                "key {id}: material v{} does not unwrap (wrong root key?)",
                m.version
            ))
        };
        let aad = wrap_aad(&id, m.version);
        match rec.key_spec.mac_algorithm() {
            None => {
                let mat = root.unwrap(w, &aad).map_err(|_| unwrap_failed())?;
                materials.push(Some(Arc::new(mat)));
            }
            Some(alg) => {
                let k = root.unwrap_mac(w, &aad).map_err(|_| unwrap_failed())?;
                if k.algorithm() != alg || mac.is_some() {
                    return Err(store_err(&format!(
                        "key {id}: HMAC material does not match the key spec"
                    )));
                }
                mac = Some(Arc::new(k));
            }
        }
    }
    let imported_absent = rec.origin == crate::kms::model::key::Origin::External
        && rec
            .materials
            .iter()
            .all(|m| m.import.as_ref().is_some_and(|i| !i.present));
    if rec.key_spec.asymmetric().is_some() && asym.is_none() && !imported_absent {
        return Err(store_err(&format!("key {id}: private key missing")));
    }
    if rec.key_spec.mac_algorithm().is_some() && mac.is_none() && !imported_absent {
        return Err(store_err(&format!("key {id}: HMAC material missing")));
    }
    // Keys created alike share one policy text (the default policy names only the
    // account): compile each distinct text once and share it, which keeps start-up time
    // and memory per key small with many keys.
    let policy = match (compiled.get(&rec.policy), &existing) {
        (Some(p), _) => p.clone(),
        (None, Some(old)) if old.rec.policy == rec.policy => old.policy.clone(),
        (None, _) => {
            let p = compile_key_policy(&rec.policy)
                .map_err(|e| store_err(&format!("key {id}: stored policy: {e}")))?;
            compiled.insert(rec.policy.clone(), p.clone());
            p
        }
    };
    let arn = rec.arn();
    let (grants, grant_view, aliases) = match existing {
        Some(old) => (old.grants, old.grant_view, old.aliases),
        None => (BTreeMap::new(), Arc::default(), Vec::new()),
    };
    Ok(KeyEntry {
        last_use: crate::kms::model::last_use::LastUse::from_record(&rec.usage),
        rec,
        arn,
        materials,
        mac,
        asym,
        policy,
        grants,
        grant_view,
        aliases,
    })
}

impl Kms {
    /// Load every key, material version, grant and alias from the store.
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        root_key: Arc<RootKey>,
        directory: Arc<dyn PrincipalDirectory>,
    ) -> Result<Kms, ApiError> {
        let state = load(store.as_ref(), &root_key)?;
        let kms = Kms {
            store,
            clock,
            root_key,
            directory,
            state: RwLock::new(state),
            next_due: AtomicI64::new(i64::MAX),
            quotas: quota::Limiter::default(),
            default_policies: parking_lot::Mutex::new(HashMap::new()),
        };
        kms.recompute_due(&kms.state.read());
        let now = kms.now();
        for k in kms.state.read().keys.values() {
            k.last_use.start_if_unset(now);
        }
        Ok(kms)
    }

    /// Commit mutations. Nothing was written when this fails: a store that cannot be
    /// reached (the shared database down) answers `DependencyTimeoutException` (HTTP 503,
    /// which AWS's SDKs retry); any other store failure `KMSInternalException` (a conflict
    /// with another node's write is noted for [`Kms::call`] to retry).
    pub(crate) fn commit(&self, muts: &[Mutation]) -> Result<(), ApiError> {
        self.store.commit(muts).map_err(|e| match e {
            crate::store::StoreError::Unavailable(_) => ids::dependency_timeout(),
            crate::store::StoreError::Conflict => {
                crate::store::note_conflict();
                ids::internal()
            }
            crate::store::StoreError::Backend(_) => ids::internal(),
        })
    }

    /// Change key `id`'s record durably without stopping readers: the changed copy is
    /// committed while the caller holds the upgradable read lock (other mutations wait;
    /// Encrypt, Decrypt and every other reader go on during the store's fsync), then
    /// installed under the write lock, which is returned. `change` answers whether it
    /// changed anything (nothing is committed when it did not); a failed commit changes
    /// nothing. The caller authorizes and checks the key's state under the same `st`, so
    /// nothing can change in between.
    pub(crate) fn update_key<'a>(
        &self,
        st: RwLockUpgradableReadGuard<'a, State>,
        id: &str,
        change: impl FnOnce(&mut key::KeyRecord) -> Result<bool, ApiError>,
    ) -> Result<RwLockWriteGuard<'a, State>, ApiError> {
        let entry = st.keys.get(id).ok_or_else(ids::internal)?;
        let mut rec = entry.rec.clone();
        if change(&mut rec)? {
            // The last use rides along with the metadata commit (see `last_usage`).
            rec.usage = entry.last_use.snapshot();
            self.commit(&[put_key(&rec)?])?;
        }
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.get_mut(id).ok_or_else(ids::internal)?.rec = rec;
        Ok(st)
    }

    pub(crate) fn recompute_due(&self, st: &State) {
        let mut due = i64::MAX;
        for k in st.keys.values() {
            if k.rec.state == key::KeyState::PendingDeletion {
                if let Some(d) = k.rec.deletion_millis {
                    due = due.min(d);
                }
            } else if k.rec.rotation_enabled
                && !k.rec.is_replica()
                && k.rec.state == key::KeyState::Enabled
            {
                if let Some(d) = k.rec.next_rotation_millis {
                    due = due.min(d);
                }
            }
        }
        if let Some(d) = next_expiry(st) {
            due = due.min(d);
        }
        self.next_due.store(due, Ordering::Release);
    }
}
