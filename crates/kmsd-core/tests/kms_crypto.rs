//! Symmetric cryptography through `Kms::call` [decision engine: root caller, default key
//! policy]: Encrypt/Decrypt round trips by every identifier form, encryption context as AAD,
//! tampering and truncation, IncorrectKeyException, ReEncrypt, data keys, GenerateRandom,
//! and rotation keeping old ciphertexts readable.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use serde_json::json;

#[test]
fn encrypt_decrypt_every_form() {
    let w = World::new();
    let id = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCT}:alias/app");
    for form in [id.clone(), arn(&id), "alias/app".to_string(), alias_arn] {
        for size in [1usize, 32, 4096] {
            let pt: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let v = w.ok("Encrypt", json!({"KeyId": form, "Plaintext": b64(&pt)}));
            assert_eq!(v["KeyId"], arn(&id));
            assert_eq!(v["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
            let d = w.ok("Decrypt", json!({"CiphertextBlob": v["CiphertextBlob"]}));
            assert_eq!(unb64(&d["Plaintext"]), pt);
            assert_eq!(d["KeyId"], arn(&id));
            assert_eq!(d["KeyMaterialId"].as_str().unwrap().len(), 64);
            let d = w.ok(
                "Decrypt",
                json!({"CiphertextBlob": v["CiphertextBlob"], "KeyId": form}),
            );
            assert_eq!(unb64(&d["Plaintext"]), pt);
        }
    }
    // Fresh IV each time.
    let a = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"same")}));
    let b = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"same")}));
    assert_ne!(a["CiphertextBlob"], b["CiphertextBlob"]);
}

#[test]
fn encryption_context_is_bound() {
    let w = World::new();
    let id = w.key();
    let ec = json!({"Department": "10", "Purpose": "Test"});
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"data"), "EncryptionContext": ec}),
    )["CiphertextBlob"]
        .clone();
    // Order does not matter.
    let d = w.ok(
        "Decrypt",
        json!({"CiphertextBlob": ct, "EncryptionContext": {"Purpose": "Test", "Department": "10"}}),
    );
    assert_eq!(unb64(&d["Plaintext"]), b"data");
    for bad in [
        json!(null),
        json!({}),
        json!({"Department": "10"}),
        json!({"Department": "10", "Purpose": "test"}),
        json!({"department": "10", "Purpose": "Test"}),
        json!({"Department": "10", "Purpose": "Test", "x": "y"}),
    ] {
        let mut req = json!({"CiphertextBlob": ct});
        if !bad.is_null() {
            req["EncryptionContext"] = bad.clone();
        }
        let e = w.err("Decrypt", req);
        assert_err(&e, "InvalidCiphertextException", None);
        assert_eq!(e.message, None, "{bad}");
    }
    // Empty context equals none.
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"d"), "EncryptionContext": {}}),
    )["CiphertextBlob"]
        .clone();
    w.ok("Decrypt", json!({"CiphertextBlob": ct}));
}

#[test]
fn tampering_and_truncation() {
    let w = World::new();
    let id = w.key();
    let ct = unb64(
        &w.ok(
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(b"0123456789")}),
        )["CiphertextBlob"],
    );
    for i in [0usize, 1, 17, 20, 25, 33, ct.len() - 1] {
        let mut t = ct.clone();
        t[i] ^= 0x01;
        let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&t)}));
        // Flipping a key-id byte names an unknown key: AccessDenied; everything else is InvalidCiphertext.
        if (1..17).contains(&i) {
            assert!(
                e.code == "AccessDeniedException" || e.code == "InvalidCiphertextException",
                "{e}"
            );
        } else {
            assert_err(&e, "InvalidCiphertextException", None);
            assert_eq!(e.message, None);
        }
    }
    for n in [1usize, 10, 33, 48, ct.len() - 1] {
        let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&ct[..n])}));
        assert_err(&e, "InvalidCiphertextException", None);
    }
    let mut longer = ct.clone();
    longer.push(0);
    let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&longer)}));
    assert_err(&e, "InvalidCiphertextException", None);
}

#[test]
fn incorrect_key() {
    let w = World::new();
    let a = w.key();
    let b = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/b", "TargetKeyId": b}),
    );
    let ct = w.ok("Encrypt", json!({"KeyId": a, "Plaintext": b64(b"x")}))["CiphertextBlob"].clone();
    for other in [b.clone(), arn(&b), "alias/b".to_string()] {
        let e = w.err("Decrypt", json!({"CiphertextBlob": ct, "KeyId": other}));
        assert_err(
            &e,
            "IncorrectKeyException",
            Some("The key ID in the request does not identify a CMK that can perform this operation."),
        );
        let e = w.err(
            "ReEncrypt",
            json!({"CiphertextBlob": ct, "SourceKeyId": other, "DestinationKeyId": b}),
        );
        assert_eq!(e.code, "IncorrectKeyException");
    }
    let e = w.err(
        "Decrypt",
        json!({"CiphertextBlob": ct, "KeyId": "alias/none"}),
    );
    assert_eq!(e.code, "NotFoundException");
    let e = w.err(
        "Decrypt",
        json!({"CiphertextBlob": ct, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(e.code, "InvalidKeyUsageException");
}

#[test]
fn re_encrypt() {
    let w = World::new();
    let a = w.key();
    let b = w.key();
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": a, "Plaintext": b64(b"move me"), "EncryptionContext": {"s": "1"}}),
    )["CiphertextBlob"]
        .clone();
    let v = w.ok(
        "ReEncrypt",
        json!({"CiphertextBlob": ct, "SourceEncryptionContext": {"s": "1"}, "DestinationKeyId": b, "DestinationEncryptionContext": {"d": "2"}}),
    );
    assert_eq!(v["SourceKeyId"], arn(&a));
    assert_eq!(v["KeyId"], arn(&b));
    assert_eq!(v["SourceEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(v["DestinationEncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert!(v.get("Plaintext").is_none());
    let d = w.ok(
        "Decrypt",
        json!({"CiphertextBlob": v["CiphertextBlob"], "EncryptionContext": {"d": "2"}}),
    );
    assert_eq!(unb64(&d["Plaintext"]), b"move me");
    assert_eq!(d["KeyId"], arn(&b));
    let e = w.err(
        "ReEncrypt",
        json!({"CiphertextBlob": ct, "DestinationKeyId": b}),
    );
    assert_err(&e, "InvalidCiphertextException", None);
    w.ok("DisableKey", json!({"KeyId": b}));
    let e = w.err(
        "ReEncrypt",
        json!({"CiphertextBlob": ct, "SourceEncryptionContext": {"s": "1"}, "DestinationKeyId": b}),
    );
    assert_eq!(e.code, "DisabledException");
}

#[test]
fn data_keys_and_random() {
    let w = World::new();
    let id = w.key();
    for (req, len) in [
        (json!({"KeyId": id, "KeySpec": "AES_256"}), 32usize),
        (json!({"KeyId": id, "KeySpec": "AES_128"}), 16),
        (json!({"KeyId": id, "NumberOfBytes": 1}), 1),
        (json!({"KeyId": id, "NumberOfBytes": 1024}), 1024),
    ] {
        let mut req = req;
        req["EncryptionContext"] = json!({"a": "b"});
        let v = w.ok("GenerateDataKey", req.clone());
        let pt = unb64(&v["Plaintext"]);
        assert_eq!(pt.len(), len);
        assert_eq!(v["KeyId"], arn(&id));
        let d = w.ok(
            "Decrypt",
            json!({"CiphertextBlob": v["CiphertextBlob"], "EncryptionContext": {"a": "b"}}),
        );
        assert_eq!(unb64(&d["Plaintext"]), pt);
        let v = w.ok("GenerateDataKeyWithoutPlaintext", req);
        assert!(v.get("Plaintext").is_none());
        let d = w.ok(
            "Decrypt",
            json!({"CiphertextBlob": v["CiphertextBlob"], "EncryptionContext": {"a": "b"}}),
        );
        assert_eq!(unb64(&d["Plaintext"]).len(), len);
    }
    for n in [1usize, 1024] {
        let v = w.ok("GenerateRandom", json!({"NumberOfBytes": n}));
        assert_eq!(unb64(&v["Plaintext"]).len(), n);
    }
    let e = w.err(
        "GenerateRandom",
        json!({"NumberOfBytes": 8, "CustomKeyStoreId": "cks-1"}),
    );
    assert_eq!(e.code, "CustomKeyStoreNotFoundException");
}

#[test]
fn dry_run() {
    let w = World::new();
    let id = w.key();
    let e = w.err(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x"), "DryRun": true}),
    );
    assert_err(
        &e,
        "DryRunOperationException",
        Some("The request would have succeeded, but the DryRun option is set."),
    );
    let e = w.err(
        "Decrypt",
        json!({"KeyId": id, "DryRun": true, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}),
    );
    assert_eq!(e.code, "DryRunOperationException");
    let e = w.err(
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256", "DryRun": true}),
    );
    assert_eq!(e.code, "DryRunOperationException");
}

#[test]
fn rotation_keeps_old_ciphertexts_readable() {
    let w = World::new();
    let id = w.key();
    let m0 =
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    let mut cts = vec![
        w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"v1")}))["CiphertextBlob"].clone(),
    ];
    for i in 2..=4 {
        let v = w.ok("RotateKeyOnDemand", json!({"KeyId": id}));
        assert_eq!(v, json!({"KeyId": arn(&id)}));
        cts.push(
            w.ok(
                "Encrypt",
                json!({"KeyId": id, "Plaintext": b64(format!("v{i}").as_bytes())}),
            )["CiphertextBlob"]
                .clone(),
        );
    }
    let m1 =
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    assert_ne!(m0, m1);
    let mut material_ids = std::collections::BTreeSet::new();
    for (i, ct) in cts.iter().enumerate() {
        let d = w.ok("Decrypt", json!({"CiphertextBlob": ct}));
        assert_eq!(unb64(&d["Plaintext"]), format!("v{}", i + 1).as_bytes());
        material_ids.insert(d["KeyMaterialId"].as_str().unwrap().to_string());
    }
    assert_eq!(
        material_ids.len(),
        4,
        "each ciphertext names its own material version"
    );
    // Automatic rotation on the clock.
    w.ok(
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let s = w.ok("GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["KeyRotationEnabled"], true);
    assert_eq!(s["RotationPeriodInDays"], 90);
    assert_eq!(s["NextRotationDate"], json!(T0 / 1000 + 90 * 86400));
    w.clock.advance_secs(90 * 86400);
    w.kms.run_due_deletions().unwrap();
    let r = w.ok("ListKeyRotations", json!({"KeyId": id}));
    let rots = r["Rotations"].as_array().unwrap();
    assert_eq!(rots.len(), 4);
    assert_eq!(rots[3]["RotationType"], "AUTOMATIC");
    assert_eq!(rots[0]["RotationType"], "ON_DEMAND");
    assert_eq!(rots[3]["KeyMaterialState"], "CURRENT");
    let s = w.ok("GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["NextRotationDate"], json!(T0 / 1000 + 180 * 86400));
    for ct in &cts {
        w.ok("Decrypt", json!({"CiphertextBlob": ct}));
    }
    let all = w.ok(
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 2}),
    );
    assert_eq!(all["Rotations"].as_array().unwrap().len(), 2);
    assert_eq!(all["Truncated"], true);
    let rest = w.ok(
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Marker": all["NextMarker"]}),
    );
    assert_eq!(rest["Rotations"].as_array().unwrap().len(), 3);
}

#[test]
fn rotation_rules() {
    let w = World::new();
    let id = w.key();
    let s = w.ok("GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s, json!({"KeyRotationEnabled": false, "KeyId": arn(&id)}));
    for p in [89, 2561] {
        let e = w.err(
            "EnableKeyRotation",
            json!({"KeyId": id, "RotationPeriodInDays": p}),
        );
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.unwrap().contains("rotationPeriodInDays"));
    }
    w.ok("EnableKeyRotation", json!({"KeyId": id}));
    assert_eq!(
        w.ok("GetKeyRotationStatus", json!({"KeyId": id}))["RotationPeriodInDays"],
        365
    );
    w.ok("DisableKeyRotation", json!({"KeyId": id}));
    assert_eq!(
        w.ok("GetKeyRotationStatus", json!({"KeyId": id}))["KeyRotationEnabled"],
        false
    );
    for _ in 0..25 {
        w.ok("RotateKeyOnDemand", json!({"KeyId": id}));
    }
    let e = w.err("RotateKeyOnDemand", json!({"KeyId": id}));
    assert_err(
        &e,
        "LimitExceededException",
        Some(&format!("The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}", arn(&id))),
    );
    w.ok("DisableKey", json!({"KeyId": id}));
    let e = w.err("EnableKeyRotation", json!({"KeyId": id}));
    assert_err(
        &e,
        "DisabledException",
        Some(&format!("{} is disabled.", arn(&id))),
    );
}

#[test]
fn other_key_types_operations() {
    let w = World::new();
    let id = w.key();
    let e = w.err(
        "Sign",
        json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert_err(
        &e,
        "InvalidKeyUsageException",
        Some(&format!(
            "{} key usage is ENCRYPT_DECRYPT which is not valid for Sign.",
            arn(&id)
        )),
    );
    let e = w.err(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
    );
    assert_eq!(e.code, "InvalidKeyUsageException");
    let e = w.err("GetParametersForImport", json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_4096"}));
    assert_err(
        &e,
        "UnsupportedOperationException",
        Some(&format!(
            "{} origin is AWS_KMS which is not valid for this operation.",
            arn(&id)
        )),
    );
}
