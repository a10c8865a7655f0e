//! A key policy: its size and character rules and its compilation.

use std::sync::Arc;

use kmsd_policy::{Policy, PolicyError, PolicyKind, PolicySourceType, SourcedPolicy};

use crate::error::{ApiError, KmsError};

/// Key policy size quota (K1).
pub(crate) const MAX_POLICY_BYTES: usize = 32_768;

/// The id a key policy is reported under in traces.
pub(crate) const KEY_POLICY_ID: &str = "key-policy";

/// Compile a key policy text (no further checks: used for stored policies).
pub(crate) fn compile_key_policy(text: &str) -> Result<SourcedPolicy, PolicyError> {
    let p = Policy::parse(text, PolicyKind::Key)?;
    Ok(SourcedPolicy {
        id: KEY_POLICY_ID.to_string(),
        source_type: PolicySourceType::Resource,
        policy: Arc::new(p),
    })
}

pub(crate) fn policy_chars_ok(p: &str) -> bool {
    p.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c))
}

/// K1, K3, K4, K7 (grammar via the policy crate): the compiled policy or AWS's error.
pub(crate) fn validate_policy(text: &str) -> Result<SourcedPolicy, ApiError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(ApiError::new(
            KmsError::LimitExceededException,
            format!("The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."),
        ));
    }
    if !policy_chars_ok(text) {
        return Err(ApiError::new(
            KmsError::MalformedPolicyDocumentException,
            "The key policy contains characters outside the allowed set (TAB, LF, CR, U+0020-U+00FF).",
        ));
    }
    compile_key_policy(text)
        .map_err(|e| ApiError::new(KmsError::MalformedPolicyDocumentException, e.to_string()))
}
