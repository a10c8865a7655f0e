//! Explanations on the wire: the JSON form of a traced decision (shared by `kmsd explain`
//! offline and online) and the server side of online explain.

use kmsd_core::error::KmsError;
use kmsd_core::kms::key::{KeySpec, KeyUsage};
use kmsd_policy::{Because, Decision, Explanation};
use serde_json::{json, Value};

/// The explanation as the JSON object of the contract: decision, path, message.
pub fn explanation_json(e: &Explanation) -> Value {
    let path: Vec<Value> = e
        .path
        .iter()
        .map(|step| {
            json!({
                "node": format!("{:?}", step.node),
                "question": step.question,
                "answer": if step.answer { "yes" } else { "no" },
                "because": step.because.iter().map(because_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({
        "decision": decision_name(e.outcome.decision),
        "path": path,
    });
    if let (Some(m), Some(obj)) = (&e.message, out.as_object_mut()) {
        obj.insert("message".into(), Value::String(m.clone()));
    }
    out
}

/// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "Allow",
        Decision::ExplicitDeny => "ExplicitDeny",
        Decision::ImplicitDeny => "ImplicitDeny",
    }
}

pub fn because_json(b: &Because) -> Value {
    match b {
        Because::Statement {
            policy_id,
            source_type,
            sid,
            index,
        } => json!({
            "type": "statement",
            "policy": policy_id,
            "source_type": format!("{source_type:?}"),
            "sid": sid,
            "index": index,
        }),
        Because::Grant { grant_id, name } => json!({
            "type": "grant",
            "grant_id": grant_id,
            "name": name,
        }),
        Because::Note(text) => json!({ "type": "note", "text": text }),
    }
}

/// `X-Amz-Target` prefix of kmsd's own JSON operations (online explain and access review).
pub const KMSD_TARGET_PREFIX: &str = "KmsdService.";

/// The server side of `kmsd explain --endpoint`: `KmsdService.Explain`.
///
/// Input: `{"PrincipalArn", "Action", "KeyId", "Region"?, "Context"?: {key: [values]},
/// "EncryptionContext"?: {k: v}, "SessionPolicy"?: "json"}`. The caller needs
/// `iam:SimulatePrincipalPolicy` on the principal it asks about, as for IAM's simulator.
pub fn handle_explain(
    service: &kmsd_core::service::Service,
    caller: &kmsd_core::principal::Principal,
    meta: &kmsd_core::principal::RequestMeta,
    input: &Value,
) -> Result<Value, kmsd_core::error::ApiError> {
    use kmsd_core::error::ApiError;
    let text = |name: &str| -> Result<String, ApiError> {
        input
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::validation(format!("{name} is required and must be a string")))
    };
    let principal_arn = text("PrincipalArn")?;
    let action = text("Action")?;
    let key = text("KeyId")?;
    let region = input
        .get("Region")
        .and_then(Value::as_str)
        .unwrap_or(&meta.region)
        .to_string();
    kmsd_core::admin_authz::authorize_simulate(caller, meta, &principal_arn)?;
    // A misspelt action or condition key is an error naming the nearest valid one, not a
    // question answered with an implicit deny.
    kmsd_policy::validate::catalog::check_request_action(&action).map_err(ApiError::validation)?;
    let mut extra = kmsd_policy::RequestContext::new();
    if let Some(ctx) = input.get("Context") {
        let map = ctx
            .as_object()
            .ok_or_else(|| ApiError::validation("Context must be an object of key to values"))?;
        for (k, v) in map {
            kmsd_policy::validate::catalog::check_request_condition_key(k)
                .map_err(ApiError::validation)?;
            match v {
                Value::String(s) => extra.set(k, s.clone()),
                Value::Array(items) => {
                    let values: Option<Vec<String>> = items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect();
                    let values = values.ok_or_else(|| {
                        ApiError::validation(format!("Context value of {k} must be strings"))
                    })?;
                    extra.set_multi(k, values);
                }
                _ => {
                    return Err(ApiError::validation(format!(
                        "Context value of {k} must be a string or a list of strings"
                    )))
                }
            }
        }
    }
    let encryption_context = match input.get("EncryptionContext") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            let mut ec = std::collections::BTreeMap::new();
            for (k, v) in map {
                let v = v.as_str().ok_or_else(|| {
                    ApiError::validation("EncryptionContext values must be strings")
                })?;
                ec.insert(k.clone(), v.to_string());
            }
            Some(ec)
        }
        Some(_) => return Err(ApiError::validation("EncryptionContext must be an object")),
    };
    let session_policy = input.get("SessionPolicy").and_then(Value::as_str);
    let principal = service
        .iam
        .principal_for_arn(&principal_arn, session_policy)
        .map_err(|e| ApiError {
            code: KmsError::NotFoundException.into(),
            message: e.message,
        })?;
    let explanation = service.kms.explain(
        &principal,
        &action,
        &key,
        &region,
        &extra,
        encryption_context.as_ref(),
    )?;
    Ok(explanation_json(&explanation))
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

/// Access review of one key: every principal the server knows — account roots, users, roles
/// (as sessions) and grantees — with each KMS action it may perform on the key and why.
/// Access from another account than the key's is flagged. `key` is a key ARN or alias ARN.
pub fn access_review(
    service: &kmsd_core::service::Service,
    key: &str,
) -> Result<Value, kmsd_core::error::ApiError> {
    use kmsd_core::error::ApiError;
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
    let no_context = kmsd_policy::RequestContext::new();
    let mut entries = Vec::new();
    for arn in &principals {
        let Ok(principal) = service.iam.principal_for_arn(arn, None) else {
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
                allowed.push(json!({
                    "action": action,
                    "why": why_allowed(&explanation),
                }));
            }
        }
        if allowed.is_empty() {
            continue;
        }
        let account = principal.caller.account().to_string();
        entries.push(json!({
            "principal": arn,
            "account": account,
            "cross_account": account != view.account,
            "actions": allowed,
        }));
    }
    Ok(json!({
        "key": view.key_arn,
        "account": view.account,
        "principals": entries,
        "note": "Grantees and roles are evaluated without an encryption context or request-specific condition keys; conditional access shows only where its conditions hold without them. kms:RetireGrant is decided per grant (retiring principal, grantee, or IAM policy), not per key, and is not listed.",
    }))
}

fn resolve_key_view(
    service: &kmsd_core::service::Service,
    key: &str,
) -> Option<kmsd_core::kms::KeyAuthzView> {
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
fn why_allowed(explanation: &Explanation) -> Vec<Value> {
    explanation
        .path
        .iter()
        .filter(|step| step.answer && !matches!(step.node, kmsd_policy::Node::T1))
        .map(|step| {
            json!({
                "node": format!("{:?}", step.node),
                "question": step.question,
                "because": step.because.iter().map(because_json).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// `KmsdService.RecentDenials`: the recent denied KMS requests of the caller's account (newest
/// first), so the explain page can open one. Needs what explain needs:
/// `iam:SimulatePrincipalPolicy` (on `*`).
pub fn recent_denials(
    service: &kmsd_core::service::Service,
    caller: &kmsd_core::principal::Principal,
    meta: &kmsd_core::principal::RequestMeta,
) -> Result<Value, kmsd_core::error::ApiError> {
    kmsd_core::admin_authz::authorize_simulate(caller, meta, "*")?;
    let events: Vec<Value> = service
        .recent_denials
        .for_account(caller.caller.account())
        .iter()
        .filter_map(|event| serde_json::to_value(event).ok())
        .collect();
    Ok(json!({ "Events": events }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

    use kmsd_core::bootstrap::World;
    use kmsd_core::principal::RequestMeta;
    use kmsd_core::service::Service;
    use serde_json::{json, Value};

    use super::{access_review, reviewed_actions, KeySpec, KeyUsage, REVIEWED_ACTIONS};

    const SEED: &str = include_str!("../../../examples/seed-world.json");

    /// CreateKey input, its spec and usage, actions listed, actions not listed.
    type Case<'a> = (Value, KeySpec, KeyUsage, &'a [&'a str], &'a [&'a str]);

    fn meta() -> RequestMeta {
        RequestMeta {
            source_ip: None,
            secure_transport: true,
            time_millis: 1_767_225_600_000,
            region: "us-west-2".into(),
            user_agent: None,
            request_id: "r".into(),
        }
    }

    /// The actions the review lists for the account's root on `key`.
    fn root_actions(svc: &Service, key: &str) -> Vec<String> {
        let review = access_review(svc, key).unwrap();
        let root = review["principals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["principal"] == "arn:aws:iam::111122223333:root")
            .unwrap();
        root["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn access_review_checks_the_actions_of_the_key_type() {
        let world = World::from_str(SEED, "seed-world.json").unwrap();
        let svc = Service::from_world_in_memory(&world, "us-west-2").unwrap();
        let root = svc
            .iam
            .lookup_access_key("AKIA111122223333ROOT")
            .unwrap()
            .principal;
        let cases: &[Case<'_>] = &[
            (
                json!({}),
                KeySpec::SymmetricDefault,
                KeyUsage::EncryptDecrypt,
                &[
                    "kms:Encrypt",
                    "kms:GenerateDataKeyPair",
                    "kms:EnableKeyRotation",
                ],
                &["kms:Sign", "kms:GetPublicKey", "kms:GenerateMac"],
            ),
            (
                json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
                KeySpec::EccNistP256,
                KeyUsage::SignVerify,
                &[
                    "kms:Sign",
                    "kms:Verify",
                    "kms:GetPublicKey",
                    "kms:DescribeKey",
                ],
                &[
                    "kms:Encrypt",
                    "kms:GenerateDataKey",
                    "kms:EnableKeyRotation",
                ],
            ),
            (
                json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
                KeySpec::Rsa2048,
                KeyUsage::EncryptDecrypt,
                &[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncryptTo",
                    "kms:GetPublicKey",
                ],
                &["kms:GenerateDataKey", "kms:Sign", "kms:RotateKeyOnDemand"],
            ),
            (
                json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
                KeySpec::Hmac256,
                KeyUsage::GenerateVerifyMac,
                &["kms:GenerateMac", "kms:VerifyMac", "kms:PutKeyPolicy"],
                &["kms:Encrypt", "kms:GetPublicKey", "kms:EnableKeyRotation"],
            ),
            (
                json!({"KeySpec": "ECC_NIST_P384", "KeyUsage": "KEY_AGREEMENT"}),
                KeySpec::EccNistP384,
                KeyUsage::KeyAgreement,
                &["kms:DeriveSharedSecret", "kms:GetPublicKey"],
                &["kms:Sign", "kms:Encrypt"],
            ),
            (
                json!({"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}),
                KeySpec::MlKem768,
                KeyUsage::EncapsulateDecapsulate,
                &["kms:Encapsulate", "kms:Decapsulate", "kms:GetPublicKey"],
                &["kms:Encrypt", "kms:DeriveSharedSecret"],
            ),
        ];
        for (input, spec, usage, has, lacks) in cases {
            let c = svc.kms.call("CreateKey", &root, &meta(), input);
            let arn = c.result.unwrap()["KeyMetadata"]["Arn"]
                .as_str()
                .unwrap()
                .to_string();
            let view = svc.kms.key_authz_view(&arn).unwrap();
            assert_eq!((view.key_spec, view.key_usage), (*spec, *usage));
            let listed = root_actions(&svc, &arn);
            // The default key policy lets the root do everything: exactly the type's list.
            let expected: Vec<String> = reviewed_actions(*spec, *usage)
                .iter()
                .map(|a| a.to_string())
                .collect();
            assert_eq!(listed, expected, "{input}");
            for a in *has {
                assert!(listed.iter().any(|l| l == a), "{input}: {a} missing");
            }
            for a in *lacks {
                assert!(!listed.iter().any(|l| l == a), "{input}: {a} listed");
            }
        }
        assert_eq!(
            reviewed_actions(KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt),
            REVIEWED_ACTIONS
        );
    }
}
