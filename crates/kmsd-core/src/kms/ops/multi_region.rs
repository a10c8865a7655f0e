//! Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, the `MultiRegionConfiguration` of
//! `KeyMetadata`, and the keys related to a multi-Region key.
//!
//! Related multi-Region keys share their key id (`mrk-...`) and live in different Regions of
//! one account; each is held under its own slot (`ids::slot`: `<id>@<region>`). Every record
//! names the primary's Region (`KeyRecord::primary_region`); the replicas of a key are found
//! by looking its slot up in every Region ([`related`]), so a replica is one record and its
//! material rows, written in one commit. Shared properties — key material and its versions,
//! key spec, usage, origin, the rotation schedule — are written to every related key in the
//! same commit (rotation, `rotation.rs`; the rotation setting, [`Kms::update_family`]);
//! policy, aliases, tags, grants, description and the enabled state stay per Region.
//!
//! A replica is complete when ReplicateKey answers: this server shows it `Enabled` (or
//! `PendingImport` for imported material) at once, where AWS shows `Creating` for a while.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{RwLockUpgradableReadGuard, RwLockWriteGuard};
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{base_context, Req};
use crate::kms::decode::input::Input;
use crate::kms::model::entry::{default_policy, KeyEntry};
use crate::kms::model::ids::{internal, key_arn, slot};
use crate::kms::model::key::{KeyRecord, KeyState, Origin};
use crate::kms::model::op::KmsOp;
use crate::kms::model::policy::validate_policy;
use crate::kms::model::regions;
use crate::kms::model::state::State;
use crate::kms::ops::policy_ops::{check_lockout, check_principals, policy_pattern};
use crate::kms::ops::tags::{add_request_tags, parse_tags};
use crate::kms::{persist, Kms};

/// The related keys of a multi-Region key `rec` (same account and key id; `rec`'s own entry
/// included when it is installed), in Region order. Empty for a single-Region key.
pub(crate) fn related<'a>(st: &'a State, rec: &KeyRecord) -> Vec<&'a KeyEntry> {
    if !rec.is_multi_region() {
        return Vec::new();
    }
    let mut regions_to_look: Vec<&str> = regions::COMMERCIAL.to_vec();
    for r in [Some(rec.region.as_str()), rec.primary_region.as_deref()]
        .into_iter()
        .flatten()
    {
        if !regions_to_look.contains(&r) {
            regions_to_look.push(r);
        }
    }
    regions_to_look.sort_unstable();
    regions_to_look
        .into_iter()
        .filter_map(|r| st.keys.get(&slot(&rec.id, r)))
        .filter(|k| k.rec.account == rec.account && k.rec.is_multi_region())
        .collect()
}

/// The replicas of the primary key `rec` (other related keys), in Region order.
fn replicas_of<'a>(st: &'a State, rec: &KeyRecord) -> Vec<&'a KeyEntry> {
    related(st, rec)
        .into_iter()
        .filter(|k| k.rec.region != rec.region)
        .collect()
}

/// `KeyMetadata` with, for a multi-Region key, its `MultiRegionConfiguration` (the primary
/// key and every replica, as they are in `st`).
pub(crate) fn metadata(st: &State, key: &KeyEntry) -> Value {
    let mut m = key.metadata();
    let Some(primary) = &key.rec.primary_region else {
        return m;
    };
    let mut replicas: Vec<Value> = related(st, &key.rec)
        .into_iter()
        .filter(|k| k.rec.region != *primary)
        .map(|k| json!({"Arn": k.arn, "Region": k.rec.region}))
        .collect();
    // A replica being created is not installed yet: it names itself.
    if key.rec.region != *primary && !replicas.iter().any(|r| r["Arn"] == key.arn.as_str()) {
        replicas.push(json!({"Arn": key.arn, "Region": key.rec.region}));
    }
    let config = json!({
        "MultiRegionKeyType": if key.rec.region == *primary { "PRIMARY" } else { "REPLICA" },
        "PrimaryKey": {
            "Arn": key_arn(primary, &key.rec.account, &key.rec.id),
            "Region": primary,
        },
        "ReplicaKeys": replicas,
    });
    if let Value::Object(o) = &mut m {
        o.insert("MultiRegionConfiguration".into(), config);
    }
    m
}

/// `ValidationException` for a Region that is not of the model's `RegionType` pattern.
fn check_region_pattern(i: &mut Input<'_>, region: &str, path: &str) {
    if !regions::matches_pattern(region) {
        i.violate(
            Some(region),
            path,
            "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$",
        );
    }
}

fn not_multi_region(arn: &str) -> ApiError {
    ApiError::new(
        KmsError::UnsupportedOperationException,
        format!("{arn} is not a multi-Region key."),
    )
}

fn not_primary(arn: &str) -> ApiError {
    ApiError::new(
        KmsError::UnsupportedOperationException,
        format!("{arn} is not a multi-Region primary key."),
    )
}

fn unknown_region(region: &str) -> ApiError {
    ApiError::validation(format!(
        "{region} is not a valid AWS Region in which KMS is available."
    ))
}

impl Kms {
    pub(crate) fn replicate_key(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let replica_region = i.str_req("ReplicaRegion", 1, 32)?;
        check_region_pattern(&mut i, replica_region, "replicaRegion");
        let policy_text = i.str_opt("Policy", 1, 131_072)?;
        let bypass = i
            .bool_opt("BypassPolicyLockoutSafetyCheck")?
            .unwrap_or(false);
        let description = i.str_opt("Description", 0, 8192)?.unwrap_or("");
        let tags = parse_tags(&mut i, "Tags")?;
        if let Some(p) = policy_text {
            policy_pattern(&mut i, p);
        }
        i.finish()?;
        let tags = tags.unwrap_or_default();
        let st = self.state.upgradable_read();
        let (_, primary) = self.gate(&st, req, key_id, KmsOp::ReplicateKey, |c| {
            c.set("kms:ReplicaRegion", replica_region)
        })?;
        if !primary.rec.is_multi_region() {
            return Err(not_multi_region(&primary.arn));
        }
        if primary.rec.is_replica() {
            return Err(not_primary(&primary.arn));
        }
        if !regions::is_region(replica_region) {
            return Err(unknown_region(replica_region));
        }
        if replica_region == primary.rec.region {
            return Err(ApiError::validation(format!(
                "The replica Region {replica_region} is the Region of the primary key {}. A replica must be in a different Region.",
                primary.arn
            )));
        }
        let replica_slot = slot(&primary.rec.id, replica_region);
        let replica_arn = key_arn(replica_region, &primary.rec.account, &primary.rec.id);
        if st.keys.contains_key(&replica_slot) {
            return Err(ApiError::new(
                KmsError::AlreadyExistsException,
                format!("Replica key {replica_arn} already exists in {replica_region}."),
            ));
        }
        // kms:CreateKey (and kms:TagResource for tags) in the replica Region, from the
        // caller's IAM policies, as a CreateKey request there would be decided.
        let mut ctx = base_context(req);
        ctx.set("aws:RequestedRegion", replica_region);
        ctx.set("kms:KeySpec", primary.rec.key_spec.as_str());
        ctx.set("kms:KeyUsage", primary.rec.key_usage.as_str());
        ctx.set("kms:CustomerMasterKeySpec", primary.rec.key_spec.as_str());
        ctx.set("kms:CustomerMasterKeyUsage", primary.rec.key_usage.as_str());
        ctx.set("kms:KeyOrigin", primary.rec.origin.as_str());
        ctx.set("kms:MultiRegion", "true");
        ctx.set("kms:MultiRegionKeyType", "REPLICA");
        ctx.set("kms:ReplicaRegion", replica_region);
        ctx.set(
            "kms:BypassPolicyLockoutSafetyCheck",
            if bypass { "true" } else { "false" },
        );
        add_request_tags(&mut ctx, &tags);
        self.authorize_identity(req, KmsOp::CreateKey.spec().action(), &replica_arn, &ctx)?;
        if !tags.is_empty() {
            let action = KmsOp::TagResource.spec().action();
            self.authorize_identity(req, action, &replica_arn, &ctx)?;
        }
        let account = primary.rec.account.clone();
        let (text, policy) = match policy_text {
            Some(p) => {
                let compiled = validate_policy(p)?;
                check_principals(self.directory.as_ref(), &compiled)?;
                (p.to_string(), compiled)
            }
            None => {
                let text = default_policy(&account);
                let compiled = validate_policy(&text)?;
                (text, compiled)
            }
        };
        let now = self.now();
        let mut rec = primary.rec.clone();
        rec.region = replica_region.to_string();
        rec.description = description.to_string();
        rec.creation_millis = now;
        rec.policy = text.clone();
        rec.tags = tags.clone();
        rec.deletion_millis = None;
        rec.pending_window_days = None;
        rec.aws_managed = false;
        rec.usage = crate::kms::model::usage::UsageRecord::starting(now);
        let imported = rec.origin == Origin::External;
        rec.state = if imported {
            // Imported material is not replicated: the replica waits for the same material.
            for m in &mut rec.materials {
                if let Some(imp) = m.import.as_mut() {
                    imp.present = false;
                    imp.valid_to_millis = None;
                }
            }
            KeyState::PendingImport
        } else {
            KeyState::Enabled
        };
        let mut muts = vec![persist::put_key(&rec)?];
        let mut entry = KeyEntry {
            arn: rec.arn(),
            last_use: crate::kms::model::last_use::LastUse::from_record(&rec.usage),
            materials: Vec::new(),
            mac: None,
            asym: None,
            policy,
            grants: BTreeMap::new(),
            grant_view: Arc::default(),
            aliases: Vec::new(),
            rec,
        };
        if imported {
            entry.materials = vec![None; primary.materials.len()];
        } else {
            let version_of = |idx: usize| u32::try_from(idx + 1).map_err(|_| internal());
            for (idx, m) in primary.materials.iter().enumerate() {
                if let Some(m) = m {
                    muts.push(persist::put_material(
                        &self.root_key,
                        &replica_slot,
                        version_of(idx)?,
                        m,
                    )?);
                }
            }
            entry.materials = primary.materials.clone();
            let first = primary
                .rec
                .materials
                .first()
                .map(|m| m.version)
                .unwrap_or(1);
            if let Some(k) = &primary.mac {
                muts.push(persist::put_mac_material(
                    &self.root_key,
                    &replica_slot,
                    first,
                    k,
                )?);
                entry.mac = Some(k.clone());
            }
            if let Some(k) = &primary.asym {
                muts.push(persist::put_private_key(
                    &self.root_key,
                    &replica_slot,
                    first,
                    k,
                )?);
                entry.asym = Some(k.clone());
            }
        }
        if !bypass && policy_text.is_some() {
            check_lockout(req, &entry, &entry.policy)?;
        }
        self.commit(&muts)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.insert(replica_slot.clone(), entry);
        let replica = st.keys.get(&replica_slot).ok_or_else(internal)?;
        let out = json!({
            "ReplicaKeyMetadata": metadata(&st, replica),
            "ReplicaPolicy": text,
            "ReplicaTags": tags
                .iter()
                .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                .collect::<Vec<_>>(),
        });
        self.recompute_due(&st);
        Ok(out)
    }

    pub(crate) fn update_primary_region(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let new_region = i.str_req("PrimaryRegion", 1, 32)?;
        check_region_pattern(&mut i, new_region, "primaryRegion");
        i.finish()?;
        let st = self.state.upgradable_read();
        let (_, primary) = self.gate(&st, req, key_id, KmsOp::UpdatePrimaryRegion, |c| {
            c.set("kms:PrimaryRegion", new_region)
        })?;
        if !primary.rec.is_multi_region() {
            return Err(not_multi_region(&primary.arn));
        }
        if primary.rec.is_replica() {
            return Err(not_primary(&primary.arn));
        }
        if !regions::is_region(new_region) && new_region != primary.rec.region {
            return Err(unknown_region(new_region));
        }
        let target_slot = slot(&primary.rec.id, new_region);
        let target_arn = key_arn(new_region, &primary.rec.account, &primary.rec.id);
        let Some(target) = st
            .keys
            .get(&target_slot)
            .filter(|_| new_region != primary.rec.region)
        else {
            if new_region == primary.rec.region {
                return Err(ApiError::validation(format!(
                    "{} is already the primary key in {new_region}.",
                    primary.arn
                )));
            }
            return Err(ApiError::new(
                KmsError::NotFoundException,
                format!("Key '{target_arn}' does not exist"),
            ));
        };
        // kms:UpdatePrimaryRegion on the replica that becomes the primary, too.
        let mut ctx = crate::kms::authz::key_context(req, target, None);
        ctx.set("kms:PrimaryRegion", new_region);
        let action = KmsOp::UpdatePrimaryRegion.spec().action();
        self.authorize(req, target, action, &ctx, None)?;
        crate::kms::model::states::check_state(
            KmsOp::UpdatePrimaryRegion,
            target.rec.state,
            &target.arn,
        )?;
        let family: Vec<String> = related(&st, &primary.rec)
            .into_iter()
            .map(|k| k.rec.slot())
            .collect();
        let region = new_region.to_string();
        drop(self.update_family(st, &family, |rec| {
            rec.primary_region = Some(region.clone());
            Ok(())
        })?);
        Ok(json!({}))
    }

    /// Change the records of the keys `slots` (related multi-Region keys) in one commit, then
    /// install them; as [`Kms::update_key`] for several keys.
    pub(crate) fn update_family<'a>(
        &self,
        st: RwLockUpgradableReadGuard<'a, State>,
        slots: &[String],
        change: impl Fn(&mut KeyRecord) -> Result<(), ApiError>,
    ) -> Result<RwLockWriteGuard<'a, State>, ApiError> {
        let mut recs = Vec::with_capacity(slots.len());
        let mut muts = Vec::with_capacity(slots.len());
        for s in slots {
            let entry = st.keys.get(s).ok_or_else(internal)?;
            let mut rec = entry.rec.clone();
            change(&mut rec)?;
            rec.usage = entry.last_use.snapshot();
            muts.push(persist::put_key(&rec)?);
            recs.push((s.clone(), rec));
        }
        self.commit(&muts)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        for (s, rec) in recs {
            st.keys.get_mut(&s).ok_or_else(internal)?.rec = rec;
        }
        Ok(st)
    }

    /// The slots of the key `slot` and, for a multi-Region primary key, its replicas (the keys
    /// a change of a shared property writes).
    pub(crate) fn family_of(&self, st: &State, slot: &str) -> Vec<String> {
        match st.keys.get(slot) {
            Some(k) if k.rec.is_multi_region() => related(st, &k.rec)
                .into_iter()
                .map(|k| k.rec.slot())
                .collect(),
            Some(_) => vec![slot.to_string()],
            None => Vec::new(),
        }
    }

    /// True when the multi-Region primary key `rec` still has replicas (its deletion waits
    /// in `PendingReplicaDeletion`).
    pub(crate) fn has_replicas(st: &State, rec: &KeyRecord) -> bool {
        rec.is_multi_region() && !rec.is_replica() && !replicas_of(st, rec).is_empty()
    }
}

/// Refuse a change of a shared property (the rotation setting) on a replica key.
pub(crate) fn refuse_on_replica(key: &KeyEntry) -> Result<(), ApiError> {
    if key.rec.is_replica() {
        return Err(ApiError::new(
            KmsError::UnsupportedOperationException,
            format!(
                "{} is a multi-Region replica key. Change this property on its primary key.",
                key.arn
            ),
        ));
    }
    Ok(())
}
