//! AWS's authorization decisions (§5, §6) with the flowchart trace of §5.3 and the messages of §7.1.
//!
//! Each decision is written once, generic over a `Tracer`: the untraced `decide_*` functions use a
//! tracer that records nothing (its evidence closures are never run, nothing is allocated), the
//! `explain_*` functions record every flowchart step. Both therefore always agree.

use std::collections::BTreeMap;

use crate::arn::split_arn;
use crate::evaluate::Req;
use crate::policy::Effect;
use crate::principal::{
    is_account_id, MatchKinds, M_ACCOUNT, M_DIRECT, M_ROLE, M_SESSION, M_STAR, M_USER,
};
use crate::{Caller, Grant, RequestContext, SourcedPolicy};

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
// Tracing

/// Receives the flowchart steps of a decision.
trait Tracer {
    fn step(&mut self, node: Node, answer: bool, because: impl FnOnce() -> Vec<Because>);
}

/// Records nothing; evidence closures are never run.
struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn step(&mut self, _: Node, _: bool, _: impl FnOnce() -> Vec<Because>) {}
}

/// Records every step with its question text.
struct Trace {
    questions: fn(Node) -> &'static str,
    path: Vec<PathStep>,
}

impl Tracer for Trace {
    fn step(&mut self, node: Node, answer: bool, because: impl FnOnce() -> Vec<Because>) {
        self.path.push(PathStep {
            node,
            question: (self.questions)(node),
            answer,
            because: because(),
        });
    }
}

/// Records only the evidence of each step, in path order (what an audit record keeps), not
/// the path itself: no question texts, no per-step vectors.
struct BecauseOnly {
    because: Vec<Because>,
    /// The last node visited: where the path ended.
    end: Option<Node>,
}

impl Tracer for BecauseOnly {
    fn step(&mut self, node: Node, _: bool, because: impl FnOnce() -> Vec<Because>) {
        self.end = Some(node);
        self.because.append(&mut because());
    }
}

fn stmt(p: &SourcedPolicy, index: usize) -> Because {
    Because::Statement {
        policy_id: p.id.clone(),
        source_type: p.source_type,
        sid: p.policy.statement_sid(index).map(str::to_string),
        index,
    }
}

fn note(s: impl Into<String>) -> Vec<Because> {
    vec![Because::Note(s.into())]
}

/// Every statement of `effect` applying in `policies`, as evidence.
fn evidence(policies: &[&SourcedPolicy], effect: Effect, req: &Req<'_>) -> Vec<Because> {
    let mut out = Vec::new();
    for p in policies {
        for (i, _) in p.policy.all_applying(effect, req) {
            out.push(stmt(p, i));
        }
    }
    out
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

// ---------------------------------------------------------------------------------------------
// KMS

/// E10: operations that can succeed across accounts.
pub(crate) fn cross_account_capable(action: &str) -> bool {
    let op = match action.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("kms:") => &action[4..],
        _ => return false,
    };
    const OK: &[&str] = &[
        "Encrypt",
        "Decrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
        "GetPublicKey",
        "CreateGrant",
        "DescribeKey",
        "GetKeyRotationStatus",
        "ListGrants",
        "RetireGrant",
        "RevokeGrant",
    ];
    OK.iter().any(|o| o.eq_ignore_ascii_case(op))
}

/// Principal kinds through which a grantee string names the caller (GP1), without allocating.
/// Exact string comparisons first; the ARN is split only for root and session grantees.
fn grantee_kinds(grantee: &str, caller: &Caller) -> MatchKinds {
    match caller {
        Caller::User { arn, .. } if grantee == arn => return M_USER,
        Caller::AssumedRole { role_arn, .. } if grantee == role_arn => return M_ROLE,
        _ => {}
    }
    if grantee.len() == 12 {
        return if grantee == caller.account() && is_account_id(grantee) {
            M_ACCOUNT
        } else {
            0
        };
    }
    let session_like = match caller {
        Caller::AssumedRole { session_name, .. } => grantee.ends_with(session_name.as_str()),
        _ => false,
    };
    if !grantee.ends_with(":root") && !session_like {
        return 0;
    }
    let Some([arn, _partition, service, region, account, resource]) = split_arn(grantee) else {
        return 0;
    };
    if arn != "arn" || !region.is_empty() || account != caller.account() {
        return 0;
    }
    match (service, caller) {
        ("iam", _) if resource == "root" => M_ACCOUNT,
        (
            "sts",
            Caller::AssumedRole {
                role_name,
                session_name,
                ..
            },
        ) => match resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split_once('/'))
        {
            Some((r, s)) if r == role_name && s == session_name => M_SESSION,
            _ => 0,
        },
        _ => 0,
    }
}

/// The grant lists the operation (GP2; `ReEncrypt*` covers both halves).
fn grant_has_operation(g: &Grant, action: &str) -> bool {
    let op = match action.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("kms:") => &action[4..],
        _ => return false,
    };
    g.operations.iter().any(|o| {
        o.eq_ignore_ascii_case(op)
            || (o.eq_ignore_ascii_case("ReEncrypt*")
                && op
                    .get(..9)
                    .is_some_and(|p| p.eq_ignore_ascii_case("ReEncrypt")))
    })
}

/// GP3: encryption-context constraints (case-sensitive); ignored for DescribeKey and RetireGrant.
fn grant_constraints_ok(g: &Grant, action: &str, ec: Option<&BTreeMap<String, String>>) -> bool {
    let Some(c) = &g.constraints else {
        return true;
    };
    let op = action.get(4..).unwrap_or("");
    if op.eq_ignore_ascii_case("DescribeKey") || op.eq_ignore_ascii_case("RetireGrant") {
        return true;
    }
    let empty = BTreeMap::new();
    let ec = ec.unwrap_or(&empty);
    // "In a grant constraint, the key in each key-value pair is not case sensitive, but the
    // value is case sensitive" (KMS API reference, GrantConstraints).
    if let Some(eq) = &c.encryption_context_equals {
        if eq.len() != ec.len() || !eq.iter().all(|(k, v)| request_has_pair(ec, k, v)) {
            return false;
        }
    }
    if let Some(sub) = &c.encryption_context_subset {
        if !sub.iter().all(|(k, v)| request_has_pair(ec, k, v)) {
            return false;
        }
    }
    true
}

/// Does the request's encryption context hold a pair with key `key` (compared without
/// regard to case) and value exactly `value`?
fn request_has_pair(ec: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    if let Some(v) = ec.get(key) {
        if v == value {
            return true;
        }
    }
    ec.iter()
        .any(|(k, v)| v == value && k != key && keys_equal_ignoring_case(k, key))
}

fn keys_equal_ignoring_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// Decide a KMS request (untraced hot path).
pub fn decide_kms(req: &KmsRequest<'_>) -> Outcome {
    kms(req, &mut NoTrace)
}

/// Decide a KMS request and trace the flowchart path.
pub fn explain_kms(req: &KmsRequest<'_>) -> Explanation {
    let mut t = Trace {
        questions: Node::kms_question,
        path: Vec::new(),
    };
    let outcome = kms(req, &mut t);
    Explanation {
        outcome,
        path: t.path,
        message: outcome.message(&req.caller.arn(), req.action, req.key_arn),
    }
}

/// A decision with the evidence of every step of its flowchart path, in path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub outcome: Outcome,
    /// The `because` of each [`PathStep`] of [`explain_kms`]'s path, concatenated.
    pub because: Vec<Because>,
    /// The node of the path's last step (where the flowchart ended).
    pub end: Option<Node>,
}

/// Decide a KMS request and keep only the evidence along the path: the same outcome and the
/// same statements, grants and notes, in the same order, as [`explain_kms`]'s path carries
/// (one generic decision runs under both), without the path steps, the question texts and
/// the denial message (see [`Outcome::message`]). The hot path of KMS operations, whose audit
/// records name the deciding statements.
pub fn decide_kms_because(req: &KmsRequest<'_>) -> Decided {
    // A KMS path has at most nine steps, each with a reason or two: one allocation.
    let mut t = BecauseOnly {
        because: Vec::with_capacity(8),
        end: None,
    };
    let outcome = kms(req, &mut t);
    Decided {
        outcome,
        because: t.because,
        end: t.end,
    }
}

fn kms<T: Tracer>(q: &KmsRequest<'_>, t: &mut T) -> Outcome {
    let caller = q.caller;
    let key_account = account_of(q.key_arn);
    let same = caller.account() == key_account;
    let r = Req::new(Some(caller), q.action, q.key_arn, q.context);
    let id_req = Req { caller: None, ..r };
    let kp = q.key_policy;
    let mut iam = Iam::from_req(caller, q.caller_policies, id_req);
    // The identity side's evidence, on a fresh `Iam` over the same (already split) request.
    let iam_evidence = || Iam::from_req(caller, q.caller_policies, id_req).allow_evidence();

    // N0
    if let Some(o) = n0(t, q.caller_policies, &id_req) {
        return o;
    }
    // N1
    if let Some(i) = kp.policy.first_applying(Effect::Deny, &r) {
        t.step(Node::N1, true, || vec![stmt(kp, i)]);
        return Outcome::explicit(DenyReason::ResourceBased);
    }
    t.step(Node::N1, false, Vec::new);
    // N2
    if let Some(o) = n2(t, &iam) {
        return o;
    }
    let not_visible = || {
        !same
            && !kp.policy.mentions(caller)
            && !q
                .grants
                .iter()
                .any(|g| grantee_kinds(&g.grantee_principal, caller) != 0)
    };
    let resource_deny = |hidden: bool| {
        Outcome::implicit(if hidden {
            DenyReason::ResourceNotVisible
        } else {
            DenyReason::ResourceBased
        })
    };
    // E10
    if !same && !cross_account_capable(q.action) {
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from key account {key_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, false, || {
            note(format!("{} cannot be used across accounts", q.action))
        });
        return resource_deny(not_visible());
    }

    // Allow sources.
    let (direct_kinds, account_allow) = resource_allows(kp, &r);
    let direct_ok = direct_kinds != 0 && iam.limit_ok(direct_kinds);
    // Grants are looked at only when the flowchart gets to them.
    let find_grant = |iam: &mut Iam<'_>| -> Option<usize> {
        for (gi, g) in q.grants.iter().enumerate() {
            let kinds = grantee_kinds(&g.grantee_principal, caller);
            if kinds == 0
                || !grant_has_operation(g, q.action)
                || !grant_constraints_ok(g, q.action, q.encryption_context)
            {
                continue;
            }
            let ok = if kinds == M_ACCOUNT {
                iam.iam_ok()
            } else {
                iam.limit_ok(kinds)
            };
            if ok {
                return Some(gi);
            }
        }
        None
    };
    let grant_evidence = |grant_hit: Option<usize>| -> Vec<Because> {
        match grant_hit {
            Some(gi) => q
                .grants
                .get(gi)
                .map(|g| {
                    vec![Because::Grant {
                        grant_id: g.grant_id.clone(),
                        name: g.name.clone(),
                    }]
                })
                .unwrap_or_default(),
            None => {
                note("no grant for the caller allows this operation with this encryption context")
            }
        }
    };

    // N3
    t.step(Node::N3, direct_ok, || {
        if direct_kinds != 0 && !direct_ok {
            let mut v = resource_evidence(kp, &r, M_DIRECT);
            v.push(Because::Note(
                "the statement names the role (or \"*\" for a role session), so the permissions boundary and session policy limit it, and they do not allow the action".into(),
            ));
            v
        } else if direct_kinds == 0 {
            note(format!(
                "no Allow statement of the key policy names the caller (user, role, session or \"*\") for {} with these conditions",
                q.action
            ))
        } else {
            resource_evidence(kp, &r, M_DIRECT)
        }
    });
    if direct_ok {
        if same {
            t.step(Node::T1, true, || same_account(key_account));
            return Outcome::ALLOW;
        }
        if iam.iam_ok() {
            t.step(Node::T1, false, || {
                note(format!(
                    "caller account {} differs from key account {key_account}",
                    caller.account()
                ))
            });
            t.step(Node::T2, true, iam_evidence);
            return Outcome::ALLOW;
        }
        if let Some(gi) = find_grant(&mut iam) {
            t.step(Node::N4, true, || grant_evidence(Some(gi)));
            return Outcome::ALLOW;
        }
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from key account {key_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, false, iam_evidence);
        return Outcome::implicit(iam.blame());
    }
    // N4
    let grant_hit = find_grant(&mut iam);
    t.step(Node::N4, grant_hit.is_some(), || grant_evidence(grant_hit));
    if grant_hit.is_some() {
        return Outcome::ALLOW;
    }
    // N5
    t.step(Node::N5, account_allow, || {
        if account_allow {
            resource_evidence(kp, &r, M_ACCOUNT)
        } else {
            note(format!(
                "no Allow statement of the key policy names account {} (or its root user) for {} with these conditions",
                caller.account(),
                q.action
            ))
        }
    });
    if !account_allow {
        return resource_deny(not_visible());
    }
    // N6
    let iam_ok = iam.iam_ok();
    t.step(Node::N6, iam_ok, iam_evidence);
    if !iam_ok {
        return Outcome::implicit(iam.blame());
    }
    // T1 / T2
    if same {
        t.step(Node::T1, true, || same_account(key_account));
        return Outcome::ALLOW;
    }
    t.step(Node::T1, false, || {
        note(format!(
            "caller account {} differs from key account {key_account}",
            caller.account()
        ))
    });
    t.step(Node::T2, true, iam_evidence);
    Outcome::ALLOW
}

fn same_account(account: &str) -> Vec<Because> {
    note(format!(
        "the caller and the resource are in account {account}"
    ))
}

// ---------------------------------------------------------------------------------------------
// STS AssumeRole

/// Decide `sts:AssumeRole` (trust policy plus the caller's identity policy).
pub fn decide_assume_role(req: &AssumeRoleRequest<'_>) -> Outcome {
    assume_role(req, &mut NoTrace)
}

/// Traced AssumeRole decision.
pub fn explain_assume_role(req: &AssumeRoleRequest<'_>) -> Explanation {
    let mut t = Trace {
        questions: Node::assume_role_question,
        path: Vec::new(),
    };
    let outcome = assume_role(req, &mut t);
    Explanation {
        outcome,
        path: t.path,
        message: outcome.message(&req.caller.arn(), ASSUME_ROLE, req.role_arn),
    }
}

const ASSUME_ROLE: &str = "sts:AssumeRole";

fn assume_role<T: Tracer>(q: &AssumeRoleRequest<'_>, t: &mut T) -> Outcome {
    let caller = q.caller;
    let role_account = account_of(q.role_arn);
    let same = caller.account() == role_account;
    let r = Req::new(Some(caller), ASSUME_ROLE, q.role_arn, q.context);
    let id_req = Req { caller: None, ..r };
    let tp = q.trust_policy;
    let mut iam = Iam::new(
        caller,
        q.caller_policies,
        ASSUME_ROLE,
        q.role_arn,
        q.context,
    );
    let evid = |q: &AssumeRoleRequest<'_>| {
        Iam::new(
            q.caller,
            q.caller_policies,
            ASSUME_ROLE,
            q.role_arn,
            q.context,
        )
        .allow_evidence()
    };

    if let Some(o) = n0(t, q.caller_policies, &id_req) {
        return o;
    }
    if let Some(i) = tp.policy.first_applying(Effect::Deny, &r) {
        t.step(Node::N1, true, || vec![stmt(tp, i)]);
        return Outcome::explicit(DenyReason::ResourceBased);
    }
    t.step(Node::N1, false, Vec::new);
    if let Some(o) = n2(t, &iam) {
        return o;
    }
    if caller.is_root() {
        // AWS does not let the root user assume roles.
        t.step(Node::N3, false, || {
            note("the account root user cannot assume roles")
        });
        return Outcome::implicit(DenyReason::ResourceBased);
    }
    let (direct_kinds, account_allow) = resource_allows(tp, &r);
    let direct_ok = direct_kinds != 0 && iam.limit_ok(direct_kinds);
    t.step(Node::N3, direct_ok, || resource_evidence(tp, &r, M_DIRECT));
    if direct_ok {
        if same {
            t.step(Node::T1, true, Vec::new);
            return Outcome::ALLOW;
        }
        let ok = iam.iam_ok();
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from role account {role_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, ok, || evid(q));
        return if ok {
            Outcome::ALLOW
        } else {
            Outcome::implicit(iam.blame())
        };
    }
    t.step(Node::N5, account_allow, || {
        resource_evidence(tp, &r, M_ACCOUNT)
    });
    if !account_allow {
        return Outcome::implicit(DenyReason::ResourceBased);
    }
    let ok = iam.iam_ok();
    t.step(Node::N6, ok, || evid(q));
    if !ok {
        return Outcome::implicit(iam.blame());
    }
    if same {
        t.step(Node::T1, true, Vec::new);
    } else {
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from role account {role_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, true, || evid(q));
    }
    Outcome::ALLOW
}

// ---------------------------------------------------------------------------------------------
// Identity-only (IAM, STS)

/// Decide an identity-only request (IAM and STS actions in the caller's own account).
pub fn decide_identity(req: &IdentityRequest<'_>) -> Outcome {
    identity(req, &mut NoTrace)
}

/// Traced identity-only decision.
pub fn explain_identity(req: &IdentityRequest<'_>) -> Explanation {
    let mut t = Trace {
        questions: Node::identity_question,
        path: Vec::new(),
    };
    let outcome = identity(req, &mut t);
    Explanation {
        outcome,
        path: t.path,
        message: outcome.message(&req.caller.arn(), req.action, req.resource),
    }
}

fn identity<T: Tracer>(q: &IdentityRequest<'_>, t: &mut T) -> Outcome {
    let id_req = Req::new(None, q.action, q.resource, q.context);
    let mut iam = Iam::new(q.caller, q.caller_policies, q.action, q.resource, q.context);
    if let Some(o) = n0(t, q.caller_policies, &id_req) {
        return o;
    }
    if let Some(o) = n2(t, &iam) {
        return o;
    }
    let ok = iam.iam_ok();
    t.step(Node::N6, ok, || {
        Iam::new(q.caller, q.caller_policies, q.action, q.resource, q.context).allow_evidence()
    });
    if ok {
        Outcome::ALLOW
    } else {
        Outcome::implicit(iam.blame())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_for_every_reason() {
        let arn = "arn:aws:iam::111122223333:user/Alice";
        let key = "arn:aws:kms:us-west-2:111122223333:key/k";
        let msg = |o: Outcome| o.message(arn, "kms:Decrypt", key).unwrap_or_default();
        let head =
            format!("User: {arn} is not authorized to perform: kms:Decrypt on resource: {key}");
        assert_eq!(Outcome::ALLOW.message(arn, "kms:Decrypt", key), None);
        for (reason, ty) in [
            (DenyReason::IdentityBased, "an identity-based policy"),
            (DenyReason::ResourceBased, "a resource-based policy"),
            (DenyReason::PermissionsBoundary, "a permissions boundary"),
            (DenyReason::SessionPolicy, "a session policy"),
            (DenyReason::ServiceControlPolicy, "a service control policy"),
        ] {
            assert_eq!(
                msg(Outcome::explicit(reason)),
                format!("{head} with an explicit deny in {ty}")
            );
        }
        assert_eq!(
            msg(Outcome::implicit(DenyReason::PermissionsBoundary)),
            format!("{head} because no permissions boundary allows the kms:Decrypt action")
        );
        // An SCP denial is always worded as explicit.
        assert_eq!(
            msg(Outcome::implicit(DenyReason::ServiceControlPolicy)),
            format!("{head} with an explicit deny in a service control policy")
        );
        assert!(msg(Outcome::implicit(DenyReason::ResourceNotVisible))
            .contains("on this resource because the resource does not exist in this Region"));
        assert!(!msg(Outcome::implicit(DenyReason::ResourceNotVisible)).contains(key));
    }

    #[test]
    fn node_ids_and_questions() {
        let all = [
            Node::N0,
            Node::N1,
            Node::N2,
            Node::N3,
            Node::N4,
            Node::N5,
            Node::N6,
            Node::T1,
            Node::T2,
        ];
        let ids: Vec<String> = all.iter().map(|n| n.to_string()).collect();
        assert_eq!(ids.join(" "), "N0 N1 N2 N3 N4 N5 N6 T1 T2");
        assert_eq!(
            Node::N5.kms_question(),
            "Does the key policy ALLOW the caller's account to use IAM policies to control access to the key?"
        );
        assert_eq!(
            Node::N6.kms_question(),
            "Does an IAM policy allow the caller to perform this action?"
        );
        assert!(Node::N1.assume_role_question().contains("trust policy"));
    }

    #[test]
    fn cross_account_whitelist_and_grant_operations() {
        assert!(cross_account_capable("kms:Decrypt"));
        assert!(cross_account_capable("KMS:generatedatakey"));
        assert!(!cross_account_capable("kms:ScheduleKeyDeletion"));
        assert!(!cross_account_capable("kms:PutKeyPolicy"));
        assert!(!cross_account_capable("s3:GetObject"));
        let g = Grant {
            grant_id: "g".into(),
            name: None,
            grantee_principal: "arn:aws:iam::111122223333:user/Alice".into(),
            operations: vec!["ReEncrypt*".into(), "Decrypt".into()],
            constraints: None,
        };
        assert!(grant_has_operation(&g, "kms:ReEncryptFrom"));
        assert!(grant_has_operation(&g, "kms:ReEncryptTo"));
        assert!(grant_has_operation(&g, "kms:Decrypt"));
        assert!(!grant_has_operation(&g, "kms:Encrypt"));
        let s1 = Caller::AssumedRole {
            account: "111122223333".into(),
            role_arn: "arn:aws:iam::111122223333:role/path/R".into(),
            role_name: "R".into(),
            role_unique_id: "AROAEXAMPLE".into(),
            session_name: "s1".into(),
        };
        assert_eq!(
            grantee_kinds("arn:aws:iam::111122223333:role/path/R", &s1),
            M_ROLE
        );
        assert_eq!(
            grantee_kinds("arn:aws:sts::111122223333:assumed-role/R/s1", &s1),
            M_SESSION
        );
        assert_eq!(
            grantee_kinds("arn:aws:sts::111122223333:assumed-role/R/xs1", &s1),
            0
        );
        assert_eq!(
            grantee_kinds("arn:aws:iam::111122223333:root", &s1),
            M_ACCOUNT
        );
        assert_eq!(grantee_kinds("111122223333", &s1), M_ACCOUNT);
        assert_eq!(grantee_kinds("arn:aws:iam::444455556666:root", &s1), 0);
    }

    /// `decide_kms_because` equals `explain_kms` (outcome, and the path's evidence
    /// concatenated) over callers, actions, key policies and grants that take every branch of
    /// the flowchart (the property tests of tests/properties.rs check it over random worlds).
    #[test]
    fn because_only_equals_the_explained_path() {
        use crate::{Policy, PolicyKind, PolicySourceType};
        use std::sync::Arc;
        let a = "111122223333";
        let b = "444455556666";
        let key_arn = "arn:aws:kms:us-west-2:111122223333:key/k";
        let doc = |stmts: &[&str]| {
            format!(
                "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
                stmts.join(",")
            )
        };
        let sourced = |id: &str, text: String, kind, st| -> Option<SourcedPolicy> {
            Policy::parse(&text, kind)
                .ok()
                .map(|p| SourcedPolicy::new(id, st, Arc::new(p)))
        };
        let root_deleg = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;
        let alice = r#"{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#;
        let alice_too = r#"{"Sid":"AliceToo","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/Alice","arn:aws:iam::111122223333:root"]},"Action":"kms:*","Resource":"*"}"#;
        let other_acct = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}"#;
        let deny_bob = r#"{"Sid":"NoBob","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"kms:*","Resource":"*"}"#;
        let key_policies: Vec<Vec<&str>> = vec![
            vec![root_deleg],
            vec![alice],
            vec![root_deleg, alice, other_acct, alice_too],
            vec![deny_bob, root_deleg],
            vec![
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::777788889999:root"},"Action":"kms:Encrypt","Resource":"*"}"#,
            ],
        ];
        let user = |acct: &str, name: &str| Caller::User {
            account: acct.into(),
            arn: format!("arn:aws:iam::{acct}:user/{name}"),
            name: name.into(),
            unique_id: format!("AIDA{acct}{name}"),
        };
        let callers = [
            Caller::Root { account: a.into() },
            user(a, "Alice"),
            user(a, "Bob"),
            user(b, "Carol"),
            Caller::AssumedRole {
                account: b.into(),
                role_arn: format!("arn:aws:iam::{b}:role/R"),
                role_name: "R".into(),
                role_unique_id: "AROAR".into(),
                session_name: "s".into(),
            },
        ];
        let id_allow = r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#;
        let id_deny = r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#;
        let sets = [
            PolicySet::default(),
            PolicySet {
                identity: sourced(
                    "id",
                    doc(&[id_allow]),
                    PolicyKind::Identity,
                    PolicySourceType::User,
                )
                .into_iter()
                .collect(),
                ..PolicySet::default()
            },
            PolicySet {
                identity: sourced(
                    "id",
                    doc(&[id_allow, id_deny, id_allow]),
                    PolicyKind::Identity,
                    PolicySourceType::User,
                )
                .into_iter()
                .collect(),
                ..PolicySet::default()
            },
        ];
        let grant = |grantee: &str, ops: &[&str]| Grant {
            grant_id: format!("g-{grantee}"),
            name: Some("n".into()),
            grantee_principal: grantee.into(),
            operations: ops.iter().map(|s| s.to_string()).collect(),
            constraints: None,
        };
        let grant_sets = [
            vec![],
            vec![
                grant("arn:aws:iam::444455556666:user/Carol", &["Decrypt"]),
                grant("arn:aws:iam::111122223333:user/Bob", &["Encrypt"]),
                grant("arn:aws:iam::444455556666:role/R", &["Decrypt", "Encrypt"]),
            ],
        ];
        let ctx = RequestContext::new();
        let mut cases = 0;
        let mut allowed = 0;
        for kp_stmts in &key_policies {
            let Some(kp) = sourced(
                "key-policy",
                doc(kp_stmts),
                PolicyKind::Key,
                PolicySourceType::Resource,
            ) else {
                panic!("key policy parses: {kp_stmts:?}");
            };
            for caller in &callers {
                for set in &sets {
                    for grants in &grant_sets {
                        for action in ["kms:Encrypt", "kms:Decrypt", "kms:PutKeyPolicy"] {
                            let req = KmsRequest {
                                caller,
                                caller_policies: set,
                                action,
                                key_arn,
                                key_policy: &kp,
                                grants,
                                context: &ctx,
                                encryption_context: None,
                            };
                            let x = explain_kms(&req);
                            let d = decide_kms_because(&req);
                            let flat: Vec<Because> =
                                x.path.iter().flat_map(|s| s.because.clone()).collect();
                            assert_eq!(d.outcome, x.outcome, "{caller:?} {action}");
                            assert_eq!(d.because, flat, "{caller:?} {action}");
                            cases += 1;
                            allowed += usize::from(d.outcome.is_allowed());
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 5 * 5 * 3 * 2 * 3);
        assert!(allowed > 0 && allowed < cases, "{allowed}/{cases}");
    }

    proptest::proptest! {
        #[test]
        fn account_of_is_the_fifth_arn_part(arn in "[a-z0-9:/*-]{0,40}") {
            proptest::prop_assert_eq!(
                account_of(&arn),
                split_arn(&arn).map(|p| p[4]).unwrap_or("")
            );
        }
    }

    #[test]
    fn account_of_examples() {
        assert_eq!(
            account_of("arn:aws:kms:us-west-2:111122223333:key/k"),
            "111122223333"
        );
        assert_eq!(account_of("arn:aws:iam::111122223333:root"), "111122223333");
        assert_eq!(account_of("arn:aws:iam::111122223333"), "");
        assert_eq!(account_of("arn:aws:s3:::b:c:d"), "");
        assert_eq!(account_of(""), "");
    }

    #[test]
    fn grant_constraints() {
        let ec = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let g = Grant {
            grant_id: "g".into(),
            name: None,
            grantee_principal: "x".into(),
            operations: vec!["Decrypt".into(), "DescribeKey".into()],
            constraints: Some(crate::GrantConstraints {
                encryption_context_equals: Some(ec(&[("a", "1")])),
                encryption_context_subset: None,
            }),
        };
        assert!(grant_constraints_ok(
            &g,
            "kms:Decrypt",
            Some(&ec(&[("a", "1")]))
        ));
        assert!(!grant_constraints_ok(
            &g,
            "kms:Decrypt",
            Some(&ec(&[("a", "1"), ("b", "2")]))
        ));
        // Keys without regard to case, values exactly (API reference, GrantConstraints).
        assert!(grant_constraints_ok(
            &g,
            "kms:Decrypt",
            Some(&ec(&[("A", "1")]))
        ));
        let upper_value = Grant {
            constraints: Some(crate::GrantConstraints {
                encryption_context_equals: Some(ec(&[("a", "x")])),
                encryption_context_subset: None,
            }),
            ..g.clone()
        };
        assert!(!grant_constraints_ok(
            &upper_value,
            "kms:Decrypt",
            Some(&ec(&[("a", "X")]))
        ));
        assert!(!grant_constraints_ok(&g, "kms:Decrypt", None));
        // Ignored for DescribeKey and RetireGrant.
        assert!(grant_constraints_ok(&g, "kms:DescribeKey", None));
        assert!(grant_constraints_ok(&g, "kms:RetireGrant", None));
    }
}
