//! Policy documents: parse, validate and compile (§1), keeping statement positions for explanations.
//!
//! CONTRACT STUB: the public items below are what other crates rely on. The
//! implementation replaces the bodies; signatures may grow but not break.

use std::sync::Arc;

/// Which kind of policy a document is; the grammar differs (Principal rules, Sid charset, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// IAM identity policy (user, group, role; inline or managed).
    Identity,
    /// KMS key policy (a resource policy; Principal required).
    Key,
    /// Role trust policy (AssumeRolePolicyDocument).
    Trust,
    /// Permissions boundary (identity grammar).
    Boundary,
    /// Session policy passed to AssumeRole (identity grammar).
    Session,
    /// Service control policy (identity grammar, no Principal).
    Scp,
}

/// Where a policy came from, as IAM's simulator names it (`SourcePolicyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySourceType {
    User,
    Group,
    Role,
    AwsManaged,
    UserManaged,
    Resource,
    PermissionsBoundary,
    Session,
    ServiceControl,
    None,
}

/// A policy that failed validation. Display reads like
/// `statement "Sid1" (#0): Action: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct PolicyError {
    /// The statement's Sid, or `#index` when it has none; `None` for document-level problems.
    pub statement: Option<String>,
    /// The element at fault (`Action`, `Condition`, ...), when known.
    pub element: Option<String>,
    pub message: String,
}

impl PolicyError {
    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(s) = &self.statement {
            out.push_str(&format!("statement {s}: "));
        }
        if let Some(e) = &self.element {
            out.push_str(&format!("{e}: "));
        }
        out.push_str(&self.message);
        out
    }
}

/// A parsed, validated and compiled policy document.
#[derive(Debug)]
pub struct Policy {
    text: String,
    kind: PolicyKind,
}

impl Policy {
    /// Parse and compile a policy document of the given kind.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Ok(Policy {
            text: text.to_string(),
            kind,
        })
    }

    /// Parse from an already-decoded JSON value.
    pub fn parse_value(value: &serde_json::Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Self::parse(&value.to_string(), kind)
    }

    /// The document text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The kind this policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// Every `AWS` principal entry in Principal/NotPrincipal (account ids, root/user/role/session ARNs, `*`),
    /// so the caller can check that they exist (rule K5).
    pub fn aws_principals(&self) -> Vec<String> {
        Vec::new()
    }

    /// Condition keys referenced anywhere in the policy (lower-cased), for MissingContextValues.
    pub fn condition_keys(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A policy with the name it is reported under (policy name, policy ARN, or `key-policy` for the key).
#[derive(Debug, Clone)]
pub struct SourcedPolicy {
    /// Policy name or ARN as shown in traces and `SourcePolicyId`.
    pub id: String,
    pub source_type: PolicySourceType,
    pub policy: Arc<Policy>,
}
