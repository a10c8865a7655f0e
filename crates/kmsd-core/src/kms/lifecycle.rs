//! Key lifecycle operations: CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey,
//! ScheduleKeyDeletion, CancelKeyDeletion, UpdateKeyDescription; the shared gate
//! (resolve → authorize → key-state check) most key operations start with; and the AWS
//! managed keys that DescribeKey creates on first use of a predefined `alias/aws/...` alias.

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_crypto::{KeyMaterial, MacKey};
use kmsd_policy::RequestContext;
use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{json, Value};

use super::aliases::AliasRecord;
use super::api::{ts, Input};
use super::authz::{base_context, key_context, Forms, Resolved};
use super::ids::{internal, is_key_id, new_key_id, random_hex64};
use super::key::{
    check_state, default_policy, KeyEntry, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialInfo,
    MaterialOrigin, Origin,
};
use super::op::KmsOp;
use super::policy_ops::{check_lockout, check_principals, validate_policy};
use super::tags::{add_request_tags, parse_tags};
use super::{persist, Kms, Req, State};
use crate::error::ApiError;
use crate::error::KmsError;

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

/// Fresh material and its info record.
pub(crate) fn new_material(
    version: u32,
    now: i64,
    origin: MaterialOrigin,
) -> Result<(KeyMaterial, MaterialInfo), ApiError> {
    let m = KeyMaterial::generate().map_err(|_| internal())?;
    Ok((
        m,
        MaterialInfo {
            version,
            material_id: random_hex64()?,
            created_millis: now,
            origin,
            import: None,
        },
    ))
}

/// Pagination of a sorted list by an opaque marker (the first item of the next page).
pub(crate) fn paginate<T>(
    items: Vec<(String, T)>,
    marker: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match marker {
        None => 0,
        Some(m) => items
            .iter()
            .position(|(k, _)| k.as_str() == m)
            .ok_or_else(|| ApiError::new(KmsError::InvalidMarkerException, "Invalid marker."))?,
    };
    let mut rest: Vec<(String, T)> = items.into_iter().skip(start).collect();
    let next = if rest.len() > limit {
        rest.get(limit).map(|(k, _)| k.clone())
    } else {
        None
    };
    rest.truncate(limit);
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

/// `{<list>: [...], Truncated, NextMarker?}`.
pub(crate) fn page(field: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(field.into(), Value::Array(items));
    m.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        m.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(m)
}

/// Limit and Marker of a list operation (model range 1..1000, service maximum `cap`).
pub(crate) fn limit_marker<'a>(
    i: &mut Input<'a>,
    default: usize,
    cap: usize,
) -> Result<(usize, Option<&'a str>), ApiError> {
    let limit = i.int_opt("Limit", 1, 1000)?;
    let marker = i.str_opt("Marker", 1, 1024)?;
    if let Some(m) = marker {
        let ok = m.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c));
        i.pattern_check("Marker", Some(m), ok, "[\\u0020-\\u00FF]*");
    }
    let limit = limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(default)
        .min(cap);
    Ok((limit, marker))
}

impl Kms {
    /// Resolve the key `raw` names, authorize `action` with `extra` context, check the key
    /// state for `state_op`. The standard opening of a key operation.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is one input of the standard opening of a key operation"
    )]
    pub(crate) fn gate(
        &self,
        st: &State,
        req: &mut Req<'_>,
        raw: &str,
        forms: Forms,
        action: &str,
        state_op: KmsOp,
        extra: impl FnOnce(&mut RequestContext),
    ) -> Result<Resolved, ApiError> {
        let r = self.resolve(st, req, raw, forms, action)?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        req.audit.key_arn = Some(key.arn.clone());
        let mut ctx = key_context(req, key, r.alias.as_deref());
        extra(&mut ctx);
        self.authorize(req, key, action, &ctx, None)?;
        check_state(state_op, key.rec.state, &key.arn)?;
        Ok(r)
    }

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
            super::policy_ops::policy_pattern(&mut i, p);
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
        self.authorize_identity(req, "kms:CreateKey", "*", &ctx)?;
        if !tags.is_empty() {
            self.authorize_identity(req, "kms:TagResource", "*", &ctx)?;
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
                .is_some_and(|a| !super::import::importable(a));
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
            super::ids::new_mrk_id()?
        } else {
            new_key_id()
        };
        let slot = super::ids::slot(&id, &region);
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
            usage: super::last_usage::UsageRecord::starting(now),
            primary_region: multi.then(|| region.clone()),
        };
        let materials = if external || mac.is_some() || asym.is_some() {
            Vec::new()
        } else {
            vec![Some(Arc::new(material))]
        };
        let entry = KeyEntry {
            arn: rec.arn(),
            last_use: super::last_usage::LastUse::from_record(&rec.usage),
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
        let out = json!({ "KeyMetadata": super::multi_region::metadata(&st, &entry) });
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.insert(slot, entry);
        Ok(out)
    }

    /// Create the AWS managed key behind a predefined alias on first use ("If you call the
    /// DescribeKey operation on a predefined AWS alias, that is, an AWS alias with no key ID, KMS
    /// creates an AWS managed key. Then, it associates the alias with the new KMS key").
    fn ensure_aws_managed_key(&self, req: &Req<'_>, managed: &AwsManaged) -> Result<(), ApiError> {
        let account = req.account().to_string();
        let region = req.region().to_string();
        let name = format!("alias/aws/{}", managed.alias);
        let ak = (account.clone(), region.clone(), name.clone());
        let st = self.state.upgradable_read();
        if st.aliases.contains_key(&ak) {
            return Ok(());
        }
        let text = aws_managed_policy(managed, &account, &region);
        let policy = validate_policy(&text)?;
        let now = self.now();
        let id = new_key_id();
        let (material, info) = new_material(1, now, MaterialOrigin::Creation)?;
        let rec = KeyRecord {
            id: id.clone(),
            account: account.clone(),
            region: region.clone(),
            description: format!(
                "Default key that protects my {} when no other key is defined",
                managed.protects
            ),
            creation_millis: now,
            state: KeyState::Enabled,
            deletion_millis: None,
            pending_window_days: None,
            policy: text,
            tags: BTreeMap::new(),
            // AWS managed keys rotate every year; their rotation cannot be changed.
            rotation_enabled: true,
            rotation_period_days: Some(AWS_MANAGED_ROTATION_DAYS),
            next_rotation_millis: Some(now + i64::from(AWS_MANAGED_ROTATION_DAYS) * 86_400_000),
            materials: vec![info],
            on_demand_rotations: 0,
            aws_managed: true,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            usage: super::last_usage::UsageRecord::starting(now),
            primary_region: None,
        };
        let alias = AliasRecord {
            account,
            region,
            name: name.clone(),
            target_key_id: id.clone(),
            creation_millis: now,
            last_updated_millis: now,
        };
        let entry = KeyEntry {
            arn: rec.arn(),
            last_use: super::last_usage::LastUse::from_record(&rec.usage),
            rec,
            materials: vec![Some(Arc::new(material.clone()))],
            mac: None,
            asym: None,
            policy,
            grants: BTreeMap::new(),
            grant_view: Arc::default(),
            aliases: vec![name],
        };
        let muts = vec![
            persist::put_key(&entry.rec)?,
            persist::put_material(&self.root_key, &id, 1, &material)?,
            persist::put_alias(&alias)?,
        ];
        self.commit(&muts)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.insert(id, entry);
        st.aliases.insert(ak, alias);
        self.recompute_due(&st);
        Ok(())
    }

    pub(crate) fn describe_key(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        super::grants::grant_tokens(&mut i)?;
        i.finish()?;
        if let Some(managed) = predefined_alias(req, key_id) {
            self.ensure_aws_managed_key(req, managed)?;
        }
        let st = self.state.read();
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::Any,
            "kms:DescribeKey",
            KmsOp::DescribeKey,
            |_| {},
        )?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        Ok(json!({ "KeyMetadata": super::multi_region::metadata(&st, key) }))
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
                return Err(ApiError::new(
                    KmsError::InvalidMarkerException,
                    "Invalid marker.",
                ));
            }
        }
        let ctx = base_context(req);
        self.authorize_identity(req, "kms:ListKeys", "*", &ctx)?;
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
        let action = op.spec().action();
        let st = self.state.upgradable_read();
        let r = self.gate(&st, req, key_id, Forms::KeyLocal, action, op, |_| {})?;
        let target = if enable {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        let current = st.keys.get(&r.id).ok_or_else(internal)?.rec.state;
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
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:ScheduleKeyDeletion",
            KmsOp::ScheduleKeyDeletion,
            |c| {
                c.set(
                    "kms:ScheduleKeyDeletionPendingWindowInDays",
                    days.to_string(),
                )
            },
        )?;
        let now = self.now();
        let when = now + days * 86_400_000;
        // A multi-Region primary key with replicas waits for their deletion; its waiting
        // period begins when the last of them is deleted.
        let waits = Kms::has_replicas(&st, &st.keys.get(&r.id).ok_or_else(internal)?.rec);
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
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:CancelKeyDeletion",
            KmsOp::CancelKeyDeletion,
            |_| {},
        )?;
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
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:UpdateKeyDescription",
            KmsOp::UpdateKeyDescription,
            |_| {},
        )?;
        drop(self.update_key(st, &r.id, |rec| {
            rec.description = desc.to_string();
            Ok(true)
        })?);
        Ok(json!({}))
    }
}

/// Rotation period of AWS managed keys (every year).
const AWS_MANAGED_ROTATION_DAYS: u32 = 365;

/// A predefined AWS managed key alias: `alias/aws/<alias>`, made for the service whose endpoint
/// prefix is `service` (`kms:ViaService` = `<service>.<region>.amazonaws.com`).
pub(crate) struct AwsManaged {
    alias: &'static str,
    service: &'static str,
    title: &'static str,
    protects: &'static str,
}

const fn managed(
    alias: &'static str,
    service: &'static str,
    title: &'static str,
    protects: &'static str,
) -> AwsManaged {
    AwsManaged {
        alias,
        service,
        title,
        protects,
    }
}

/// The predefined aliases of AWS managed keys this server knows.
const AWS_MANAGED: &[AwsManaged] = &[
    managed("acm", "acm", "ACM", "ACM private keys"),
    managed("backup", "backup", "AWS Backup", "AWS Backup backups"),
    managed(
        "codecommit",
        "codecommit",
        "CodeCommit",
        "CodeCommit repositories",
    ),
    managed("dynamodb", "dynamodb", "DynamoDB", "DynamoDB tables"),
    managed("ebs", "ec2", "EBS", "EBS volumes"),
    managed(
        "elasticfilesystem",
        "elasticfilesystem",
        "EFS",
        "EFS file systems",
    ),
    managed("es", "es", "Elasticsearch", "Elasticsearch domains"),
    managed("fsx", "fsx", "FSx", "FSx file systems"),
    managed("glue", "glue", "Glue", "Glue data"),
    managed("kinesis", "kinesis", "Kinesis", "Kinesis streams"),
    managed(
        "kinesisvideo",
        "kinesisvideo",
        "Kinesis Video Streams",
        "Kinesis Video Streams",
    ),
    managed("lambda", "lambda", "Lambda", "Lambda functions"),
    managed("rds", "rds", "RDS", "RDS database volumes"),
    managed("redshift", "redshift", "Redshift", "Redshift databases"),
    managed("s3", "s3", "S3", "S3 objects"),
    managed(
        "secretsmanager",
        "secretsmanager",
        "Secrets Manager",
        "Secrets Manager secrets",
    ),
    managed("sns", "sns", "SNS", "SNS data"),
    managed("sqs", "sqs", "SQS", "SQS messages"),
    managed("ssm", "ssm", "SSM", "SSM parameters"),
    managed("xray", "xray", "X-Ray", "X-Ray data"),
];

/// The predefined AWS managed key alias a `KeyId` names (alias name, or alias ARN of the
/// caller's account and the endpoint's Region), if it names one.
fn predefined_alias(req: &Req<'_>, key_id: &str) -> Option<&'static AwsManaged> {
    let name = match key_id.strip_prefix("arn:") {
        Some(rest) => {
            let mut parts = rest.splitn(5, ':');
            let (_partition, service, region, account, resource) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if service != "kms" || region != req.region() || account != req.account() {
                return None;
            }
            resource
        }
        None => key_id,
    };
    let suffix = name.strip_prefix("alias/aws/")?;
    AWS_MANAGED.iter().find(|m| m.alias == suffix)
}

/// The key policy of an AWS managed key: use through its service by principals of the
/// account, and direct read-only access to the key's metadata for the account.
fn aws_managed_policy(m: &AwsManaged, account: &str, region: &str) -> String {
    let doc = json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{}-2", m.alias),
        "Statement": [
            {
                "Sid": format!(
                    "Allow access through {} for all principals in the account that are authorized to use {}",
                    m.title, m.title
                ),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey"
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": format!("{}.{region}.amazonaws.com", m.service)
                    }
                }
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*"
            }
        ]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
