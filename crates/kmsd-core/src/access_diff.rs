//! Access diff: what a proposed key policy or grant changes. Every (principal, action) on
//! the key is decided with the key's current policy and grants and with the proposed ones,
//! by the same decision the server runs ([`crate::kms::Kms::explain_with`]); each pair whose
//! decision changes is reported with the flowchart path before and after.
//!
//! The principals are the ones the world knows (account roots, users, roles as sessions,
//! grantees) and the classes it does not: any principal of an account the world does not hold
//! (one for each such account the policies or grants name, and one for an account named
//! nowhere — what `"*"` reaches), evaluated with an identity policy that allows everything
//! (that account's administrators can grant it), every principal ARN of such an account that
//! the policies name, and the anonymous class: a caller whose own policies allow nothing, so
//! only the key policy's `"*"` statements can let it in. Access Analyzer's CheckNoNewAccess
//! (FAIL when some decision goes from deny to allow) and CheckAccessNotGranted (FAIL when
//! some principal may perform one of the given actions afterwards) are read off the diff.
//!
//! Like access review, requests are decided without an encryption context or other
//! request-specific keys: conditional access shows where its conditions hold without them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kmsd_policy::{
    Caller, Decision, Explanation, Grant, Policy, PolicyKind, PolicySet, PolicySourceType,
    RequestContext, SourcedPolicy,
};

use crate::error::{ApiError, KmsError};
use crate::principal::Principal;
use crate::service::Service;

/// What is proposed for the key.
#[derive(Debug, Clone)]
pub enum Proposal {
    /// A new key policy (JSON text).
    KeyPolicy(String),
    /// One more grant on the key.
    Grant {
        grantee_principal: String,
        operations: Vec<String>,
    },
}

/// How a principal of the diff was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalClass {
    /// An account root, user, role session or grantee of the world.
    Known,
    /// Any principal of an account the world does not hold.
    OtherAccount,
    /// A principal the policies name in an account the world does not hold.
    NamedOutside,
    /// A caller whose own policies allow nothing.
    Anonymous,
}

impl PrincipalClass {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalClass::Known => "known",
            PrincipalClass::OtherAccount => "any-principal-of-other-account",
            PrincipalClass::NamedOutside => "named-principal-of-other-account",
            PrincipalClass::Anonymous => "anonymous",
        }
    }
}

/// One side of a changed decision.
#[derive(Debug, Clone)]
pub struct Side {
    pub allowed: bool,
    pub explanation: Explanation,
}

/// A (principal, action) whose decision changes.
#[derive(Debug, Clone)]
pub struct Change {
    pub principal: String,
    pub class: PrincipalClass,
    pub action: String,
    pub before: Side,
    pub after: Side,
}

/// The diff of one proposal on one key.
#[derive(Debug, Clone)]
pub struct AccessDiff {
    pub key_arn: String,
    pub account: String,
    /// Principals evaluated, with their class.
    pub principals: Vec<(String, PrincipalClass)>,
    /// Actions evaluated.
    pub actions: Vec<&'static str>,
    pub changes: Vec<Change>,
    /// (principal, action) allowed after the change (for CheckAccessNotGranted).
    pub allowed_after: Vec<(String, String)>,
}

impl AccessDiff {
    /// The changes that grant access (deny before, allow after).
    pub fn new_access(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.after.allowed && !c.before.allowed)
    }

    /// CheckNoNewAccess: true (PASS) when nothing is newly allowed.
    pub fn no_new_access(&self) -> bool {
        self.new_access().next().is_none()
    }

    /// CheckAccessNotGranted for `actions` (case-insensitive): true (PASS) when no principal
    /// may perform any of them after the change.
    pub fn access_not_granted(&self, actions: &[String]) -> bool {
        !self
            .allowed_after
            .iter()
            .any(|(_, a)| actions.iter().any(|wanted| wanted.eq_ignore_ascii_case(a)))
    }
}

/// The KMS actions decided per key: every KMS action on a key resource, except
/// `kms:RetireGrant` (decided per grant) and the ones that name no key.
pub fn key_actions() -> Vec<&'static str> {
    const NOT_ON_A_KEY: &[&str] = &[
        "kms:ConnectCustomKeyStore",
        "kms:CreateCustomKeyStore",
        "kms:CreateKey",
        "kms:DeleteCustomKeyStore",
        "kms:DescribeCustomKeyStores",
        "kms:DisconnectCustomKeyStore",
        "kms:GenerateRandom",
        "kms:ListAliases",
        "kms:ListKeys",
        "kms:ListRetirableGrants",
        "kms:RetireGrant",
        "kms:UpdateCustomKeyStore",
    ];
    kmsd_policy::validate::catalog::KMS_ACTIONS
        .iter()
        .copied()
        .filter(|a| !NOT_ON_A_KEY.contains(a))
        .collect()
}

fn allow_all() -> Result<SourcedPolicy, ApiError> {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .map_err(|e| ApiError::new(KmsError::KMSInternalException, e.to_string()))?;
    Ok(SourcedPolicy::new(
        "outside-account-administrator",
        PolicySourceType::UserManaged,
        Arc::new(p),
    ))
}

fn synthetic(caller: Caller, policies: Vec<SourcedPolicy>) -> Principal {
    Principal {
        caller,
        policies: Arc::new(PolicySet {
            identity: policies,
            boundary: None,
            session: None,
            scps: Vec::new(),
        }),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    }
}

fn account_of(p: &str) -> Option<String> {
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return Some(p.to_string());
    }
    let acct = p.strip_prefix("arn:")?.split(':').nth(3)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then(|| acct.to_string())
}

/// A caller for a principal ARN of an account the world does not hold.
fn outside_caller(arn: &str) -> Option<Caller> {
    let account = account_of(arn)?;
    if arn == account || arn.ends_with(":root") {
        return None;
    }
    let rest = arn.split(':').nth(5)?;
    if let Some(path_name) = rest.strip_prefix("user/") {
        let name = path_name
            .rsplit('/')
            .next()
            .unwrap_or(path_name)
            .to_string();
        return Some(Caller::User {
            account,
            arn: arn.to_string(),
            name,
            unique_id: "AIDAOUTSIDEACCOUNT00".into(),
        });
    }
    if let Some(path_name) = rest.strip_prefix("role/") {
        let name = path_name
            .rsplit('/')
            .next()
            .unwrap_or(path_name)
            .to_string();
        return Some(Caller::AssumedRole {
            account,
            role_arn: arn.to_string(),
            role_name: name,
            role_unique_id: "AROAOUTSIDEACCOUNT00".into(),
            session_name: "any-session".into(),
        });
    }
    if let Some(r) = rest.strip_prefix("assumed-role/") {
        let mut parts = r.splitn(2, '/');
        let role = parts.next()?.to_string();
        let session = parts.next()?.to_string();
        return Some(Caller::AssumedRole {
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
            account,
            role_name: role,
            role_unique_id: "AROAOUTSIDEACCOUNT00".into(),
            session_name: session,
        });
    }
    None
}

/// Compute the access diff of `proposal` on `key` (a key ARN).
pub fn access_diff(
    service: &Service,
    key: &str,
    proposal: &Proposal,
) -> Result<AccessDiff, ApiError> {
    let view = service.kms.key_authz_view(key).ok_or_else(|| {
        ApiError::new(
            KmsError::NotFoundException,
            format!("Key '{key}' does not exist"),
        )
    })?;
    let mut grants_after: Vec<Grant> = view.grants.clone();
    let policy_after = match proposal {
        Proposal::KeyPolicy(text) => {
            let p = Policy::parse(text, PolicyKind::Key).map_err(|e| {
                ApiError::new(KmsError::MalformedPolicyDocumentException, e.to_string())
            })?;
            SourcedPolicy::new(
                view.policy.id.clone(),
                PolicySourceType::Resource,
                Arc::new(p),
            )
        }
        Proposal::Grant {
            grantee_principal,
            operations,
        } => {
            grants_after.push(Grant {
                grant_id: "proposed-grant".into(),
                name: None,
                grantee_principal: grantee_principal.clone(),
                operations: operations.clone(),
                constraints: None,
            });
            view.policy.clone()
        }
    };

    // Principals: the world's, then the classes it does not know.
    let accounts: BTreeSet<String> = service.iam.list_accounts().into_iter().collect();
    let mut known: BTreeSet<String> = service.iam.list_principal_arns().into_iter().collect();
    for g in view.grants.iter().chain(grants_after.iter()) {
        if account_of(&g.grantee_principal).is_some_and(|a| accounts.contains(&a)) {
            known.insert(g.grantee_principal.clone());
        }
    }
    let mut named: Vec<String> = view.policy.policy.aws_principals();
    named.extend(policy_after.policy.aws_principals());
    named.extend(grants_after.iter().map(|g| g.grantee_principal.clone()));
    let mut outside_accounts: BTreeSet<String> = named
        .iter()
        .filter_map(|p| account_of(p))
        .filter(|a| !accounts.contains(a))
        .collect();
    let nowhere = ["999999999999", "999999999998", "999999999997"]
        .into_iter()
        .find(|a| !accounts.contains(*a) && !outside_accounts.contains(*a))
        .unwrap_or("999999999996")
        .to_string();
    outside_accounts.insert(nowhere.clone());

    let admin = allow_all()?;
    let mut principals: Vec<(String, PrincipalClass, Principal)> = Vec::new();
    for arn in &known {
        if let Ok(p) = service.iam.principal_for_arn(arn, None) {
            principals.push((arn.clone(), PrincipalClass::Known, p));
        }
    }
    for account in &outside_accounts {
        let arn = format!("arn:aws:iam::{account}:user/any-principal");
        let caller = Caller::User {
            account: account.clone(),
            arn: arn.clone(),
            name: "any-principal".into(),
            unique_id: "AIDAOUTSIDEACCOUNT00".into(),
        };
        principals.push((
            arn,
            PrincipalClass::OtherAccount,
            synthetic(caller, vec![admin.clone()]),
        ));
    }
    let named_outside: BTreeSet<&String> = named
        .iter()
        .filter(|p| account_of(p).is_some_and(|a| !accounts.contains(&a)))
        .collect();
    for arn in named_outside {
        if let Some(caller) = outside_caller(arn) {
            principals.push((
                arn.clone(),
                PrincipalClass::NamedOutside,
                synthetic(caller, vec![admin.clone()]),
            ));
        }
    }
    principals.push((
        "anonymous".into(),
        PrincipalClass::Anonymous,
        synthetic(
            Caller::Root {
                account: nowhere.clone(),
            },
            Vec::new(),
        ),
    ));

    let actions = key_actions();
    let no_context = RequestContext::new();
    let mut changes = Vec::new();
    let mut allowed_after = Vec::new();
    for (arn, class, principal) in &principals {
        for action in &actions {
            let before = service.kms.explain(
                principal,
                action,
                &view.key_arn,
                &view.region,
                &no_context,
                None,
            )?;
            let after = service.kms.explain_with(
                principal,
                action,
                &view.key_arn,
                &view.region,
                &no_context,
                None,
                Some((&policy_after, &grants_after)),
            )?;
            let (b, a) = (
                before.outcome.decision == Decision::Allow,
                after.outcome.decision == Decision::Allow,
            );
            if a {
                allowed_after.push((arn.clone(), action.to_string()));
            }
            if a != b {
                changes.push(Change {
                    principal: arn.clone(),
                    class: *class,
                    action: action.to_string(),
                    before: Side {
                        allowed: b,
                        explanation: before,
                    },
                    after: Side {
                        allowed: a,
                        explanation: after,
                    },
                });
            }
        }
    }
    Ok(AccessDiff {
        key_arn: view.key_arn,
        account: view.account,
        principals: principals.into_iter().map(|(a, c, _)| (a, c)).collect(),
        actions,
        changes,
        allowed_after,
    })
}
