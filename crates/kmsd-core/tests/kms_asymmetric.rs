//! Asymmetric KMS keys in `Kms`: the private key wrapped at rest (format v4, nothing of the
//! PKCS#8 in the clear), a store holding symmetric, HMAC and asymmetric keys written before a
//! restart loads back (records of the earlier formats unchanged), Sign/Verify and GetPublicKey
//! after the restart, the key-state table for the new operations, rotation refused, and the
//! audit record without message, signature or shared secret.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use kmsd_core::store::Store;
use kmsd_crypto::asymmetric::{KeySpec, WRAPPED_PRIVATE_KEY_VERSION_V4};
use kmsd_crypto::wrap_aad;
use serde_json::{json, Value};

fn create(w: &World, spec: &str, usage: &str) -> String {
    let v = w.ok("CreateKey", json!({"KeySpec": spec, "KeyUsage": usage}));
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

fn sign(
    kms: &kmsd_core::kms::Kms,
    id: &str,
    alg: &str,
    msg: &[u8],
) -> Result<Value, kmsd_core::error::ApiError> {
    kms.call(
        "Sign",
        &root(ACCT),
        &meta(REGION),
        &json!({"KeyId": id, "Message": b64(msg), "SigningAlgorithm": alg}),
    )
    .result
}

#[test]
fn private_keys_wrapped_and_store_reloads_across_formats() {
    let w = World::new();
    let sym = w.key();
    let hmac = create(&w, "HMAC_256", "GENERATE_VERIFY_MAC");
    let p256 = create(&w, "ECC_NIST_P256", "SIGN_VERIFY");
    let mldsa = create(&w, "ML_DSA_44", "SIGN_VERIFY");
    let kem = create(&w, "ML_KEM_512", "ENCAPSULATE_DECAPSULATE");
    let ct =
        w.ok("Encrypt", json!({"KeyId": sym, "Plaintext": b64(b"p")}))["CiphertextBlob"].clone();
    let pub_before: Vec<Value> = [&p256, &mldsa, &kem]
        .iter()
        .map(|id| w.ok("GetPublicKey", json!({"KeyId": id}))["PublicKey"].clone())
        .collect();
    // At rest: v4 format, AAD-bound, no PKCS#8 in the clear.
    let rows = w.store.load("kms_material").unwrap();
    let (_, wrapped) = rows.iter().find(|(k, _)| k.starts_with(&p256)).unwrap();
    assert_eq!(wrapped[0], WRAPPED_PRIVATE_KEY_VERSION_V4);
    assert_eq!(wrapped[1], KeySpec::EccNistP256.code());
    let pk = w
        .root_key
        .unwrap_private_key(wrapped, &wrap_aad(&p256, 1))
        .unwrap();
    assert!(w
        .root_key
        .unwrap_private_key(wrapped, &wrap_aad(&mldsa, 1))
        .is_err());
    for (_, v) in w.dump() {
        assert!(!v.windows(pk.pkcs8().len()).any(|x| x == pk.pkcs8()));
    }
    // The symmetric key's record is written as before (no key_spec / key_usage members).
    let keys = w.store.load("kms_keys").unwrap();
    let (_, sym_rec) = keys.iter().find(|(k, _)| *k == sym).unwrap();
    let sym_rec = String::from_utf8(sym_rec.clone()).unwrap();
    assert!(!sym_rec.contains("key_spec"), "{sym_rec}");

    let kms2 = w.reopen().unwrap();
    let call = |op: &str, input: Value| kms2.call(op, &root(ACCT), &meta(REGION), &input).result;
    for (id, before) in [&p256, &mldsa, &kem].iter().zip(&pub_before) {
        assert_eq!(
            &call("GetPublicKey", json!({"KeyId": id})).unwrap()["PublicKey"],
            before
        );
    }
    let sig = sign(&kms2, &p256, "ECDSA_SHA_256", b"after restart").unwrap()["Signature"].clone();
    let v = call(
        "Verify",
        json!({"KeyId": p256, "Message": b64(b"after restart"), "Signature": sig, "SigningAlgorithm": "ECDSA_SHA_256"}),
    )
    .unwrap();
    assert_eq!(v["SignatureValid"], true);
    assert_eq!(
        unb64(&call("Decrypt", json!({"CiphertextBlob": ct})).unwrap()["Plaintext"]),
        b"p"
    );
    let d = call("DescribeKey", json!({"KeyId": hmac})).unwrap();
    assert_eq!(d["KeyMetadata"]["MacAlgorithms"], json!(["HMAC_SHA_256"]));
    let d = call("DescribeKey", json!({"KeyId": mldsa})).unwrap();
    assert_eq!(
        d["KeyMetadata"]["SigningAlgorithms"],
        json!(["ML_DSA_SHAKE_256"])
    );
    // Another root key cannot load the store.
    let other = std::sync::Arc::new(kmsd_crypto::RootKey::generate().unwrap());
    let e = kmsd_core::kms::Kms::open(w.store.clone(), w.clock.clone(), other, w.dir.clone())
        .unwrap_err();
    assert_eq!(e.code, "KMSInternalException");
}

#[test]
fn key_states_rotation_and_audit() {
    let w = World::new();
    let id = create(&w, "ECC_NIST_P384", "KEY_AGREEMENT");
    let sv = create(&w, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY");
    for op in ["EnableKeyRotation", "RotateKeyOnDemand"] {
        let e = w.err(op, json!({"KeyId": sv}));
        assert_eq!(e.code, "UnsupportedOperationException", "{op}");
    }
    w.ok("DisableKey", json!({"KeyId": sv}));
    let e = w.err(
        "Sign",
        json!({"KeyId": sv, "Message": b64(b"m"), "SigningAlgorithm": "ED25519_SHA_512"}),
    );
    assert_eq!(e.code, "DisabledException");
    let e = w.err("GetPublicKey", json!({"KeyId": sv}));
    assert_eq!(e.code, "DisabledException");
    w.ok("EnableKey", json!({"KeyId": sv}));
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": sv, "PendingWindowInDays": 7}),
    );
    let e = w.err("Verify", json!({"KeyId": sv, "Message": b64(b"m"), "Signature": b64(b"s"), "SigningAlgorithm": "ED25519_SHA_512"}));
    assert_eq!(e.code, "KMSInvalidStateException");
    // DeriveSharedSecret: the audit record holds neither the public key bytes' secret output
    // nor the response.
    let peer = KeySpec::EccNistP384.generate().unwrap();
    let call = w.call_full(
        "DeriveSharedSecret",
        &root(ACCT),
        json!({"KeyId": id, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(peer.public_key_spki())}),
    );
    let out = call.result.unwrap();
    assert_eq!(unb64(&out["SharedSecret"]).len(), 48);
    assert!(call.audit.response_elements.is_none());
    let text = call.audit.request_parameters.to_string();
    assert!(!text.contains(out["SharedSecret"].as_str().unwrap()));
    // Wrong usage for the key agreement key.
    let e = w.err(
        "Sign",
        json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_384"}),
    );
    assert_eq!(e.code, "InvalidKeyUsageException");
    let sc = w.call_full(
        "Sign",
        &root(ACCT),
        json!({"KeyId": create(&w, "ECC_NIST_P256", "SIGN_VERIFY"), "Message": b64(b"secret message"), "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    let sig = sc.result.unwrap()["Signature"]
        .as_str()
        .unwrap()
        .to_string();
    let text = sc.audit.request_parameters.to_string();
    assert!(!text.contains(&b64(b"secret message")) && !text.contains(&sig));
    assert!(sc.audit.response_elements.is_none());
}
