//! HMAC KMS keys: CreateKey/DescribeKey metadata for each HMAC key spec, GenerateMac and
//! VerifyMac (against the MAC function of kmsd-crypto, checked with RFC 4231 vectors), wrong
//! MACs, wrong algorithms, wrong key usage both ways, rotation refusals, key states, grants,
//! authorization (IAM, `kms:MacAlgorithm`, explicit deny), material wrapped at rest, restart,
//! deletion and the audit record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use kmsd_core::store::Store;
use kmsd_crypto::mac::{hmac, MacAlgorithm, WRAPPED_MAC_KEY_VERSION_V2};
use kmsd_crypto::wrap_aad;
use serde_json::{json, Value};

const SPECS: [(&str, &str, usize); 4] = [
    ("HMAC_224", "HMAC_SHA_224", 28),
    ("HMAC_256", "HMAC_SHA_256", 32),
    ("HMAC_384", "HMAC_SHA_384", 48),
    ("HMAC_512", "HMAC_SHA_512", 64),
];

fn hmac_key(w: &World, spec: &str) -> String {
    let v = w.ok(
        "CreateKey",
        json!({"KeySpec": spec, "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

fn gen(w: &World, id: &str, alg: &str, msg: &[u8]) -> Value {
    w.ok(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(msg), "MacAlgorithm": alg}),
    )
}

fn verify(
    w: &World,
    id: &str,
    alg: &str,
    msg: &[u8],
    mac: &[u8],
) -> Result<Value, kmsd_core::error::ApiError> {
    w.call(
        "VerifyMac",
        &root(ACCT),
        json!({"KeyId": id, "Message": b64(msg), "MacAlgorithm": alg, "Mac": b64(mac)}),
    )
}

/// The key's material as stored: wrapped (format v2) under the root key.
fn stored_material(w: &World, id: &str) -> Vec<u8> {
    let rows = w.store.inner.load("kms_material").unwrap();
    let (_, v) = rows
        .into_iter()
        .find(|(k, _)| k.starts_with(&format!("{id}#")))
        .expect("material row");
    v
}

#[test]
fn create_and_describe_each_spec() {
    let w = World::new();
    for (spec, alg, _) in SPECS {
        let v = w.ok(
            "CreateKey",
            json!({"KeySpec": spec, "KeyUsage": "GENERATE_VERIFY_MAC", "Description": "mac"}),
        );
        let m = &v["KeyMetadata"];
        let id = m["KeyId"].as_str().unwrap().to_string();
        for meta in [
            m.clone(),
            w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone(),
        ] {
            assert_eq!(meta["KeySpec"], spec);
            assert_eq!(meta["CustomerMasterKeySpec"], spec);
            assert_eq!(meta["KeyUsage"], "GENERATE_VERIFY_MAC");
            assert_eq!(meta["MacAlgorithms"], json!([alg]));
            assert_eq!(meta["KeyState"], "Enabled");
            assert_eq!(meta["Origin"], "AWS_KMS");
            assert_eq!(meta["Arn"], arn(&id));
            assert!(meta.get("EncryptionAlgorithms").is_none(), "{meta}");
            assert!(meta.get("CurrentKeyMaterialId").is_none(), "{meta}");
        }
    }
    // The deprecated CustomerMasterKeySpec names the same specs.
    let v = w.ok(
        "CreateKey",
        json!({"CustomerMasterKeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    assert_eq!(v["KeyMetadata"]["KeySpec"], "HMAC_384");
    let keys = w.ok("ListKeys", json!({}));
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 5);
    // Symmetric metadata is unchanged.
    let sym = w.ok("CreateKey", json!({}))["KeyMetadata"].clone();
    assert_eq!(sym["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(sym["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert!(sym.get("MacAlgorithms").is_none());
    assert!(sym.get("CurrentKeyMaterialId").is_some());
}

#[test]
fn create_key_usage_rules() {
    let w = World::new();
    let e = w.err("CreateKey", json!({"KeySpec": "HMAC_256"}));
    assert_err(
        &e,
        "ValidationException",
        Some("You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."),
    );
    let e = w.err(
        "CreateKey",
        json!({"KeySpec": "HMAC_256", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256"),
    );
    let e = w.err(
        "CreateKey",
        json!({"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    assert_eq!(e.code, "ValidationException");
    assert!(w.dump().is_empty());
    // An HMAC key for imported material waits for it.
    let v = w.ok(
        "CreateKey",
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC", "Origin": "EXTERNAL"}),
    );
    assert_eq!(v["KeyMetadata"]["KeyState"], "PendingImport");
    assert_eq!(v["KeyMetadata"]["Origin"], "EXTERNAL");
}

/// RFC 4231 test case 2 ("Jefe") for every algorithm, through the function GenerateMac uses.
#[test]
fn rfc4231_jefe_vectors() {
    let want = [
        "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ];
    for (a, hexmac) in MacAlgorithm::ALL.into_iter().zip(want) {
        let got: String = hmac(a, b"Jefe", b"what do ya want for nothing?")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, hexmac, "{}", a.name());
    }
}

#[test]
fn generate_and_verify_each_spec() {
    let w = World::new();
    for (spec, alg, len) in SPECS {
        let id = hmac_key(&w, spec);
        let msg = b"the quick brown fox";
        let v = gen(&w, &id, alg, msg);
        assert_eq!(v["KeyId"], arn(&id));
        assert_eq!(v["MacAlgorithm"], alg);
        let mac = unb64(&v["Mac"]);
        assert_eq!(mac.len(), len);
        // Deterministic, and the MAC under the stored (wrapped) material.
        assert_eq!(unb64(&gen(&w, &id, alg, msg)["Mac"]), mac);
        let wrapped = stored_material(&w, &id);
        assert_eq!(wrapped[0], WRAPPED_MAC_KEY_VERSION_V2);
        assert_eq!(wrapped.len(), 2 + 12 + len + 16);
        let key = w.root_key.unwrap_mac(&wrapped, &wrap_aad(&id, 1)).unwrap();
        assert_eq!(key.algorithm().name(), alg);
        assert_eq!(hmac(key.algorithm(), key.as_bytes(), msg), mac);
        assert!(!wrapped.windows(len).any(|x| x == key.as_bytes()));
        // By alias too.
        w.ok(
            "CreateAlias",
            json!({"AliasName": format!("alias/mac-{spec}"), "TargetKeyId": id}),
        );
        let v = verify(&w, &format!("alias/mac-{spec}"), alg, msg, &mac).unwrap();
        assert_eq!(
            v,
            json!({"KeyId": arn(&id), "MacValid": true, "MacAlgorithm": alg})
        );
        // Maximum message size.
        let big = vec![7u8; 4096];
        let m = unb64(&gen(&w, &id, alg, &big)["Mac"]);
        verify(&w, &id, alg, &big, &m).unwrap();
    }
}

#[test]
fn wrong_mac_is_invalid_mac_exception() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_256");
    let mac = unb64(&gen(&w, &id, "HMAC_SHA_256", b"m")["Mac"]);
    let mut flipped = mac.clone();
    flipped[31] ^= 1;
    let other_key = hmac_key(&w, "HMAC_256");
    for (msg, m) in [
        (&b"m"[..], flipped),
        (&b"n"[..], mac.clone()),
        (&b"m"[..], mac[..31].to_vec()),
        (&b"m"[..], [mac.clone(), vec![0]].concat()),
    ] {
        let e = verify(&w, &id, "HMAC_SHA_256", msg, &m).unwrap_err();
        assert_err(&e, "KMSInvalidMacException", None);
        assert!(e.message.is_none());
    }
    let e = verify(&w, &other_key, "HMAC_SHA_256", b"m", &mac).unwrap_err();
    assert_eq!(e.code, "KMSInvalidMacException");
}

#[test]
fn wrong_algorithm_for_key_spec() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_224");
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_err(
        &e,
        "InvalidKeyUsageException",
        Some("Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."),
    );
    let e = verify(&w, &id, "HMAC_SHA_512", b"m", &[0; 64]).unwrap_err();
    assert_err(
        &e,
        "InvalidKeyUsageException",
        Some("Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_224."),
    );
}

#[test]
fn input_validation() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_256");
    for input in [
        json!({"KeyId": id, "Message": "", "MacAlgorithm": "HMAC_SHA_256"}),
        json!({"KeyId": id, "Message": b64(&[0; 4097]), "MacAlgorithm": "HMAC_SHA_256"}),
        json!({"KeyId": id, "MacAlgorithm": "HMAC_SHA_256"}),
        json!({"KeyId": id, "Message": b64(b"m")}),
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_1"}),
        json!({"Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
    ] {
        let e = w.err("GenerateMac", input.clone());
        assert_eq!(e.code, "ValidationException", "{input}: {e}");
    }
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_1"}),
    );
    assert!(e
        .message
        .unwrap()
        .contains("Value 'HMAC_SHA_1' at 'macAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384, HMAC_SHA_512]"));
    let e = w.err(
        "VerifyMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_eq!(
        e.message.as_deref(),
        Some("1 validation error detected: Value null at 'mac' failed to satisfy constraint: Member must not be null")
    );
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": id, "Message": "***", "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_eq!(e.code, "SerializationException");
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": "alias/none", "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_eq!(e.code, "NotFoundException");
}

#[test]
fn dry_run() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_512");
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_512", "DryRun": true}),
    );
    assert_err(
        &e,
        "DryRunOperationException",
        Some("The request would have succeeded, but the DryRun option is set."),
    );
    let mac = unb64(&gen(&w, &id, "HMAC_SHA_512", b"m")["Mac"]);
    let e = w.err(
        "VerifyMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_512", "Mac": b64(&mac), "DryRun": true}),
    );
    assert_eq!(e.code, "DryRunOperationException");
}

#[test]
fn wrong_key_usage_both_ways() {
    let w = World::new();
    let sym = w.key();
    for op in ["GenerateMac", "VerifyMac"] {
        let e = w.err(
            op,
            json!({"KeyId": sym, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256", "Mac": b64(&[0; 32])}),
        );
        assert_err(
            &e,
            "InvalidKeyUsageException",
            Some(&format!(
                "{} key usage is ENCRYPT_DECRYPT which is not valid for {op}.",
                arn(&sym)
            )),
        );
    }
    let id = hmac_key(&w, "HMAC_256");
    let usage = |op: &str| {
        format!(
            "{} key usage is GENERATE_VERIFY_MAC which is not valid for {op}.",
            arn(&id)
        )
    };
    let e = w.err("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"p")}));
    assert_err(&e, "InvalidKeyUsageException", Some(&usage("Encrypt")));
    for op in ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"] {
        let e = w.err(op, json!({"KeyId": id, "KeySpec": "AES_256"}));
        assert_err(&e, "InvalidKeyUsageException", Some(&usage(op)));
    }
    for op in ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"] {
        let e = w.err(op, json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P256"}));
        assert_err(&e, "InvalidKeyUsageException", Some(&usage(op)));
    }
    let ct =
        w.ok("Encrypt", json!({"KeyId": sym, "Plaintext": b64(b"p")}))["CiphertextBlob"].clone();
    let e = w.err(
        "ReEncrypt",
        json!({"CiphertextBlob": ct, "DestinationKeyId": id}),
    );
    assert_err(&e, "InvalidKeyUsageException", Some(&usage("ReEncrypt")));
    let e = w.err(
        "Sign",
        json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert_err(&e, "InvalidKeyUsageException", Some(&usage("Sign")));
    // A ciphertext forged to name the HMAC key (blob bytes 1..17: the key's UUID) is refused
    // for the key's usage.
    let mut forged = unb64(&ct);
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    for (i, slot) in forged[1..17].iter_mut().enumerate() {
        *slot = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&forged)}));
    assert_err(&e, "InvalidKeyUsageException", Some(&usage("Decrypt")));
}

#[test]
fn rotation_is_for_symmetric_keys_only() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_256");
    for op in [
        "EnableKeyRotation",
        "DisableKeyRotation",
        "RotateKeyOnDemand",
        "ListKeyRotations",
    ] {
        let e = w.err(op, json!({"KeyId": id}));
        assert_eq!(e.code, "UnsupportedOperationException", "{op}");
    }
    let v = w.ok("GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(v["KeyRotationEnabled"], false);
    let before = w.dump();
    w.clock.advance_secs(400 * 86400);
    w.kms.run_due_deletions().unwrap();
    assert_eq!(w.dump(), before);
}

#[test]
fn key_states() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_384");
    let mac = unb64(&gen(&w, &id, "HMAC_SHA_384", b"m")["Mac"]);
    w.ok("DisableKey", json!({"KeyId": id}));
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_384"}),
    );
    assert_err(
        &e,
        "DisabledException",
        Some(&format!("{} is disabled.", arn(&id))),
    );
    let e = verify(&w, &id, "HMAC_SHA_384", b"m", &mac).unwrap_err();
    assert_eq!(e.code, "DisabledException");
    w.ok("EnableKey", json!({"KeyId": id}));
    verify(&w, &id, "HMAC_SHA_384", b"m", &mac).unwrap();
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    let e = verify(&w, &id, "HMAC_SHA_384", b"m", &mac).unwrap_err();
    assert_err(
        &e,
        "KMSInvalidStateException",
        Some(&format!("{} is pending deletion.", arn(&id))),
    );
    assert_eq!(
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["KeyState"],
        "PendingDeletion"
    );
    w.ok("CancelKeyDeletion", json!({"KeyId": id}));
    w.ok("EnableKey", json!({"KeyId": id}));
    verify(&w, &id, "HMAC_SHA_384", b"m", &mac).unwrap();
    // Deletion removes the key with its wrapped material.
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    w.clock.advance_secs(7 * 86400);
    assert_eq!(w.kms.run_due_deletions().unwrap(), 1);
    assert!(w.dump().is_empty());
}

#[test]
fn grants_on_hmac_keys() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_256");
    let alice = user(ACCT, "alice", &[]);
    let alice_arn = format!("arn:aws:iam::{ACCT}:user/alice");
    for ops in [
        json!(["Encrypt"]),
        json!(["GenerateMac", "Decrypt"]),
        json!(["GenerateDataKey"]),
        json!(["Sign"]),
    ] {
        let e = w.err(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": alice_arn, "Operations": ops}),
        );
        assert_eq!(e.code, "ValidationException", "{ops}");
    }
    let e = w.err(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice_arn, "Operations": ["GenerateMac"],
               "Constraints": {"EncryptionContextSubset": {"a": "b"}}}),
    );
    assert_eq!(e.code, "ValidationException");
    // Symmetric keys still refuse the MAC operations.
    let sym = w.key();
    let e = w.err(
        "CreateGrant",
        json!({"KeyId": sym, "GranteePrincipal": alice_arn, "Operations": ["GenerateMac"]}),
    );
    assert_eq!(e.code, "ValidationException");
    // Without a grant alice is denied.
    let input = json!({"KeyId": arn(&id), "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"});
    let e = w.call("GenerateMac", &alice, input.clone()).unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    w.ok(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice_arn,
               "Operations": ["GenerateMac", "DescribeKey", "CreateGrant", "RetireGrant"]}),
    );
    let mac = unb64(&w.call("GenerateMac", &alice, input).unwrap()["Mac"]);
    let e = w
        .call(
            "VerifyMac",
            &alice,
            json!({"KeyId": arn(&id), "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256", "Mac": b64(&mac)}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let grants = w.ok("ListGrants", json!({"KeyId": id}));
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 1);
}

#[test]
fn authorization_through_the_normal_gate() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_256");
    let input = |alg: &str| json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": alg});
    // IAM allow (the default key policy delegates to IAM), conditioned on kms:MacAlgorithm.
    let cond = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["kms:GenerateMac", "kms:VerifyMac"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256", "kms:KeySpec": "HMAC_256"}}}]});
    let bob = user(ACCT, "bob", &[cond]);
    let v = w.call("GenerateMac", &bob, input("HMAC_SHA_256")).unwrap();
    assert_eq!(v["MacAlgorithm"], "HMAC_SHA_256");
    // Another algorithm fails the condition before the key-spec check.
    let e = w
        .call("GenerateMac", &bob, input("HMAC_SHA_512"))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(e.message.unwrap().contains("kms:GenerateMac"));
    // No policy: denied; the audit record carries the decision and no secrets.
    let nobody = user(ACCT, "carl", &[]);
    let call = w.call_full("GenerateMac", &nobody, input("HMAC_SHA_256"));
    assert_eq!(call.result.unwrap_err().code, "AccessDeniedException");
    assert_eq!(call.audit.key_arn.as_deref(), Some(arn(&id).as_str()));
    // An explicit deny on VerifyMac wins over an allow of kms:*.
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:VerifyMac", "Resource": "*"}]});
    let dana = user(ACCT, "dana", &[deny]);
    let mac = unb64(&w.call("GenerateMac", &dana, input("HMAC_SHA_256")).unwrap()["Mac"]);
    let mut v_in = input("HMAC_SHA_256");
    v_in["Mac"] = json!(b64(&mac));
    let e = w.call("VerifyMac", &dana, v_in.clone()).unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // Another account cannot use the key without the key policy's consent.
    let other = root(OTHER);
    let mut cross = v_in;
    cross["KeyId"] = json!(arn(&id));
    let e = w.call("VerifyMac", &other, cross).unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn audit_record_holds_no_message_or_mac() {
    let w = World::new();
    let id = hmac_key(&w, "HMAC_256");
    let call = w.call_full(
        "GenerateMac",
        &root(ACCT),
        json!({"KeyId": id, "Message": b64(b"secret message"), "MacAlgorithm": "HMAC_SHA_256"}),
    );
    let mac = call.result.unwrap()["Mac"].as_str().unwrap().to_string();
    assert!(call.audit.response_elements.is_none());
    let params = call.audit.request_parameters.to_string();
    assert!(params.contains("HMAC_SHA_256"), "{params}");
    assert!(!params.contains(&b64(b"secret message")), "{params}");
    let call = w.call_full(
        "VerifyMac",
        &root(ACCT),
        json!({"KeyId": id, "Message": b64(b"secret message"), "MacAlgorithm": "HMAC_SHA_256", "Mac": mac}),
    );
    assert!(call.result.is_ok());
    assert!(!call.audit.request_parameters.to_string().contains(&mac));
    assert!(call.audit.response_elements.is_none());
}

#[test]
fn hmac_keys_survive_restart() {
    let w = World::new();
    let mut macs = Vec::new();
    for (spec, alg, _) in SPECS {
        let id = hmac_key(&w, spec);
        let mac = unb64(&gen(&w, &id, alg, b"persist me")["Mac"]);
        macs.push((id, alg, mac));
    }
    let sym = w.key();
    let ct =
        w.ok("Encrypt", json!({"KeyId": sym, "Plaintext": b64(b"p")}))["CiphertextBlob"].clone();
    // Records of symmetric keys carry no key spec (as before HMAC keys): they load with the
    // default SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT.
    let rows = w.store.inner.load("kms_keys").unwrap();
    let (_, sym_rec) = rows.iter().find(|(k, _)| *k == sym).unwrap();
    let sym_rec = String::from_utf8(sym_rec.clone()).unwrap();
    assert!(
        !sym_rec.contains("key_spec") && !sym_rec.contains("key_usage"),
        "{sym_rec}"
    );
    let kms2 = w.reopen().unwrap();
    let call = |op: &str, input: Value| kms2.call(op, &root(ACCT), &meta(REGION), &input).result;
    for (id, alg, mac) in &macs {
        let v = call(
            "GenerateMac",
            json!({"KeyId": id, "Message": b64(b"persist me"), "MacAlgorithm": alg}),
        )
        .unwrap();
        assert_eq!(&unb64(&v["Mac"]), mac);
        call(
            "VerifyMac",
            json!({"KeyId": id, "Message": b64(b"persist me"), "MacAlgorithm": alg, "Mac": b64(mac)}),
        )
        .unwrap();
        let d = call("DescribeKey", json!({"KeyId": id})).unwrap();
        assert_eq!(d["KeyMetadata"]["KeyUsage"], "GENERATE_VERIFY_MAC");
        assert_eq!(d["KeyMetadata"]["MacAlgorithms"], json!([alg]));
    }
    let d = call("DescribeKey", json!({"KeyId": sym})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(d["KeyMetadata"]["KeyUsage"], "ENCRYPT_DECRYPT");
    let p = call("Decrypt", json!({"CiphertextBlob": ct})).unwrap();
    assert_eq!(unb64(&p["Plaintext"]), b"p");
    // A store whose HMAC material does not unwrap refuses to load.
    let other_root = std::sync::Arc::new(kmsd_crypto::RootKey::generate().unwrap());
    let e = kmsd_core::kms::Kms::open(w.store.clone(), w.clock.clone(), other_root, w.dir.clone())
        .unwrap_err();
    assert_eq!(e.code, "KMSInternalException");
}
