//! The access review of one key (`KmsdService.AccessReview`, `kmsd access`): every
//! principal the server knows — account roots, users, roles (as sessions) and grantees — with
//! each KMS action it may perform on the key and why, decided by [`crate::kms::Kms::explain`].
//! Asking needs `kms:GetKeyPolicy` on the key ([`Service::authorize_access_review`]).

use kmsd_policy::{Decision, Explanation, Node, PathStep, RequestContext};
use serde_json::Value;

use super::input::required_text;
use crate::error::{ApiError, KmsError};
use crate::kms::key::{KeySpec, KeyUsage};
use crate::kms::KeyAuthzView;
use crate::principal::{Principal, RequestMeta};
use crate::service::Service;

/// Who may do what with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReview {
    /// The key's ARN.
    pub key_arn: String,
    /// The key's account.
    pub account: String,
    /// Each principal allowed at least one action, in ARN order.
    pub principals: Vec<PrincipalAccess>,
}

/// What one principal may do with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalAccess {
    pub principal: String,
    /// The principal's account.
    pub account: String,
    /// Whether that is another account than the key's.
    pub cross_account: bool,
    /// The allowed actions, in the order of [`reviewed_actions`].
    pub actions: Vec<AllowedAction>,
}

/// One allowed action and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedAction {
    pub action: &'static str,
    /// The flowchart steps that answered YES on the way to Allow (not the final `T1`).
    pub why: Vec<PathStep>,
}

/// `KmsdService.AccessReview`: decode `KeyId`, authorize the caller for that key, review it.
pub fn review_for(
    service: &Service,
    caller: &Principal,
    meta: &RequestMeta,
    input: &Value,
) -> Result<AccessReview, ApiError> {
    let key = required_text(input, "KeyId")?;
    service.authorize_access_review(caller, meta, &key)?;
    access_review(service, &key)
}

/// The key-management actions access review checks on every key (their permission comes
/// from the key's policies whatever the key's type). `kms:RetireGrant` is not one of them:
/// it is decided per grant (its retiring principal or grantee, or an IAM policy of the key's
/// account or of the account the grant names; a key policy statement is not effective), so
/// a per-key answer would be wrong.
pub const MANAGEMENT_ACTIONS: &[&str] = &[
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
    "kms:GetKeyRotationStatus",
];

/// The actions access review checks on a symmetric encryption key: its cryptographic
/// operations, then [`MANAGEMENT_ACTIONS`], then rotation (supported only on these keys).
pub const REVIEWED_ACTIONS: &[&str] = &[
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:ListKeyRotations",
];

/// The actions access review checks on a key of this spec and usage: the cryptographic
/// operations the key supports (AWS KMS Developer Guide, "Key spec reference" and each
/// operation's supported key types), then [`MANAGEMENT_ACTIONS`]; rotation only for
/// symmetric encryption keys ([`REVIEWED_ACTIONS`]).
pub fn reviewed_actions(spec: KeySpec, usage: KeyUsage) -> Vec<&'static str> {
    let crypto: &[&str] = match (spec.asymmetric().is_some(), usage) {
        (false, KeyUsage::EncryptDecrypt) => return REVIEWED_ACTIONS.to_vec(),
        (false, KeyUsage::GenerateVerifyMac) => &["kms:GenerateMac", "kms:VerifyMac"],
        (true, KeyUsage::EncryptDecrypt) => &[
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GetPublicKey",
        ],
        (true, KeyUsage::SignVerify) => &["kms:Sign", "kms:Verify", "kms:GetPublicKey"],
        (true, KeyUsage::KeyAgreement) => &["kms:DeriveSharedSecret", "kms:GetPublicKey"],
        (true, KeyUsage::EncapsulateDecapsulate) => {
            &["kms:Encapsulate", "kms:Decapsulate", "kms:GetPublicKey"]
        }
        // No key of another combination exists (CreateKey refuses it).
        _ => &[],
    };
    crypto.iter().chain(MANAGEMENT_ACTIONS).copied().collect()
}

/// Access review of one key; access from another account than the key's is flagged. `key`
/// is a key ARN or alias ARN. Not authorized here: the caller is the server's own operator
/// (offline) or was authorized by [`review_for`].
pub fn access_review(service: &Service, key: &str) -> Result<AccessReview, ApiError> {
    let view = resolve_key_view(service, key).ok_or_else(|| {
        ApiError::new(
            KmsError::NotFoundException,
            format!("Key '{key}' does not exist"),
        )
    })?;
    let mut principals = service.iam.list_principal_arns();
    for grant in &view.grants {
        principals.push(grant.grantee_principal.clone());
    }
    principals.sort();
    principals.dedup();
    let no_context = RequestContext::new();
    let mut entries = Vec::new();
    for arn in principals {
        let Ok(principal) = service.iam.principal_for_arn(&arn, None) else {
            continue;
        };
        let mut allowed = Vec::new();
        for action in reviewed_actions(view.key_spec, view.key_usage) {
            let Ok(explanation) = service.kms.explain(
                &principal,
                action,
                &view.key_arn,
                &view.region,
                &no_context,
                None,
            ) else {
                continue;
            };
            if explanation.outcome.decision == Decision::Allow {
                allowed.push(AllowedAction {
                    action,
                    why: why_allowed(explanation),
                });
            }
        }
        if allowed.is_empty() {
            continue;
        }
        let account = principal.caller.account().to_string();
        entries.push(PrincipalAccess {
            principal: arn,
            cross_account: account != view.account,
            account,
            actions: allowed,
        });
    }
    Ok(AccessReview {
        key_arn: view.key_arn,
        account: view.account,
        principals: entries,
    })
}

fn resolve_key_view(service: &Service, key: &str) -> Option<KeyAuthzView> {
    if let Some(view) = service.kms.key_authz_view(key) {
        return Some(view);
    }
    // An alias ARN: find the key that carries that alias in the alias's account and region.
    let mut parts = key.splitn(6, ':');
    let (_, _, _, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if !resource.starts_with("alias/") {
        return None;
    }
    service
        .kms
        .list_key_arns()
        .iter()
        .filter_map(|arn| service.kms.key_authz_view(arn))
        .find(|v| {
            v.account == account && v.region == region && v.aliases.iter().any(|a| a == resource)
        })
}

/// The nodes that answered YES on the way to Allow, with their statements or grants.
fn why_allowed(explanation: Explanation) -> Vec<PathStep> {
    explanation
        .path
        .into_iter()
        .filter(|step| step.answer && !matches!(step.node, Node::T1))
        .collect()
}
