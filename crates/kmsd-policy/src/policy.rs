//! Policy documents: parse, validate and compile (§1), keeping statement positions for explanations.
//!
//! [`Policy::parse`] reads the JSON (with byte spans), checks the grammar of the given
//! [`PolicyKind`] (G1–G8, K1–K4, K7, IAM Sid rules), and compiles every statement once: action
//! globs (case-insensitive), resource ARN part globs (case-sensitive), classified principal
//! entries and pre-parsed condition values. Evaluation (see `evaluate.rs`) works on that form only.
//! The compiler itself is in `policy::compile`; this module holds the policy types.

use std::sync::Arc;

use crate::arn::ArnPattern;
use crate::condition::Condition;
use crate::json;
use crate::pattern::Glob;
use crate::principal::PrincipalClause;

mod compile;
use compile::{check_charset, Compiler};

/// The members a policy statement may have (IAM JSON policy element reference).
pub const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Whether `name` is one of [`STATEMENT_ELEMENTS`] (case-sensitive, as IAM reads them).
pub fn is_statement_element(name: &str) -> bool {
    STATEMENT_ELEMENTS.contains(&name)
}

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

impl PolicyKind {
    /// Resource policies (key and trust policies) name principals.
    pub fn is_resource_policy(self) -> bool {
        matches!(self, PolicyKind::Key | PolicyKind::Trust)
    }
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

impl PolicySourceType {
    /// The `SourcePolicyType` string of IAM's simulator. AWS's enum has only `user`, `group`,
    /// `role`, `aws-managed`, `user-managed`, `resource` and `none`; boundaries, session
    /// policies and SCPs are reported as `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySourceType::User => "user",
            PolicySourceType::Group => "group",
            PolicySourceType::Role => "role",
            PolicySourceType::AwsManaged => "aws-managed",
            PolicySourceType::UserManaged => "user-managed",
            PolicySourceType::Resource => "resource",
            PolicySourceType::PermissionsBoundary
            | PolicySourceType::Session
            | PolicySourceType::ServiceControl
            | PolicySourceType::None => "none",
        }
    }
}

/// A policy that failed validation. Display reads like
/// `statement "Sid1": Action: ...` or `statement #0: Effect: ...`, except for KMS's
/// `OverlyPermissiveCondition` rejection (K7), whose text is AWS's and begins with that code.
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
        // KMS returns this rejection with its own text, which begins with the code (K7).
        if self.is_overly_permissive_condition() {
            return self.message.clone();
        }
        let mut out = String::new();
        if let Some(s) = &self.statement {
            if s.starts_with('#') {
                out.push_str(&format!("statement {s}: "));
            } else {
                out.push_str(&format!("statement \"{s}\": "));
            }
        }
        if let Some(e) = &self.element {
            out.push_str(&format!("{e}: "));
        }
        out.push_str(&self.message);
        out
    }

    fn doc(element: Option<&str>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            statement: None,
            element: element.map(str::to_string),
            message: message.into(),
        }
    }

    /// True for the KMS `OverlyPermissiveCondition` rejection (K7).
    pub fn is_overly_permissive_condition(&self) -> bool {
        self.message.starts_with("OverlyPermissiveCondition")
    }
}

/// Largest key policy KMS accepts, in bytes (K1).
pub const KEY_POLICY_MAX_BYTES: usize = 32 * 1024;

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionClause {
    pub not: bool,
    pub globs: Box<[Glob]>,
}

/// `Resource`/`NotResource`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResourceClause {
    pub not: bool,
    pub patterns: Box<[ArnPattern]>,
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalClause>,
    /// No Action element (key policies only): no globs, so it matches no action.
    pub actions: ActionClause,
    /// `None`: no Resource element (key policy: never applies; trust policy: the role).
    pub resources: Option<ResourceClause>,
    pub conditions: Box<[Condition]>,
    /// 1-based (line, column) of the opening `{` and just after the closing `}`.
    pub start: (usize, usize),
    pub end: (usize, usize),
}

/// A parsed, validated and compiled policy document.
#[derive(Debug)]
pub struct Policy {
    text: String,
    kind: PolicyKind,
    version: Option<String>,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    aws_principals: Vec<String>,
    condition_keys: Vec<String>,
}

impl Policy {
    /// Parse and compile a policy document of the given kind.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        if kind == PolicyKind::Key && text.len() > KEY_POLICY_MAX_BYTES {
            return Err(PolicyError::doc(
                None,
                format!(
                    "the policy is {} bytes; a key policy may not exceed {KEY_POLICY_MAX_BYTES} bytes",
                    text.len()
                ),
            ));
        }
        check_charset(text, kind)?;
        let root = json::parse(text).map_err(|e| PolicyError::doc(None, e))?;
        Compiler { text, kind }.document(&root)
    }

    /// Parse from an already-decoded JSON value: a JSON object, or a JSON string holding the
    /// document text. Positions refer to the string, or to the object's pretty-printed form.
    pub fn parse_value(value: &serde_json::Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        match value {
            serde_json::Value::String(s) => Self::parse(s, kind),
            serde_json::Value::Object(_) => {
                let text = serde_json::to_string_pretty(value)
                    .map_err(|e| PolicyError::doc(None, e.to_string()))?;
                Self::parse(&text, kind)
            }
            other => Err(PolicyError::doc(
                None,
                format!(
                    "a policy document must be a JSON object, not {}",
                    json_type(other)
                ),
            )),
        }
    }

    /// The document text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The kind this policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if present.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `Id` element, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Every `AWS` principal entry in Principal/NotPrincipal (account ids, root/user/role/session ARNs, `*`),
    /// so the caller can check that they exist (rule K5).
    pub fn aws_principals(&self) -> Vec<String> {
        self.aws_principals.clone()
    }

    /// Condition keys referenced anywhere in the policy (lower-cased), for MissingContextValues.
    /// Includes keys read by policy variables in Resource and condition values.
    pub fn condition_keys(&self) -> Vec<String> {
        self.condition_keys.clone()
    }

    /// Whether deciding with this policy can read the request context at all (a condition,
    /// or a policy variable in a resource or condition value). When no policy in play reads
    /// it, the context need not be built.
    pub fn reads_context(&self) -> bool {
        !self.condition_keys.is_empty()
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The Sid of statement `index`, if it has one.
    pub fn statement_sid(&self, index: usize) -> Option<&str> {
        self.statements.get(index)?.sid.as_deref()
    }

    /// The effect of statement `index`.
    pub fn statement_effect(&self, index: usize) -> Option<Effect> {
        self.statements.get(index).map(|s| s.effect)
    }

    /// 1-based `((line, column), (line, column))` of the statement's opening `{` and of the
    /// character just after its closing `}` — IAM's `StartPosition`/`EndPosition`.
    pub fn statement_position(&self, index: usize) -> Option<((usize, usize), (usize, usize))> {
        self.statements.get(index).map(|s| (s.start, s.end))
    }

    /// Statement label used in errors and traces: the Sid, or `#index`.
    pub fn statement_label(&self, index: usize) -> String {
        match self.statement_sid(index) {
            Some(s) => s.to_string(),
            None => format!("#{index}"),
        }
    }

    /// Whether policy variables are substituted (Version `2012-10-17`; G2).
    pub fn substitutes_variables(&self) -> bool {
        self.version.as_deref() == Some("2012-10-17")
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
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

impl SourcedPolicy {
    /// Convenience constructor.
    pub fn new(id: impl Into<String>, source_type: PolicySourceType, policy: Arc<Policy>) -> Self {
        SourcedPolicy {
            id: id.into(),
            source_type,
            policy,
        }
    }
}
