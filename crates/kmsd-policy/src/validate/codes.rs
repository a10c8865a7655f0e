//! Issue codes. Those Access Analyzer defines carry its name (IAM User Guide, "IAM policy
//! validation check reference"); the few checks Access Analyzer's ValidatePolicy does not make
//! (kmsd's own: lockout, public access, cross-account `kms:*`, a Deny that never applies, an
//! old Version) have codes of their own, listed in [`KMSD_CODES`].

// Errors.
pub const JSON_SYNTAX_ERROR: &str = "JSON_SYNTAX_ERROR";
pub const DATA_TYPE_MISMATCH: &str = "DATA_TYPE_MISMATCH";
pub const INVALID_POLICY_ELEMENT: &str = "INVALID_POLICY_ELEMENT";
pub const INVALID_VERSION: &str = "INVALID_VERSION";
pub const MISSING_STATEMENT: &str = "MISSING_STATEMENT";
pub const MISSING_EFFECT: &str = "MISSING_EFFECT";
pub const INVALID_EFFECT: &str = "INVALID_EFFECT";
pub const MISSING_ACTION: &str = "MISSING_ACTION";
pub const MISSING_RESOURCE: &str = "MISSING_RESOURCE";
pub const MISSING_PRINCIPAL: &str = "MISSING_PRINCIPAL";
pub const UNSUPPORTED_PRINCIPAL: &str = "UNSUPPORTED_PRINCIPAL";
pub const UNSUPPORTED_ELEMENT_COMBINATION: &str = "UNSUPPORTED_ELEMENT_COMBINATION";
pub const INVALID_PRINCIPAL_FORMAT: &str = "INVALID_PRINCIPAL_FORMAT";
pub const INVALID_PRINCIPAL_KEY: &str = "INVALID_PRINCIPAL_KEY";
pub const INVALID_ACTION: &str = "INVALID_ACTION";
pub const UNSUPPORTED_ACTION_IN_POLICY: &str = "UNSUPPORTED_ACTION_IN_POLICY";
pub const INVALID_ARN_PREFIX: &str = "INVALID_ARN_PREFIX";
pub const INVALID_OPERATOR: &str = "INVALID_OPERATOR";
pub const NULL_WITH_IF_EXISTS: &str = "NULL_WITH_IF_EXISTS";
pub const INVALID_CONDITION_KEY_FORMAT: &str = "INVALID_CONDITION_KEY_FORMAT";
pub const INVALID_SERVICE_CONDITION_KEY: &str = "INVALID_SERVICE_CONDITION_KEY";
pub const INVALID_GLOBAL_CONDITION_KEY: &str = "INVALID_GLOBAL_CONDITION_KEY";
pub const UNIQUE_SIDS_REQUIRED: &str = "UNIQUE_SIDS_REQUIRED";
pub const UNSUPPORTED_SID: &str = "UNSUPPORTED_SID";
pub const ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL: &str =
    "ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL";
pub const ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE: &str = "ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE";

// Security warnings.
pub const ALLOW_WITH_NOT_PRINCIPAL: &str = "ALLOW_WITH_NOT_PRINCIPAL";
pub const FORALLVALUES_WITH_SINGLE_VALUED_KEY: &str = "FORALLVALUES_WITH_SINGLE_VALUED_KEY";

// General warnings.
pub const MISSING_VERSION: &str = "MISSING_VERSION";
pub const UNIQUE_SIDS_RECOMMENDED: &str = "UNIQUE_SIDS_RECOMMENDED";
pub const TYPE_MISMATCH: &str = "TYPE_MISMATCH";
pub const TYPE_MISMATCH_NUMBER: &str = "TYPE_MISMATCH_NUMBER";
pub const TYPE_MISMATCH_DATE: &str = "TYPE_MISMATCH_DATE";
pub const TYPE_MISMATCH_BOOLEAN: &str = "TYPE_MISMATCH_BOOLEAN";
pub const TYPE_MISMATCH_IP_RANGE: &str = "TYPE_MISMATCH_IP_RANGE";
pub const UNSUPPORTED_ACTION_FOR_CONDITION_KEY: &str = "UNSUPPORTED_ACTION_FOR_CONDITION_KEY";
pub const POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA: &str =
    "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA";
pub const POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA: &str =
    "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA";

// Suggestions.
pub const EMPTY_ARRAY_ACTION: &str = "EMPTY_ARRAY_ACTION";
pub const EMPTY_ARRAY_RESOURCE: &str = "EMPTY_ARRAY_RESOURCE";
pub const EMPTY_ARRAY_PRINCIPAL: &str = "EMPTY_ARRAY_PRINCIPAL";
pub const EMPTY_ARRAY_CONDITION: &str = "EMPTY_ARRAY_CONDITION";
pub const EMPTY_OBJECT_PRINCIPAL: &str = "EMPTY_OBJECT_PRINCIPAL";
pub const EMPTY_OBJECT_CONDITION: &str = "EMPTY_OBJECT_CONDITION";
pub const EMPTY_SID_VALUE: &str = "EMPTY_SID_VALUE";
pub const REDUNDANT_ACTION: &str = "REDUNDANT_ACTION";
pub const REDUNDANT_RESOURCE: &str = "REDUNDANT_RESOURCE";
pub const REDUNDANT_STATEMENT: &str = "REDUNDANT_STATEMENT";

// kmsd's own (no Access Analyzer ValidatePolicy equivalent).
/// KMS refuses the document (a rule kmsd enforces that no finding above names).
pub const KMS_MALFORMED_POLICY_DOCUMENT: &str = "KMS_MALFORMED_POLICY_DOCUMENT";
/// The key policy lets no principal call `kms:PutKeyPolicy` (KMS's lockout safety check).
pub const KMS_KEY_POLICY_LOCKOUT: &str = "KMS_KEY_POLICY_LOCKOUT";
/// An Allow to every principal (`*`) with no condition that limits the caller.
pub const PUBLIC_ACCESS_WITHOUT_CONDITION: &str = "PUBLIC_ACCESS_WITHOUT_CONDITION";
/// `kms:*` (or `*`) allowed to a principal of another account.
pub const KMS_FULL_ACCESS_TO_OTHER_ACCOUNT: &str = "KMS_FULL_ACCESS_TO_OTHER_ACCOUNT";
/// A Deny statement that no KMS request can match.
pub const DENY_NEVER_APPLIES: &str = "DENY_NEVER_APPLIES";
/// Version `2008-10-17`: policy variables are not substituted.
pub const OUTDATED_VERSION: &str = "OUTDATED_VERSION";

/// The codes that are kmsd's own.
pub const KMSD_CODES: &[&str] = &[
    KMS_MALFORMED_POLICY_DOCUMENT,
    KMS_KEY_POLICY_LOCKOUT,
    PUBLIC_ACCESS_WITHOUT_CONDITION,
    KMS_FULL_ACCESS_TO_OTHER_ACCOUNT,
    DENY_NEVER_APPLIES,
    OUTDATED_VERSION,
];

/// The `learnMoreLink` of an issue code: Access Analyzer's reference page for its codes,
/// kmsd's documentation for its own.
pub fn learn_more_link(code: &str) -> String {
    if KMSD_CODES.contains(&code) {
        return format!(
            "docs/validate-policy.md#{}",
            code.to_ascii_lowercase().replace('_', "-")
        );
    }
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
        .to_string()
}
