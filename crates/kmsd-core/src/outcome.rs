//! What the domain returns for one call of any service: the result and the facts the audit
//! event records about it ([`Outcome`], [`AuditFacts`]).
//!
//! KMS, IAM, STS and kmsd's own operations all answer with an [`Outcome`]; the wire layer
//! fills the transport's part of the audit event (who, where, when, the error's wire code)
//! and hands the facts to `AuditFacts::record_in` (in `audit::outcome`), the one place they
//! enter an event. Facts never hold plaintext, key material or a credential secret.
//!
//! A module of its own, below `audit` and the services: the services produce facts, and
//! `audit` (which reads the services' operation tables) records them.

use kmsd_policy::{Because, Decision, Node};
use serde_json::Value;

use crate::error::ApiError;

/// The answer to one call, with what the audit log records about it.
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    pub result: Result<T, ApiError>,
    pub audit: AuditFacts,
}

impl<T> Outcome<T> {
    /// A result and the facts gathered while reaching it.
    pub fn new(result: Result<T, ApiError>, audit: AuditFacts) -> Outcome<T> {
        Outcome { result, audit }
    }

    /// A call refused before the domain looked at it (no authorization ran): only its
    /// request parameters are known.
    pub fn refused(error: ApiError, request_parameters: Value) -> Outcome<T> {
        Outcome {
            result: Err(error),
            audit: AuditFacts {
                request_parameters,
                ..AuditFacts::default()
            },
        }
    }

    /// The same outcome with its result transformed (the facts unchanged).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            result: self.result.map(f),
            audit: self.audit,
        }
    }
}

/// What a call contributes to its audit event, whatever the service.
#[derive(Debug, Clone, Default)]
pub struct AuditFacts {
    /// The KMS key the request was about, when known (the event's resource; the key's
    /// account becomes the recipient account).
    pub key_arn: Option<String>,
    /// `None` when no authorization ran (e.g. a validation error came first).
    pub decision: Option<Decision>,
    /// Statements/grants behind the decision.
    pub deciding: Vec<Because>,
    /// The flowchart node the decision's path ended at, when known (metrics).
    pub end_node: Option<Node>,
    /// The input without any secret (camelCase for KMS, CloudTrail style).
    pub request_parameters: Value,
    /// Non-secret outputs; `None` for cryptographic operations and failures.
    pub response_elements: Option<Value>,
    /// The CloudTrail event id, when the call fixed it (a successful cryptographic call
    /// records it as the key's last use).
    pub event_id: Option<String>,
}

impl AuditFacts {
    /// Whether the call was denied by authorization.
    pub fn denied(&self) -> bool {
        matches!(
            self.decision,
            Some(Decision::ExplicitDeny | Decision::ImplicitDeny)
        )
    }
}
