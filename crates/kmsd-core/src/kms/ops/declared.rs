//! Keys declared in a bootstrap world (validated, then created or reconciled idempotently),
//! offline/online explanations of a KMS decision, and the per-key view that simulation and
//! access review read.

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_policy::{
    explain_kms, ContextValue, Explanation, Grant, GrantConstraints, KmsRequest, RequestContext,
    SourcedPolicy,
};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{add_encryption_context, key_facts, Req};
use crate::kms::model::alias::{alias_name_rules, AliasRecord};
use crate::kms::model::entry::{default_policy, KeyEntry};
use crate::kms::model::grant::{
    ConstraintsRecord, GrantRecord, GRANT_OPERATIONS, NOT_FOR_SYMMETRIC,
};
use crate::kms::model::ids::{internal, is_account, is_uuid, random_hex64};
use crate::kms::model::key::{
    new_material, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialOrigin,
};
use crate::kms::model::op::KeyIdForms;
use crate::kms::model::policy::validate_policy;
use crate::kms::ops::policy_ops::check_principals;
use crate::kms::ops::tags::check_tag_rules;
use crate::kms::{persist, Kms};
use crate::outcome::AuditFacts;
use crate::principal::{Principal, RequestMeta};
use crate::store::Mutation;

/// A key declared in the bootstrap world file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredKey {
    pub id: String,
    pub region: String,
    pub description: String,
    /// JSON text; `None` = default key policy.
    pub policy: Option<String>,
    pub aliases: Vec<String>,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
    pub grants: Vec<DeclaredGrant>,
}

/// A grant declared on a bootstrap key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredGrant {
    pub name: Option<String>,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
}

/// Key ARN, key policy and grants of a key (for simulate and access review).
#[derive(Debug, Clone)]
pub struct KeyAuthzView {
    pub key_arn: String,
    pub account: String,
    pub region: String,
    pub policy: SourcedPolicy,
    pub grants: Vec<Grant>,
    pub aliases: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// The key's `KeySpec` and `KeyUsage` (which actions apply to it).
    pub key_spec: crate::kms::model::key::KeySpec,
    pub key_usage: crate::kms::model::key::KeyUsage,
}

/// How an explanation's key may be named. An explanation serves no operation (its action is
/// any string the caller asks about), so no row says: every form, as for the cryptographic
/// operations.
const EXPLAIN_FORMS: KeyIdForms = KeyIdForms::Any;

fn constraints_record(c: &Option<GrantConstraints>) -> Option<ConstraintsRecord> {
    c.as_ref()
        .map(|c| ConstraintsRecord {
            encryption_context_equals: c.encryption_context_equals.clone(),
            encryption_context_subset: c.encryption_context_subset.clone(),
        })
        .filter(|c| c.encryption_context_equals.is_some() || c.encryption_context_subset.is_some())
}

fn same_grant(g: &GrantRecord, d: &DeclaredGrant) -> bool {
    let mut a = g.operations.clone();
    let mut b = d.operations.clone();
    a.sort();
    b.sort();
    g.name == d.name
        && a == b
        && g.grantee_principal == d.grantee_principal
        && g.retiring_principal == d.retiring_principal
        && g.constraints == constraints_record(&d.constraints)
}

impl Kms {
    /// Explain a decision on `key` (key id, key ARN or alias ARN) in `region`, with `extra`
    /// context keys (they override derived ones) and an encryption context.
    pub fn explain(
        &self,
        principal: &Principal,
        action: &str,
        key: &str,
        region: &str,
        extra: &RequestContext,
        encryption_context: Option<&BTreeMap<String, String>>,
    ) -> Result<Explanation, ApiError> {
        self.explain_with(
            principal,
            action,
            key,
            region,
            extra,
            encryption_context,
            None,
        )
    }

    /// [`Kms::explain`], deciding with a proposed key policy and/or grant list instead of the
    /// key's own (nothing is stored): the "after" side of an access diff.
    #[expect(
        clippy::too_many_arguments,
        reason = "the explain inputs plus the proposed key policy and grants"
    )]
    pub fn explain_with(
        &self,
        principal: &Principal,
        action: &str,
        key: &str,
        region: &str,
        extra: &RequestContext,
        encryption_context: Option<&BTreeMap<String, String>>,
        proposed: Option<(&SourcedPolicy, &[Grant])>,
    ) -> Result<Explanation, ApiError> {
        let now = self.now();
        let meta = RequestMeta {
            source_ip: None,
            secure_transport: true,
            time_millis: now,
            region: region.to_string(),
            user_agent: None,
            request_id: String::new(),
        };
        let req = Req {
            p: principal,
            meta: &meta,
            audit: AuditFacts::default(),
            quota_pending: None,
            token_grants: &[],
            used: crate::kms::model::last_use::Used::default(),
        };
        let st = self.state.read();
        let r = self.resolve_as(&st, &req, key, EXPLAIN_FORMS, action)?;
        let k = st.keys.get(&r.id).ok_or_else(internal)?;
        let mut ctx = RequestContext::new();
        principal.add_to_context(&mut ctx);
        let secs = now.div_euclid(1000);
        ctx.set("aws:CurrentTime", crate::principal::format_iso8601(secs));
        ctx.set("aws:EpochTime", secs.to_string());
        ctx.set("aws:RequestedRegion", region);
        ctx.set("kms:CallerAccount", principal.caller.account());
        key_facts(&mut ctx, k, r.alias.as_deref());
        if let Some(ec) = encryption_context {
            add_encryption_context(&mut ctx, ec);
        }
        for (name, v) in extra.iter() {
            match v {
                ContextValue::Single(s) => ctx.set(name, s.clone()),
                ContextValue::Multi(m) => ctx.set_multi(name, m.clone()),
            }
        }
        Ok(explain_kms(&KmsRequest {
            caller: &principal.caller,
            caller_policies: &principal.policies,
            action,
            key_arn: &k.arn,
            key_policy: proposed.map(|p| p.0).unwrap_or(&k.policy),
            grants: proposed.map(|p| p.1).unwrap_or(&k.grant_view),
            context: &ctx,
            encryption_context,
        }))
    }

    /// Key ARN, key policy and grants of a key; `None` if unknown.
    pub fn key_authz_view(&self, key_arn: &str) -> Option<KeyAuthzView> {
        let kref = crate::kms::model::ids::parse_key_ref(key_arn).ok()?;
        let crate::kms::model::ids::KeyRef::KeyArn {
            region,
            account,
            id,
        } = kref
        else {
            return None;
        };
        let st = self.state.read();
        let k = st
            .keys
            .get(&crate::kms::model::ids::slot(&id, &region))
            .filter(|k| k.rec.account == account && k.rec.region == region)?;
        Some(KeyAuthzView {
            key_arn: k.arn.clone(),
            account: k.rec.account.clone(),
            region: k.rec.region.clone(),
            policy: k.policy.clone(),
            grants: k.grant_view.to_vec(),
            aliases: k.aliases.clone(),
            tags: k.rec.tags.clone(),
            key_spec: k.rec.key_spec,
            key_usage: k.rec.key_usage,
        })
    }

    /// Check a declared key without changing anything (principals are not checked here:
    /// the world's IAM entities may not exist yet).
    pub fn validate_declared_key(&self, account: &str, key: &DeclaredKey) -> Result<(), String> {
        if !is_account(account) {
            return Err(format!("account id {account:?} is not 12 digits"));
        }
        if !is_uuid(&key.id) {
            return Err(format!("key id {:?} is not a lower-case UUID", key.id));
        }
        if key.region.is_empty()
            || !key
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "key {}: region {:?} is not valid",
                key.id, key.region
            ));
        }
        if key.description.chars().count() > 8192 {
            return Err(format!(
                "key {}: description longer than 8192 characters",
                key.id
            ));
        }
        let text = key
            .policy
            .clone()
            .unwrap_or_else(|| default_policy(account));
        validate_policy(&text)
            .map_err(|e| format!("key {}: policy: {}", key.id, e.message.unwrap_or_default()))?;
        for a in &key.aliases {
            if a.chars().count() > 256
                || !a
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
            {
                return Err(format!(
                    "key {}: alias {a:?} has invalid characters",
                    key.id
                ));
            }
            alias_name_rules(a).map_err(|e| {
                format!(
                    "key {}: alias {a:?}: {}",
                    key.id,
                    e.message.unwrap_or_else(|| e.code.to_string())
                )
            })?;
        }
        check_tag_rules(&key.tags)
            .map_err(|e| format!("key {}: tags: {}", key.id, e.message.unwrap_or_default()))?;
        for (k, v) in &key.tags {
            if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
                return Err(format!(
                    "key {}: tag {k:?}: key must be 1..128 and value 0..256 characters",
                    key.id
                ));
            }
        }
        for g in &key.grants {
            if g.operations.is_empty() {
                return Err(format!("key {}: a grant has no operations", key.id));
            }
            for o in &g.operations {
                if !GRANT_OPERATIONS.contains(&o.as_str()) {
                    return Err(format!(
                        "key {}: grant operation {o:?} is not a KMS grant operation",
                        key.id
                    ));
                }
                if NOT_FOR_SYMMETRIC.contains(&o.as_str()) {
                    return Err(format!(
                        "key {}: grant operation {o} is not valid for a symmetric encryption key",
                        key.id
                    ));
                }
            }
            if let Some(n) = &g.name {
                if n.is_empty()
                    || n.len() > 256
                    || !n
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
                {
                    return Err(format!("key {}: grant name {n:?} is not valid", key.id));
                }
            }
        }
        let st = self.state.read();
        if let Some(k) = st.keys.get(&key.id) {
            if k.rec.account != account || k.rec.region != key.region {
                return Err(format!(
                    "key id {} already exists in another account or region",
                    key.id
                ));
            }
        }
        for a in &key.aliases {
            if let Some(rec) = st
                .aliases
                .get(&(account.to_string(), key.region.clone(), a.clone()))
            {
                if rec.target_key_id != key.id {
                    return Err(format!(
                        "key {}: alias {a} already points at key {}",
                        key.id, rec.target_key_id
                    ));
                }
            }
        }
        Ok(())
    }

    /// Create or reconcile a declared key (idempotent; one commit).
    pub fn ensure_declared_key(&self, account: &str, key: &DeclaredKey) -> Result<(), ApiError> {
        self.validate_declared_key(account, key)
            .map_err(ApiError::validation)?;
        let text = key
            .policy
            .clone()
            .unwrap_or_else(|| default_policy(account));
        let policy = validate_policy(&text)?;
        if key.policy.is_some() {
            check_principals(self.directory.as_ref(), &policy)?;
        }
        for g in &key.grants {
            for p in std::iter::once(&g.grantee_principal).chain(g.retiring_principal.iter()) {
                if !self.directory.principal_exists(p) {
                    return Err(ApiError::new(
                        KmsError::InvalidArnException,
                        format!("ARN does not refer to a valid principal: {p}"),
                    ));
                }
            }
        }
        let now = self.now();
        let mut st = self.state.write();
        let mut muts: Vec<Mutation> = Vec::new();
        let target_state = if key.enabled {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        };
        let mut new_entry: Option<KeyEntry> = None;
        let rec = match st.keys.get(&key.id) {
            Some(k) => {
                let mut rec = k.rec.clone();
                rec.description = key.description.clone();
                rec.policy = text.clone();
                rec.tags = key.tags.clone();
                if matches!(rec.state, KeyState::Enabled | KeyState::Disabled) {
                    rec.state = target_state;
                }
                rec
            }
            None => {
                let (material, info) = new_material(1, now, MaterialOrigin::Creation)?;
                let rec = KeyRecord {
                    id: key.id.clone(),
                    account: account.to_string(),
                    region: key.region.clone(),
                    description: key.description.clone(),
                    creation_millis: now,
                    state: target_state,
                    deletion_millis: None,
                    pending_window_days: None,
                    policy: text.clone(),
                    tags: key.tags.clone(),
                    rotation_enabled: false,
                    rotation_period_days: None,
                    next_rotation_millis: None,
                    materials: vec![info],
                    on_demand_rotations: 0,
                    aws_managed: false,
                    key_spec: KeySpec::SymmetricDefault,
                    key_usage: KeyUsage::EncryptDecrypt,
                    origin: crate::kms::model::key::Origin::AwsKms,
                    usage: crate::kms::model::usage::UsageRecord::starting(now),
                    primary_region: None,
                };
                muts.push(persist::put_material(
                    &self.root_key,
                    &key.id,
                    1,
                    &material,
                )?);
                new_entry = Some(KeyEntry {
                    arn: rec.arn(),
                    last_use: crate::kms::model::last_use::LastUse::from_record(&rec.usage),
                    rec: rec.clone(),
                    materials: vec![Some(Arc::new(material))],
                    mac: None,
                    asym: None,
                    policy: policy.clone(),
                    grants: BTreeMap::new(),
                    grant_view: Arc::default(),
                    aliases: Vec::new(),
                });
                rec
            }
        };
        muts.push(persist::put_key(&rec)?);
        let existing_grants: Vec<GrantRecord> = st
            .keys
            .get(&key.id)
            .map(|k| k.grants.values().cloned().collect())
            .unwrap_or_default();
        let mut added_grants = Vec::new();
        for g in &key.grants {
            if existing_grants.iter().any(|e| same_grant(e, g)) {
                continue;
            }
            let gr = GrantRecord {
                grant_id: random_hex64()?,
                key_id: key.id.clone(),
                name: g.name.clone(),
                grantee_principal: g.grantee_principal.clone(),
                retiring_principal: g.retiring_principal.clone(),
                operations: g.operations.clone(),
                constraints: constraints_record(&g.constraints),
                issuing_account: account.to_string(),
                creation_millis: now,
            };
            muts.push(persist::put_grant(&gr)?);
            added_grants.push(gr);
        }
        let mut added_aliases = Vec::new();
        for a in &key.aliases {
            let ak = (account.to_string(), key.region.clone(), a.clone());
            if st.aliases.contains_key(&ak) {
                continue;
            }
            let ar = AliasRecord {
                account: account.to_string(),
                region: key.region.clone(),
                name: a.clone(),
                target_key_id: key.id.clone(),
                creation_millis: now,
                last_updated_millis: now,
            };
            muts.push(persist::put_alias(&ar)?);
            added_aliases.push(ar);
        }
        self.commit(&muts)?;
        if let Some(e) = new_entry {
            st.keys.insert(key.id.clone(), e);
        }
        let entry = st.keys.get_mut(&key.id).ok_or_else(internal)?;
        entry.rec = rec;
        entry.policy = policy;
        for g in added_grants {
            entry.grants.insert(g.grant_id.clone(), g);
        }
        entry.refresh_grants();
        for a in &added_aliases {
            entry.aliases.push(a.name.clone());
        }
        entry.aliases.sort();
        for a in added_aliases {
            st.aliases.insert(a.key(), a);
        }
        self.recompute_due(&st);
        Ok(())
    }
}
