//! kmsd's own read-only operations (`KmsdService.*` on the KMS listener) and IAM Access
//! Analyzer's policy checks: the decoding of their JSON input, who may ask (every decision
//! through [`crate::admin_authz`]), the calls into KMS and IAM, and the audit facts of each
//! call. The wire layer routes a request here by [`KmsdOp`] or [`analyzer::AnalyzerOp`] and
//! encodes the [`Outcome`] it gets back; it decides nothing.
//!
//! - [`explain`]: online explain (`KmsdService.Explain`) and the recent denials the explain
//!   page opens (`KmsdService.RecentDenials`).
//! - [`access`]: the access review of one key (`KmsdService.AccessReview`, `kmsd access`).
//! - [`diff`]: the input of `KmsdService.AccessDiff` (the diff itself is
//!   [`crate::access_diff`]).
//! - [`analyzer`]: Access Analyzer's ValidatePolicy and custom policy checks.
//! - `input`: reading the members of a kmsd operation's input.
//! - [`json`]: the JSON form of explanations, reviews and diffs — the contract's shapes,
//!   shared by the server and the `kmsd` CLI offline.

use kmsd_policy::Decision;
use serde_json::{json, Value};

use crate::audit::{AuditFacts, Outcome};
use crate::error::{ApiError, ErrorCode, KmsError};
use crate::principal::{Principal, RequestMeta};
use crate::service::Service;

pub mod access;
pub mod analyzer;
pub mod diff;
pub mod explain;
mod input;
pub mod json;

/// `X-Amz-Target` prefix of kmsd's own JSON operations.
pub const KMSD_TARGET_PREFIX: &str = "KmsdService.";

/// One of kmsd's own operations (`KmsdService.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KmsdOp {
    /// Why a principal may or may not perform an action on a key.
    Explain,
    /// The caller's account's recent denied KMS requests.
    RecentDenials,
    /// Who may do what with one key.
    AccessReview,
    /// What a proposed key policy or grant changes on one key.
    AccessDiff,
}

impl KmsdOp {
    /// Every operation.
    pub const ALL: [KmsdOp; 4] = [
        KmsdOp::Explain,
        KmsdOp::RecentDenials,
        KmsdOp::AccessReview,
        KmsdOp::AccessDiff,
    ];

    /// The operation's name after [`KMSD_TARGET_PREFIX`].
    pub fn name(self) -> &'static str {
        match self {
            KmsdOp::Explain => "Explain",
            KmsdOp::RecentDenials => "RecentDenials",
            KmsdOp::AccessReview => "AccessReview",
            KmsdOp::AccessDiff => "AccessDiff",
        }
    }

    /// The operation named `name` (case-sensitive, without the prefix).
    pub fn from_name(name: &str) -> Option<KmsdOp> {
        KmsdOp::ALL.into_iter().find(|op| op.name() == name)
    }

    /// CloudTrail `readOnly`: none of kmsd's own operations changes anything.
    pub fn read_only(self) -> bool {
        true
    }
}

impl Service {
    /// Run one of kmsd's own operations for `caller` on its decoded JSON body.
    ///
    /// The audit facts: the whole input as request parameters (it holds ARNs, actions and
    /// policy text, never a secret), `ImplicitDeny` when the caller was refused
    /// (`AccessDeniedException`), and for explain the decision explained as the response
    /// element.
    pub fn kmsd_call(
        &self,
        op: KmsdOp,
        caller: &Principal,
        meta: &RequestMeta,
        input: &Value,
    ) -> Outcome<Value> {
        let mut response_elements = None;
        let result = match op {
            KmsdOp::Explain => explain::explain(self, caller, meta, input).map(|e| {
                let decision = crate::audit::decision_name(e.outcome.decision);
                response_elements = Some(json!({ "decision": decision }));
                json::explanation_json(&e)
            }),
            KmsdOp::RecentDenials => explain::recent_denials(self, caller, meta)
                .map(|events| json::recent_denials_json(&events)),
            KmsdOp::AccessReview => access::review_for(self, caller, meta, input)
                .map(|review| json::access_review_json(&review)),
            KmsdOp::AccessDiff => diff::access_diff_for(self, caller, meta, input),
        };
        let refused = matches!(
            &result,
            Err(ApiError {
                code: ErrorCode::KmsError(KmsError::AccessDeniedException),
                ..
            })
        );
        let facts = AuditFacts {
            decision: refused.then_some(Decision::ImplicitDeny),
            request_parameters: input.clone(),
            response_elements: if result.is_ok() {
                response_elements
            } else {
                None
            },
            ..AuditFacts::default()
        };
        Outcome::new(result, facts)
    }
}

#[cfg(test)]
mod tests;
