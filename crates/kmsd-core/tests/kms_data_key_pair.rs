//! GenerateDataKeyPair(WithoutPlaintext) through `Kms::call` [decision engine: root caller,
//! default key policy]: every generated spec (public key is an SPKI of that spec, the
//! private key ciphertext decrypts through Decrypt to the PKCS#8 that matches it), the
//! encryption context bound to the ciphertext, IAM and kms:DataKeyPairSpec conditions,
//! grants, key states, validation, unsupported specs, DryRun and the audit record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use kmsd_crypto::key_pair::{pair_matches, spki_spec, KeyPairSpec};
use serde_json::{json, Value};

fn alice_arn() -> String {
    format!("arn:aws:iam::{ACCT}:user/alice")
}

/// Specs exercised here. RSA-4096 generation is slow without optimizations: only in
/// release builds.
fn specs() -> Vec<KeyPairSpec> {
    let mut v = vec![
        KeyPairSpec::EccNistP256,
        KeyPairSpec::EccNistP384,
        KeyPairSpec::EccNistEdwards25519,
        KeyPairSpec::Rsa2048,
        KeyPairSpec::Rsa3072,
    ];
    if !cfg!(debug_assertions) {
        v.push(KeyPairSpec::Rsa4096);
    }
    v
}

/// Check a response: KeyId, KeyPairSpec, KeyMaterialId, the public key's spec, and that the
/// ciphertext decrypts (with `ec`) to a PKCS#8 private key matching the public key.
/// Returns the decrypted PKCS#8.
fn check_pair(w: &World, id: &str, spec: KeyPairSpec, v: &Value, ec: &Value) -> Vec<u8> {
    assert_eq!(v["KeyId"], arn(id));
    assert_eq!(v["KeyPairSpec"], spec.name());
    assert_eq!(v["KeyMaterialId"].as_str().unwrap().len(), 64);
    let public = unb64(&v["PublicKey"]);
    assert_eq!(spki_spec(&public), Some(spec), "{}", spec.name());
    let mut req = json!({"CiphertextBlob": v["PrivateKeyCiphertextBlob"]});
    if !ec.is_null() {
        req["EncryptionContext"] = ec.clone();
    }
    let d = w.ok("Decrypt", req);
    assert_eq!(d["KeyId"], arn(id));
    assert_eq!(d["KeyMaterialId"], v["KeyMaterialId"]);
    let pkcs8 = unb64(&d["Plaintext"]);
    assert!(pair_matches(spec, &pkcs8, &public), "{}", spec.name());
    pkcs8
}

#[test]
fn every_spec_round_trips_through_decrypt() {
    let w = World::new();
    let id = w.key();
    let ec = json!({"purpose": "pairs"});
    for spec in specs() {
        let started = std::time::Instant::now();
        let v = w.ok(
            "GenerateDataKeyPair",
            json!({"KeyId": id, "KeyPairSpec": spec.name(), "EncryptionContext": ec}),
        );
        eprintln!("{} generated in {:?}", spec.name(), started.elapsed());
        let pkcs8 = check_pair(&w, &id, spec, &v, &ec);
        assert_eq!(unb64(&v["PrivateKeyPlaintext"]), pkcs8);

        let v = w.ok(
            "GenerateDataKeyPairWithoutPlaintext",
            json!({"KeyId": arn(&id), "KeyPairSpec": spec.name(), "EncryptionContext": ec}),
        );
        assert!(v.get("PrivateKeyPlaintext").is_none(), "{v}");
        let other = check_pair(&w, &id, spec, &v, &ec);
        // A fresh pair each call.
        assert_ne!(other, pkcs8);
    }
}

#[test]
fn alias_forms_and_no_context() {
    let w = World::new();
    let id = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/pairs", "TargetKeyId": id}),
    );
    for form in [
        "alias/pairs".to_string(),
        format!("arn:aws:kms:{REGION}:{ACCT}:alias/pairs"),
    ] {
        let v = w.ok(
            "GenerateDataKeyPair",
            json!({"KeyId": form, "KeyPairSpec": "ECC_NIST_P256"}),
        );
        check_pair(&w, &id, KeyPairSpec::EccNistP256, &v, &Value::Null);
    }
}

#[test]
fn private_key_ciphertext_is_bound_to_the_context() {
    let w = World::new();
    let id = w.key();
    let ec = json!({"app": "x", "env": "prod"});
    let v = w.ok(
        "GenerateDataKeyPairWithoutPlaintext",
        json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P384", "EncryptionContext": ec}),
    );
    for bad in [
        json!(null),
        json!({"app": "x"}),
        json!({"app": "x", "env": "Prod"}),
        json!({"app": "x", "env": "prod", "more": "y"}),
    ] {
        let mut req = json!({"CiphertextBlob": v["PrivateKeyCiphertextBlob"]});
        if !bad.is_null() {
            req["EncryptionContext"] = bad.clone();
        }
        let e = w.err("Decrypt", req);
        assert_err(&e, "InvalidCiphertextException", None);
        assert_eq!(e.message, None, "{bad}");
    }
    check_pair(&w, &id, KeyPairSpec::EccNistP384, &v, &ec);
}

#[test]
fn callers_need_the_action_and_may_be_limited_by_spec() {
    let w = World::new();
    let id = w.key();
    let req = |spec: &str| json!({"KeyId": arn(&id), "KeyPairSpec": spec});
    // No policy: denied, in AWS's wording.
    let nobody = user(ACCT, "alice", &[]);
    let e = w
        .call("GenerateDataKeyPair", &nobody, req("ECC_NIST_P256"))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(
        e.message.as_deref().unwrap().starts_with(&format!(
            "User: {} is not authorized to perform: kms:GenerateDataKeyPair on resource: {}",
            alice_arn(),
            arn(&id)
        )),
        "{e}"
    );
    // The two actions are distinct.
    let without_only = user(
        ACCT,
        "alice",
        &[allow("kms:GenerateDataKeyPairWithoutPlaintext")],
    );
    let e = w
        .call("GenerateDataKeyPair", &without_only, req("ECC_NIST_P256"))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let v = w
        .call(
            "GenerateDataKeyPairWithoutPlaintext",
            &without_only,
            req("ECC_NIST_P256"),
        )
        .unwrap();
    assert!(v.get("PrivateKeyPlaintext").is_none());
    // kms:DataKeyPairSpec limits the specs.
    let ec_only = user(
        ACCT,
        "alice",
        &[json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "kms:GenerateDataKeyPair", "Resource": "*",
            "Condition": {"StringEquals": {"kms:DataKeyPairSpec": "ECC_NIST_P256"}}}]})],
    );
    let e = w
        .call("GenerateDataKeyPair", &ec_only, req("RSA_2048"))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let v = w
        .call("GenerateDataKeyPair", &ec_only, req("ECC_NIST_P256"))
        .unwrap();
    assert_eq!(v["KeyPairSpec"], "ECC_NIST_P256");
    // kms:EncryptionAlgorithm is SYMMETRIC_DEFAULT; an explicit Deny wins.
    let denied = user(
        ACCT,
        "alice",
        &[
            allow("kms:*"),
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Action": "kms:GenerateDataKeyPair*", "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}}}]}),
        ],
    );
    let e = w
        .call("GenerateDataKeyPair", &denied, req("ECC_NIST_P256"))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(
        e.message.as_deref().unwrap().contains("explicit deny"),
        "{e}"
    );
    // A caller of another account without a grant or key-policy statement is denied.
    let carol = user(OTHER, "carol", &[allow("kms:*")]);
    let e = w
        .call("GenerateDataKeyPair", &carol, req("ECC_NIST_P256"))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn grants_allow_the_pair_operations() {
    let w = World::new();
    let id = w.key();
    let g = w.ok(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice_arn(),
               "Operations": ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Decrypt"],
               "Constraints": {"EncryptionContextSubset": {"tenant": "a"}}}),
    );
    let token = g["GrantToken"].as_str().unwrap().to_string();
    let listed = w.ok("ListGrants", json!({"KeyId": id}));
    let ops = listed["Grants"][0]["Operations"].as_array().unwrap();
    assert!(ops.contains(&json!("GenerateDataKeyPair")), "{listed}");
    assert!(ops.contains(&json!("GenerateDataKeyPairWithoutPlaintext")));
    let alice = user(ACCT, "alice", &[]);
    let call = w.call_full(
        "GenerateDataKeyPair",
        &alice,
        json!({"KeyId": arn(&id), "KeyPairSpec": "ECC_NIST_P256",
               "EncryptionContext": {"tenant": "a", "x": "y"}, "GrantTokens": [token]}),
    );
    let v = call.result.unwrap();
    assert!(call
        .audit
        .deciding
        .iter()
        .any(|b| format!("{b:?}").contains(g["GrantId"].as_str().unwrap())));
    let d = w
        .call(
            "Decrypt",
            &alice,
            json!({"CiphertextBlob": v["PrivateKeyCiphertextBlob"],
                   "EncryptionContext": {"tenant": "a", "x": "y"}}),
        )
        .unwrap();
    assert_eq!(d["Plaintext"], v["PrivateKeyPlaintext"]);
    let v = w
        .call(
            "GenerateDataKeyPairWithoutPlaintext",
            &alice,
            json!({"KeyId": arn(&id), "KeyPairSpec": "RSA_2048",
                   "EncryptionContext": {"tenant": "a"}}),
        )
        .unwrap();
    assert_eq!(v["KeyPairSpec"], "RSA_2048");
    // Outside the grant's constraint: denied.
    let e = w
        .call(
            "GenerateDataKeyPair",
            &alice,
            json!({"KeyId": arn(&id), "KeyPairSpec": "ECC_NIST_P256",
                   "EncryptionContext": {"tenant": "b"}}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // A grant for GenerateDataKey does not cover the pair operations.
    let bob = user(ACCT, "bob", &[]);
    w.ok(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/bob"),
               "Operations": ["GenerateDataKey"]}),
    );
    let e = w
        .call(
            "GenerateDataKeyPair",
            &bob,
            json!({"KeyId": arn(&id), "KeyPairSpec": "ECC_NIST_P256"}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn key_states() {
    let w = World::new();
    let id = w.key();
    w.ok("DisableKey", json!({"KeyId": id}));
    for op in ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"] {
        let e = w.err(op, json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P256"}));
        assert_err(
            &e,
            "DisabledException",
            Some(&format!("{} is disabled.", arn(&id))),
        );
    }
    w.ok("EnableKey", json!({"KeyId": id}));
    w.ok(
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P256"}),
    );
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    let e = w.err(
        "GenerateDataKeyPairWithoutPlaintext",
        json!({"KeyId": id, "KeyPairSpec": "RSA_2048"}),
    );
    assert_err(
        &e,
        "KMSInvalidStateException",
        Some(&format!("{} is pending deletion.", arn(&id))),
    );
}

#[test]
fn validation_unsupported_specs_dry_run_and_recipient() {
    let w = World::new();
    let id = w.key();
    let e = w.err(
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "RSA_1024"}),
    );
    assert_err(&e, "ValidationException", None);
    let msg = e.message.unwrap();
    assert!(
        msg.contains("Value 'RSA_1024' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]"),
        "{msg}"
    );
    let e = w.err("GenerateDataKeyPairWithoutPlaintext", json!({"KeyId": id}));
    assert_err(&e, "ValidationException", None);
    assert!(e.message.unwrap().contains(
        "Value null at 'keyPairSpec' failed to satisfy constraint: Member must not be null"
    ),);
    let e = w.err("GenerateDataKeyPair", json!({"KeyPairSpec": "RSA_2048"}));
    assert_err(&e, "ValidationException", None);
    // Unknown key.
    let e = w.err(
        "GenerateDataKeyPair",
        json!({"KeyId": "11111111-2222-3333-4444-555555555555", "KeyPairSpec": "RSA_2048"}),
    );
    assert_eq!(e.code, "NotFoundException");
    // SM2 (China Regions only) is the one spec of the model this server does not generate.
    let e = w.err(
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "SM2"}),
    );
    assert_eq!(e.code, "UnsupportedOperationException");
    assert!(e.message.unwrap().contains("SM2"));
    // DryRun: authorized and in a usable state, nothing generated.
    let e = w.err(
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "RSA_2048", "DryRun": true}),
    );
    assert_err(
        &e,
        "DryRunOperationException",
        Some("The request would have succeeded, but the DryRun option is set."),
    );
    let nobody = user(ACCT, "alice", &[]);
    let e = w
        .call(
            "GenerateDataKeyPairWithoutPlaintext",
            &nobody,
            json!({"KeyId": arn(&id), "KeyPairSpec": "RSA_2048", "DryRun": true}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // Recipient (Nitro Enclaves attestation) is handled as for GenerateDataKey.
    let e = w.err(
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P256",
               "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b64(b"doc")}}),
    );
    let gdk = w.err(
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256",
               "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b64(b"doc")}}),
    );
    assert_eq!(e.code, gdk.code);
    assert_eq!(e.message, gdk.message);
}

#[test]
fn audit_keeps_no_key_material() {
    let w = World::new();
    let id = w.key();
    let call = w.call_full(
        "GenerateDataKeyPair",
        &root(ACCT),
        json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P256", "EncryptionContext": {"a": "b"}}),
    );
    let v = call.result.unwrap();
    assert!(call.audit.response_elements.is_none());
    assert_eq!(call.audit.key_arn.as_deref(), Some(arn(&id).as_str()));
    let params = call.audit.request_parameters.to_string();
    assert!(
        params.contains("\"keyPairSpec\":\"ECC_NIST_P256\""),
        "{params}"
    );
    assert!(params.contains("\"encryptionContext\""), "{params}");
    let private = v["PrivateKeyPlaintext"].as_str().unwrap();
    assert!(!format!("{:?}", call.audit).contains(private));
}
