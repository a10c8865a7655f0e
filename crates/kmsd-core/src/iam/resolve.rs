//! Building a [`Principal`] from IAM state: the identity chain ([`Caller`]) and the compiled
//! policies that apply to it — identity policies of the user and its groups or of the role,
//! the permissions boundary, the session policies — plus `aws:PrincipalTag` tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_policy::decision::PolicySet;
use kmsd_policy::{Caller, Policy, PolicyKind, PolicySourceType, SourcedPolicy};

use super::model::{role_arn, user_arn, RoleRec, UserRec};
use super::state::State;
use crate::error::ApiError;
use crate::error::IamError;
use crate::principal::Principal;

/// Compile a stored document. Stored documents were validated when saved; if one no longer
/// parses the principal cannot be built (fail closed).
pub(crate) fn compile(
    id: &str,
    source_type: PolicySourceType,
    text: &str,
    kind: PolicyKind,
) -> Result<SourcedPolicy, ApiError> {
    let policy = Policy::parse(text, kind).map_err(|e| {
        ApiError::new(
            IamError::MalformedPolicyDocument,
            format!("policy {id}: {e}"),
        )
    })?;
    Ok(SourcedPolicy {
        id: id.to_string(),
        source_type,
        policy: Arc::new(policy),
    })
}

fn managed(
    st: &State,
    arn: &str,
    kind: PolicyKind,
    source: PolicySourceType,
) -> Result<SourcedPolicy, ApiError> {
    let p = st.policy_by_arn(arn).ok_or_else(|| {
        ApiError::new(
            IamError::NoSuchEntity,
            format!("Policy {arn} does not exist or is not attachable."),
        )
    })?;
    let doc = p.default_document().ok_or_else(|| {
        ApiError::new(
            IamError::ServiceFailure,
            format!("policy {arn} has no default version"),
        )
    })?;
    // Attached AWS managed policies report as `aws-managed` (boundaries and session
    // policies keep their own source type).
    let source = if p.account == super::aws_managed::AWS_ACCOUNT
        && source == PolicySourceType::UserManaged
    {
        PolicySourceType::AwsManaged
    } else {
        source
    };
    compile(arn, source, doc, kind)
}

fn boundary(st: &State, arn: Option<&String>) -> Result<Option<SourcedPolicy>, ApiError> {
    arn.map(|a| {
        managed(
            st,
            a,
            PolicyKind::Boundary,
            PolicySourceType::PermissionsBoundary,
        )
    })
    .transpose()
}

/// The account root user (no identity policies: it is allowed everything in its account).
pub(crate) fn root_principal(account: &str) -> Principal {
    Principal {
        caller: Caller::Root {
            account: account.to_string(),
        },
        policies: Arc::new(PolicySet::default()),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    }
}

/// An IAM user with its own and its groups' policies.
pub(crate) fn user_principal(st: &State, u: &UserRec) -> Result<Principal, ApiError> {
    let mut identity = Vec::new();
    for (name, doc) in &u.inline {
        identity.push(compile(
            name,
            PolicySourceType::User,
            doc,
            PolicyKind::Identity,
        )?);
    }
    for arn in &u.managed {
        identity.push(managed(
            st,
            arn,
            PolicyKind::Identity,
            PolicySourceType::UserManaged,
        )?);
    }
    for g in &u.groups {
        let Some(group) = st.group(&u.account, g) else {
            continue;
        };
        for (name, doc) in &group.inline {
            identity.push(compile(
                name,
                PolicySourceType::Group,
                doc,
                PolicyKind::Identity,
            )?);
        }
        for arn in &group.managed {
            identity.push(managed(
                st,
                arn,
                PolicyKind::Identity,
                PolicySourceType::UserManaged,
            )?);
        }
    }
    let policies = PolicySet {
        identity,
        boundary: boundary(st, u.boundary.as_ref())?,
        session: None,
        scps: Vec::new(),
    };
    Ok(Principal {
        caller: Caller::User {
            account: u.account.clone(),
            arn: user_arn(&u.account, &u.path, &u.name),
            name: u.name.clone(),
            unique_id: u.user_id.clone(),
        },
        policies: Arc::new(policies),
        tags: Arc::new(u.tags.iter().cloned().collect()),
        token_issue_time: None,
        source_identity: None,
    })
}

/// A session of a role: the role's policies and boundary, cut by the session policies
/// (inline `Policy` and `PolicyArns`), with role tags overridden by session tags.
pub(crate) fn role_session_principal(
    st: &State,
    r: &RoleRec,
    session_name: &str,
    issued: Option<i64>,
    session_policy: Option<&str>,
    policy_arns: &[String],
    session_tags: &[(String, String)],
) -> Result<Principal, ApiError> {
    let mut identity = Vec::new();
    for (name, doc) in &r.inline {
        identity.push(compile(
            name,
            PolicySourceType::Role,
            doc,
            PolicyKind::Identity,
        )?);
    }
    for arn in &r.managed {
        identity.push(managed(
            st,
            arn,
            PolicyKind::Identity,
            PolicySourceType::UserManaged,
        )?);
    }
    let session = if session_policy.is_none() && policy_arns.is_empty() {
        None
    } else {
        let mut list = Vec::new();
        if let Some(doc) = session_policy {
            list.push(compile(
                "session-policy",
                PolicySourceType::Session,
                doc,
                PolicyKind::Session,
            )?);
        }
        for arn in policy_arns {
            list.push(managed(
                st,
                arn,
                PolicyKind::Session,
                PolicySourceType::Session,
            )?);
        }
        Some(list)
    };
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in r.tags.iter().chain(session_tags.iter()) {
        // Tag keys compare case-insensitively: a session tag replaces a role tag.
        tags.retain(|k2, _| !k2.eq_ignore_ascii_case(k));
        tags.insert(k.clone(), v.clone());
    }
    Ok(Principal {
        caller: Caller::AssumedRole {
            account: r.account.clone(),
            role_arn: role_arn(&r.account, &r.path, &r.name),
            role_name: r.name.clone(),
            role_unique_id: r.role_id.clone(),
            session_name: session_name.to_string(),
        },
        policies: Arc::new(PolicySet {
            identity,
            boundary: boundary(st, r.boundary.as_ref())?,
            session,
            scps: Vec::new(),
        }),
        tags: Arc::new(tags),
        token_issue_time: issued,
        source_identity: None,
    })
}
