//! The access diff of a role's trust policy: which principals — the world's and the classes it
//! does not know — gain or lose `sts:AssumeRole` on the role when its trust policy is replaced
//! (decided by [`kmsd_policy::explain_assume_role`] with the caller's own identity policies,
//! as STS decides it), and, transitively, the KMS access the role's sessions have, which a
//! principal that gains the role reaches through it.

use std::collections::BTreeSet;
use std::sync::Arc;

use kmsd_policy::validate::custom::condition_literals;
use kmsd_policy::validate::witness::witnesses;
use kmsd_policy::{
    AssumeRoleRequest, Decision, Explanation, Policy, PolicyKind, PolicySourceType, RequestContext,
    SourcedPolicy,
};

use super::{
    decide, key_actions, set_literals, universe, world_fixed, AccessDiff, Change, KeyCase, Side,
    Subject,
};
use crate::error::{ApiError, IamError};
use crate::iam::model::role_arn;
use crate::principal::Principal;
use crate::service::Service;

const ASSUME_ROLE: &str = "sts:AssumeRole";

fn trust(text: &str) -> Result<SourcedPolicy, ApiError> {
    let p = Policy::parse(text, PolicyKind::Trust)
        .map_err(|e| ApiError::new(IamError::MalformedPolicyDocument, e.to_string()))?;
    Ok(SourcedPolicy::new(
        "AssumeRolePolicyDocument",
        PolicySourceType::Resource,
        Arc::new(p),
    ))
}

fn explain(
    p: &Principal,
    role: &str,
    trust: &SourcedPolicy,
    w: &kmsd_policy::validate::witness::Witness,
) -> Explanation {
    let mut ctx = RequestContext::new();
    p.add_to_context(&mut ctx);
    ctx.set("aws:SecureTransport", "true");
    w.apply_keys(&mut ctx);
    kmsd_policy::explain_assume_role(&AssumeRoleRequest {
        caller: &p.caller,
        caller_policies: &p.policies,
        role_arn: role,
        trust_policy: trust,
        context: &ctx,
    })
}

/// The access diff of `document` as the trust policy of `role` (a role ARN).
pub fn trust_diff(service: &Service, role: &str, document: &str) -> Result<AccessDiff, ApiError> {
    let after = trust(document)?;
    let (role_full, account, before_text) = {
        let st = service.iam.read();
        let r = st.role_by_arn(role).ok_or_else(|| {
            ApiError::new(
                IamError::NoSuchEntity,
                format!("The role with name {role} cannot be found."),
            )
        })?;
        let text =
            crate::iam::binding::effective_trust(&st, &r.trust, &r.trust_bindings).into_owned();
        (
            role_arn(&r.account, &r.path, &r.name),
            r.account.clone(),
            text,
        )
    };
    let before = trust(&before_text)?;

    let known: BTreeSet<String> = service.iam.list_principal_arns().into_iter().collect();
    let mut named = before.policy.aws_principals();
    named.extend(after.policy.aws_principals());
    let (principals, _) = universe(service, &known, &named)?;
    let mut trust_lits = condition_literals(before.policy.text());
    trust_lits.extend(condition_literals(after.policy.text()));

    // What the role's sessions may do on the world's keys (under some witness).
    let session = service.iam.principal_for_arn(&role_full, None)?;
    let keys = KeyCase::every_key(service);
    let actions = key_actions();
    let role_subject = Subject {
        arn: role_full.clone(),
        class: super::PrincipalClass::Known,
        before: session.clone(),
        after: session,
    };
    let role_access: Vec<(String, String)> = decide(
        service,
        std::slice::from_ref(&role_subject),
        &keys,
        &actions,
    )?
    .allowed_after
    .into_iter()
    .map(|(_, a, k)| (a, k))
    .collect();

    let mut changes = Vec::new();
    let mut allowed_after = Vec::new();
    let mut complete = true;
    for (arn, class, p) in &principals {
        let mut lits = trust_lits.clone();
        set_literals(&p.policies, &mut lits);
        let ws = witnesses(&lits, &[], &world_fixed);
        complete &= ws.complete;
        let mut granted = None;
        let mut revoked = None;
        let mut any_after = false;
        for w in &ws.list {
            let b = explain(p, &role_full, &before, w);
            let a = explain(p, &role_full, &after, w);
            let (ba, aa) = (
                b.outcome.decision == Decision::Allow,
                a.outcome.decision == Decision::Allow,
            );
            any_after |= aa;
            if aa && !ba && granted.is_none() {
                granted = Some((w.describe(), b, a));
            } else if ba && !aa && revoked.is_none() {
                revoked = Some((w.describe(), b, a));
            }
        }
        if any_after {
            allowed_after.push((arn.clone(), ASSUME_ROLE.to_string(), role_full.clone()));
            allowed_after.extend(
                role_access
                    .iter()
                    .map(|(a, k)| (arn.clone(), a.clone(), k.clone())),
            );
        }
        for (context, b, a) in granted.into_iter().chain(revoked) {
            let gained = a.outcome.decision == Decision::Allow;
            changes.push(Change {
                principal: arn.clone(),
                class: *class,
                action: ASSUME_ROLE.to_string(),
                resource: role_full.clone(),
                context,
                before: Side {
                    allowed: !gained,
                    explanation: b,
                },
                after: Side {
                    allowed: gained,
                    explanation: a,
                },
                via_role: if gained {
                    role_access.clone()
                } else {
                    Vec::new()
                },
            });
        }
    }
    let mut all_actions = vec![ASSUME_ROLE];
    all_actions.extend(actions);
    Ok(AccessDiff {
        key_arn: String::new(),
        subject: format!("trust policy of {role_full}"),
        account,
        principals: principals.into_iter().map(|(a, c, _)| (a, c)).collect(),
        actions: all_actions,
        keys: keys.into_iter().map(|k| k.view.key_arn).collect(),
        changes,
        allowed_after,
        witnesses_complete: complete,
    })
}
