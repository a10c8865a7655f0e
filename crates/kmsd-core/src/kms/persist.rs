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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kmsd_crypto::asymmetric::PrivateKey;
use kmsd_crypto::{wrap_aad, KeyMaterial, MacKey, RootKey};
use kmsd_policy::SourcedPolicy;

use super::aliases::AliasRecord;
use super::grants::GrantRecord;
use super::key::{KeyEntry, KeyRecord};
use super::policy_ops::compile_key_policy;
use super::{AliasKey, State};
use crate::error::ApiError;
use crate::error::KmsError;
use crate::store::{Mutation, Store};

pub(crate) const KEYS: &str = "kms_keys";
pub(crate) const MATERIAL: &str = "kms_material";
pub(crate) const GRANTS: &str = "kms_grants";
pub(crate) const ALIASES: &str = "kms_aliases";

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
        value: serde_json::to_vec(rec).map_err(|_| super::ids::internal())?,
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
        .map_err(|_| super::ids::internal())?;
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
        .map_err(|_| super::ids::internal())?;
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
        .map_err(|_| super::ids::internal())?;
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
        value: serde_json::to_vec(g).map_err(|_| super::ids::internal())?,
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
        value: serde_json::to_vec(a).map_err(|_| super::ids::internal())?,
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
        .load(super::root_rotation::ROTATION_TABLE)
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
    let imports = super::import::load(store)?;
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
    let imported_absent = rec.origin == super::key::Origin::External
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
        last_use: super::last_usage::LastUse::from_record(&rec.usage),
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
