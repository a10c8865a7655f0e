//! Access Analyzer's custom policy checks on a policy alone (no world): CheckNoNewAccess (does
//! the new policy allow a request the existing one does not?) and CheckAccessNotGranted (does
//! the policy allow any of these actions?).
//!
//! Not a solver: the requests are enumerated from a finite universe drawn from both
//! documents — every principal they name (as the account root, a user and a role session of
//! each named account, the named users, roles and sessions, and a principal of an account
//! named nowhere), every KMS action and every action they name, every resource they name,
//! and request contexts that give each condition key each value the documents compare it
//! with (plus the empty context). A request outside that universe is decided like one inside
//! it unless a condition tells them apart by a value neither document names.

use std::collections::BTreeSet;

use crate::caller::Caller;
use crate::context::RequestContext;
use crate::evaluate::Req;
use crate::json::{self, Json, JsonValue};
use crate::policy::{Effect, Policy};
use crate::principal::M_DIRECT;

use super::catalog;

/// A reason a check failed: the statement of the policy that grants the access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub description: String,
    pub statement_index: usize,
    pub statement_id: Option<String>,
}

/// The result of a custom check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub pass: bool,
    pub message: String,
    pub reasons: Vec<Reason>,
}

/// Is the request allowed by this policy alone: an Allow applies and no Deny does. Returns the
/// allowing statement.
fn allowed(policy: &Policy, req: &Req<'_>) -> Option<usize> {
    allowed_how(policy, req, None).map(|(i, _)| i)
}

/// [`allowed`], and whether the access is whole (`true`) or only delegated (`false`): a user
/// or role of the resource's own account that the policy names only through its account
/// still needs its IAM policies, so a statement naming it directly is new access. (Across
/// accounts the caller's IAM policies are needed either way; an account's root needs none.)
/// `resource_account` `None`: every caller is taken to be in the resource's account.
fn allowed_how(
    policy: &Policy,
    req: &Req<'_>,
    resource_account: Option<&str>,
) -> Option<(usize, bool)> {
    if policy.first_applying(Effect::Deny, req).is_some() {
        return None;
    }
    // KMS never lets another account use a key for an operation outside its cross-account
    // list (key administration), whatever the key policy says.
    if let (Some(c), Some(a)) = (req.caller, resource_account) {
        if c.account() != a
            && policy.kind() == crate::PolicyKind::Key
            && !crate::decision::cross_account_capable(req.action)
        {
            return None;
        }
    }
    let all = policy.all_applying(Effect::Allow, req);
    let delegating = req
        .caller
        .is_some_and(|c| !c.is_root() && resource_account.is_none_or(|a| a == c.account()));
    if !delegating {
        return all.first().map(|(i, _)| (*i, true));
    }
    if let Some((i, _)) = all.iter().find(|(_, k)| k & M_DIRECT != 0) {
        return Some((*i, true));
    }
    all.first().map(|(i, _)| (*i, false))
}

use super::witness::instance;

/// (condition key, literal values) of every condition of a policy document (its text); the
/// input of [`super::witness::witnesses`].
pub fn condition_literals(text: &str) -> Vec<(String, Vec<String>)> {
    let mut lits = Literals::default();
    collect(text, &mut lits);
    lits.conditions
}

/// Whether a resource policy reads as a role trust policy: every action it names is an
/// `sts:` action (Access Analyzer's `RESOURCE_POLICY` covers both without saying which).
pub fn is_trust_document(text: &str) -> bool {
    let mut lits = Literals::default();
    collect(text, &mut lits);
    !lits.actions.is_empty()
        && lits
            .actions
            .iter()
            .all(|a| a.to_ascii_lowercase().starts_with("sts:"))
}

/// (condition key, literal values) of every condition in a document, and the string
/// literals of Action/NotAction, Resource/NotResource and AWS principals.
#[derive(Default)]
struct Literals {
    conditions: Vec<(String, Vec<String>)>,
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    principals: BTreeSet<String>,
}

fn strings_of(v: &Json, out: &mut BTreeSet<String>) {
    match &v.value {
        JsonValue::String(s) => {
            out.insert(s.clone());
        }
        JsonValue::Array(items) => {
            for i in items {
                strings_of(i, out);
            }
        }
        _ => {}
    }
}

fn collect(text: &str, lits: &mut Literals) {
    let Ok(root) = json::parse(text) else { return };
    let JsonValue::Object(top) = &root.value else {
        return;
    };
    let Some((_, st)) = top.iter().find(|(k, _)| k == "Statement") else {
        return;
    };
    let items: Vec<&Json> = match &st.value {
        JsonValue::Array(a) => a.iter().collect(),
        _ => vec![st],
    };
    for item in items {
        let JsonValue::Object(members) = &item.value else {
            continue;
        };
        for (k, v) in members {
            match k.as_str() {
                "Action" | "NotAction" => strings_of(v, &mut lits.actions),
                "Resource" | "NotResource" => strings_of(v, &mut lits.resources),
                "Principal" | "NotPrincipal" => {
                    if let JsonValue::Object(map) = &v.value {
                        for (ty, pv) in map {
                            if ty == "AWS" {
                                strings_of(pv, &mut lits.principals);
                            }
                        }
                    }
                }
                "Condition" => {
                    let JsonValue::Object(ops) = &v.value else {
                        continue;
                    };
                    for (_, block) in ops {
                        let JsonValue::Object(keys) = &block.value else {
                            continue;
                        };
                        for (key, vals) in keys {
                            let list: Vec<&Json> = match &vals.value {
                                JsonValue::Array(a) => a.iter().collect(),
                                _ => vec![vals],
                            };
                            let values = list
                                .into_iter()
                                .filter_map(|j| match &j.value {
                                    JsonValue::String(s) | JsonValue::Number(s) => Some(s.clone()),
                                    JsonValue::Bool(b) => Some(b.to_string()),
                                    _ => None,
                                })
                                .collect();
                            lits.conditions.push((key.clone(), values));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn account_of(p: &str) -> Option<String> {
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return Some(p.to_string());
    }
    let acct = p.strip_prefix("arn:")?.split(':').nth(3)?;
    (acct.len() == 12).then(|| acct.to_string())
}

/// Condition keys a caller's own identity sets.
fn is_caller_key(k: &str) -> bool {
    k.starts_with("aws:principal")
        || k == "aws:userid"
        || k == "aws:username"
        || k == "kms:calleraccount"
}

fn callers(lits: &Literals) -> Vec<Caller> {
    // The principals the documents name, in Principal elements or in conditions on the
    // caller's own keys (aws:PrincipalAccount, aws:PrincipalArn, kms:CallerAccount).
    let mut principals: BTreeSet<String> = lits.principals.clone();
    for (key, values) in &lits.conditions {
        if is_caller_key(&key.to_ascii_lowercase()) {
            principals.extend(
                values
                    .iter()
                    .filter(|v| account_of(v).is_some())
                    .map(|v| instance(v)),
            );
        }
    }
    let mut accounts: BTreeSet<String> = principals.iter().filter_map(|p| account_of(p)).collect();
    accounts.insert("999999999999".into());
    accounts.insert("111122223333".into());
    let mut out = Vec::new();
    for a in &accounts {
        out.push(Caller::Root { account: a.clone() });
        out.push(Caller::User {
            account: a.clone(),
            arn: format!("arn:aws:iam::{a}:user/any-user"),
            name: "any-user".into(),
            unique_id: "AIDAANYUSER000000000".into(),
        });
        out.push(Caller::AssumedRole {
            account: a.clone(),
            role_arn: format!("arn:aws:iam::{a}:role/any-role"),
            role_name: "any-role".into(),
            role_unique_id: "AROAANYROLE000000000".into(),
            session_name: "any-session".into(),
        });
    }
    for p in &principals {
        let Some(account) = account_of(p) else {
            continue;
        };
        let resource = p.split(':').nth(5).unwrap_or("");
        if let Some(path_name) = resource.strip_prefix("user/") {
            out.push(Caller::User {
                account,
                arn: p.clone(),
                name: path_name
                    .rsplit('/')
                    .next()
                    .unwrap_or(path_name)
                    .to_string(),
                unique_id: "AIDANAMEDUSER0000000".into(),
            });
        } else if let Some(path_name) = resource.strip_prefix("role/") {
            out.push(Caller::AssumedRole {
                account,
                role_arn: p.clone(),
                role_name: path_name
                    .rsplit('/')
                    .next()
                    .unwrap_or(path_name)
                    .to_string(),
                role_unique_id: "AROANAMEDROLE0000000".into(),
                session_name: "any-session".into(),
            });
        } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
            if let Some((role, session)) = rest.split_once('/') {
                out.push(Caller::AssumedRole {
                    role_arn: format!("arn:aws:iam::{account}:role/{role}"),
                    account,
                    role_name: role.to_string(),
                    role_unique_id: "AROANAMEDROLE0000000".into(),
                    session_name: session.to_string(),
                });
            }
        }
    }
    out
}

fn base_context(caller: Option<&Caller>) -> RequestContext {
    let mut ctx = RequestContext::new();
    if let Some(c) = caller {
        ctx.set("aws:PrincipalArn", c.principal_arn());
        ctx.set("aws:PrincipalAccount", c.account());
        ctx.set("aws:PrincipalType", c.principal_type());
        ctx.set("aws:userid", c.userid());
        ctx.set("kms:CallerAccount", c.account());
    }
    ctx
}

fn contexts(lits: &Literals, caller: Option<&Caller>) -> Vec<RequestContext> {
    let base = || base_context(caller);
    let caller_key = is_caller_key;
    let mut out = vec![base()];
    for (key, values) in &lits.conditions {
        let lower = key.to_ascii_lowercase();
        // A caller's own facts are its own: a root of one account never carries another
        // account in aws:PrincipalAccount.
        if caller.is_some() && caller_key(&lower) {
            continue;
        }
        for v in values {
            let mut ctx = base();
            if lower == "kms:encryptioncontextkeys" || lower == "aws:tagkeys" {
                ctx.set_multi(key, vec![instance(v)]);
            } else {
                ctx.set(key, instance(v));
            }
            out.push(ctx);
        }
    }
    // And every combination of the keys a request carries beyond its caller (the encryption
    // context above all: a key set with a key no policy names, two pairs at once).
    for w in super::witness::witnesses(&lits.conditions, &[], &caller_key).list {
        if w.is_empty() {
            continue;
        }
        let mut ctx = base();
        w.apply(&mut ctx);
        out.push(ctx);
    }
    out
}

/// Every request of the universe the new policy allows and the existing one does not (or
/// allows wholly where the existing one only delegated to IAM), one reason per statement.
/// `resource_account`: the account that owns the key (resource policies).
pub fn check_no_new_access(
    existing: &Policy,
    new: &Policy,
    resource_account: Option<&str>,
) -> CheckResult {
    let mut lits = Literals::default();
    collect(existing.text(), &mut lits);
    collect(new.text(), &mut lits);
    let mut actions: BTreeSet<String> =
        catalog::KMS_ACTIONS.iter().map(|s| s.to_string()).collect();
    actions.extend(
        lits.actions
            .iter()
            .filter(|a| *a != "*")
            .map(|a| instance(a)),
    );
    let mut resources: BTreeSet<String> = lits.resources.iter().map(|r| instance(r)).collect();
    resources.insert(
        "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000".into(),
    );
    let resource_policy = new.kind().is_resource_policy();
    let callers = if resource_policy {
        let mut c = callers(&lits);
        // An account's root user never assumes a role.
        if new.kind() == crate::PolicyKind::Trust {
            c.retain(|c| !c.is_root());
        }
        c
    } else {
        Vec::new()
    };
    let caller_opts: Vec<Option<&Caller>> = if resource_policy {
        callers.iter().map(Some).collect()
    } else {
        vec![None]
    };
    let mut reasons: Vec<Reason> = Vec::new();
    for caller in &caller_opts {
        let ctxs = contexts(&lits, *caller);
        for action in &actions {
            for resource in &resources {
                for ctx in &ctxs {
                    let req = Req::new(*caller, action, resource, ctx);
                    let Some((index, direct)) = allowed_how(new, &req, resource_account) else {
                        continue;
                    };
                    match allowed_how(existing, &req, resource_account) {
                        Some((_, true)) => continue,
                        Some((_, false)) if !direct => continue,
                        _ => {}
                    }
                    if reasons.iter().any(|r| r.statement_index == index) {
                        continue;
                    }
                    let who = caller
                        .map(|c| format!(" to {}", c.arn()))
                        .unwrap_or_default();
                    reasons.push(Reason {
                        description: format!("New access in the statement with index: {index}: {action} on {resource}{who}."),
                        statement_index: index,
                        statement_id: new.statement_sid(index).map(str::to_string),
                    });
                }
            }
        }
    }
    if reasons.is_empty() {
        CheckResult {
            pass: true,
            message:
                "The modified permissions do not grant new access compared to your existing policy."
                    .into(),
            reasons,
        }
    } else {
        CheckResult {
            pass: false,
            message: "The modified permissions grant new access compared to your existing policy."
                .into(),
            reasons,
        }
    }
}

/// Does the policy allow any of `actions` (on any of `resources`, or on any resource when
/// empty)?
pub fn check_access_not_granted(
    policy: &Policy,
    actions: &[String],
    resources: &[String],
) -> CheckResult {
    let mut lits = Literals::default();
    collect(policy.text(), &mut lits);
    let mut res: BTreeSet<String> = resources.iter().cloned().collect();
    if res.is_empty() {
        res = lits.resources.iter().map(|r| instance(r)).collect();
        res.insert(
            "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000".into(),
        );
    }
    let resource_policy = policy.kind().is_resource_policy();
    let callers = if resource_policy {
        callers(&lits)
    } else {
        Vec::new()
    };
    let caller_opts: Vec<Option<&Caller>> = if resource_policy {
        callers.iter().map(Some).collect()
    } else {
        vec![None]
    };
    let mut reasons: Vec<Reason> = Vec::new();
    for caller in &caller_opts {
        let ctxs = contexts(&lits, *caller);
        for action in actions {
            for resource in &res {
                for ctx in &ctxs {
                    let req = Req::new(*caller, action, resource, ctx);
                    if let Some(index) = allowed(policy, &req) {
                        if !reasons.iter().any(|r| r.statement_index == index) {
                            reasons.push(Reason {
                                description: format!("One of the listed actions or resources in the statement with index: {index}: {action}."),
                                statement_index: index,
                                statement_id: policy.statement_sid(index).map(str::to_string),
                            });
                        }
                    }
                }
            }
        }
    }
    let pass = reasons.is_empty();
    CheckResult {
        pass,
        message: if pass {
            "The policy document does not grant access to perform the listed actions or resources."
                .into()
        } else {
            "The policy document grants access to perform one or more of the listed actions or resources.".into()
        },
        reasons,
    }
}

/// CheckNoPublicAccess for a key policy or a role trust policy: FAIL when a caller of an
/// account the policy names nowhere (a user, a role session, or — key policies — the
/// account's root) may perform some action. Conditions on keys that tie a request to a
/// caller or a network (kms:CallerAccount, kms:ViaService, aws:PrincipalAccount,
/// aws:PrincipalOrgID, aws:SourceVpce, ... and sts:ExternalId in trust policies) are
/// decided with that caller's own facts, so they keep it out; every other condition key is
/// open and may hold (see [`super::witness`]).
pub fn check_no_public_access(policy: &Policy) -> CheckResult {
    let mut lits = Literals::default();
    collect(policy.text(), &mut lits);
    let named: BTreeSet<String> = lits
        .principals
        .iter()
        .filter_map(|p| account_of(p))
        .collect();
    let outsider = ["999999999999", "999999999998", "999999999997"]
        .into_iter()
        .find(|a| !named.contains(*a))
        .unwrap_or("999999999996")
        .to_string();
    let owner = named
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| "111122223333".to_string());
    let trust = policy.kind() == crate::PolicyKind::Trust;
    let mut callers = vec![
        Caller::User {
            account: outsider.clone(),
            arn: format!("arn:aws:iam::{outsider}:user/any-user"),
            name: "any-user".into(),
            unique_id: "AIDAANYUSER000000000".into(),
        },
        Caller::AssumedRole {
            account: outsider.clone(),
            role_arn: format!("arn:aws:iam::{outsider}:role/any-role"),
            role_name: "any-role".into(),
            role_unique_id: "AROAANYROLE000000000".into(),
            session_name: "any-session".into(),
        },
    ];
    if !trust {
        callers.push(Caller::Root {
            account: outsider.clone(),
        });
    }
    let fixed = |k: &str| {
        catalog::LIMITING_KEYS.contains(&k)
            || k.starts_with("aws:principal")
            || (trust && k == "sts:externalid")
    };
    let ws = super::witness::witnesses(&lits.conditions, &[], &fixed);
    let mut actions: BTreeSet<String> = if trust {
        ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        catalog::KMS_ACTIONS.iter().map(|s| s.to_string()).collect()
    };
    actions.extend(
        lits.actions
            .iter()
            .filter(|a| !a.contains('*') && !a.contains('?'))
            .cloned(),
    );
    let resource = if trust {
        format!("arn:aws:iam::{owner}:role/any-role")
    } else {
        format!("arn:aws:kms:us-east-1:{owner}:key/00000000-0000-0000-0000-000000000000")
    };
    let mut reasons: Vec<Reason> = Vec::new();
    for caller in &callers {
        for action in &actions {
            for w in &ws.list {
                let mut ctx = base_context(Some(caller));
                w.apply(&mut ctx);
                let req = Req::new(Some(caller), action, &resource, &ctx);
                let Some((index, _)) = allowed_how(policy, &req, Some(&owner)) else {
                    continue;
                };
                if reasons.iter().any(|r| r.statement_index == index) {
                    continue;
                }
                reasons.push(Reason {
                    description: format!(
                        "Public access granted in the following statement with index: {index}."
                    ),
                    statement_index: index,
                    statement_id: policy.statement_sid(index).map(str::to_string),
                });
            }
        }
    }
    let pass = reasons.is_empty();
    CheckResult {
        pass,
        message: if pass {
            "The resource policy does not grant public access for the given resource type.".into()
        } else {
            "The resource policy grants public access for the given resource type.".into()
        },
        reasons,
    }
}
