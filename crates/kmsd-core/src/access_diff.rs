//! Access diff: what a proposed key policy, grant, identity policy ([`identity_diff`]) or
//! role trust policy ([`trust_diff`]) changes. Every (principal, action, key) the proposal can
//! touch is decided with the world as it is and with the proposal in place, by the same
//! decision the server runs ([`crate::kms::Kms::explain_with`],
//! [`kmsd_policy::explain_assume_role`]); each one whose decision changes is reported with the
//! flowchart path before and after.
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
//! Request-specific condition keys (the encryption context, grant and request parameters,
//! the network, request tags, MFA) are open: each decision is made under every witness
//! context of [`kmsd_policy::validate::witness`] — each value the policies in play compare
//! such a key with, a value they do not name, or none. A (principal, action, key) is *granted*
//! when some witness is denied before and allowed after, *revoked* when some witness is
//! allowed before and denied after (a change can be both). The keys the world fixes — the
//! caller and its tags, the key's facts and tags, the region and the time — are decided as
//! the world sets them ([`world_fixed`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kmsd_policy::validate::custom::condition_literals;
use kmsd_policy::validate::witness::witnesses;
use kmsd_policy::{
    Caller, Decision, Explanation, Grant, Policy, PolicyKind, PolicySet, PolicySourceType,
    RequestContext, SourcedPolicy,
};

use crate::error::{ApiError, KmsError};
use crate::kms::KeyAuthzView;
use crate::principal::Principal;
use crate::service::Service;

mod identity;
mod trust;

pub use identity::identity_diff;
pub use trust::trust_diff;

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

/// A (principal, action, resource) whose decision changes.
#[derive(Debug, Clone)]
pub struct Change {
    pub principal: String,
    pub class: PrincipalClass,
    pub action: String,
    /// The key ARN (the role ARN for `sts:AssumeRole`).
    pub resource: String,
    /// The witness under which the decisions differ (see the module documentation).
    pub context: String,
    pub before: Side,
    pub after: Side,
    /// For `sts:AssumeRole` granted: the (action, key) the role's sessions may perform, which
    /// the principal reaches through the role.
    pub via_role: Vec<(String, String)>,
}

/// The diff of one proposal.
#[derive(Debug, Clone)]
pub struct AccessDiff {
    /// The key of a key policy or grant proposal; empty for identity and trust policies.
    pub key_arn: String,
    /// What the proposal changes, in words.
    pub subject: String,
    pub account: String,
    /// Principals evaluated, with their class.
    pub principals: Vec<(String, PrincipalClass)>,
    /// Actions evaluated.
    pub actions: Vec<&'static str>,
    /// Keys evaluated.
    pub keys: Vec<String>,
    pub changes: Vec<Change>,
    /// (principal, action, resource) allowed after the change under some witness (for
    /// CheckAccessNotGranted).
    pub allowed_after: Vec<(String, String, String)>,
    /// False when some question had more open-key combinations than
    /// [`kmsd_policy::validate::witness::MAX_WITNESSES`] and was decided on a sample.
    pub witnesses_complete: bool,
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
            .any(|(_, a, _)| actions.iter().any(|wanted| wanted.eq_ignore_ascii_case(a)))
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

/// Keys the world fixes (lower-cased): the caller and its tags, the key's facts and tags,
/// the region and the time. Every other condition key is open.
pub fn world_fixed(key: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "aws:principal",
        "aws:resourcetag/",
        "kms:keyspec",
        "kms:keyusage",
        "kms:keyorigin",
        "kms:multiregion",
        "kms:resourcealiases",
        "kms:customermasterkey",
    ];
    const EXACT: &[&str] = &[
        "aws:userid",
        "aws:username",
        "kms:calleraccount",
        "aws:requestedregion",
        "aws:currenttime",
        "aws:epochtime",
        "aws:tokenissuetime",
        "aws:sourceidentity",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || EXACT.contains(&key)
}

/// Condition literals of every policy in a caller's set.
pub(crate) fn set_literals(set: &PolicySet, out: &mut Vec<(String, Vec<String>)>) {
    let policies = set
        .identity
        .iter()
        .chain(set.boundary.iter())
        .chain(set.session.iter().flatten())
        .chain(set.scps.iter());
    for p in policies {
        out.extend(condition_literals(p.policy.text()));
    }
}

fn grant_pairs(grants: &[Grant], out: &mut Vec<(String, String)>) {
    for g in grants {
        let Some(c) = &g.constraints else { continue };
        for map in [&c.encryption_context_equals, &c.encryption_context_subset]
            .into_iter()
            .flatten()
        {
            out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
}

/// (condition key, literal values) of the conditions of some policies.
type Literals = Vec<(String, Vec<String>)>;

/// A principal of the diff: ARN, class, and the principal as decided.
pub(crate) type Evaluated = (String, PrincipalClass, Principal);

/// A principal decided before and after (the same principal unless its policies change).
pub(crate) struct Subject {
    pub arn: String,
    pub class: PrincipalClass,
    pub before: Principal,
    pub after: Principal,
}

/// A key decided before and after (its own policy and grants unless a proposal replaces them).
pub(crate) struct KeyCase {
    pub view: KeyAuthzView,
    pub proposed: Option<(SourcedPolicy, Vec<Grant>)>,
}

impl KeyCase {
    /// Every key of the world, each under its own policy and grants (no proposal).
    pub(crate) fn every_key(service: &Service) -> Vec<KeyCase> {
        service
            .kms
            .list_key_arns()
            .iter()
            .filter_map(|k| service.kms.key_authz_view(k))
            .map(|view| KeyCase {
                view,
                proposed: None,
            })
            .collect()
    }
}

/// What [`decide`] found.
pub(crate) struct Decided {
    pub changes: Vec<Change>,
    pub allowed_after: Vec<(String, String, String)>,
    pub complete: bool,
}

/// Decide every (subject, action, key) before and after under every witness.
pub(crate) fn decide(
    service: &Service,
    subjects: &[Subject],
    keys: &[KeyCase],
    actions: &[&'static str],
) -> Result<Decided, ApiError> {
    let mut out = Decided {
        changes: Vec::new(),
        allowed_after: Vec::new(),
        complete: true,
    };
    let key_lits: Vec<(Literals, Vec<(String, String)>)> = keys
        .iter()
        .map(|k| {
            let mut lits = condition_literals(k.view.policy.policy.text());
            let mut pairs = Vec::new();
            grant_pairs(&k.view.grants, &mut pairs);
            if let Some((p, g)) = &k.proposed {
                lits.extend(condition_literals(p.policy.text()));
                grant_pairs(g, &mut pairs);
            }
            (lits, pairs)
        })
        .collect();
    for s in subjects {
        let mut subject_lits = Vec::new();
        set_literals(&s.before.policies, &mut subject_lits);
        if !Arc::ptr_eq(&s.before.policies, &s.after.policies) {
            set_literals(&s.after.policies, &mut subject_lits);
        }
        for (k, (klits, pairs)) in keys.iter().zip(&key_lits) {
            let mut lits = subject_lits.clone();
            lits.extend(klits.iter().cloned());
            let ws = witnesses(&lits, pairs, &world_fixed);
            out.complete &= ws.complete;
            let proposed = k.proposed.as_ref().map(|(p, g)| (p, g.as_slice()));
            for action in actions {
                let mut granted: Option<(String, Explanation, Explanation)> = None;
                let mut revoked: Option<(String, Explanation, Explanation)> = None;
                let mut any_after = false;
                for w in &ws.list {
                    let mut extra = RequestContext::new();
                    w.apply_keys(&mut extra);
                    let (key, region) = (&k.view.key_arn, &k.view.region);
                    let before =
                        service
                            .kms
                            .explain(&s.before, action, key, region, &extra, w.ec())?;
                    let after = service.kms.explain_with(
                        &s.after,
                        action,
                        key,
                        region,
                        &extra,
                        w.ec(),
                        proposed,
                    )?;
                    let b = before.outcome.decision == Decision::Allow;
                    let a = after.outcome.decision == Decision::Allow;
                    any_after |= a;
                    if a && !b && granted.is_none() {
                        granted = Some((w.describe(), before, after));
                    } else if b && !a && revoked.is_none() {
                        revoked = Some((w.describe(), before, after));
                    }
                    if granted.is_some() && revoked.is_some() {
                        break;
                    }
                }
                if any_after {
                    out.allowed_after.push((
                        s.arn.clone(),
                        action.to_string(),
                        k.view.key_arn.clone(),
                    ));
                }
                for (context, before, after) in granted.into_iter().chain(revoked) {
                    out.changes.push(Change {
                        principal: s.arn.clone(),
                        class: s.class,
                        action: action.to_string(),
                        resource: k.view.key_arn.clone(),
                        context,
                        before: Side {
                            allowed: before.outcome.decision == Decision::Allow,
                            explanation: before,
                        },
                        after: Side {
                            allowed: after.outcome.decision == Decision::Allow,
                            explanation: after,
                        },
                        via_role: Vec::new(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The principals of a diff: the world's (`known`: ARNs the world resolves), then the classes
/// it does not know — any principal of each account `named` names that the world does not
/// hold and of one account named nowhere (with an identity policy that allows everything),
/// each principal ARN `named` names in such accounts, and the anonymous class. Returns them
/// with the account named nowhere.
pub(crate) fn universe(
    service: &Service,
    known: &BTreeSet<String>,
    named: &[String],
) -> Result<(Vec<Evaluated>, String), ApiError> {
    let accounts: BTreeSet<String> = service.iam.list_accounts().into_iter().collect();
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
    let mut principals: Vec<Evaluated> = Vec::new();
    for arn in known {
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
    Ok((principals, nowhere))
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
    let (principals, _) = universe(service, &known, &named)?;
    let subjects: Vec<Subject> = principals
        .into_iter()
        .map(|(arn, class, p)| Subject {
            arn,
            class,
            after: p.clone(),
            before: p,
        })
        .collect();

    let actions = key_actions();
    let key_arn = view.key_arn.clone();
    let account = view.account.clone();
    let case = KeyCase {
        view,
        proposed: Some((policy_after, grants_after)),
    };
    let decided = decide(service, &subjects, std::slice::from_ref(&case), &actions)?;
    let subject = match proposal {
        Proposal::KeyPolicy(_) => format!("key policy of {key_arn}"),
        Proposal::Grant { .. } => format!("a new grant on {key_arn}"),
    };
    Ok(AccessDiff {
        keys: vec![key_arn.clone()],
        key_arn,
        subject,
        account,
        principals: subjects.into_iter().map(|s| (s.arn, s.class)).collect(),
        actions,
        changes: decided.changes,
        allowed_after: decided.allowed_after,
        witnesses_complete: decided.complete,
    })
}
