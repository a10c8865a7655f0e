//! Rotation (§4.7, §5): automatic rotation (EnableKeyRotation, DisableKeyRotation,
//! GetKeyRotationStatus; rotations run when the clock passes the next rotation date),
//! RotateKeyOnDemand, ListKeyRotations. Rotation adds a material version; every earlier
//! version stays, so every earlier ciphertext still decrypts. HMAC keys do not rotate:
//! EnableKeyRotation, DisableKeyRotation, RotateKeyOnDemand and ListKeyRotations answer
//! `UnsupportedOperationException` for them, GetKeyRotationStatus `KeyRotationEnabled: false`.

use std::sync::Arc;

use kmsd_crypto::KeyMaterial;
use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::Req;
use crate::kms::decode::input::Input;
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::internal;
use crate::kms::model::key::{new_material, KeyRecord, MaterialOrigin, Origin};
use crate::kms::model::op::KmsOp;
use crate::kms::model::state::State;
use crate::kms::model::ts::ts;
use crate::kms::ops::paging::{limit_marker, page, paginate};
use crate::kms::{persist, Kms};

const DAY_MS: i64 = 86_400_000;
/// Most on-demand rotations per key.
pub(crate) const MAX_ON_DEMAND: u32 = 25;

/// Automatic rotation is not for keys with imported material.
fn not_external(key: &KeyEntry) -> Result<(), ApiError> {
    if key.rec.origin == Origin::External {
        return Err(ApiError::new(
            KmsError::UnsupportedOperationException,
            format!(
                "{} origin is EXTERNAL which is not valid for this operation.",
                key.arn
            ),
        ));
    }
    Ok(())
}

/// Rotation is for symmetric encryption keys only.
fn rotatable(key: &KeyEntry) -> Result<(), ApiError> {
    if key.rec.key_spec.is_symmetric() {
        Ok(())
    } else {
        Err(ApiError::new(
            KmsError::UnsupportedOperationException,
            "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.",
        ))
    }
}

impl Kms {
    /// Add a new material version and make it current (one commit).
    /// Rotate key `id` now, holding the write lock (the automatic rotations of `maintain`).
    pub(crate) fn rotate_now(
        &self,
        st: &mut State,
        id: &str,
        origin: MaterialOrigin,
    ) -> Result<(), ApiError> {
        let rotation = self.commit_rotation(st, id, origin)?;
        rotation.install(st, id)
    }

    /// New key material for key `id` — and, for a multi-Region primary key, for each of its
    /// replicas (the material is shared) — committed (with the keys' changed records) in one
    /// commit but not yet installed: readers of `st` go on meanwhile.
    fn commit_rotation(
        &self,
        st: &State,
        id: &str,
        origin: MaterialOrigin,
    ) -> Result<Rotation, ApiError> {
        let now = self.now();
        let key = st.keys.get(id).ok_or_else(internal)?;
        let version = u32::try_from(key.rec.materials.len() + 1).map_err(|_| internal())?;
        let (material, info) = new_material(version, now, origin)?;
        let mut rec = key.rec.clone();
        rec.materials.push(info.clone());
        match origin {
            MaterialOrigin::OnDemand => rec.on_demand_rotations += 1,
            MaterialOrigin::Automatic => {
                let period = i64::from(rec.rotation_period_days.unwrap_or(365));
                let mut next = rec.next_rotation_millis.unwrap_or(now);
                while next <= now {
                    next += period * DAY_MS;
                }
                rec.next_rotation_millis = Some(next);
            }
            MaterialOrigin::Creation => {}
        }
        let mut recs = vec![(id.to_string(), rec.clone())];
        let mut muts = vec![
            persist::put_key(&rec)?,
            persist::put_material(&self.root_key, id, version, &material)?,
        ];
        for slot in self.family_of(st, id) {
            if slot == id {
                continue;
            }
            let other = st.keys.get(&slot).ok_or_else(internal)?;
            if other.rec.materials.len() + 1 != rec.materials.len() {
                // A replica whose versions differ cannot take the same version number.
                return Err(internal());
            }
            let mut r2 = other.rec.clone();
            r2.materials.push(info.clone());
            r2.on_demand_rotations = rec.on_demand_rotations;
            r2.next_rotation_millis = rec.next_rotation_millis;
            muts.push(persist::put_key(&r2)?);
            muts.push(persist::put_material(
                &self.root_key,
                &slot,
                version,
                &material,
            )?);
            recs.push((slot, r2));
        }
        self.commit(&muts)?;
        Ok(Rotation { recs, material })
    }

    pub(crate) fn enable_key_rotation(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let period = i.int_opt("RotationPeriodInDays", 90, 2560)?;
        i.finish()?;
        let period = period.unwrap_or(365);
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, KmsOp::EnableKeyRotation, |c| {
            c.set("kms:RotationPeriodInDays", period.to_string())
        })?;
        let now = self.now();
        rotatable(key)?;
        not_external(key)?;
        crate::kms::ops::multi_region::refuse_on_replica(key)?;
        // The rotation setting is shared by related multi-Region keys.
        let family = self.family_of(&st, &r.id);
        let st = self.update_family(st, &family, |rec| {
            rec.rotation_enabled = true;
            rec.rotation_period_days = u32::try_from(period).ok();
            rec.next_rotation_millis = Some(now + period * DAY_MS);
            Ok(())
        })?;
        self.recompute_due(&st);
        Ok(json!({}))
    }

    pub(crate) fn disable_key_rotation(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        i.finish()?;
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, KmsOp::DisableKeyRotation, |_| {})?;
        rotatable(key)?;
        not_external(key)?;
        crate::kms::ops::multi_region::refuse_on_replica(key)?;
        let family = self.family_of(&st, &r.id);
        let st = self.update_family(st, &family, |rec| {
            rec.rotation_enabled = false;
            rec.next_rotation_millis = None;
            Ok(())
        })?;
        self.recompute_due(&st);
        Ok(json!({}))
    }

    pub(crate) fn get_key_rotation_status(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        i.finish()?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::GetKeyRotationStatus, |_| {})?;
        let mut out = json!({ "KeyRotationEnabled": key.rec.rotation_enabled, "KeyId": key.arn });
        if key.rec.rotation_enabled {
            if let Value::Object(o) = &mut out {
                if let Some(p) = key.rec.rotation_period_days {
                    o.insert("RotationPeriodInDays".into(), Value::from(p));
                }
                if let Some(n) = key.rec.next_rotation_millis {
                    o.insert("NextRotationDate".into(), ts(n));
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn rotate_key_on_demand(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        i.finish()?;
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, KmsOp::RotateKeyOnDemand, |_| {})?;
        rotatable(key)?;
        crate::kms::ops::multi_region::refuse_on_replica(key)?;
        let arn = key.arn.clone();
        if key.rec.on_demand_rotations >= MAX_ON_DEMAND {
            return Err(ApiError::new(
                KmsError::LimitExceededException,
                format!("The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {arn}"),
            ));
        }
        if key.rec.origin == Origin::External {
            // Imported material: the rotation makes the material imported with
            // NEW_KEY_MATERIAL current.
            let pending =
                key.rec.materials.iter().position(|m| {
                    m.pending_rotation() && m.import.as_ref().is_some_and(|i| i.present)
                });
            let Some(idx) = pending else {
                return Err(ApiError::new(KmsError::KMSInvalidStateException,
                    format!("{arn} has no imported key material pending rotation. Import new key material (ImportType NEW_KEY_MATERIAL) first."),
                ));
            };
            let now = self.now();
            drop(self.update_key(st, &r.id, |rec| {
                if let Some(m) = rec.materials.get_mut(idx) {
                    m.created_millis = now;
                    if let Some(imp) = m.import.as_mut() {
                        imp.pending_rotation = false;
                    }
                }
                rec.on_demand_rotations += 1;
                Ok(true)
            })?);
            return Ok(json!({ "KeyId": arn }));
        }
        // Committed under the upgradable lock (crypto requests go on during the fsync),
        // installed under the write lock.
        let rotation = self.commit_rotation(&st, &r.id, MaterialOrigin::OnDemand)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        rotation.install(&mut st, &r.id)?;
        Ok(json!({ "KeyId": arn }))
    }

    pub(crate) fn list_key_rotations(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let include = i.enum_opt(
            "IncludeKeyMaterial",
            &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
        )?;
        let (limit, marker) = limit_marker(&mut i, 100, 1000)?;
        i.finish()?;
        let all = include == Some("ALL_KEY_MATERIAL");
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::ListKeyRotations, |_| {})?;
        rotatable(key)?;
        let current = key.rec.current().map(|m| m.version);
        let items: Vec<(String, Value)> = key
            .rec
            .materials
            .iter()
            .filter(|m| all || (m.origin != MaterialOrigin::Creation && !m.pending_rotation()))
            .map(|m| {
                let mut e = serde_json::Map::new();
                e.insert("KeyId".into(), Value::from(key.rec.id.clone()));
                e.insert("KeyMaterialId".into(), Value::from(m.material_id.clone()));
                e.insert(
                    "KeyMaterialState".into(),
                    Value::from(if m.pending_rotation() {
                        "PENDING_ROTATION"
                    } else if Some(m.version) == current {
                        "CURRENT"
                    } else {
                        "NON_CURRENT"
                    }),
                );
                match &m.import {
                    None => {
                        e.insert(
                            "ExpirationModel".into(),
                            Value::from("KEY_MATERIAL_DOES_NOT_EXPIRE"),
                        );
                    }
                    Some(imp) => {
                        if let Some(d) = &imp.description {
                            e.insert("KeyMaterialDescription".into(), Value::from(d.clone()));
                        }
                        e.insert(
                            "ImportState".into(),
                            Value::from(if imp.present {
                                "IMPORTED"
                            } else {
                                "PENDING_IMPORT"
                            }),
                        );
                        e.insert(
                            "ExpirationModel".into(),
                            Value::from(imp.expiration_model.as_str()),
                        );
                        if let Some(v) = imp.valid_to_millis {
                            e.insert("ValidTo".into(), ts(v));
                        }
                    }
                }
                match m.origin {
                    _ if m.pending_rotation() => {}
                    MaterialOrigin::Creation => {}
                    MaterialOrigin::Automatic | MaterialOrigin::OnDemand => {
                        e.insert("RotationDate".into(), ts(m.created_millis));
                        e.insert(
                            "RotationType".into(),
                            Value::from(if m.origin == MaterialOrigin::Automatic {
                                "AUTOMATIC"
                            } else {
                                "ON_DEMAND"
                            }),
                        );
                    }
                }
                (format!("{:010}", m.version), Value::Object(e))
            })
            .collect();
        let (items, next) = paginate(items, marker, limit)?;
        Ok(page("Rotations", items, next))
    }
}

/// A committed rotation waiting to be installed in memory: the changed record of each
/// rotated key (one, or a multi-Region key's family), by slot.
struct Rotation {
    recs: Vec<(String, KeyRecord)>,
    material: KeyMaterial,
}

impl Rotation {
    fn install(self, st: &mut State, _id: &str) -> Result<(), ApiError> {
        let material = Arc::new(self.material);
        for (slot, rec) in self.recs {
            let key = st.keys.get_mut(&slot).ok_or_else(internal)?;
            key.rec = rec;
            key.materials.push(Some(material.clone()));
        }
        Ok(())
    }
}
