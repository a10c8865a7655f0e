//! The IAM policy language and AWS's authorization decisions for KMS, STS and IAM.
//!
//! This crate is pure: no I/O, no clock, no randomness. Callers build a
//! [`RequestContext`] and hand in the policies that apply; the crate answers
//! with a [`Decision`] and, on request, an [`Explanation`] that walks the
//! flowchart of the AWS KMS guide "Troubleshooting key access".
//!
//! Policies are parsed and compiled once ([`Policy::parse`]); evaluation works
//! on the compiled form only.
//!
//! Modules: [`policy`] (grammar, validation, compilation), [`decision`] (KMS, STS and IAM
//! decisions with traces), [`mod@simulate`] (IAM policy simulator), [`caller`], [`context`],
//! [`grant`], [`mod@validate`] (Access Analyzer-style validation findings); internal: `json` (span-keeping reader), `pattern` (globs, variables), `arn`,
//! `principal`, `condition`, `evaluate`.

pub mod caller;
pub mod context;
pub mod decision;
pub mod grant;
pub mod policy;
pub mod simulate;
pub mod validate;

mod arn;
mod condition;
mod evaluate;
mod json;
mod pattern;
mod principal;

pub use caller::Caller;
pub use context::{ContextValue, RequestContext};
pub use decision::{
    decide_assume_role, decide_identity, decide_kms, explain_assume_role, explain_identity,
    explain_kms, AssumeRoleRequest, Because, Decision, DenyReason, Explanation, IdentityRequest,
    KmsRequest, Node, Outcome, PathStep, PolicySet,
};
pub use grant::{Grant, GrantConstraints};
pub use policy::{
    Effect, Policy, PolicyError, PolicyKind, PolicySourceType, SourcedPolicy, KEY_POLICY_MAX_BYTES,
};
pub use simulate::{simulate, EvalDecision, MatchedStatement, SimulationRequest, SimulationResult};
pub use validate::{
    validate_policy, Finding, FindingType, Location, PathElement, Position, ValidateOptions,
};
