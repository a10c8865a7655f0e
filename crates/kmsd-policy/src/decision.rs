//! AWS's authorization decisions (§5, §6) with the flowchart trace of §5.3 and the messages of §7.1.
//!
//! Each decision is written once, generic over a `Tracer`: the untraced `decide_*` functions use a
//! tracer that records nothing (its evidence closures are never run, nothing is allocated), the
//! `explain_*` functions record every flowchart step. Both therefore always agree.
//!
//! This module holds the decision types and the pieces every decision shares (the IAM side of
//! a request, SCPs, resource-policy matching); `kms`, `grant`, `assume_role` and `identity` hold
//! the decisions, `trace` the tracers.

use std::collections::BTreeMap;

use crate::evaluate::Req;
use crate::policy::Effect;
use crate::principal::{MatchKinds, M_ACCOUNT, M_DIRECT, M_ROLE, M_SESSION, M_STAR, M_USER};
use crate::{Caller, Grant, RequestContext, SourcedPolicy};

mod assume_role;
mod grant;
mod identity;
mod kms;
mod trace;
pub use assume_role::{decide_assume_role, explain_assume_role};
pub use identity::{decide_identity, explain_identity};
pub(crate) use kms::cross_account_capable;
pub use kms::{decide_kms, decide_kms_because, explain_kms, Decided};
use trace::{evidence, note, stmt, Tracer};

/// The final answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Which policy type a denial is attributed to (the `<type>` of §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    IdentityBased,
    ResourceBased,
    PermissionsBoundary,
    SessionPolicy,
    ServiceControlPolicy,
    /// Cross-account caller the key policy does not mention: the "does not exist in this Region,
    /// no resource-based policies allow access, or ..." wording, which does not reveal the key.
    ResourceNotVisible,
}

impl DenyReason {
    /// The policy-type phrase of §7.1 (`identity-based policy`, ...).
    pub fn policy_type(self) -> &'static str {
        match self {
            DenyReason::IdentityBased => "identity-based policy",
            DenyReason::ResourceBased | DenyReason::ResourceNotVisible => "resource-based policy",
            DenyReason::PermissionsBoundary => "permissions boundary",
            DenyReason::SessionPolicy => "session policy",
            DenyReason::ServiceControlPolicy => "service control policy",
        }
    }
}

/// The caller's own policies (all from the caller's account).
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity policies: user inline/managed, group inline/managed, role inline/managed.
    pub identity: Vec<SourcedPolicy>,
    pub boundary: Option<SourcedPolicy>,
    /// `None`: no session policy (no limit). `Some(list)`: the session is cut to what the list allows.
    pub session: Option<Vec<SourcedPolicy>>,
    /// SCPs of the caller's account (usually empty). When present, at least one must allow
    /// (a flat list is one level of the organization) and none may deny.
    pub scps: Vec<SourcedPolicy>,
}

impl PolicySet {
    /// Whether any of these policies reads the request context
    /// ([`crate::Policy::reads_context`]).
    pub fn reads_context(&self) -> bool {
        self.identity
            .iter()
            .chain(self.boundary.iter())
            .chain(self.session.iter().flatten())
            .chain(self.scps.iter())
            .any(|p| p.policy.reads_context())
    }
}

/// A KMS request to decide. `action` is `kms:<Op>`; ReEncrypt is decided twice (From / To).
#[derive(Debug, Clone, Copy)]
pub struct KmsRequest<'a> {
    pub caller: &'a Caller,
    pub caller_policies: &'a PolicySet,
    pub action: &'a str,
    /// `arn:aws:kms:REGION:ACCT:key/ID`; the key's account is taken from it.
    pub key_arn: &'a str,
    pub key_policy: &'a SourcedPolicy,
    pub grants: &'a [Grant],
    pub context: &'a RequestContext,
    /// The request's encryption context, for grant constraints. For `CreateGrant`, pass the
    /// constraint pairs of the grant being created: a constrained grant only lets its grantee
    /// create grants with the same (Equals) or a superset (Subset) of its pairs.
    pub encryption_context: Option<&'a BTreeMap<String, String>>,
}

/// An `sts:AssumeRole` request (§6).
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleRequest<'a> {
    pub caller: &'a Caller,
    pub caller_policies: &'a PolicySet,
    pub role_arn: &'a str,
    pub trust_policy: &'a SourcedPolicy,
    pub context: &'a RequestContext,
}

/// An IAM/STS request authorized by identity policies alone (same account), e.g. `iam:CreateUser`.
#[derive(Debug, Clone, Copy)]
pub struct IdentityRequest<'a> {
    pub caller: &'a Caller,
    pub caller_policies: &'a PolicySet,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a RequestContext,
}

/// The untraced result: enough for the hot path and the AccessDenied message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    /// Set when denied.
    pub denied_by: Option<DenyReason>,
}

impl Outcome {
    /// An allow.
    pub const ALLOW: Outcome = Outcome {
        decision: Decision::Allow,
        denied_by: None,
    };

    fn explicit(reason: DenyReason) -> Outcome {
        Outcome {
            decision: Decision::ExplicitDeny,
            denied_by: Some(reason),
        }
    }

    fn implicit(reason: DenyReason) -> Outcome {
        Outcome {
            decision: Decision::ImplicitDeny,
            denied_by: Some(reason),
        }
    }

    /// True when allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    /// The AccessDenied message of §7.1, or `None` when allowed.
    ///
    /// `caller_arn` is what AWS prints after `User:` (the session ARN for role sessions).
    pub fn message(&self, caller_arn: &str, action: &str, resource: &str) -> Option<String> {
        if self.decision == Decision::Allow {
            return None;
        }
        let reason = self.denied_by.unwrap_or(DenyReason::IdentityBased);
        if reason == DenyReason::ResourceNotVisible {
            return Some(format!(
                "User: {caller_arn} is not authorized to perform: {action} on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
            ));
        }
        let ty = reason.policy_type();
        // AWS words an SCP denial as explicit even when no SCP allows (§7.1).
        if self.decision == Decision::ExplicitDeny || reason == DenyReason::ServiceControlPolicy {
            let article = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            Some(format!(
                "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} with an explicit deny in {article} {ty}"
            ))
        } else {
            Some(format!(
                "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} because no {ty} allows the {action} action"
            ))
        }
    }
}

/// Flowchart nodes of §5.3 (and the nodes used for AssumeRole / identity-only decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    N0,
    N1,
    N2,
    N3,
    N4,
    N5,
    N6,
    T1,
    T2,
}

impl Node {
    /// The node id as printed (`N0` … `T2`).
    pub fn id(self) -> &'static str {
        match self {
            Node::N0 => "N0",
            Node::N1 => "N1",
            Node::N2 => "N2",
            Node::N3 => "N3",
            Node::N4 => "N4",
            Node::N5 => "N5",
            Node::N6 => "N6",
            Node::T1 => "T1",
            Node::T2 => "T2",
        }
    }

    /// The KMS flowchart question of this node (§5.3).
    pub fn kms_question(self) -> &'static str {
        match self {
            Node::N0 => "Does an applicable service control policy deny, or fail to allow, the request?",
            Node::N1 => "Does the key policy explicitly DENY the request?",
            Node::N2 => "Does an IAM policy (identity, permissions boundary or session policy) explicitly DENY the request?",
            Node::N3 => "Does the key policy ALLOW the caller directly (principal is the caller's user, role, session or \"*\")?",
            Node::N4 => "Does a grant ALLOW the caller to perform this operation?",
            Node::N5 => "Does the key policy ALLOW the caller's account to use IAM policies to control access to the key?",
            Node::N6 => "Does an IAM policy allow the caller to perform this action?",
            Node::T1 => "Is the caller in the same account as the key?",
            Node::T2 => "Does an IAM policy in the caller's account allow the caller to use this key, and can the operation be used across accounts?",
        }
    }

    /// The question of this node for `sts:AssumeRole` decisions (§6).
    pub fn assume_role_question(self) -> &'static str {
        match self {
            Node::N0 => "Does an applicable service control policy deny, or fail to allow, the request?",
            Node::N1 => "Does the role trust policy explicitly DENY the request?",
            Node::N2 => "Does an IAM policy (identity, permissions boundary or session policy) explicitly DENY the request?",
            Node::N3 => "Does the role trust policy ALLOW the caller directly (principal is the caller's user, role, session or \"*\")?",
            Node::N4 => "Does a grant ALLOW the caller?",
            Node::N5 => "Does the role trust policy ALLOW the caller's account (delegating to IAM policies)?",
            Node::N6 => "Does an IAM policy allow the caller to perform sts:AssumeRole on the role?",
            Node::T1 => "Is the caller in the same account as the role?",
            Node::T2 => "Does an IAM policy in the caller's account allow the caller to assume this role?",
        }
    }

    /// The question of this node for identity-only decisions.
    pub fn identity_question(self) -> &'static str {
        match self {
            Node::N0 => "Does an applicable service control policy deny, or fail to allow, the request?",
            Node::N2 => "Does an IAM policy (identity, permissions boundary or session policy) explicitly DENY the request?",
            Node::N6 => "Does an IAM policy allow the caller to perform this action (after permissions boundary and session policy)?",
            other => other.kms_question(),
        }
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// What stands behind a node's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Because {
    Statement {
        /// Policy name/ARN (`SourcedPolicy::id`).
        policy_id: String,
        source_type: crate::PolicySourceType,
        sid: Option<String>,
        /// 0-based index of the statement in its policy.
        index: usize,
    },
    Grant {
        grant_id: String,
        name: Option<String>,
    },
    /// A fact that is not a statement (e.g. "caller is the account root user").
    Note(String),
}

/// One step along the flowchart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub node: Node,
    pub question: &'static str,
    pub answer: bool,
    pub because: Vec<Because>,
}

/// A traced decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub outcome: Outcome,
    pub path: Vec<PathStep>,
    /// The AccessDenied message when denied.
    pub message: Option<String>,
}

impl Explanation {
    /// The path as `N0N N1N N3Y T1Y`.
    pub fn path_string(&self) -> String {
        self.path
            .iter()
            .map(|s| format!("{}{}", s.node.id(), if s.answer { 'Y' } else { 'N' }))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// The IAM side of a request (identity, boundary, session), computed lazily.
struct Iam<'a> {
    caller: &'a Caller,
    set: &'a PolicySet,
    req: Req<'a>,
    id: Option<bool>,
    pb: Option<bool>,
    sp: Option<bool>,
}

impl<'a> Iam<'a> {
    fn new(
        caller: &'a Caller,
        set: &'a PolicySet,
        action: &'a str,
        resource: &'a str,
        ctx: &'a RequestContext,
    ) -> Self {
        Iam {
            caller,
            set,
            req: Req::new(None, action, resource, ctx),
            id: None,
            pb: None,
            sp: None,
        }
    }

    /// [`Iam::new`] for a request already built (its resource already split).
    fn from_req(caller: &'a Caller, set: &'a PolicySet, req: Req<'a>) -> Self {
        Iam {
            caller,
            set,
            req: Req {
                caller: None,
                ..req
            },
            id: None,
            pb: None,
            sp: None,
        }
    }

    fn any_allow(policies: &[SourcedPolicy], req: &Req<'_>) -> bool {
        policies
            .iter()
            .any(|p| p.policy.first_applying(Effect::Allow, req).is_some())
    }

    /// Identity policies allow (the root user implicitly has every identity permission, E11).
    fn id_allow(&mut self) -> bool {
        if let Some(v) = self.id {
            return v;
        }
        let v = self.caller.is_root() || Self::any_allow(&self.set.identity, &self.req);
        self.id = Some(v);
        v
    }

    /// The permissions boundary allows (true without a boundary).
    fn pb_ok(&mut self) -> bool {
        if let Some(v) = self.pb {
            return v;
        }
        let v = match &self.set.boundary {
            None => true,
            Some(b) => b.policy.first_applying(Effect::Allow, &self.req).is_some(),
        };
        self.pb = Some(v);
        v
    }

    /// The session policies allow (true without session policies).
    fn sp_ok(&mut self) -> bool {
        if let Some(v) = self.sp {
            return v;
        }
        let v = match &self.set.session {
            None => true,
            Some(list) => Self::any_allow(list, &self.req),
        };
        self.sp = Some(v);
        v
    }

    fn iam_ok(&mut self) -> bool {
        self.id_allow() && self.pb_ok() && self.sp_ok()
    }

    /// Which IAM policy type to blame for an implicit deny (§7.1 CHOICE order).
    fn blame(&mut self) -> DenyReason {
        if !self.pb_ok() {
            DenyReason::PermissionsBoundary
        } else if !self.sp_ok() {
            DenyReason::SessionPolicy
        } else {
            DenyReason::IdentityBased
        }
    }

    /// E4/E5: does a resource-side allow through these principal kinds survive the caller's
    /// boundary and session policy? User/session entries are not limited; role entries are;
    /// `*` is limited for role sessions only [CHOICE §5.4].
    fn limit_ok(&mut self, kinds: MatchKinds) -> bool {
        if kinds & (M_USER | M_SESSION) != 0 {
            return true;
        }
        let role_like = kinds & M_ROLE != 0
            || (kinds & M_STAR != 0 && matches!(self.caller, Caller::AssumedRole { .. }));
        if role_like {
            return self.pb_ok() && self.sp_ok();
        }
        kinds & M_STAR != 0
    }

    /// N2: an explicit deny in identity, boundary or session policies.
    fn explicit_deny(&self) -> Option<(DenyReason, &'a SourcedPolicy, usize)> {
        for p in &self.set.identity {
            if let Some(i) = p.policy.first_applying(Effect::Deny, &self.req) {
                return Some((DenyReason::IdentityBased, p, i));
            }
        }
        if let Some(b) = &self.set.boundary {
            if let Some(i) = b.policy.first_applying(Effect::Deny, &self.req) {
                return Some((DenyReason::PermissionsBoundary, b, i));
            }
        }
        if let Some(list) = &self.set.session {
            for p in list {
                if let Some(i) = p.policy.first_applying(Effect::Deny, &self.req) {
                    return Some((DenyReason::SessionPolicy, p, i));
                }
            }
        }
        None
    }

    /// Evidence for N6 / T2: the allowing identity statements and the boundary/session verdicts.
    fn allow_evidence(&mut self) -> Vec<Because> {
        let mut out = Vec::new();
        if self.caller.is_root() {
            out.push(Because::Note(
                "the caller is the account root user, which has every identity-based permission"
                    .into(),
            ));
        } else {
            let ids: Vec<&SourcedPolicy> = self.set.identity.iter().collect();
            out.extend(evidence(&ids, Effect::Allow, &self.req));
            if out.is_empty() {
                out.push(Because::Note(
                    "no identity-based policy allows the action".into(),
                ));
            }
        }
        if let Some(b) = &self.set.boundary {
            let ev = evidence(&[b], Effect::Allow, &self.req);
            if ev.is_empty() {
                out.push(Because::Note(format!(
                    "the permissions boundary {} does not allow the action",
                    b.id
                )));
            } else {
                out.extend(ev);
            }
        }
        if let Some(list) = &self.set.session {
            let refs: Vec<&SourcedPolicy> = list.iter().collect();
            let ev = evidence(&refs, Effect::Allow, &self.req);
            if ev.is_empty() {
                out.push(Because::Note("no session policy allows the action".into()));
            } else {
                out.extend(ev);
            }
        }
        out
    }
}

/// N0: SCPs deny or fail to allow. Returns the evidence-producing verdict.
fn scp_blocks(set: &PolicySet, req: &Req<'_>) -> Option<Option<(usize, usize)>> {
    if set.scps.is_empty() {
        return None;
    }
    for (pi, p) in set.scps.iter().enumerate() {
        if let Some(i) = p.policy.first_applying(Effect::Deny, req) {
            return Some(Some((pi, i)));
        }
    }
    let allowed = set
        .scps
        .iter()
        .any(|p| p.policy.first_applying(Effect::Allow, req).is_some());
    if allowed {
        None
    } else {
        Some(None)
    }
}

fn n0<T: Tracer>(t: &mut T, set: &PolicySet, req: &Req<'_>) -> Option<Outcome> {
    match scp_blocks(set, req) {
        None => {
            t.step(Node::N0, false, Vec::new);
            None
        }
        Some(hit) => {
            t.step(Node::N0, true, || match hit {
                Some((pi, i)) => set
                    .scps
                    .get(pi)
                    .map(|p| vec![stmt(p, i)])
                    .unwrap_or_default(),
                None => note("no service control policy allows the action"),
            });
            Some(Outcome::explicit(DenyReason::ServiceControlPolicy))
        }
    }
}

fn n2<T: Tracer>(t: &mut T, iam: &Iam<'_>) -> Option<Outcome> {
    match iam.explicit_deny() {
        Some((reason, p, i)) => {
            t.step(Node::N2, true, || vec![stmt(p, i)]);
            Some(Outcome::explicit(reason))
        }
        None => {
            t.step(Node::N2, false, Vec::new);
            None
        }
    }
}

/// Allow statements of a resource policy that apply, split into direct kinds and the account kind.
fn resource_allows(p: &SourcedPolicy, req: &Req<'_>) -> (MatchKinds, bool) {
    let kind = p.policy.kind();
    let mut direct = 0;
    let mut account = false;
    for s in &p.policy.statements {
        if s.effect != Effect::Allow {
            continue;
        }
        let k = s.applies(kind, req);
        direct |= k & M_DIRECT;
        account |= k & M_ACCOUNT != 0;
    }
    (direct, account)
}

fn resource_evidence(p: &SourcedPolicy, req: &Req<'_>, mask: MatchKinds) -> Vec<Because> {
    p.policy
        .all_applying(Effect::Allow, req)
        .into_iter()
        .filter(|(_, k)| k & mask != 0)
        .map(|(i, _)| stmt(p, i))
        .collect()
}

/// The account field of an ARN (`split_arn(arn)`'s fifth part), or `""` when `arn` has fewer
/// than six `:`-separated parts; one pass over the bytes.
fn account_of(arn: &str) -> &str {
    let mut colons = 0;
    let mut start = 0;
    for (i, &b) in arn.as_bytes().iter().enumerate() {
        if b == b':' {
            colons += 1;
            if colons == 4 {
                start = i + 1;
            } else if colons == 5 {
                return arn.get(start..i).unwrap_or("");
            }
        }
    }
    ""
}

#[cfg(test)]
mod tests;
