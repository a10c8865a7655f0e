//! Imported key material (Origin EXTERNAL): CreateKey → PendingImport, GetParametersForImport
//! with every wrapping algorithm, ImportKeyMaterial (expiration models, reimport, wrong
//! material, tokens of another key, expired or garbage tokens, undecryptable material),
//! DeleteImportedKeyMaterial, expiry at ValidTo driven by the clock, multiple key materials
//! (NEW_KEY_MATERIAL + RotateKeyOnDemand), imported HMAC keys, the key-state rows, condition
//! keys, and restart (parameters and material survive, wrapped); imported asymmetric keys (RSA
//! and ECC private keys as PKCS#8: GetPublicKey equals the imported key's, Sign/Verify and
//! Decrypt work, reimport of the same key pair, another key pair or a key of another size or
//! curve refused, wrapping algorithms that cannot carry the key refused, restart).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use kmsd_core::store::Store;
use kmsd_crypto::asymmetric::{
    EncryptionAlgorithm, KeySpec as Asym, MessageType, PrivateKey, SigningAlgorithm,
};
use kmsd_crypto::import::{wrap_for_import, WrappingAlgorithm};
use kmsd_crypto::mac::{hmac, MacAlgorithm};
use serde_json::{json, Value};

const ALGS: [&str; 4] = [
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
];

fn external_key(w: &World, extra: Value) -> String {
    let mut input = json!({"Origin": "EXTERNAL"});
    if let (Value::Object(a), Value::Object(b)) = (&mut input, extra) {
        a.extend(b);
    }
    let v = w.ok("CreateKey", input);
    let m = &v["KeyMetadata"];
    assert_eq!(m["Origin"], "EXTERNAL");
    assert_eq!(m["KeyState"], "PendingImport");
    assert_eq!(m["Enabled"], false);
    m["KeyId"].as_str().unwrap().to_string()
}

/// (token, public key DER) of a GetParametersForImport.
fn params(w: &World, id: &str, alg: &str, spec: &str) -> (Vec<u8>, Vec<u8>) {
    let v = w.ok(
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": spec}),
    );
    assert_eq!(v["KeyId"], arn(id));
    assert_eq!(v["ParametersValidTo"], json!((T0 + 86_400_000) / 1000));
    (unb64(&v["ImportToken"]), unb64(&v["PublicKey"]))
}

fn import_input(id: &str, token: &[u8], wrapped: &[u8]) -> Value {
    json!({
        "KeyId": id,
        "ImportToken": b64(token),
        "EncryptedKeyMaterial": b64(wrapped),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    })
}

fn import(w: &World, id: &str, material: &[u8], alg: &str) -> Value {
    let (token, public) = params(w, id, alg, "RSA_2048");
    let wrapped = wrap_for_import(
        &public,
        WrappingAlgorithm::from_name(alg).unwrap(),
        material,
    )
    .unwrap();
    w.ok("ImportKeyMaterial", import_input(id, &token, &wrapped))
}

fn encrypt(w: &World, id: &str) -> Vec<u8> {
    let v = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"hello")}));
    unb64(&v["CiphertextBlob"])
}

fn decrypt(w: &World, ct: &[u8]) -> Result<Value, kmsd_core::error::ApiError> {
    w.call("Decrypt", &root(ACCT), json!({"CiphertextBlob": b64(ct)}))
}

fn state(w: &World, id: &str) -> String {
    w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["KeyState"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_wrapping_algorithm_imports_and_the_key_works() {
    let w = World::new();
    for alg in ALGS {
        let id = external_key(&w, json!({}));
        let e = w.err("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")}));
        assert_err(
            &e,
            "KMSInvalidStateException",
            Some(&format!("{} is pending import.", arn(&id))),
        );
        let v = import(&w, &id, &[0x42; 32], alg);
        assert_eq!(v["KeyId"], arn(&id));
        assert_eq!(v["KeyMaterialId"].as_str().unwrap().len(), 64);
        let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
        assert_eq!(m["KeyState"], "Enabled");
        assert_eq!(m["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");
        assert_eq!(m["CurrentKeyMaterialId"], v["KeyMaterialId"]);
        assert!(m.get("ValidTo").is_none());
        let ct = encrypt(&w, &id);
        assert_eq!(unb64(&decrypt(&w, &ct).unwrap()["Plaintext"]), b"hello");
    }
}

#[test]
fn every_wrapping_key_spec_gives_a_public_key_of_its_size() {
    let w = World::new();
    let id = external_key(&w, json!({}));
    for (spec, der_min) in [("RSA_2048", 290), ("RSA_3072", 410), ("RSA_4096", 540)] {
        let (_, public) = params(&w, &id, "RSA_AES_KEY_WRAP_SHA_256", spec);
        assert!(
            public.len() >= der_min && public.len() < der_min + 30,
            "{spec}: {}",
            public.len()
        );
    }
    // SM2 is for the China Regions; RSAES_PKCS1_V1_5 is no longer supported.
    for (alg, spec) in [
        ("SM2PKE", "SM2"),
        ("RSAES_OAEP_SHA_256", "SM2"),
        ("RSAES_PKCS1_V1_5", "RSA_2048"),
    ] {
        let e = w.err(
            "GetParametersForImport",
            json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": spec}),
        );
        assert_err(&e, "UnsupportedOperationException", None);
    }
    let e = w.err(
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSA_OAEP", "WrappingKeySpec": "RSA_1024"}),
    );
    assert_err(&e, "ValidationException", None);
    let e = w.err("GetParametersForImport", json!({"KeyId": id}));
    assert_err(&e, "ValidationException", None);
}

#[test]
fn delete_and_reimport_the_same_material_brings_old_ciphertexts_back() {
    let w = World::new();
    let id = external_key(&w, json!({}));
    let first = import(&w, &id, &[7u8; 32], "RSAES_OAEP_SHA_256");
    let ct = encrypt(&w, &id);
    let d = w.ok("DeleteImportedKeyMaterial", json!({"KeyId": id}));
    assert_eq!(d["KeyMaterialId"], first["KeyMaterialId"]);
    assert_eq!(state(&w, &id), "PendingImport");
    assert_err(
        &decrypt(&w, &ct).unwrap_err(),
        "KMSInvalidStateException",
        None,
    );
    // The material is gone from the store.
    assert!(w
        .store
        .load("kms_material")
        .unwrap()
        .iter()
        .all(|(k, _)| !k.starts_with(&id)));
    // Deleting again has no effect.
    w.ok("DeleteImportedKeyMaterial", json!({"KeyId": id}));
    // Different material: refused, nothing changes.
    let (token, public) = params(&w, &id, "RSAES_OAEP_SHA_256", "RSA_2048");
    let other = wrap_for_import(&public, WrappingAlgorithm::RsaesOaepSha256, &[8u8; 32]).unwrap();
    let before = w.dump();
    let e = w.err("ImportKeyMaterial", import_input(&id, &token, &other));
    assert_err(&e, "IncorrectKeyMaterialException", None);
    assert_eq!(w.dump(), before);
    let again = import(&w, &id, &[7u8; 32], "RSA_AES_KEY_WRAP_SHA_1");
    assert_eq!(again["KeyMaterialId"], first["KeyMaterialId"]);
    assert_eq!(state(&w, &id), "Enabled");
    assert_eq!(unb64(&decrypt(&w, &ct).unwrap()["Plaintext"]), b"hello");
}

#[test]
fn tokens_of_another_key_expired_or_garbage_are_refused_and_change_nothing() {
    let w = World::new();
    let a = external_key(&w, json!({}));
    let b = external_key(&w, json!({}));
    let (token_a, public_a) = params(&w, &a, "RSAES_OAEP_SHA_256", "RSA_2048");
    let wrapped =
        wrap_for_import(&public_a, WrappingAlgorithm::RsaesOaepSha256, &[1u8; 32]).unwrap();
    let before = w.dump();
    let e = w.err("ImportKeyMaterial", import_input(&b, &token_a, &wrapped));
    assert_err(&e, "InvalidImportTokenException", None);
    for garbage in [
        b"x".to_vec(),
        vec![0u8; 64],
        token_a[..token_a.len() - 3].to_vec(),
    ] {
        let e = w.err("ImportKeyMaterial", import_input(&a, &garbage, &wrapped));
        assert_err(&e, "InvalidImportTokenException", None);
    }
    // Material wrapped under another public key / algorithm does not decrypt.
    let (_, public_b) = params(&w, &b, "RSAES_OAEP_SHA_256", "RSA_2048");
    let under_b =
        wrap_for_import(&public_b, WrappingAlgorithm::RsaesOaepSha256, &[1u8; 32]).unwrap();
    let before2 = w.dump();
    let e = w.err("ImportKeyMaterial", import_input(&a, &token_a, &under_b));
    assert_err(&e, "InvalidCiphertextException", None);
    let sha1 = wrap_for_import(&public_a, WrappingAlgorithm::RsaesOaepSha1, &[1u8; 32]).unwrap();
    let e = w.err("ImportKeyMaterial", import_input(&a, &token_a, &sha1));
    assert_err(&e, "InvalidCiphertextException", None);
    // Wrong length for a symmetric key.
    let short = wrap_for_import(&public_a, WrappingAlgorithm::RsaesOaepSha256, &[1u8; 16]).unwrap();
    let e = w.err("ImportKeyMaterial", import_input(&a, &token_a, &short));
    assert_err(&e, "IncorrectKeyMaterialException", None);
    assert_eq!(w.dump(), before2);
    assert!(before.len() < before2.len()); // the second GetParametersForImport was stored
                                           // Another account cannot use the key at all.
    let e = w
        .call(
            "ImportKeyMaterial",
            &root(OTHER),
            import_input(&arn(&a), &token_a, &wrapped),
        )
        .unwrap_err();
    assert_err(&e, "AccessDeniedException", None);
    // After 24 hours the token has expired.
    w.clock.advance_secs(86_400);
    let e = w.err("ImportKeyMaterial", import_input(&a, &token_a, &wrapped));
    assert_err(&e, "ExpiredImportTokenException", None);
    assert_eq!(state(&w, &a), "PendingImport");
}

#[test]
fn expiration_model_and_valid_to() {
    let w = World::new();
    let id = external_key(&w, json!({}));
    let (token, public) = params(&w, &id, "RSAES_OAEP_SHA_256", "RSA_2048");
    let wrapped = wrap_for_import(&public, WrappingAlgorithm::RsaesOaepSha256, &[3u8; 32]).unwrap();
    let base =
        json!({"KeyId": id, "ImportToken": b64(&token), "EncryptedKeyMaterial": b64(&wrapped)});
    let with = |extra: Value| {
        let mut v = base.clone();
        if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
            a.extend(b);
        }
        v
    };
    let now = T0 / 1000;
    for bad in [
        json!({}),
        json!({"ExpirationModel": "KEY_MATERIAL_EXPIRES"}),
        json!({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": now + 3600}),
        json!({"ValidTo": now - 1}),
        json!({"ValidTo": now + 366 * 86_400}),
    ] {
        let e = w.err("ImportKeyMaterial", with(bad.clone()));
        assert_err(&e, "ValidationException", None);
    }
    let e = w.err(
        "ImportKeyMaterial",
        with(json!({"ExpirationModel": "SOMETIMES"})),
    );
    assert_err(&e, "ValidationException", None);
    w.ok("ImportKeyMaterial", with(json!({"ValidTo": now + 3600})));
    let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(m["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
    assert_eq!(m["ValidTo"], json!(now + 3600));
    let ct = encrypt(&w, &id);
    w.clock.advance_secs(3599);
    assert_eq!(state(&w, &id), "Enabled");
    w.clock.advance_secs(1);
    assert_eq!(state(&w, &id), "PendingImport");
    assert_err(
        &decrypt(&w, &ct).unwrap_err(),
        "KMSInvalidStateException",
        None,
    );
    // Survives a restart in that state; reimport (token still valid) restores it.
    let k2 = w.reopen().unwrap();
    let v = k2
        .call(
            "DescribeKey",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id}),
        )
        .result
        .unwrap();
    assert_eq!(v["KeyMetadata"]["KeyState"], "PendingImport");
    w.ok(
        "ImportKeyMaterial",
        with(json!({"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})),
    );
    assert_eq!(unb64(&decrypt(&w, &ct).unwrap()["Plaintext"]), b"hello");
}

#[test]
fn parameters_and_material_survive_a_restart_wrapped() {
    let w = World::new();
    let id = external_key(&w, json!({}));
    let (token, public) = params(&w, &id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
    // The stored parameters hold no unwrapped private key: the public key's modulus is in
    // the response, and the PKCS#8 would contain it; the stored value must not.
    let rows = w.store.load("kms_import").unwrap();
    assert_eq!(rows.len(), 1);
    let stored = String::from_utf8(rows[0].1.clone()).unwrap();
    assert!(!stored.contains("BEGIN"));
    let modulus_tail = &public[public.len() - 40..public.len() - 8];
    let raw_private = serde_json::from_str::<Value>(&stored).unwrap()["wrapped_private_key"]
        .as_str()
        .map(|s| unb64(&json!(s)))
        .unwrap();
    assert!(!raw_private
        .windows(modulus_tail.len())
        .any(|x| x == modulus_tail));
    let k2 = w.reopen().unwrap();
    let wrapped =
        wrap_for_import(&public, WrappingAlgorithm::RsaAesKeyWrapSha256, &[9u8; 32]).unwrap();
    let v = k2
        .call(
            "ImportKeyMaterial",
            &root(ACCT),
            &meta(REGION),
            &import_input(&id, &token, &wrapped),
        )
        .result
        .unwrap();
    assert_eq!(v["KeyId"], arn(&id));
    let k3 = w.reopen().unwrap();
    let ct = k3
        .call(
            "Encrypt",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id, "Plaintext": b64(b"p")}),
        )
        .result
        .unwrap();
    assert!(ct["CiphertextBlob"].is_string());
    // Deleting the key removes its parameters.
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    w.clock.advance_secs(8 * 86_400);
    w.kms.run_due_deletions().unwrap();
    assert!(w.store.load("kms_import").unwrap().is_empty());
}

#[test]
fn imported_hmac_key_macs_with_the_imported_bytes() {
    let w = World::new();
    for (spec, alg, lens, bad) in [
        (
            "HMAC_224",
            MacAlgorithm::HmacSha224,
            [28usize, 64],
            [27usize, 65],
        ),
        ("HMAC_256", MacAlgorithm::HmacSha256, [32, 64], [31, 65]),
        ("HMAC_384", MacAlgorithm::HmacSha384, [48, 128], [47, 129]),
        ("HMAC_512", MacAlgorithm::HmacSha512, [64, 128], [63, 129]),
    ] {
        for len in lens {
            let id = external_key(
                &w,
                json!({"KeySpec": spec, "KeyUsage": "GENERATE_VERIFY_MAC"}),
            );
            for b in bad {
                let (token, public) = params(&w, &id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
                let wrapped = wrap_for_import(
                    &public,
                    WrappingAlgorithm::RsaAesKeyWrapSha256,
                    &vec![5u8; b],
                )
                .unwrap();
                let e = w.err("ImportKeyMaterial", import_input(&id, &token, &wrapped));
                assert_err(&e, "IncorrectKeyMaterialException", None);
            }
            let material: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let v = import(&w, &id, &material, "RSA_AES_KEY_WRAP_SHA_256");
            assert!(v.get("KeyMaterialId").is_none());
            let mac = w.ok(
                "GenerateMac",
                json!({"KeyId": id, "Message": b64(b"msg"), "MacAlgorithm": alg.name()}),
            );
            assert_eq!(unb64(&mac["Mac"]), hmac(alg, &material, b"msg"));
            // After a restart the same MAC.
            let k2 = w.reopen().unwrap();
            let again = k2
                .call(
                    "GenerateMac",
                    &root(ACCT),
                    &meta(REGION),
                    &json!({"KeyId": id, "Message": b64(b"msg"), "MacAlgorithm": alg.name()}),
                )
                .result
                .unwrap();
            assert_eq!(again["Mac"], mac["Mac"]);
            // HMAC keys take no second material.
            let (token, public) = params(&w, &id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
            let other = wrap_for_import(
                &public,
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                &vec![1u8; len],
            )
            .unwrap();
            let mut input = import_input(&id, &token, &other);
            input["ImportType"] = json!("NEW_KEY_MATERIAL");
            let e = w.err("ImportKeyMaterial", input);
            assert_err(&e, "UnsupportedOperationException", None);
        }
    }
}

#[test]
fn new_key_material_is_pending_until_rotate_key_on_demand() {
    let w = World::new();
    let id = external_key(&w, json!({}));
    let first = import(&w, &id, &[1u8; 32], "RSAES_OAEP_SHA_256");
    let ct1 = encrypt(&w, &id);
    // Nothing pending: rotation refused.
    let e = w.err("RotateKeyOnDemand", json!({"KeyId": id}));
    assert_err(&e, "KMSInvalidStateException", None);
    let (token, public) = params(&w, &id, "RSAES_OAEP_SHA_256", "RSA_2048");
    let wrapped = wrap_for_import(&public, WrappingAlgorithm::RsaesOaepSha256, &[2u8; 32]).unwrap();
    let mut input = import_input(&id, &token, &wrapped);
    input["ImportType"] = json!("NEW_KEY_MATERIAL");
    input["KeyMaterialDescription"] = json!("second material");
    let second = w.ok("ImportKeyMaterial", input.clone());
    assert_ne!(second["KeyMaterialId"], first["KeyMaterialId"]);
    // Still encrypting under the first material.
    let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(m["CurrentKeyMaterialId"], first["KeyMaterialId"]);
    let rot = w.ok("ListKeyRotations", json!({"KeyId": id}));
    assert_eq!(rot["Rotations"], json!([]));
    let all = w.ok(
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    let r = all["Rotations"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["KeyMaterialState"], "CURRENT");
    assert_eq!(r[0]["ImportState"], "IMPORTED");
    assert_eq!(r[1]["KeyMaterialState"], "PENDING_ROTATION");
    assert_eq!(r[1]["KeyMaterialDescription"], "second material");
    // A second NEW import while one is pending is refused; the same material as NEW too.
    let e = w.err("ImportKeyMaterial", input);
    assert_err(&e, "IncorrectKeyMaterialException", None);
    w.ok("RotateKeyOnDemand", json!({"KeyId": id}));
    let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(m["CurrentKeyMaterialId"], second["KeyMaterialId"]);
    let rot = w.ok("ListKeyRotations", json!({"KeyId": id}));
    assert_eq!(rot["Rotations"][0]["RotationType"], "ON_DEMAND");
    assert_eq!(rot["Rotations"][0]["KeyMaterialState"], "CURRENT");
    let ct2 = encrypt(&w, &id);
    assert_eq!(unb64(&decrypt(&w, &ct1).unwrap()["Plaintext"]), b"hello");
    assert_eq!(unb64(&decrypt(&w, &ct2).unwrap()["Plaintext"]), b"hello");
    // Deleting the older material by id makes the key PendingImport; its reimport by id
    // (EXISTING_KEY_MATERIAL, KeyMaterialId) restores it.
    w.ok(
        "DeleteImportedKeyMaterial",
        json!({"KeyId": id, "KeyMaterialId": first["KeyMaterialId"]}),
    );
    assert_eq!(state(&w, &id), "PendingImport");
    let (token, public) = params(&w, &id, "RSAES_OAEP_SHA_256", "RSA_2048");
    let wrapped = wrap_for_import(&public, WrappingAlgorithm::RsaesOaepSha256, &[1u8; 32]).unwrap();
    let mut input = import_input(&id, &token, &wrapped);
    input["KeyMaterialId"] = second["KeyMaterialId"].clone();
    let e = w.err("ImportKeyMaterial", input.clone());
    assert_err(&e, "IncorrectKeyMaterialException", None);
    input["KeyMaterialId"] = first["KeyMaterialId"].clone();
    input["ImportType"] = json!("EXISTING_KEY_MATERIAL");
    w.ok("ImportKeyMaterial", input);
    assert_eq!(state(&w, &id), "Enabled");
    assert_eq!(unb64(&decrypt(&w, &ct1).unwrap()["Plaintext"]), b"hello");
    // Automatic rotation is not for imported keys.
    let e = w.err("EnableKeyRotation", json!({"KeyId": id}));
    assert_err(
        &e,
        "UnsupportedOperationException",
        Some(&format!(
            "{} origin is EXTERNAL which is not valid for this operation.",
            arn(&id)
        )),
    );
}

#[test]
fn import_operations_on_aws_kms_keys_and_key_states() {
    let w = World::new();
    let k = w.key();
    for (op, extra) in [
        (
            "GetParametersForImport",
            json!({"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
        ),
        ("DeleteImportedKeyMaterial", json!({})),
        (
            "ImportKeyMaterial",
            json!({"ImportToken": b64(b"t"), "EncryptedKeyMaterial": b64(b"m"), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
        ),
    ] {
        let mut input = json!({"KeyId": k});
        if let (Value::Object(a), Value::Object(b)) = (&mut input, extra) {
            a.extend(b);
        }
        let e = w.err(op, input);
        assert_err(
            &e,
            "UnsupportedOperationException",
            Some(&format!(
                "{} origin is AWS_KMS which is not valid for this operation.",
                arn(&k)
            )),
        );
    }
    // PendingDeletion: GetParametersForImport and ImportKeyMaterial refused; deletion of the
    // material allowed (state unchanged).
    let id = external_key(&w, json!({}));
    let (token, public) = params(&w, &id, "RSAES_OAEP_SHA_256", "RSA_2048");
    let wrapped = wrap_for_import(&public, WrappingAlgorithm::RsaesOaepSha256, &[4u8; 32]).unwrap();
    w.ok("ImportKeyMaterial", import_input(&id, &token, &wrapped));
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    let e = w.err(
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    assert_err(
        &e,
        "KMSInvalidStateException",
        Some(&format!("{} is pending deletion.", arn(&id))),
    );
    let e = w.err("ImportKeyMaterial", import_input(&id, &token, &wrapped));
    assert_err(&e, "KMSInvalidStateException", None);
    w.ok("DeleteImportedKeyMaterial", json!({"KeyId": id}));
    assert_eq!(state(&w, &id), "PendingDeletion");
    // PendingImport: EnableKey/DisableKey refused, tagging and description allowed.
    let p = external_key(&w, json!({}));
    for op in ["EnableKey", "DisableKey"] {
        let e = w.err(op, json!({"KeyId": p}));
        assert_err(
            &e,
            "KMSInvalidStateException",
            Some(&format!("{} is pending import.", arn(&p))),
        );
    }
    w.ok(
        "UpdateKeyDescription",
        json!({"KeyId": p, "Description": "d"}),
    );
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/imp", "TargetKeyId": p}),
    );
    // Disabled with imported material: importing again keeps it disabled.
    let d = external_key(&w, json!({}));
    import(&w, &d, &[6u8; 32], "RSAES_OAEP_SHA_1");
    w.ok("DisableKey", json!({"KeyId": d}));
    import(&w, &d, &[6u8; 32], "RSAES_OAEP_SHA_1");
    assert_eq!(state(&w, &d), "Disabled");
}

#[test]
fn condition_keys_of_the_import_operations() {
    let w = World::new();
    let id = external_key(&w, json!({}));
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:GetParametersForImport", "Resource": "*",
         "Condition": {"StringEquals": {"kms:WrappingAlgorithm": "RSAES_OAEP_SHA_256", "kms:WrappingKeySpec": "RSA_4096"}}},
        {"Effect": "Allow", "Action": "kms:ImportKeyMaterial", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_EXPIRES"},
                       "NumericLessThanEquals": {"kms:ValidTo": (T0 / 1000 + 86_400).to_string()}}}
    ]});
    let alice = user(ACCT, "alice", &[policy]);
    let e = w
        .call(
            "GetParametersForImport",
            &alice,
            json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
        )
        .unwrap_err();
    assert_err(&e, "AccessDeniedException", None);
    let v = w
        .call(
            "GetParametersForImport",
            &alice,
            json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_4096"}),
        )
        .unwrap();
    let (token, public) = (unb64(&v["ImportToken"]), unb64(&v["PublicKey"]));
    let wrapped = wrap_for_import(&public, WrappingAlgorithm::RsaesOaepSha256, &[5u8; 32]).unwrap();
    let e = w
        .call(
            "ImportKeyMaterial",
            &alice,
            import_input(&id, &token, &wrapped),
        )
        .unwrap_err();
    assert_err(&e, "AccessDeniedException", None);
    let mut input = import_input(&id, &token, &wrapped);
    input["ExpirationModel"] = json!("KEY_MATERIAL_EXPIRES");
    input["ValidTo"] = json!(T0 / 1000 + 2 * 86_400);
    let e = w
        .call("ImportKeyMaterial", &alice, input.clone())
        .unwrap_err();
    assert_err(&e, "AccessDeniedException", None);
    input["ValidTo"] = json!(T0 / 1000 + 3600);
    w.call("ImportKeyMaterial", &alice, input).unwrap();
    assert_eq!(state(&w, &id), "Enabled");
}

/// Import `pkcs8` into `id` with `alg` under an RSA_3072 wrapping key.
fn import_private(
    w: &World,
    id: &str,
    pkcs8: &[u8],
    alg: &str,
) -> Result<Value, kmsd_core::error::ApiError> {
    let (token, public) = {
        let v = w.ok(
            "GetParametersForImport",
            json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": "RSA_3072"}),
        );
        (unb64(&v["ImportToken"]), unb64(&v["PublicKey"]))
    };
    let wrapped =
        wrap_for_import(&public, WrappingAlgorithm::from_name(alg).unwrap(), pkcs8).unwrap();
    w.call(
        "ImportKeyMaterial",
        &root(ACCT),
        import_input(id, &token, &wrapped),
    )
}

fn public_key(w: &World, id: &str) -> Vec<u8> {
    unb64(&w.ok("GetPublicKey", json!({"KeyId": id}))["PublicKey"])
}

#[test]
fn imported_ecc_keys_sign_with_the_imported_private_key() {
    let w = World::new();
    for (spec, alg, wrapping) in [
        ("ECC_NIST_P256", "ECDSA_SHA_256", "RSAES_OAEP_SHA_256"),
        ("ECC_NIST_P256", "ECDSA_SHA_256", "RSA_AES_KEY_WRAP_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384", "RSA_AES_KEY_WRAP_SHA_1"),
        ("ECC_NIST_P521", "ECDSA_SHA_512", "RSAES_OAEP_SHA_1"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256", "RSAES_OAEP_SHA_1"),
    ] {
        let id = external_key(&w, json!({"KeySpec": spec, "KeyUsage": "SIGN_VERIFY"}));
        let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
        assert_eq!(m["KeySpec"], spec);
        assert_eq!(m["SigningAlgorithms"], json!([alg]));
        let e = w.err("GetPublicKey", json!({"KeyId": id}));
        assert_err(
            &e,
            "KMSInvalidStateException",
            Some(&format!("{} is pending import.", arn(&id))),
        );
        let e = w.err(
            "Sign",
            json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": alg}),
        );
        assert_eq!(e.code, "KMSInvalidStateException");
        let local = Asym::from_name(spec).unwrap().generate().unwrap();
        let v = import_private(&w, &id, local.pkcs8(), wrapping).unwrap();
        assert_eq!(v["KeyId"], arn(&id));
        assert!(v.get("KeyMaterialId").is_none(), "{v}");
        let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
        assert_eq!(m["KeyState"], "Enabled");
        assert_eq!(m["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");
        assert_eq!(public_key(&w, &id), local.public_key_spki(), "{spec}");
        let sig = unb64(
            &w.ok(
                "Sign",
                json!({"KeyId": id, "Message": b64(b"imported"), "SigningAlgorithm": alg}),
            )["Signature"],
        );
        let a = SigningAlgorithm::from_name(alg).unwrap();
        local
            .verify(a, MessageType::Raw, b"imported", &sig)
            .unwrap();
        let mine = local.sign(a, MessageType::Raw, b"mine").unwrap();
        let v = w.ok(
            "Verify",
            json!({"KeyId": id, "Message": b64(b"mine"), "Signature": b64(&mine), "SigningAlgorithm": alg}),
        );
        assert_eq!(v["SignatureValid"], true);
    }
}

#[test]
fn imported_rsa_key_decrypts_and_signs_and_needs_rsa_aes_key_wrap() {
    let w = World::new();
    let local = Asym::Rsa2048.generate().unwrap();
    let id = external_key(
        &w,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
        let e = w.err(
            "GetParametersForImport",
            json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": "RSA_4096"}),
        );
        assert_err(&e, "ValidationException", Some(&format!("The {alg} wrapping algorithm cannot wrap RSA private key material. Use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.")));
    }
    assert!(w.store.load("kms_import").unwrap().is_empty());
    import_private(&w, &id, local.pkcs8(), "RSA_AES_KEY_WRAP_SHA_256").unwrap();
    assert_eq!(public_key(&w, &id), local.public_key_spki());
    // What the public key encrypts outside kmsd decrypts inside.
    let ct = local
        .encrypt(EncryptionAlgorithm::RsaesOaepSha256, b"to the imported key")
        .unwrap();
    let v = w.ok(
        "Decrypt",
        json!({"KeyId": id, "CiphertextBlob": b64(&ct), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(unb64(&v["Plaintext"]), b"to the imported key");
    // And what kmsd encrypts, the imported private key decrypts.
    let v = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"back"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    );
    let pt = local
        .decrypt(
            EncryptionAlgorithm::RsaesOaepSha1,
            &unb64(&v["CiphertextBlob"]),
        )
        .unwrap();
    assert_eq!(pt.as_slice(), b"back");
    // A signing RSA key.
    let sid = external_key(
        &w,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
    );
    import_private(&w, &sid, local.pkcs8(), "RSA_AES_KEY_WRAP_SHA_1").unwrap();
    let sig = unb64(
        &w.ok(
            "Sign",
            json!({"KeyId": sid, "Message": b64(b"m"), "SigningAlgorithm": "RSASSA_PSS_SHA_256"}),
        )["Signature"],
    );
    local
        .verify(
            SigningAlgorithm::RsassaPssSha256,
            MessageType::Raw,
            b"m",
            &sig,
        )
        .unwrap();
}

#[test]
fn p521_cannot_go_through_oaep_under_rsa_2048() {
    let w = World::new();
    let id = external_key(
        &w,
        json!({"KeySpec": "ECC_NIST_P521", "KeyUsage": "SIGN_VERIFY"}),
    );
    let e = w.err(
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    assert_err(&e, "ValidationException", Some("The RSAES_OAEP_SHA_256 wrapping algorithm with the RSA_2048 wrapping key spec cannot wrap ECC_NIST_P521 key material. Use a larger wrapping key spec or an RSA_AES_KEY_WRAP_SHA_* wrapping algorithm."));
    for (alg, spec) in [
        ("RSA_AES_KEY_WRAP_SHA_256", "RSA_2048"),
        ("RSAES_OAEP_SHA_256", "RSA_3072"),
    ] {
        w.ok(
            "GetParametersForImport",
            json!({"KeyId": id, "WrappingAlgorithm": alg, "WrappingKeySpec": spec}),
        );
    }
}

#[test]
fn asymmetric_reimport_of_the_same_key_pair_only() {
    let w = World::new();
    let local = Asym::EccNistP256.generate().unwrap();
    let other = Asym::EccNistP256.generate().unwrap();
    let id = external_key(
        &w,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    // Wrong material before anything is imported: refused, still pending import.
    let rsa3072 = Asym::Rsa3072.generate().unwrap();
    let p384 = Asym::EccNistP384.generate().unwrap();
    let bad_msg = "The key material is invalid: it must be the PKCS #8 DER encoding of a private key of key spec ECC_NIST_P256.";
    for bad in [
        p384.pkcs8(),
        rsa3072.pkcs8(),
        b"not a key".as_slice(),
        &local.pkcs8()[..40],
    ] {
        let e = import_private(&w, &id, bad, "RSA_AES_KEY_WRAP_SHA_256").unwrap_err();
        assert_err(&e, "IncorrectKeyMaterialException", Some(bad_msg));
        assert_eq!(state(&w, &id), "PendingImport");
    }
    import_private(&w, &id, local.pkcs8(), "RSAES_OAEP_SHA_256").unwrap();
    // Another key pair of the right spec: refused, nothing changed.
    let e = import_private(&w, &id, other.pkcs8(), "RSAES_OAEP_SHA_256").unwrap_err();
    assert_err(&e, "IncorrectKeyMaterialException", Some("The key material is not the key material that was previously imported into this KMS key."));
    assert_eq!(public_key(&w, &id), local.public_key_spki());
    // NEW_KEY_MATERIAL is for symmetric keys only.
    let (token, public) = params(&w, &id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
    let wrapped = wrap_for_import(
        &public,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        other.pkcs8(),
    )
    .unwrap();
    let mut input = import_input(&id, &token, &wrapped);
    input["ImportType"] = json!("NEW_KEY_MATERIAL");
    let e = w.err("ImportKeyMaterial", input);
    assert_eq!(e.code, "UnsupportedOperationException");
    // Delete, then the same key pair (the same PKCS#8) comes back; the public key is the same.
    let v = w.ok("DeleteImportedKeyMaterial", json!({"KeyId": id}));
    assert!(v.get("KeyMaterialId").is_none());
    assert_eq!(state(&w, &id), "PendingImport");
    let e = w.err(
        "Sign",
        json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert_eq!(e.code, "KMSInvalidStateException");
    // A restart while pending import loads the key without a private key.
    let k2 = w.reopen().unwrap();
    let e = k2
        .call(
            "GetPublicKey",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id}),
        )
        .result
        .unwrap_err();
    assert_eq!(e.code, "KMSInvalidStateException");
    let e = import_private(&w, &id, other.pkcs8(), "RSAES_OAEP_SHA_256").unwrap_err();
    assert_eq!(e.code, "IncorrectKeyMaterialException");
    import_private(&w, &id, local.pkcs8(), "RSA_AES_KEY_WRAP_SHA_1").unwrap();
    assert_eq!(state(&w, &id), "Enabled");
    assert_eq!(public_key(&w, &id), local.public_key_spki());
    // After a restart the imported key still signs, wrapped at rest.
    let k3 = w.reopen().unwrap();
    let v = k3
        .call(
            "Sign",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id, "Message": b64(b"after"), "SigningAlgorithm": "ECDSA_SHA_256"}),
        )
        .result
        .unwrap();
    local
        .verify(
            SigningAlgorithm::EcdsaSha256,
            MessageType::Raw,
            b"after",
            &unb64(&v["Signature"]),
        )
        .unwrap();
    let secret = &local.pkcs8()[36..68];
    assert!(!w
        .dump()
        .iter()
        .any(|(_, v)| v.windows(secret.len()).any(|x| x == secret)));
}

#[test]
fn asymmetric_specs_that_cannot_be_imported_are_refused_at_creation() {
    let w = World::new();
    for (spec, usage) in [
        ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
        ("ML_DSA_65", "SIGN_VERIFY"),
        ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
    ] {
        let e = w.err(
            "CreateKey",
            json!({"Origin": "EXTERNAL", "KeySpec": spec, "KeyUsage": usage}),
        );
        assert_eq!(e.code, "UnsupportedOperationException", "{spec}");
    }
    // An imported key's private key is a PKCS#8 of its spec: the parsed key round-trips.
    let k = Asym::EccSecgP256k1.generate().unwrap();
    assert!(PrivateKey::from_pkcs8(Asym::EccNistP256, k.pkcs8()).is_err());
}

#[test]
fn imported_asymmetric_key_expires_at_valid_to_and_comes_back() {
    let w = World::new();
    let local = Asym::EccNistP384.generate().unwrap();
    let id = external_key(
        &w,
        json!({"KeySpec": "ECC_NIST_P384", "KeyUsage": "SIGN_VERIFY"}),
    );
    let (token, public) = params(&w, &id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
    let wrapped = wrap_for_import(
        &public,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        local.pkcs8(),
    )
    .unwrap();
    let now = T0 / 1000;
    let mut input = import_input(&id, &token, &wrapped);
    input["ExpirationModel"] = json!("KEY_MATERIAL_EXPIRES");
    input["ValidTo"] = json!(now + 3600);
    w.ok("ImportKeyMaterial", input);
    let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(m["ExpirationModel"], "KEY_MATERIAL_EXPIRES");
    assert_eq!(m["ValidTo"], json!(now + 3600));
    let sign = json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_384"});
    w.ok("Sign", sign.clone());
    w.clock.advance_secs(3600);
    assert_eq!(state(&w, &id), "PendingImport");
    assert_eq!(w.err("Sign", sign.clone()).code, "KMSInvalidStateException");
    assert_eq!(
        w.err("GetPublicKey", json!({"KeyId": id})).code,
        "KMSInvalidStateException"
    );
    // The expired private key left the store; a restart loads the key without it.
    assert!(w.store.load("kms_material").unwrap().is_empty());
    w.reopen().unwrap();
    // The same key pair comes back (the token is still valid).
    w.ok("ImportKeyMaterial", import_input(&id, &token, &wrapped));
    let v = w.ok("Sign", sign);
    local
        .verify(
            SigningAlgorithm::EcdsaSha384,
            MessageType::Raw,
            b"m",
            &unb64(&v["Signature"]),
        )
        .unwrap();
}
