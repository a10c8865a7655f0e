//! The access diff of an identity policy: a user's, role's or group's inline policy, or a
//! managed policy, replaced or added. The principals it touches — the user, the role's
//! sessions, the group's members, and for a managed policy every principal that has it
//! attached — are decided on every key of the world with their policies as they are and with
//! the proposed document in place.

use std::collections::BTreeSet;
use std::sync::Arc;

use kmsd_policy::{Policy, PolicyKind, PolicySourceType, SourcedPolicy};

use super::{decide, key_actions, AccessDiff, KeyCase, PrincipalClass, Subject};
use crate::error::{ApiError, IamError};
use crate::iam::model::{parse_arn, user_arn, ParsedArn};
use crate::principal::Principal;
use crate::service::Service;

/// The name an added inline policy gets when none is given.
pub const PROPOSED_POLICY_NAME: &str = "proposed-policy";

/// The access diff of `document` as the identity policy `policy_name` of `principal_arn` (a
/// user, role or group ARN). `policy_name`: an inline policy name (replaced when the entity
/// has one of that name, added otherwise) or a managed policy ARN (its document replaced
/// wherever it is attached, and attached to the entity if it is not); `None` adds a new
/// inline policy.
pub fn identity_diff(
    service: &Service,
    principal_arn: &str,
    policy_name: Option<&str>,
    document: &str,
) -> Result<AccessDiff, ApiError> {
    let policy = Arc::new(
        Policy::parse(document, PolicyKind::Identity)
            .map_err(|e| ApiError::new(IamError::MalformedPolicyDocument, e.to_string()))?,
    );
    let no_such = || {
        ApiError::new(
            IamError::NoSuchEntity,
            format!("The user, role or group {principal_arn} does not exist."),
        )
    };
    let (account, targets, source_type) = {
        let st = service.iam.read();
        match parse_arn(principal_arn) {
            Some(ParsedArn::User { account, name, .. }) => {
                st.user(&account, &name).ok_or_else(no_such)?;
                (
                    account,
                    vec![principal_arn.to_string()],
                    PolicySourceType::User,
                )
            }
            Some(ParsedArn::Role { account, .. }) => {
                st.role_by_arn(principal_arn).ok_or_else(no_such)?;
                (
                    account,
                    vec![principal_arn.to_string()],
                    PolicySourceType::Role,
                )
            }
            Some(ParsedArn::Group { account, name, .. }) => {
                let g = st.group(&account, &name).ok_or_else(no_such)?;
                let members: Vec<String> = st
                    .users
                    .values()
                    .filter(|u| {
                        u.account == g.account
                            && u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name))
                    })
                    .map(|u| user_arn(&u.account, &u.path, &u.name))
                    .collect();
                (account, members, PolicySourceType::Group)
            }
            _ => {
                return Err(ApiError::new(
                    IamError::InvalidInput,
                    format!("{principal_arn} is not a user, role or group ARN."),
                ))
            }
        }
    };
    let managed = policy_name.is_some_and(|n| n.starts_with("arn:"));
    let name = policy_name.unwrap_or(PROPOSED_POLICY_NAME).to_string();

    // Who is touched: the entity's principals, and for a managed policy whoever attaches it.
    let mut affected: BTreeSet<String> = targets.iter().cloned().collect();
    let mut resolved: Vec<(String, Principal)> = Vec::new();
    if managed {
        for arn in service.iam.list_principal_arns() {
            if affected.contains(&arn) {
                continue;
            }
            if let Ok(p) = service.iam.principal_for_arn(&arn, None) {
                if p.policies.identity.iter().any(|sp| sp.id == name) {
                    affected.insert(arn.clone());
                    resolved.push((arn, p));
                }
            }
        }
    }
    for arn in &targets {
        resolved.push((arn.clone(), service.iam.principal_for_arn(arn, None)?));
    }

    let mut subjects = Vec::new();
    for (arn, before) in resolved {
        let is_target = targets.contains(&arn);
        let mut set = (*before.policies).clone();
        let mut replaced = false;
        for sp in set.identity.iter_mut() {
            let same = if managed {
                sp.id == name
            } else {
                sp.id == name && sp.source_type == source_type
            };
            if same {
                sp.policy = policy.clone();
                replaced = true;
            }
        }
        if !replaced && is_target {
            let ty = if managed {
                PolicySourceType::UserManaged
            } else {
                source_type
            };
            set.identity
                .push(SourcedPolicy::new(name.clone(), ty, policy.clone()));
        }
        let mut after = before.clone();
        after.policies = Arc::new(set);
        subjects.push(Subject {
            arn,
            class: PrincipalClass::Known,
            before,
            after,
        });
    }

    let keys = KeyCase::every_key(service);
    let actions = key_actions();
    let decided = decide(service, &subjects, &keys, &actions)?;
    Ok(AccessDiff {
        key_arn: String::new(),
        subject: format!("identity policy {name} of {principal_arn}"),
        account,
        principals: subjects.into_iter().map(|s| (s.arn, s.class)).collect(),
        actions,
        keys: keys.into_iter().map(|k| k.view.key_arn).collect(),
        changes: decided.changes,
        allowed_after: decided.allowed_after,
        witnesses_complete: decided.complete,
    })
}
