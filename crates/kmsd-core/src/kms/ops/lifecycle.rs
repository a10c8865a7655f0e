//! Key lifecycle operations: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey,
//! ScheduleKeyDeletion, CancelKeyDeletion, UpdateKeyDescription. The gate most key
//! operations start with is `ops::gate`; AWS managed keys are `ops::aws_managed`.

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_crypto::MacKey;
use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{base_context, Req};
use crate::kms::decode::input::Input;
use crate::kms::model::entry::{default_policy, KeyEntry};
use crate::kms::model::ids::{internal, is_key_id, new_key_id};
use crate::kms::model::key::{
    new_material, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialOrigin, Origin,
};
use crate::kms::model::op::KmsOp;
use crate::kms::model::policy::validate_policy;
use crate::kms::model::ts::ts;
use crate::kms::ops::aws_managed::predefined_alias;
use crate::kms::ops::paging::{invalid_marker, limit_marker, page, paginate};
use crate::kms::ops::policy_ops::{check_lockout, check_principals};
use crate::kms::ops::tags::{add_request_tags, parse_tags};
use crate::kms::{persist, Kms};

const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];
const CMK_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
];
const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// Which usages a key spec allows (first = implied default, `None` = must be given).
fn usages_for(spec: &str) -> (&'static [&'static str], bool) {
    match spec {
        "SYMMETRIC_DEFAULT" => (&["ENCRYPT_DECRYPT"], true),
        s if s.starts_with("RSA_") => (&["ENCRYPT_DECRYPT", "SIGN_VERIFY"], false),
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" => {
            (&["SIGN_VERIFY", "KEY_AGREEMENT"], false)
        }
        "ECC_SECG_P256K1" | "ECC_NIST_EDWARDS25519" => (&["SIGN_VERIFY"], false),
        "SM2" => (&["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"], false),
        s if s.starts_with("HMAC_") => (&["GENERATE_VERIFY_MAC"], false),
        s if s.starts_with("ML_DSA_") => (&["SIGN_VERIFY"], false),
        s if s.starts_with("ML_KEM_") => (&["ENCAPSULATE_DECAPSULATE"], false),
        _ => (&[], false),
    }
}

impl Kms {
    pub(crate) fn create_key(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let policy_text = i.str_opt("Policy", 1, 131_072)?;
        let description = i.str_opt("Description", 0, 8192)?.unwrap_or("");
        let usage = i.enum_opt("KeyUsage", KEY_USAGES)?;
        let cmk_spec = i.enum_opt("CustomerMasterKeySpec", CMK_SPECS)?;
        let key_spec = i.enum_opt("KeySpec", KEY_SPECS)?;
        let origin = i.enum_opt("Origin", ORIGINS)?.unwrap_or("AWS_KMS");
        let store_id = i.str_opt("CustomKeyStoreId", 1, 64)?;
        let bypass = i
            .bool_opt("BypassPolicyLockoutSafetyCheck")?
            .unwrap_or(false);
        let multi = i.bool_opt("MultiRegion")?.unwrap_or(false);
        let _xks = i.str_opt("XksKeyId", 1, 128)?;
        let tags = parse_tags(&mut i, "Tags")?;
        if let Some(p) = policy_text {
            crate::kms::ops::policy_ops::policy_pattern(&mut i, p);
        }
        i.finish()?;
        if cmk_spec.is_some() && key_spec.is_some() {
            return Err(ApiError::validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec parameter instead.",
            ));
        }
        let spec = key_spec.or(cmk_spec).unwrap_or("SYMMETRIC_DEFAULT");
        let (allowed, implied) = usages_for(spec);
        let usage = match usage {
            Some(u) => u,
            None if implied => "ENCRYPT_DECRYPT",
            None => {
                return Err(ApiError::validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
                ))
            }
        };
        if !allowed.contains(&usage) {
            return Err(ApiError::validation(format!(
                "KeyUsage {usage} is not compatible with KeySpec {spec}"
            )));
        }
        let tags = tags.unwrap_or_default();
        let mut ctx = base_context(req);
        ctx.set("kms:KeySpec", spec);
        ctx.set("kms:KeyUsage", usage);
        ctx.set("kms:CustomerMasterKeySpec", spec);
        ctx.set("kms:CustomerMasterKeyUsage", usage);
        ctx.set("kms:KeyOrigin", origin);
        ctx.set("kms:MultiRegion", if multi { "true" } else { "false" });
        if multi {
            ctx.set("kms:MultiRegionKeyType", "PRIMARY");
        }
        ctx.set(
            "kms:BypassPolicyLockoutSafetyCheck",
            if bypass { "true" } else { "false" },
        );
        add_request_tags(&mut ctx, &tags);
        self.authorize_identity(req, KmsOp::CreateKey.spec().action(), "*", &ctx)?;
        if !tags.is_empty() {
            // Tags given at creation: TagResource is decided too.
            self.authorize_identity(req, KmsOp::TagResource.spec().action(), "*", &ctx)?;
        }
        if multi && matches!(origin, "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE") {
            return Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("Multi-Region keys are not supported for keys with origin {origin}. You can't create multi-Region keys in a custom key store."),
            ));
        }
        if let Some(sid) = store_id {
            return Err(ApiError::new(
                KmsError::CustomKeyStoreNotFoundException,
                format!("Custom key store {sid} does not exist."),
            ));
        }
        if matches!(origin, "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE") {
            return Err(ApiError::validation(format!(
                "A CustomKeyStoreId is required for keys with origin {origin}."
            )));
        }
        let made = KeySpec::from_name(spec);
        let external = origin == "EXTERNAL";
        let external_asym = external
            && made
                .and_then(KeySpec::asymmetric)
                .is_some_and(|a| !crate::kms::model::key::importable(a));
        if made.is_none() || !matches!(origin, "AWS_KMS" | "EXTERNAL") || external_asym {
            let what = if made.is_none() {
                format!("KeySpec {spec}")
            } else if external_asym {
                format!("Origin EXTERNAL with KeySpec {spec}")
            } else {
                format!("Origin {origin}")
            };
            return Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{what} is not supported by this server; only keys with origin AWS_KMS (EXTERNAL for symmetric, HMAC, RSA and ECC keys) and a KeySpec other than SM2 (available only in China Regions) are."),
            ));
        }
        let account = req.account().to_string();
        let region = req.region().to_string();
        let id = if multi {
            crate::kms::model::ids::new_mrk_id()?
        } else {
            new_key_id()
        };
        let slot = crate::kms::model::ids::slot(&id, &region);
        let (text, policy) = match policy_text {
            Some(p) => (p.to_string(), validate_policy(p)?),
            None => {
                let text = default_policy(&account);
                let mut cache = self.default_policies.lock();
                let policy = match cache.get(&account) {
                    Some(p) => p.clone(),
                    None => {
                        let p = validate_policy(&text)?;
                        cache.insert(account.clone(), p.clone());
                        p
                    }
                };
                (text, policy)
            }
        };
        if policy_text.is_some() {
            check_principals(self.directory.as_ref(), &policy)?;
        }
        let now = self.now();
        let key_spec = made.unwrap_or_default();
        let key_usage = KeyUsage::from_name(usage).ok_or_else(internal)?;
        // An asymmetric key holds its private key instead of symmetric material. RSA-3072/4096
        // take up to seconds: CreateKey runs on the blocking pool and holds no lock here.
        // A key for imported material gets its private key from ImportKeyMaterial.
        let asym = match key_spec.asymmetric() {
            Some(a) if !external => Some(Arc::new(a.generate().map_err(|_| internal())?)),
            _ => None,
        };
        let (material, info) = new_material(1, now, MaterialOrigin::Creation)?;
        // An HMAC key holds HMAC material instead (as long as its digest).
        let mac = match key_spec.mac_algorithm() {
            Some(alg) if !external => {
                Some(Arc::new(MacKey::generate(alg).map_err(|_| internal())?))
            }
            _ => None,
        };
        let rec = KeyRecord {
            id: id.clone(),
            account: account.clone(),
            region: region.clone(),
            description: description.to_string(),
            creation_millis: now,
            // A key for imported material waits for it (ImportKeyMaterial).
            state: if external {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            deletion_millis: None,
            pending_window_days: None,
            policy: text,
            tags,
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_millis: None,
            materials: if external { Vec::new() } else { vec![info] },
            on_demand_rotations: 0,
            aws_managed: false,
            key_spec,
            key_usage,
            origin: if external {
                Origin::External
            } else {
                Origin::AwsKms
            },
            usage: crate::kms::model::usage::UsageRecord::starting(now),
            primary_region: multi.then(|| region.clone()),
        };
        let materials = if external || mac.is_some() || asym.is_some() {
            Vec::new()
        } else {
            vec![Some(Arc::new(material))]
        };
        let entry = KeyEntry {
            arn: rec.arn(),
            last_use: crate::kms::model::last_use::LastUse::from_record(&rec.usage),
            rec,
            materials,
            mac,
            asym,
            policy,
            grants: BTreeMap::new(),
            grant_view: Arc::default(),
            aliases: Vec::new(),
        };
        if !bypass && policy_text.is_some() {
            check_lockout(req, &entry, &entry.policy)?;
        }
        let mut muts = vec![persist::put_key(&entry.rec)?];
        match (
            &entry.mac,
            &entry.asym,
            entry.materials.first().and_then(Option::as_ref),
        ) {
            (Some(m), _, _) => muts.push(persist::put_mac_material(&self.root_key, &slot, 1, m)?),
            (None, Some(k), _) => muts.push(persist::put_private_key(&self.root_key, &slot, 1, k)?),
            (None, None, Some(m)) => muts.push(persist::put_material(&self.root_key, &slot, 1, m)?),
            (None, None, None) if external => {}
            (None, None, None) => return Err(internal()),
        }
        // Committed under the upgradable lock (other mutations wait; crypto requests go on
        // during the fsync), installed under the write lock.
        let st = self.state.upgradable_read();
        self.commit(&muts)?;
        req.audit.key_arn = Some(entry.arn.clone());
        let out = json!({ "KeyMetadata": crate::kms::ops::multi_region::metadata(&st, &entry) });
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.insert(slot, entry);
        Ok(out)
    }

    pub(crate) fn describe_key(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        crate::kms::ops::grants::grant_tokens(&mut i)?;
        i.finish()?;
        if let Some(managed) = predefined_alias(req, key_id) {
            self.ensure_aws_managed_key(req, managed)?;
        }
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::DescribeKey, |_| {})?;
        Ok(json!({ "KeyMetadata": crate::kms::ops::multi_region::metadata(&st, key) }))
    }

    pub(crate) fn list_keys(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let (limit, marker) = limit_marker(&mut i, 100, 1000)?;
        if let Some(owners) = i.str_list_opt("ResourceOwners", 0, 64, 1, 2)? {
            for o in owners {
                if !matches!(o, "SELF" | "OTHER_ACCOUNTS_VIA_RAM") {
                    i.violate(
                        Some(o),
                        "resourceOwners.member",
                        "Member must satisfy enum value set: [SELF, OTHER_ACCOUNTS_VIA_RAM]",
                    );
                }
            }
        }
        i.finish()?;
        if let Some(m) = marker {
            if !is_key_id(m) {
                return Err(invalid_marker());
            }
        }
        let ctx = base_context(req);
        self.authorize_identity(req, KmsOp::ListKeys.spec().action(), "*", &ctx)?;
        let st = self.state.read();
        let mut items: Vec<(String, Value)> = st
            .keys
            .values()
            .filter(|k| k.rec.account == req.account() && k.rec.region == req.region())
            .map(|k| {
                (
                    k.rec.id.clone(),
                    json!({"KeyId": k.rec.id, "KeyArn": k.arn}),
                )
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = paginate(items, marker, limit)?;
        Ok(page("Keys", items, next))
    }

    pub(crate) fn set_enabled(
        &self,
        req: &mut Req<'_>,
        input: &Value,
        enable: bool,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        i.finish()?;
        let op = if enable {
            KmsOp::EnableKey
        } else {
            KmsOp::DisableKey
        };
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, op, |_| {})?;
        let target = if enable {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        let current = key.rec.state;
        if matches!(current, KeyState::Enabled | KeyState::Disabled) && current != target {
            let st = self.update_key(st, &r.id, |rec| {
                rec.state = target;
                Ok(true)
            })?;
            self.recompute_due(&st);
        }
        Ok(json!({}))
    }

    pub(crate) fn schedule_key_deletion(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let days = i.int_opt("PendingWindowInDays", 1, 365)?;
        i.finish()?;
        if let Some(d) = days {
            if !(7..=30).contains(&d) {
                return Err(ApiError::validation(
                    "PendingWindowInDays must be between 7 and 30",
                ));
            }
        }
        let days = days.unwrap_or(30);
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, KmsOp::ScheduleKeyDeletion, |c| {
            c.set(
                "kms:ScheduleKeyDeletionPendingWindowInDays",
                days.to_string(),
            )
        })?;
        let now = self.now();
        let when = now + days * 86_400_000;
        // A multi-Region primary key with replicas waits for their deletion; its waiting
        // period begins when the last of them is deleted.
        let waits = Kms::has_replicas(&st, &key.rec);
        let st = self.update_key(st, &r.id, |rec| {
            if waits {
                rec.state = KeyState::PendingReplicaDeletion;
                rec.deletion_millis = None;
            } else {
                rec.state = KeyState::PendingDeletion;
                rec.deletion_millis = Some(when);
            }
            rec.pending_window_days = u32::try_from(days).ok();
            Ok(true)
        })?;
        let arn = st.keys.get(&r.id).ok_or_else(internal)?.arn.clone();
        self.recompute_due(&st);
        if waits {
            return Ok(json!({
                "KeyId": arn,
                "KeyState": "PendingReplicaDeletion",
                "PendingWindowInDays": days,
            }));
        }
        Ok(json!({
            "KeyId": arn,
            "DeletionDate": ts(when),
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": days,
        }))
    }

    pub(crate) fn cancel_key_deletion(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        i.finish()?;
        let st = self.state.upgradable_read();
        let (r, _) = self.gate(&st, req, key_id, KmsOp::CancelKeyDeletion, |_| {})?;
        let st = self.update_key(st, &r.id, |rec| {
            rec.state = KeyState::Disabled;
            rec.deletion_millis = None;
            rec.pending_window_days = None;
            Ok(true)
        })?;
        let arn = st.keys.get(&r.id).ok_or_else(internal)?.arn.clone();
        self.recompute_due(&st);
        Ok(json!({ "KeyId": arn }))
    }

    pub(crate) fn update_key_description(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let desc = i.str_req("Description", 0, 8192)?;
        i.finish()?;
        let st = self.state.upgradable_read();
        let (r, _) = self.gate(&st, req, key_id, KmsOp::UpdateKeyDescription, |_| {})?;
        drop(self.update_key(st, &r.id, |rec| {
            rec.description = desc.to_string();
            Ok(true)
        })?);
        Ok(json!({}))
    }
}
