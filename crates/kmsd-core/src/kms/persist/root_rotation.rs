//! Root-key rotation: re-wrap every record of `kms_material` from the old root key to a new
//! one, directly on a [`Store`] (offline: the server is not running).
//!
//! Crash safety. The rotation first commits a marker record (table `kms_root_rotation`);
//! then it re-wraps records in batches, each batch one atomic commit; the last commit
//! deletes the marker. Every record is at every moment wrapped under exactly one of the two
//! keys (a commit replaces it whole), and which one is told by the GCM tag: a rerun tries the
//! new key first, re-wraps only what still opens under the old one, and finishes the job.
//! While the marker exists, loading the KMS state refuses to start with a message that asks
//! for the rotation to be finished, so a server never runs on a half-rotated store.

use kmsd_crypto::asymmetric::WRAPPED_PRIVATE_KEY_VERSION_V4;
use kmsd_crypto::mac::WRAPPED_MAC_KEY_VERSION_V2;
use kmsd_crypto::{wrap_aad, RootKey, WRAPPED_KEY_VERSION_V1};

use crate::kms::persist::tables::MATERIAL;
use crate::store::{Mutation, Store};

pub use crate::kms::persist::tables::ROTATION_TABLE;

/// Key of the marker record.
const MARKER_KEY: &str = "in_progress";

/// A rotation failure; the message never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RotationError(pub String);

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RotationReport {
    /// Material records in the store.
    pub total: usize,
    /// Records re-wrapped by this run.
    pub rewrapped: usize,
    /// Records already under the new key (from an interrupted earlier run).
    pub already_new: usize,
}

/// Whether an unfinished rotation's marker is in the store.
pub fn rotation_unfinished(store: &dyn Store) -> Result<bool, RotationError> {
    Ok(!store
        .load(ROTATION_TABLE)
        .map_err(|e| RotationError(e.to_string()))?
        .is_empty())
}

fn parse_material_key(k: &str) -> Option<(&str, u32)> {
    let (id, v) = k.rsplit_once('#')?;
    Some((id, v.parse().ok()?))
}

/// Re-wrap one record under `new`; `Ok(None)` when it already is.
fn rewrap_one(
    k: &str,
    wrapped: &[u8],
    old: &RootKey,
    new: &RootKey,
) -> Result<Option<Vec<u8>>, RotationError> {
    let (id, version) = parse_material_key(k)
        .ok_or_else(|| RotationError(format!("material record {k:?} has a malformed name")))?;
    let aad = wrap_aad(id, version);
    let neither = || {
        RotationError(format!(
            "material {k} opens under neither the old nor the new root key"
        ))
    };
    match wrapped.first().copied() {
        Some(WRAPPED_KEY_VERSION_V1) => {
            if new.unwrap(wrapped, &aad).is_ok() {
                return Ok(None);
            }
            let m = old.unwrap(wrapped, &aad).map_err(|_| neither())?;
            let w = new
                .wrap(&m, &aad)
                .map_err(|e| RotationError(format!("material {k}: wrapping failed: {e}")))?;
            // Read back before the old copy is replaced.
            match new.unwrap(&w, &aad) {
                Ok(back) if back.ct_eq(&m) => Ok(Some(w)),
                _ => Err(RotationError(format!(
                    "material {k}: the new root key does not open what it wrapped"
                ))),
            }
        }
        Some(WRAPPED_MAC_KEY_VERSION_V2) => {
            if new.unwrap_mac(wrapped, &aad).is_ok() {
                return Ok(None);
            }
            let m = old.unwrap_mac(wrapped, &aad).map_err(|_| neither())?;
            let w = new
                .wrap_mac(&m, &aad)
                .map_err(|e| RotationError(format!("material {k}: wrapping failed: {e}")))?;
            match new.unwrap_mac(&w, &aad) {
                Ok(back) if back.sign(k.as_bytes()) == m.sign(k.as_bytes()) => Ok(Some(w)),
                _ => Err(RotationError(format!(
                    "material {k}: the new root key does not open what it wrapped"
                ))),
            }
        }
        Some(WRAPPED_PRIVATE_KEY_VERSION_V4) => {
            if new.unwrap_private_key(wrapped, &aad).is_ok() {
                return Ok(None);
            }
            let m = old
                .unwrap_private_key(wrapped, &aad)
                .map_err(|_| neither())?;
            let w = new
                .wrap_private_key(&m, &aad)
                .map_err(|e| RotationError(format!("material {k}: wrapping failed: {e}")))?;
            match new.unwrap_private_key(&w, &aad) {
                Ok(back) if back.public_key_spki() == m.public_key_spki() => Ok(Some(w)),
                _ => Err(RotationError(format!(
                    "material {k}: the new root key does not open what it wrapped"
                ))),
            }
        }
        _ => Err(RotationError(format!(
            "material {k} is in an unknown wrapped format"
        ))),
    }
}

/// Re-wrap every material record of `store` from `old` to `new`, `batch` records per
/// commit (at least 1). `progress(done, total)` is called after each commit. Rerunning after
/// an interruption finishes the job; rerunning after success changes nothing.
pub fn rotate_root_key(
    store: &dyn Store,
    old: &RootKey,
    new: &RootKey,
    batch: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<RotationReport, RotationError> {
    let batch = batch.max(1);
    let records = store
        .load(MATERIAL)
        .map_err(|e| RotationError(format!("cannot read the store: {e}")))?;
    let mut report = RotationReport {
        total: records.len(),
        ..RotationReport::default()
    };
    let marker = Mutation::Put {
        table: ROTATION_TABLE,
        key: MARKER_KEY.into(),
        value: br#"{"state":"rewrapping"}"#.to_vec(),
    };
    store
        .commit(&[marker])
        .map_err(|e| RotationError(format!("cannot write the rotation marker: {e}")))?;
    let mut pending = Vec::with_capacity(batch);
    for (i, (k, v)) in records.iter().enumerate() {
        match rewrap_one(k, v, old, new)? {
            None => report.already_new += 1,
            Some(w) => {
                pending.push(Mutation::Put {
                    table: MATERIAL,
                    key: k.clone(),
                    value: w,
                });
                report.rewrapped += 1;
            }
        }
        if pending.len() >= batch {
            store
                .commit(&pending)
                .map_err(|e| RotationError(format!("commit failed: {e}")))?;
            pending.clear();
            progress(i + 1, records.len());
        }
    }
    pending.push(Mutation::Delete {
        table: ROTATION_TABLE,
        key: MARKER_KEY.into(),
    });
    store
        .commit(&pending)
        .map_err(|e| RotationError(format!("commit failed: {e}")))?;
    progress(records.len(), records.len());
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;
    use crate::store::MemStore;
    use kmsd_crypto::{KeyMaterial, MacAlgorithm, MacKey};

    fn put(store: &MemStore, root: &RootKey, id: &str, v: u32, byte: u8) {
        let m = KeyMaterial::from_bytes([byte; 32]);
        let w = root.wrap(&m, &wrap_aad(id, v)).unwrap();
        store
            .commit(&[Mutation::Put {
                table: MATERIAL,
                key: format!("{id}#{v:010}"),
                value: w,
            }])
            .unwrap();
    }

    #[test]
    fn rotates_asymmetric_private_keys() {
        let store = MemStore::new();
        let old = RootKey::from_bytes([1; 32]);
        let new = RootKey::from_bytes([2; 32]);
        let k = kmsd_crypto::asymmetric::KeySpec::EccNistP256
            .generate()
            .unwrap();
        store
            .commit(&[Mutation::Put {
                table: MATERIAL,
                key: "asym#0000000001".into(),
                value: old.wrap_private_key(&k, &wrap_aad("asym", 1)).unwrap(),
            }])
            .unwrap();
        let r = rotate_root_key(&store, &old, &new, 3, |_, _| {}).unwrap();
        assert_eq!(r.rewrapped, 1);
        let (_, v) = store.load(MATERIAL).unwrap().remove(0);
        let back = new.unwrap_private_key(&v, &wrap_aad("asym", 1)).unwrap();
        assert_eq!(back.public_key_spki(), k.public_key_spki());
        assert!(old.unwrap_private_key(&v, &wrap_aad("asym", 1)).is_err());
        assert_eq!(
            rotate_root_key(&store, &old, &new, 3, |_, _| {})
                .unwrap()
                .already_new,
            1
        );
    }

    #[test]
    fn rotates_resumes_and_refuses_foreign_material() {
        let store = MemStore::new();
        let old = RootKey::from_bytes([1; 32]);
        let new = RootKey::from_bytes([2; 32]);
        for i in 0..10u8 {
            put(&store, &old, &format!("key-{i}"), 1, i);
        }
        let mac = MacKey::from_bytes(MacAlgorithm::HmacSha384, vec![5; 48]).unwrap();
        store
            .commit(&[Mutation::Put {
                table: MATERIAL,
                key: "mac#0000000001".into(),
                value: old.wrap_mac(&mac, &wrap_aad("mac", 1)).unwrap(),
            }])
            .unwrap();
        // An interrupted run: the first 4 records already moved.
        let recs = store.load(MATERIAL).unwrap();
        for (k, v) in recs.iter().take(4) {
            let w = rewrap_one(k, v, &old, &new).unwrap().unwrap();
            store
                .commit(&[Mutation::Put {
                    table: MATERIAL,
                    key: k.clone(),
                    value: w,
                }])
                .unwrap();
        }
        let mut calls = 0;
        let r = rotate_root_key(&store, &old, &new, 3, |_, _| calls += 1).unwrap();
        assert_eq!(
            r,
            RotationReport {
                total: 11,
                rewrapped: 7,
                already_new: 4
            }
        );
        assert!(calls >= 3);
        assert!(!rotation_unfinished(&store).unwrap());
        for (k, v) in store.load(MATERIAL).unwrap() {
            let (id, ver) = parse_material_key(&k).unwrap();
            let aad = wrap_aad(id, ver);
            if id == "mac" {
                assert!(new.unwrap_mac(&v, &aad).is_ok());
                assert!(old.unwrap_mac(&v, &aad).is_err());
            } else {
                assert!(new.unwrap(&v, &aad).is_ok());
                assert!(old.unwrap(&v, &aad).is_err());
            }
        }
        // A rerun changes nothing.
        let again = rotate_root_key(&store, &old, &new, 3, |_, _| {}).unwrap();
        assert_eq!(again.rewrapped, 0);
        assert_eq!(again.already_new, 11);
        // Material under a third key: refused, and the marker stays (the store is unfinished).
        let third = RootKey::from_bytes([3; 32]);
        put(&store, &third, "stray", 1, 9);
        let e = rotate_root_key(&store, &old, &new, 3, |_, _| {}).unwrap_err();
        assert!(e.0.contains("neither"), "{e}");
        assert!(rotation_unfinished(&store).unwrap());
    }
}
