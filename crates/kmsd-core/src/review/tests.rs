#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use kmsd_policy::Decision;
use serde_json::{json, Value};

use super::access::{access_review, reviewed_actions, REVIEWED_ACTIONS};
use super::analyzer::{self, AnalyzerOp};
use super::json::access_review_json;
use super::KmsdOp;
use crate::bootstrap::World;
use crate::error::{AccessAnalyzerError, ErrorCode, KmsError};
use crate::kms::key::{KeySpec, KeyUsage};
use crate::principal::{Principal, RequestMeta};
use crate::service::Service;

const SEED: &str = include_str!("../../../../examples/seed-world.json");

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
    let review = access_review_json(&access_review(svc, key).unwrap());
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

fn seed() -> Service {
    let world = World::from_str(SEED, "seed-world.json").unwrap();
    Service::from_world_in_memory(&world, "us-west-2").unwrap()
}

fn caller(svc: &Service, access_key_id: &str) -> Principal {
    svc.iam.lookup_access_key(access_key_id).unwrap().principal
}

/// A symmetric key of the seed's first account, created by its root.
fn new_key(svc: &Service) -> String {
    let root = caller(svc, "AKIA111122223333ROOT");
    let c = svc.kms.call("CreateKey", &root, &meta(), &json!({}));
    c.result.unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn kmsd_op_names_round_trip() {
    for op in KmsdOp::ALL {
        assert_eq!(KmsdOp::from_name(op.name()), Some(op));
        assert!(op.read_only());
    }
    assert_eq!(KmsdOp::from_name("explain"), None);
    assert_eq!(KmsdOp::from_name("Nope"), None);
}

#[test]
fn explain_answers_with_the_decision_as_response_element() {
    let svc = seed();
    let key = new_key(&svc);
    let root = caller(&svc, "AKIA111122223333ROOT");
    let input = json!({
        "PrincipalArn": "arn:aws:iam::111122223333:user/bob",
        "Action": "kms:Encrypt",
        "KeyId": key,
    });
    let out = svc.kmsd_call(KmsdOp::Explain, &root, &meta(), &input);
    let value = out.result.unwrap();
    // bob's policies name no KMS action: the default key policy defers to IAM, which denies.
    assert_eq!(value["decision"], "ImplicitDeny");
    assert!(value["path"].as_array().is_some_and(|p| !p.is_empty()));
    assert_eq!(out.audit.decision, None);
    assert_eq!(out.audit.request_parameters, input);
    assert_eq!(
        out.audit.response_elements,
        Some(json!({"decision": "ImplicitDeny"}))
    );
}

#[test]
fn a_caller_without_the_simulator_permission_is_refused() {
    let svc = seed();
    let key = new_key(&svc);
    let bob = caller(&svc, "AKIABOB0000000000001");
    let input = json!({
        "PrincipalArn": "arn:aws:iam::111122223333:root",
        "Action": "kms:Encrypt",
        "KeyId": key,
        // Checked only after authorization: the refusal comes first.
        "Context": {"kms:NoSuchKey": "x"},
    });
    for (op, input) in [
        (KmsdOp::Explain, input),
        (KmsdOp::RecentDenials, json!({})),
        (KmsdOp::AccessReview, json!({ "KeyId": key })),
        (
            KmsdOp::AccessDiff,
            json!({ "KeyId": key, "Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }),
        ),
    ] {
        let out = svc.kmsd_call(op, &bob, &meta(), &input);
        let err = out.result.unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::KmsError(KmsError::AccessDeniedException),
            "{op:?}"
        );
        assert!(
            err.message
                .as_deref()
                .is_some_and(|m| m.contains("arn:aws:iam::111122223333:user/bob")),
            "{op:?}: {err:?}"
        );
        assert_eq!(out.audit.decision, Some(Decision::ImplicitDeny), "{op:?}");
        assert_eq!(out.audit.request_parameters, input, "{op:?}");
        assert_eq!(out.audit.response_elements, None, "{op:?}");
    }
}

#[test]
fn malformed_input_is_a_validation_error_before_authorization() {
    let svc = seed();
    let bob = caller(&svc, "AKIABOB0000000000001");
    for (op, input, message) in [
        (
            KmsdOp::Explain,
            json!({"PrincipalArn": 1, "Action": "kms:Encrypt", "KeyId": "k"}),
            "PrincipalArn is required and must be a string",
        ),
        (
            KmsdOp::AccessReview,
            json!({}),
            "KeyId is required and must be a string",
        ),
        (
            KmsdOp::AccessDiff,
            json!({"KeyId": "k"}),
            "exactly one of Policy (a key policy document) or Grant is required",
        ),
    ] {
        let out = svc.kmsd_call(op, &bob, &meta(), &input);
        let err = out.result.unwrap_err();
        assert_eq!(err.code, ErrorCode::KmsError(KmsError::ValidationException));
        assert_eq!(err.message.as_deref(), Some(message));
        assert_eq!(out.audit.decision, None, "{op:?}");
    }
}

#[test]
fn explain_checks_action_and_condition_keys_once_authorized() {
    let svc = seed();
    let key = new_key(&svc);
    let root = caller(&svc, "AKIA111122223333ROOT");
    let ask = |extra: Value| {
        let mut input = json!({
            "PrincipalArn": "arn:aws:iam::111122223333:user/alice",
            "Action": "kms:Encrypt",
            "KeyId": key,
        });
        if let (Some(obj), Value::Object(more)) = (input.as_object_mut(), extra) {
            obj.extend(more);
        }
        svc.kmsd_call(KmsdOp::Explain, &root, &meta(), &input)
            .result
    };
    assert!(ask(json!({})).is_ok());
    for bad in [
        json!({"Action": "kms:Encrpyt"}),
        json!({"Context": {"kms:NoSuchKey": "x"}}),
        json!({"Context": {"aws:SourceIp": 1}}),
        json!({"Context": []}),
        json!({"EncryptionContext": {"a": 1}}),
        json!({"EncryptionContext": "a"}),
    ] {
        let err = ask(bad.clone()).unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::KmsError(KmsError::ValidationException),
            "{bad}"
        );
    }
    let err = ask(json!({"PrincipalArn": "arn:aws:iam::111122223333:user/nobody"})).unwrap_err();
    assert_eq!(err.code, ErrorCode::KmsError(KmsError::NotFoundException));
}

#[test]
fn recent_denials_are_the_callers_accounts() {
    let svc = seed();
    let root = caller(&svc, "AKIA111122223333ROOT");
    let mut mine =
        crate::audit::AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-west-2", "a");
    mine.user_identity.account_id = Some("111122223333".into());
    let mut theirs = mine.clone();
    theirs.user_identity.account_id = Some("444455556666".into());
    svc.recent_denials.push(mine);
    svc.recent_denials.push(theirs);
    let out = svc.kmsd_call(KmsdOp::RecentDenials, &root, &meta(), &json!({}));
    let events = out.result.unwrap()["Events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["userIdentity"]["accountId"], "111122223333");
}

#[test]
fn access_review_by_alias_arn_and_of_a_missing_key() {
    let svc = seed();
    let key = new_key(&svc);
    let root = caller(&svc, "AKIA111122223333ROOT");
    let alias = svc.kms.call(
        "CreateAlias",
        &root,
        &meta(),
        &json!({"AliasName": "alias/reviewed", "TargetKeyId": key}),
    );
    alias.result.unwrap();
    let by_alias =
        access_review(&svc, "arn:aws:kms:us-west-2:111122223333:alias/reviewed").unwrap();
    assert_eq!(by_alias.key_arn, key);
    let missing = "arn:aws:kms:us-west-2:111122223333:alias/none";
    let err = access_review(&svc, missing).unwrap_err();
    assert_eq!(err.code, ErrorCode::KmsError(KmsError::NotFoundException));
}

#[test]
fn analyzer_checks_authorize_first_then_decode() {
    let svc = seed();
    let bob = caller(&svc, "AKIABOB0000000000001");
    let root = caller(&svc, "AKIA111122223333ROOT");
    let out = analyzer::call(AnalyzerOp::ValidatePolicy, &bob, &meta(), &Value::Null);
    let err = out.result.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::AccessAnalyzerError(AccessAnalyzerError::AccessDeniedException)
    );
    assert_eq!(out.audit.decision, Some(Decision::ImplicitDeny));

    let out = analyzer::call(AnalyzerOp::ValidatePolicy, &root, &meta(), &Value::Null);
    let err = out.result.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::AccessAnalyzerError(AccessAnalyzerError::ValidationException)
    );
    assert_eq!(
        err.message.as_deref(),
        Some("The request body must be a JSON object.")
    );
    assert_eq!(out.audit.decision, Some(Decision::Allow));

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let out = analyzer::call(
        AnalyzerOp::CheckNoPublicAccess,
        &root,
        &meta(),
        &json!({"policyDocument": policy, "resourceType": "AWS::KMS::Key"}),
    );
    assert_eq!(out.result.unwrap()["result"], "FAIL");
    let out = analyzer::call(
        AnalyzerOp::CheckAccessNotGranted,
        &root,
        &meta(),
        &json!({"policyDocument": policy, "policyType": "RESOURCE_POLICY", "access": [{"actions": ["kms:Decrypt"]}]}),
    );
    assert_eq!(out.result.unwrap()["result"], "FAIL");
    let out = analyzer::call(
        AnalyzerOp::ValidatePolicy,
        &root,
        &meta(),
        &json!({"policyDocument": policy, "policyType": "NOPE"}),
    );
    assert_eq!(
        out.result.unwrap_err().code,
        ErrorCode::AccessAnalyzerError(AccessAnalyzerError::ValidationException)
    );
}
