//! Grant operations (§4.5, §6; the record is `model::grant`, tokens `model::grant_token` and
//! `ops::grant_token`): CreateGrant (with Name
//! idempotency and the rule that a grantee may only delegate a subset of its grant),
//! ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.
//!
//! CreateGrant returns a self-verifying token (format 2, `grant_token`) that carries its
//! grant. The earlier format 1, `base64url("kmsd-grant-token-1:<key id>:<grant id>:<nonce>")`,
//! still names its grant for every operation (and is issued when format 2 would exceed
//! AWS's 8,192 characters). Either is opaque to clients and new on every CreateGrant.
//!
//! A key may hold 50,000 grants, so no grant operation walks them all: CreateGrant appends to
//! the key's indexes (its GrantId sorts above every id on the key), Name idempotency and the
//! delegation check look only at the grants of that name or grantee, and a ListGrants page
//! starts at its marker.

use std::collections::BTreeMap;
use std::ops::Bound;

use kmsd_policy::{decide_identity, decide_kms, Decision, IdentityRequest, KmsRequest};
use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{add_encryption_context, base_context, key_context, Req};
use crate::kms::decode::input::{map_of_strings, Input};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::grant::{
    ConstraintsRecord, GrantRecord, GRANT_OPERATIONS, NOT_FOR_SYMMETRIC,
};
use crate::kms::model::grant_token::parse_token;
use crate::kms::model::ids::{hex, internal, is_grant_id, random_hex64};
use crate::kms::model::op::KmsOp;
use crate::kms::model::states::check_state;
use crate::kms::ops::paging::{invalid_marker, limit_marker, page, paginate};
use crate::kms::{persist, Kms};

/// Grant operations no asymmetric key supports.
const NOT_FOR_ASYMMETRIC: &[&str] = &[
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
];

/// The only grant operations an HMAC key supports.
const FOR_HMAC: &[&str] = &[
    "GenerateMac",
    "VerifyMac",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
];

/// Grant operations (and encryption-context constraints) must suit the key's type:
/// `ValidationException` otherwise.
fn check_operations_for_key(
    key: &KeyEntry,
    ops: &[String],
    has_constraints: bool,
) -> Result<(), ApiError> {
    let spec = key.rec.key_spec;
    let bad: Vec<&str> = ops
        .iter()
        .map(String::as_str)
        .filter(|o| {
            if spec.is_symmetric() {
                NOT_FOR_SYMMETRIC.contains(o)
            } else if spec.asymmetric().is_some() {
                NOT_FOR_ASYMMETRIC.contains(o)
            } else {
                !FOR_HMAC.contains(o)
            }
        })
        .collect();
    if !bad.is_empty() {
        return Err(ApiError::validation(format!(
            "Grant operations {} are not valid for a KMS key with KeySpec {}.",
            bad.join(", "),
            spec.as_str()
        )));
    }
    if has_constraints && !spec.is_symmetric() {
        return Err(ApiError::validation(format!(
            "Grant constraints are not valid for a KMS key with KeySpec {}: encryption context constraints apply only to operations on symmetric encryption keys.",
            spec.as_str()
        )));
    }
    Ok(())
}

/// The grants-per-key quota (AWS's default).
const GRANTS_PER_KEY: usize = 50_000;

/// A new GrantId for a key: 64 lower-hex characters that sort above every grant id already
/// on the key, so that adding the grant appends to the key's grant-id-ordered lists (see
/// `GrantView`). The first 16 hex digits are one above those of the key's largest id (a
/// key's first grant starts at a random point below 2^63, leaving room for 2^63 more), the
/// other 48 are random. Should the prefix ever run out (only if a stored id begins with
/// sixteen `f`s), the id is wholly random: correct, and only the insert is slower.
fn new_grant_id(grants: &BTreeMap<String, GrantRecord>) -> Result<String, ApiError> {
    let prefix = match grants.last_key_value() {
        Some((last, _)) => last
            .get(..16)
            .and_then(|p| u64::from_str_radix(p, 16).ok())
            .and_then(|p| p.checked_add(1)),
        None => {
            let b = kmsd_crypto::random_bytes(8).map_err(|_| internal())?;
            let mut start = [0u8; 8];
            start.copy_from_slice(b.get(..8).ok_or_else(internal)?);
            Some(u64::from_be_bytes(start) >> 1)
        }
    };
    match prefix {
        Some(p) => {
            let rest = kmsd_crypto::random_bytes(24).map_err(|_| internal())?;
            Ok(format!("{p:016x}{}", hex(&rest)))
        }
        None => random_hex64(),
    }
}

/// Validate `GrantTokens` (0..10 tokens of 1..8192 characters, each one we issued); a
/// malformed token is reported by `Input::finish` after the model violations.
pub(crate) fn grant_tokens(i: &mut Input<'_>) -> Result<(), ApiError> {
    let tokens = i.str_list_opt("GrantTokens", 1, 8192, 0, 10)?;
    for t in tokens.unwrap_or_default() {
        if let Err(e) = parse_token(t) {
            i.defer(e);
        }
    }
    Ok(())
}

fn principal_pattern_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

fn parse_constraints(v: &Value) -> Result<ConstraintsRecord, ApiError> {
    let Value::Object(m) = v else {
        return Err(ApiError::new(
            KmsError::SerializationException,
            "Unexpected value type for field Constraints",
        ));
    };
    let mut c = ConstraintsRecord::default();
    for (k, v) in m {
        match k.as_str() {
            "EncryptionContextEquals" if !v.is_null() => {
                c.encryption_context_equals = Some(map_of_strings(v, k)?)
            }
            "EncryptionContextSubset" if !v.is_null() => {
                c.encryption_context_subset = Some(map_of_strings(v, k)?)
            }
            "EncryptionContextEquals" | "EncryptionContextSubset" => {}
            other => {
                return Err(ApiError::new(
                    KmsError::SerializationException,
                    format!("Unknown field {other} in Constraints"),
                ))
            }
        }
    }
    for map in [&c.encryption_context_equals, &c.encryption_context_subset]
        .into_iter()
        .flatten()
    {
        if map.len() > 8 {
            return Err(ApiError::validation(
                "The grant constraint may contain at most 8 encryption context pairs.",
            ));
        }
        if map.values().any(|v| v.chars().count() > 384) {
            return Err(ApiError::validation(
                "Encryption context values in a grant constraint must be at most 384 characters.",
            ));
        }
    }
    Ok(c)
}

/// The account a grant principal names as a whole (`arn:<partition>:iam::<account>:root` or a
/// bare account id), if it is one.
fn root_account(principal: &str) -> Option<&str> {
    let account = match principal.strip_prefix("arn:") {
        Some(rest) => {
            let mut parts = rest.split(':');
            let (_partition, service, region, account, resource) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if service != "iam"
                || !region.is_empty()
                || resource != "root"
                || parts.next().is_some()
            {
                return None;
            }
            account
        }
        None => principal,
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Does a caller match a grant principal (account root/id, user, role or session ARN)?
fn caller_is(req: &Req<'_>, principal: &str) -> bool {
    let c = &req.p.caller;
    principal == c.arn()
        || principal == c.principal_arn()
        || (c.is_root()
            && (principal == c.account()
                || principal == format!("arn:aws:iam::{}:root", c.account())))
}

impl Kms {
    pub(crate) fn create_grant(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let grantee = i.str_opt("GranteePrincipal", 1, 256)?;
        let retiring = i.str_opt("RetiringPrincipal", 1, 256)?;
        for (n, v) in [
            ("GranteePrincipal", grantee),
            ("RetiringPrincipal", retiring),
        ] {
            if let Some(v) = v {
                i.pattern_check(n, Some(v), principal_pattern_ok(v), "^[\\w+=,.@:/-]+$");
            }
        }
        let ops = i.str_list_opt("Operations", 0, 64, 0, usize::MAX)?;
        match &ops {
            None => i.null("Operations"),
            Some(list) => {
                for (n, o) in list.iter().enumerate() {
                    if !GRANT_OPERATIONS.contains(o) {
                        i.violate(
                            Some(o),
                            &format!("operations.{}.member", n + 1),
                            &format!(
                                "Member must satisfy enum value set: [{}]",
                                GRANT_OPERATIONS.join(", ")
                            ),
                        );
                    }
                }
            }
        }
        let name = i.str_opt("Name", 1, 256)?;
        if let Some(n) = name {
            let ok = n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c));
            i.pattern_check("Name", Some(n), ok, "^[a-zA-Z0-9:/_-]+$");
        }
        let svc_grantee = i.str_opt("GranteeServicePrincipal", 1, 128)?;
        let svc_retiring = i.str_opt("RetiringServicePrincipal", 1, 128)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        let constraints = match i.value("Constraints") {
            Some(v) => Some(parse_constraints(v)?),
            None => None,
        };
        grant_tokens(&mut i)?;
        i.finish()?;
        if svc_grantee.is_some() || svc_retiring.is_some() {
            return Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                "Grants for AWS service principals are not supported by this server.",
            ));
        }
        let Some(grantee) = grantee else {
            return Err(ApiError::validation(
                "Either GranteePrincipal or GranteeServicePrincipal must be specified.",
            ));
        };
        let mut ops: Vec<String> = ops
            .unwrap_or_default()
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        if ops.is_empty() {
            return Err(ApiError::validation("1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1"));
        }
        ops.dedup();
        let constraints = constraints.filter(|c| {
            c.encryption_context_equals.is_some() || c.encryption_context_subset.is_some()
        });
        // Checked and committed under the upgradable lock: other mutations wait, but
        // Encrypt/Decrypt on every key go on during the commit's fsync; the write lock is
        // taken only to install the grant.
        let st = self.state.upgradable_read();
        let op = KmsOp::CreateGrant;
        let action = op.spec().action();
        let r = self.resolve(&st, req, key_id, op)?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        check_operations_for_key(key, &ops, constraints.is_some())?;
        let mut ctx = key_context(req, key, None);
        ctx.set_multi("kms:GrantOperations", ops.clone());
        ctx.set("kms:GranteePrincipal", grantee);
        if let Some(rp) = retiring {
            ctx.set("kms:RetiringPrincipal", rp);
        }
        ctx.set("kms:GrantIsForAWSResource", "false");
        let mut constraint_ec: Option<BTreeMap<String, String>> = None;
        if let Some(c) = &constraints {
            if let Some(e) = &c.encryption_context_equals {
                ctx.set("kms:GrantConstraintType", "EncryptionContextEquals");
                add_encryption_context(&mut ctx, e);
                constraint_ec = Some(e.clone());
            } else if let Some(s) = &c.encryption_context_subset {
                ctx.set("kms:GrantConstraintType", "EncryptionContextSubset");
                add_encryption_context(&mut ctx, s);
                constraint_ec = Some(s.clone());
            }
        }
        self.authorize(req, key, action, &ctx, constraint_ec.as_ref())?;
        // A caller allowed only through a grant may delegate a subset of that grant.
        let without_grants = decide_kms(&KmsRequest {
            caller: &req.p.caller,
            caller_policies: &req.p.policies,
            action,
            key_arn: &key.arn,
            key_policy: &key.policy,
            grants: &[],
            context: &ctx,
            encryption_context: constraint_ec.as_ref(),
        });
        if without_grants.decision != Decision::Allow {
            // Only the caller's grantee groups can hold grants that name it (`caller_is`).
            let c = &req.p.caller;
            let names = [c.arn(), c.principal_arn(), c.account().to_string()];
            let covered = names
                .iter()
                .flat_map(|n| key.grant_view.group(n))
                .filter_map(|g| key.grants.get(&g.grant_id))
                .any(|g| {
                    caller_is(req, &g.grantee_principal)
                        && g.operations.iter().any(|o| o == "CreateGrant")
                        && ops.iter().all(|o| g.operations.contains(o))
                        && stricter_or_equal(&constraints, &g.constraints)
                });
            if !covered {
                return Err(ApiError::new(
                    KmsError::AccessDeniedException,
                    format!(
                        "User: {} is not authorized to perform: {action} on resource: {} because the requested grant is not a subset of the caller's grant",
                        req.p.caller.arn(),
                        key.arn
                    ),
                ));
            }
        }
        check_state(op, key.rec.state, &key.arn)?;
        if !self.directory.principal_exists(grantee) {
            return Err(ApiError::new(
                KmsError::InvalidArnException,
                format!("ARN does not refer to a valid principal: {grantee}"),
            ));
        }
        if let Some(rp) = retiring {
            if !self.directory.principal_exists(rp) {
                return Err(ApiError::new(
                    KmsError::InvalidArnException,
                    format!("ARN does not refer to a valid principal: {rp}"),
                ));
            }
        }
        if dry {
            return Err(ApiError::new(
                KmsError::DryRunOperationException,
                "The request would have succeeded, but the DryRun option is set.",
            ));
        }
        let rec = GrantRecord {
            grant_id: new_grant_id(&key.grants)?,
            key_id: key.rec.slot(),
            name: name.map(str::to_string),
            grantee_principal: grantee.to_string(),
            retiring_principal: retiring.map(str::to_string),
            operations: ops,
            constraints,
            // The account under which the grant was issued: the caller's, which differs from
            // the key's when a principal of another account creates it.
            issuing_account: req.account().to_string(),
            creation_millis: self.now(),
        };
        if let Some(n) = name {
            // The first grant of that name (in grant-id order) with the same parameters.
            if let Some(existing) = key
                .grant_view
                .named(n)
                .iter()
                .filter_map(|id| key.grants.get(id))
                .find(|g| g.same_parameters(&rec))
            {
                let token = self.grant_token(existing, &key.arn)?;
                return Ok(json!({ "GrantToken": token, "GrantId": existing.grant_id }));
            }
        }
        if key.grants.len() >= GRANTS_PER_KEY {
            return Err(ApiError::new(
                KmsError::LimitExceededException,
                "The request was rejected because the grant quota for this KMS key was exceeded.",
            ));
        }
        let token = self.grant_token(&rec, &key.arn)?;
        self.commit(&[persist::put_grant(&rec)?])?;
        let gid = rec.grant_id.clone();
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        let key = st.keys.get_mut(&r.id).ok_or_else(internal)?;
        key.add_grant(rec);
        Ok(json!({ "GrantToken": token, "GrantId": gid }))
    }

    pub(crate) fn list_grants(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let (limit, marker) = limit_marker(&mut i, 50, 100)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let grant_id = i.str_opt("GrantId", 1, 128)?;
        let grantee = i.str_opt("GranteePrincipal", 1, 256)?;
        if let Some(v) = grantee {
            i.pattern_check(
                "GranteePrincipal",
                Some(v),
                principal_pattern_ok(v),
                "^[\\w+=,.@:/-]+$",
            );
        }
        let _svc = i.str_opt("GranteeServicePrincipal", 1, 128)?;
        i.finish()?;
        if let Some(g) = grant_id {
            if !is_grant_id(g) {
                return Err(ApiError::new(
                    KmsError::InvalidGrantIdException,
                    format!("Grant ID {g} is invalid."),
                ));
            }
        }
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::ListGrants, |c| {
            c.set("kms:GrantIsForAWSResource", "false")
        })?;
        // A page costs O(log n + the grants it walks), not O(n): the walk starts at the
        // marker (a GrantId: grants are kept in grant-id order, the list's order), and with a
        // GranteePrincipal it walks only that grantee's group of the engine's index.
        let wanted = |g: &GrantRecord| {
            grant_id.is_none_or(|id| g.grant_id == id)
                && grantee.is_none_or(|p| g.grantee_principal == p)
        };
        let from = match marker {
            Some(m) => {
                if !key.grants.get(m).is_some_and(wanted) {
                    return Err(invalid_marker());
                }
                m
            }
            None => grant_id.unwrap_or(""),
        };
        let candidates: Box<dyn Iterator<Item = &GrantRecord>> = match grantee {
            Some(p) => {
                let group = key.grant_view.group(p);
                let at = group.partition_point(|g| g.grant_id.as_str() < from);
                Box::new(
                    group
                        .get(at..)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|g| key.grants.get(&g.grant_id)),
                )
            }
            None => Box::new(
                key.grants
                    .range::<str, _>((Bound::Included(from), Bound::Unbounded))
                    .map(|(_, g)| g),
            ),
        };
        let mut walk = candidates
            .take_while(|g| grant_id.is_none_or(|id| g.grant_id.as_str() <= id))
            .filter(|g| wanted(g));
        let items: Vec<Value> = walk
            .by_ref()
            .take(limit)
            .map(|g| g.entry(&key.arn))
            .collect();
        let next = walk.next().map(|g| g.grant_id.clone());
        Ok(page("Grants", items, next))
    }

    pub(crate) fn list_retirable_grants(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let (limit, marker) = limit_marker(&mut i, 50, 100)?;
        let rp = i.str_opt("RetiringPrincipal", 1, 256)?;
        let svc = i.str_opt("RetiringServicePrincipal", 1, 128)?;
        if let Some(v) = rp {
            i.pattern_check(
                "RetiringPrincipal",
                Some(v),
                principal_pattern_ok(v),
                "^[\\w+=,.@:/-]+$",
            );
        }
        if rp.is_none() && svc.is_none() {
            i.null("RetiringPrincipal");
        }
        i.finish()?;
        let ctx = base_context(req);
        self.authorize_identity(req, KmsOp::ListRetirableGrants.spec().action(), "*", &ctx)?;
        let st = self.state.read();
        let mut items: Vec<(String, Value)> = Vec::new();
        if let Some(rp) = rp {
            for k in st.keys.values() {
                for g in k.grants.values() {
                    if g.retiring_principal.as_deref() == Some(rp) {
                        items.push((format!("{}#{}", k.rec.id, g.grant_id), g.entry(&k.arn)));
                    }
                }
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = paginate(items, marker, limit)?;
        Ok(page("Grants", items, next))
    }

    pub(crate) fn retire_grant(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let token = i.str_opt("GrantToken", 1, 8192)?;
        let key_id = i.str_opt("KeyId", 1, 2048)?;
        let grant_id = i.str_opt("GrantId", 1, 128)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        let op = KmsOp::RetireGrant;
        let action = op.spec().action();
        let st = self.state.upgradable_read();
        let (kid, gid) = match (token, key_id, grant_id) {
            (Some(t), _, _) => {
                let (k, g) = parse_token(t)?;
                if let Some(gi) = grant_id {
                    if gi != g {
                        return Err(ApiError::new(
                            KmsError::InvalidGrantIdException,
                            "The grant ID does not match the grant token.",
                        ));
                    }
                }
                (k, g)
            }
            (None, Some(k), Some(g)) => {
                if !is_grant_id(g) {
                    return Err(ApiError::new(
                        KmsError::InvalidGrantIdException,
                        format!("Grant ID {g} is invalid."),
                    ));
                }
                let r = self.resolve(&st, req, k, op)?;
                (r.id, g.to_string())
            }
            _ => {
                return Err(ApiError::validation(
                    "Grant token OR (grant ID, key ID) must be specified",
                ))
            }
        };
        let key = st.keys.get(&kid).ok_or_else(|| {
            ApiError::new(
                KmsError::NotFoundException,
                format!("Grant ID {gid} not found"),
            )
        })?;
        req.audit.key_arn = Some(key.arn.clone());
        let g = key.grants.get(&gid).ok_or_else(|| {
            ApiError::new(
                KmsError::NotFoundException,
                format!("Grant ID {gid} not found"),
            )
        })?;
        // Who may retire ("Retiring and revoking grants"): the grant decides. Its retiring
        // principal, and its grantee when it includes RetireGrant, need no permission, though a
        // Deny on kms:RetireGrant in their own policies still stops them. Otherwise the key's
        // account, the account the grant was issued under, or an account the grant names as
        // its retiring (or retiring grantee) principal, may delegate through IAM policies; the
        // key policy is not consulted.
        let retire_op = g.operations.iter().any(|o| o == "RetireGrant");
        let retiring = g.retiring_principal.as_deref();
        let by_grant = retiring.is_some_and(|rp| caller_is(req, rp))
            || (retire_op && caller_is(req, &g.grantee_principal));
        let caller_account = req.account();
        let by_account = caller_account == key.rec.account
            || caller_account == g.issuing_account
            || retiring.and_then(root_account) == Some(caller_account)
            || (retire_op && root_account(&g.grantee_principal) == Some(caller_account));
        let ctx = key_context(req, key, None);
        if by_grant {
            let outcome = decide_identity(&IdentityRequest {
                caller: &req.p.caller,
                caller_policies: &req.p.policies,
                action,
                resource: &key.arn,
                context: &ctx,
            });
            if outcome.decision == Decision::ExplicitDeny {
                req.audit.decision = Some(Decision::ExplicitDeny);
                let caller = req.p.caller.arn();
                let msg = outcome
                    .message(&caller, action, &key.arn)
                    .unwrap_or_else(|| {
                        format!(
                            "User: {caller} is not authorized to perform: {action} on resource: {}",
                            key.arn
                        )
                    });
                return Err(ApiError::new(KmsError::AccessDeniedException, msg));
            }
            req.audit.decision = Some(Decision::Allow);
            req.audit.deciding.push(kmsd_policy::Because::Grant {
                grant_id: g.grant_id.clone(),
                name: g.name.clone(),
            });
        } else if by_account {
            self.authorize_identity(req, action, &key.arn, &ctx)?;
        } else {
            return Err(ApiError::new(
                KmsError::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: {action} on resource: {}",
                    req.p.caller.arn(),
                    key.arn
                ),
            ));
        }
        if dry {
            return Err(ApiError::new(
                KmsError::DryRunOperationException,
                "The request would have succeeded, but the DryRun option is set.",
            ));
        }
        self.commit(&[persist::delete_grant(&kid, &gid)])?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        let key = st.keys.get_mut(&kid).ok_or_else(internal)?;
        key.remove_grant(&gid);
        st.removed_grants.insert(gid);
        Ok(json!({}))
    }

    pub(crate) fn revoke_grant(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let grant_id = i.str_req("GrantId", 1, 128)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, KmsOp::RevokeGrant, |c| {
            c.set("kms:GrantIsForAWSResource", "false")
        })?;
        if !is_grant_id(grant_id) {
            return Err(ApiError::new(
                KmsError::InvalidGrantIdException,
                format!("Grant ID {grant_id} is invalid."),
            ));
        }
        if !key.grants.contains_key(grant_id) {
            return Err(ApiError::new(
                KmsError::NotFoundException,
                format!("Grant ID {grant_id} not found"),
            ));
        }
        if dry {
            return Err(ApiError::new(
                KmsError::DryRunOperationException,
                "The request would have succeeded, but the DryRun option is set.",
            ));
        }
        self.commit(&[persist::delete_grant(&r.id, grant_id)])?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys
            .get_mut(&r.id)
            .ok_or_else(internal)?
            .remove_grant(grant_id);
        st.removed_grants.insert(grant_id.to_string());
        Ok(json!({}))
    }
}

/// Is `new` at least as strict as `parent` (AWS: equal-or-stricter constraints)?
fn stricter_or_equal(new: &Option<ConstraintsRecord>, parent: &Option<ConstraintsRecord>) -> bool {
    let Some(p) = parent else {
        return true;
    };
    let Some(n) = new else {
        return false;
    };
    if let Some(pe) = &p.encryption_context_equals {
        return n.encryption_context_equals.as_ref() == Some(pe);
    }
    if let Some(ps) = &p.encryption_context_subset {
        let contains = |m: &BTreeMap<String, String>| ps.iter().all(|(k, v)| m.get(k) == Some(v));
        return n.encryption_context_equals.as_ref().is_some_and(contains)
            || n.encryption_context_subset.as_ref().is_some_and(contains);
    }
    true
}
