//! Property tests: arbitrary ciphertext bytes and arbitrary request bodies never panic, never
//! leak plaintext into errors, and a caller without permissions never changes anything.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use proptest::prelude::*;
use serde_json::{json, Value};

const OPS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "UpdateKeyDescription",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "CreateGrant",
    "ListGrants",
    "ListRetirableGrants",
    "RetireGrant",
    "RevokeGrant",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "ListKeyRotations",
    "Sign",
    "GetPublicKey",
    "DescribeCustomKeyStores",
];

const FIELDS: &[&str] = &[
    "KeyId",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "GrantTokens",
    "AliasName",
    "TargetKeyId",
    "Policy",
    "Tags",
    "TagKeys",
    "Operations",
    "GranteePrincipal",
    "GrantId",
    "GrantToken",
    "Limit",
    "Marker",
    "NumberOfBytes",
    "KeySpec",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "Description",
    "DestinationKeyId",
    "Constraints",
    "DryRun",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (0i64..2000).prop_map(|n| json!(n)),
        "[a-zA-Z0-9:/_+=-]{0,40}".prop_map(Value::String),
        Just(json!("alias/x")),
        Just(json!("11111111-2222-4333-8444-555555555555")),
        Just(json!(format!(
            "arn:aws:kms:{REGION}:{ACCT}:key/11111111-2222-4333-8444-555555555555"
        ))),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| Value::String(b64(&b))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[A-Za-z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(proptest::sample::select(FIELDS), value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn unprivileged_callers_change_nothing(op in proptest::sample::select(OPS), input in body()) {
        let w = World::new();
        let before = w.dump();
        let bob = user(ACCT, "bob", &[]);
        let call = w.call_full(op, &bob, input.clone());
        prop_assert!(call.result.is_err(), "{op} {input} -> {:?}", call.result);
        prop_assert_eq!(w.dump(), before);
        let rp = &call.audit.request_parameters;
        prop_assert!(rp.get("plaintext").is_none() && rp.get("ciphertextBlob").is_none(), "{rp}");
    }

    #[test]
    fn arbitrary_ciphertext_is_rejected(bytes in proptest::collection::vec(any::<u8>(), 1..200), flip in any::<usize>()) {
        let w = World::new();
        let id = w.key();
        let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&bytes)}));
        prop_assert!(e.code == "InvalidCiphertextException" || e.code == "AccessDeniedException", "{e}");
        // A real ciphertext with one bit flipped anywhere after the key id.
        let ct = unb64(&w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"payload")}))["CiphertextBlob"]);
        let mut t = ct.clone();
        let i = 17 + flip % (ct.len() - 17);
        t[i] ^= 0x80;
        let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&t)}));
        prop_assert_eq!(e.code, "InvalidCiphertextException");
        prop_assert_eq!(e.message, None);
    }
}
