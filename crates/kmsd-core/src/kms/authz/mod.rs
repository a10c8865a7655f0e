//! Authorization: resolving the key a request names (§2.1, with cross-account rules),
//! building the request context AWS builds (§7.2/§7.3), and asking the decision engine —
//! `decide_kms_because` for key operations (key policy + grants + the caller's policies; the
//! decision with the evidence `explain_kms` would trace, without the path),
//! `explain_identity` for operations without a key. Denials become `AccessDeniedException`
//! with the engine's message; the decision and the deciding statements go to the audit.
//!
//! The authorization layer of `kms/`: imports the model and persistence.

use std::collections::BTreeMap;

use kmsd_policy::decision::decide_kms_because;
use kmsd_policy::{
    explain_identity, Because, Decision, DenyReason, Explanation, IdentityRequest, KmsRequest,
    Node, Outcome, RequestContext, SourcedPolicy,
};

use crate::error::{ApiError, KmsError};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::{alias_arn, key_arn, parse_key_ref, slot, KeyRef};
use crate::kms::model::op::{KeyIdForms, KmsOp};
use crate::kms::model::state::State;
use crate::kms::Kms;
use crate::principal::{Principal, RequestMeta};

/// One request in flight: who, the transport facts, and the audit record being filled.
pub(crate) struct Req<'a> {
    pub p: &'a Principal,
    pub meta: &'a RequestMeta,
    pub audit: crate::outcome::AuditFacts,
    /// An admission waiting for the request's key (`model::quota::Limiter::defers`): taken by the
    /// first key authorization.
    pub quota_pending: Option<crate::kms::model::op::KmsOp>,
    /// Grants carried by verified format-2 grant tokens of the request that this node does
    /// not hold yet (`grant_token`): the decision counts them with the key's grants.
    pub token_grants: &'a [crate::kms::model::grant_token::Claims],
    /// The keys the request authorized (their last use, stamped if the call succeeds).
    pub used: crate::kms::model::last_use::Used,
}

impl Req<'_> {
    pub(crate) fn account(&self) -> &str {
        self.p.caller.account()
    }
    pub(crate) fn region(&self) -> &str {
        &self.meta.region
    }
}

/// A key found for a request.
pub(crate) struct Resolved {
    /// The key's slot (`ids::slot`: its index in `State::keys`).
    pub id: String,
    /// The alias name (`alias/...`) when the request named the key by alias.
    pub alias: Option<String>,
}

fn key_not_found(arn: &str) -> ApiError {
    ApiError::new(
        KmsError::NotFoundException,
        format!("Key '{arn}' does not exist"),
    )
}

fn alias_not_found(arn: &str) -> ApiError {
    ApiError::new(
        KmsError::NotFoundException,
        format!("Alias {arn} is not found."),
    )
}

/// AWS's generic AccessDenied text when the engine has none.
pub(crate) fn denied_text(
    caller_arn: &str,
    action: &str,
    resource: &str,
    reason: Option<DenyReason>,
) -> String {
    let why = match reason {
        Some(DenyReason::ResourceBased) => {
            format!(" because no resource-based policy allows the {action} action")
        }
        Some(DenyReason::IdentityBased) | None => {
            format!(" because no identity-based policy allows the {action} action")
        }
        Some(DenyReason::PermissionsBoundary) => {
            format!(" because no permissions boundary allows the {action} action")
        }
        Some(DenyReason::SessionPolicy) => {
            format!(" because no session policy allows the {action} action")
        }
        Some(DenyReason::ServiceControlPolicy) => {
            format!(" because no service control policy allows the {action} action")
        }
        Some(DenyReason::ResourceNotVisible) => String::new(),
    };
    format!(
        "User: {caller_arn} is not authorized to perform: {action} on resource: {resource}{why}"
    )
}

/// The AccessDenied a cross-account caller gets for a key it cannot see (existing or not).
pub(crate) fn not_visible(req: &Req<'_>, action: &str, resource: &str) -> ApiError {
    let outcome = Outcome {
        decision: Decision::ImplicitDeny,
        denied_by: Some(DenyReason::ResourceNotVisible),
    };
    let caller = req.p.caller.arn();
    let msg = outcome
        .message(&caller, action, resource)
        .unwrap_or_else(|| {
            denied_text(
                &caller,
                action,
                resource,
                Some(DenyReason::ResourceNotVisible),
            )
        });
    ApiError::new(KmsError::AccessDeniedException, msg)
}

impl Kms {
    /// Find the key `raw` names as the key of `op`: the identifier forms it may take and the
    /// action a not-visible denial names are those of `op`'s row (`key_id`, first action).
    pub(crate) fn resolve(
        &self,
        st: &State,
        req: &Req<'_>,
        raw: &str,
        op: KmsOp,
    ) -> Result<Resolved, ApiError> {
        let spec = op.spec();
        self.resolve_as(st, req, raw, spec.key_id, spec.action())
    }

    /// Find the key `raw` names, accepting `forms`, for `action` (used for the not-visible
    /// denial). For a key that is not the main key of the operation served (a ReEncrypt
    /// destination) or a lookup that serves no operation (explanations); an operation's own
    /// key goes through [`Kms::resolve`]. `NoKey` (no operation resolves a key with it) is
    /// treated as strictly as `KeyLocal`.
    pub(crate) fn resolve_as(
        &self,
        st: &State,
        req: &Req<'_>,
        raw: &str,
        forms: KeyIdForms,
        action: &str,
    ) -> Result<Resolved, ApiError> {
        let kref = parse_key_ref(raw)?;
        if kref.is_alias() && forms != KeyIdForms::Any {
            return Err(ApiError::new(
                KmsError::InvalidArnException,
                "Key Aliases are not supported for this operation.",
            ));
        }
        let caller_acct = req.account();
        let region = req.region();
        match kref {
            KeyRef::Id(id) => match st.keys.get(&slot(&id, region)) {
                Some(k) if k.rec.account == caller_acct && k.rec.region == region => Ok(Resolved {
                    id: slot(&id, region),
                    alias: None,
                }),
                _ => Err(key_not_found(&key_arn(region, caller_acct, &id))),
            },
            KeyRef::KeyArn {
                region: r,
                account,
                id,
            } => {
                if r != region {
                    return Err(ApiError::new(
                        KmsError::NotFoundException,
                        format!("Invalid arn {r}"),
                    ));
                }
                let arn = key_arn(&r, &account, &id);
                let id = slot(&id, &r);
                let found = st
                    .keys
                    .get(&id)
                    .filter(|k| k.rec.account == account && k.rec.region == r);
                if account != caller_acct {
                    if matches!(forms, KeyIdForms::KeyLocal | KeyIdForms::NoKey) {
                        // Not a cross-account operation (rule E10): denied, without revealing
                        // whether the key exists.
                        return Err(not_visible(req, action, &arn));
                    }
                    return match found {
                        Some(_) => Ok(Resolved { id, alias: None }),
                        None => Err(not_visible(req, action, &arn)),
                    };
                }
                match found {
                    Some(_) => Ok(Resolved { id, alias: None }),
                    None => Err(key_not_found(&arn)),
                }
            }
            KeyRef::AliasName(name) => {
                let k = (caller_acct.to_string(), region.to_string(), name.clone());
                match st.aliases.get(&k) {
                    Some(a) if st.keys.contains_key(&a.target_key_id) => Ok(Resolved {
                        id: a.target_key_id.clone(),
                        alias: Some(name),
                    }),
                    _ => Err(alias_not_found(&alias_arn(region, caller_acct, &name))),
                }
            }
            KeyRef::AliasArn {
                region: r,
                account,
                name,
            } => {
                if r != region {
                    return Err(ApiError::new(
                        KmsError::NotFoundException,
                        format!("Invalid arn {r}"),
                    ));
                }
                let arn = alias_arn(&r, &account, &name);
                let k = (account.clone(), r.clone(), name.clone());
                match st.aliases.get(&k) {
                    Some(a) if st.keys.contains_key(&a.target_key_id) => Ok(Resolved {
                        id: a.target_key_id.clone(),
                        alias: Some(name),
                    }),
                    _ if account != caller_acct => Err(not_visible(req, action, &arn)),
                    _ => Err(alias_not_found(&arn)),
                }
            }
        }
    }

    /// Authorize `action` on a key; on denial the AccessDenied message of the engine.
    pub(crate) fn authorize(
        &self,
        req: &mut Req<'_>,
        key: &KeyEntry,
        action: &str,
        ctx: &RequestContext,
        ec: Option<&BTreeMap<String, String>>,
    ) -> Result<(), ApiError> {
        self.authorize_with(req, key, &key.policy, action, ctx, ec)
    }

    /// Authorize against a given key policy (the lockout check uses the new policy).
    /// The audit needs the decision and the evidence along the flowchart path, not the path
    /// itself: [`decide_kms_because`] gives exactly the evidence [`kmsd_policy::explain_kms`]'s path
    /// carries, without building the steps.
    pub(crate) fn authorize_with(
        &self,
        req: &mut Req<'_>,
        key: &KeyEntry,
        policy: &SourcedPolicy,
        action: &str,
        ctx: &RequestContext,
        ec: Option<&BTreeMap<String, String>>,
    ) -> Result<(), ApiError> {
        if let Some(op) = req.quota_pending.take() {
            // The quota of the key's type, now that the key is known (before any decision).
            let (account, region) = (req.p.caller.account(), req.meta.region.as_str());
            self.quotas
                .admit_key(op, key.rec.key_spec, account, region, self.now())?;
        }
        req.audit.key_arn = Some(key.arn.clone());
        let mut grants = key.grant_view.for_caller(&req.p.caller);
        for c in req.token_grants.iter().filter(|c| c.key_arn == key.arn) {
            grants.to_mut().push(c.to_policy());
        }
        req.used.note(&key.last_use);
        let d = decide_kms_because(&KmsRequest {
            caller: &req.p.caller,
            caller_policies: &req.p.policies,
            action,
            key_arn: &key.arn,
            key_policy: policy,
            grants: &grants,
            context: ctx,
            encryption_context: ec,
        });
        record_because(req, d.outcome.decision, d.end, d.because);
        if d.outcome.decision == Decision::Allow {
            Ok(())
        } else {
            // `explain_kms`'s message is `Outcome::message`, as `denial` words it.
            Err(denial_of(req, &d.outcome, None, action, &key.arn))
        }
    }

    /// Authorize an operation that has no key (IAM policies only).
    pub(crate) fn authorize_identity(
        &self,
        req: &mut Req<'_>,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
    ) -> Result<(), ApiError> {
        let x = explain_identity(&IdentityRequest {
            caller: &req.p.caller,
            caller_policies: &req.p.policies,
            action,
            resource,
            context: ctx,
        });
        record(req, &x);
        if x.outcome.decision == Decision::Allow {
            Ok(())
        } else {
            Err(denial(req, &x, action, resource))
        }
    }
}

fn record(req: &mut Req<'_>, x: &Explanation) {
    let because: Vec<Because> = x.path.iter().flat_map(|s| s.because.clone()).collect();
    record_because(
        req,
        x.outcome.decision,
        x.path.last().map(|s| s.node),
        because,
    );
}

/// Record a decision and its evidence (in path order) in the call's audit.
fn record_because(req: &mut Req<'_>, d: Decision, end: Option<Node>, because: Vec<Because>) {
    // A later decision in the same call (ReEncrypt's second key, alias + key) keeps the
    // strictest answer (and the node it ended at) and adds its reasons.
    match req.audit.decision {
        Some(prev) if prev != Decision::Allow => {}
        _ => {
            req.audit.decision = Some(d);
            req.audit.end_node = end;
        }
    }
    req.audit.deciding.reserve(because.len());
    for b in because {
        if !req.audit.deciding.contains(&b) {
            req.audit.deciding.push(b);
        }
    }
}

fn denial(req: &Req<'_>, x: &Explanation, action: &str, resource: &str) -> ApiError {
    denial_of(req, &x.outcome, x.message.clone(), action, resource)
}

fn denial_of(
    req: &Req<'_>,
    outcome: &Outcome,
    message: Option<String>,
    action: &str,
    resource: &str,
) -> ApiError {
    let caller = req.p.caller.arn();
    let msg = message
        .or_else(|| outcome.message(&caller, action, resource))
        .unwrap_or_else(|| denied_text(&caller, action, resource, outcome.denied_by));
    ApiError::new(KmsError::AccessDeniedException, msg)
}

/// The principal and request keys plus `kms:CallerAccount`.
pub(crate) fn base_context(req: &Req<'_>) -> RequestContext {
    let mut ctx = RequestContext::new();
    req.p.add_to_context(&mut ctx);
    req.meta.add_to_context(&mut ctx);
    ctx.set("kms:CallerAccount", req.account());
    ctx
}

/// The context of a request on a key: base keys, the key's properties, its aliases and tags,
/// and `kms:RequestAlias` when the key was named by alias. Decided against the key's policy.
pub(crate) fn key_context(req: &Req<'_>, key: &KeyEntry, alias: Option<&str>) -> RequestContext {
    key_context_for(req, key, &key.policy, alias)
}

/// [`key_context`] for a decision against `key_policy` (the lockout check decides against
/// the new policy). When neither that policy nor the caller's policies read any context key
/// — the common case: root delegation, key users by ARN — the context is not built at all
/// ([`RequestContext::unread`]); later `set`s on it are dropped.
pub(crate) fn key_context_for(
    req: &Req<'_>,
    key: &KeyEntry,
    key_policy: &SourcedPolicy,
    alias: Option<&str>,
) -> RequestContext {
    if !key_policy.policy.reads_context() && !req.p.policies.reads_context() {
        return RequestContext::unread();
    }
    let mut ctx = base_context(req);
    key_facts(&mut ctx, key, alias);
    ctx
}

/// The key-resource keys (§7.2), `aws:ResourceAccount` (the key's account) and
/// `kms:RequestAlias`.
pub(crate) fn key_facts(ctx: &mut RequestContext, key: &KeyEntry, alias: Option<&str>) {
    let (spec, usage) = (key.rec.key_spec.as_str(), key.rec.key_usage.as_str());
    ctx.set("kms:KeySpec", spec);
    ctx.set("kms:KeyUsage", usage);
    ctx.set("kms:CustomerMasterKeySpec", spec);
    ctx.set("kms:CustomerMasterKeyUsage", usage);
    ctx.set("kms:KeyOrigin", key.rec.origin.as_str());
    match &key.rec.primary_region {
        Some(p) => {
            ctx.set("kms:MultiRegion", "true");
            ctx.set(
                "kms:MultiRegionKeyType",
                if *p == key.rec.region {
                    "PRIMARY"
                } else {
                    "REPLICA"
                },
            );
        }
        None => ctx.set("kms:MultiRegion", "false"),
    }
    ctx.set("aws:ResourceAccount", key.rec.account.as_str());
    ctx.set_multi("kms:ResourceAliases", key.aliases.clone());
    for (k, v) in &key.rec.tags {
        ctx.set(&format!("aws:ResourceTag/{k}"), v.clone());
    }
    if let Some(a) = alias {
        ctx.set("kms:RequestAlias", a);
    }
}

/// `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys`.
pub(crate) fn add_encryption_context(ctx: &mut RequestContext, ec: &BTreeMap<String, String>) {
    if !ctx.is_recording() {
        return;
    }
    for (k, v) in ec {
        ctx.set(&format!("kms:EncryptionContext:{k}"), v.clone());
    }
    ctx.set_multi("kms:EncryptionContextKeys", ec.keys().cloned().collect());
}
