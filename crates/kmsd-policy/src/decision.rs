//! AWS's authorization decisions (§5, §6) with the flowchart trace of §5.3 and the messages of §7.1.
//!
//! CONTRACT STUB: the public items below are what other crates rely on. The
//! implementation replaces the bodies; signatures may grow but not break.

use std::collections::BTreeMap;

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

/// The caller's own policies (all from the caller's account).
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Identity policies: user inline/managed, group inline/managed, role inline/managed.
    pub identity: Vec<SourcedPolicy>,
    pub boundary: Option<SourcedPolicy>,
    /// `None`: no session policy (no limit). `Some(list)`: the session is cut to what the list allows.
    pub session: Option<Vec<SourcedPolicy>>,
    /// SCPs of the caller's account (usually empty).
    pub scps: Vec<SourcedPolicy>,
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
    /// The request's encryption context, for grant constraints.
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
    /// The AccessDenied message of §7.1, or `None` when allowed.
    pub fn message(&self, caller_arn: &str, action: &str, resource: &str) -> Option<String> {
        let reason = self.denied_by?;
        let _ = (caller_arn, action, resource, reason);
        None
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

/// Decide a KMS request (untraced hot path).
pub fn decide_kms(req: &KmsRequest<'_>) -> Outcome {
    explain_kms(req).outcome
}

/// Decide a KMS request and trace the flowchart path.
pub fn explain_kms(req: &KmsRequest<'_>) -> Explanation {
    let _ = req;
    deny_stub()
}

/// Decide `sts:AssumeRole` (trust policy plus the caller's identity policy).
pub fn decide_assume_role(req: &AssumeRoleRequest<'_>) -> Outcome {
    explain_assume_role(req).outcome
}

/// Traced AssumeRole decision.
pub fn explain_assume_role(req: &AssumeRoleRequest<'_>) -> Explanation {
    let _ = req;
    deny_stub()
}

/// Decide an identity-only request (IAM and STS actions in the caller's own account).
pub fn decide_identity(req: &IdentityRequest<'_>) -> Outcome {
    explain_identity(req).outcome
}

/// Traced identity-only decision.
pub fn explain_identity(req: &IdentityRequest<'_>) -> Explanation {
    let _ = req;
    deny_stub()
}

fn deny_stub() -> Explanation {
    Explanation {
        outcome: Outcome {
            decision: Decision::ImplicitDeny,
            denied_by: Some(DenyReason::IdentityBased),
        },
        path: Vec::new(),
        message: None,
    }
}
