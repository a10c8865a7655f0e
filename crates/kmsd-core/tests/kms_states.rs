//! The key-state table of §3: a table test over states × operations of `check_state`, and the
//! same table driven through `Kms::call` for the states a key can reach here (Enabled,
//! Disabled, PendingDeletion). The second test needs the decision engine (root caller,
//! default key policy).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use kmsd_core::kms::key::KeyState;
use kmsd_core::kms::states::check_state;
use kmsd_core::kms::KmsOp;
use serde_json::{json, Value};

/// Expected outcome: "ok" or the error code, per state in KeyState::ALL order
/// (Enabled, Disabled, PendingDeletion, PendingImport, Unavailable, PendingReplicaDeletion).
fn expected(op: &str) -> [&'static str; 6] {
    const OK: &str = "ok";
    const INV: &str = "KMSInvalidStateException";
    const DIS: &str = "DisabledException";
    const UNS: &str = "UnsupportedOperationException";
    match op {
        "Encrypt"
        | "Decrypt"
        | "ReEncrypt"
        | "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext" => [OK, DIS, INV, INV, INV, INV],
        "CreateGrant" => [OK, DIS, INV, INV, OK, INV],
        "CancelKeyDeletion" => [INV, INV, OK, INV, INV, OK],
        "CreateAlias"
        | "ScheduleKeyDeletion"
        | "TagResource"
        | "UntagResource"
        | "UpdateKeyDescription" => [OK, OK, INV, OK, OK, INV],
        "EnableKey" | "DisableKey" => [OK, OK, INV, INV, OK, INV],
        "EnableKeyRotation" | "DisableKeyRotation" => [OK, DIS, INV, UNS, UNS, INV],
        "GetKeyRotationStatus" => [OK, OK, OK, UNS, UNS, OK],
        "RotateKeyOnDemand" => [OK, DIS, INV, INV, UNS, INV],
        "GetParametersForImport" | "ImportKeyMaterial" => [OK, OK, INV, OK, INV, INV],
        "DescribeKey"
        | "GetKeyPolicy"
        | "PutKeyPolicy"
        | "ListGrants"
        | "ListKeyPolicies"
        | "ListResourceTags"
        | "RetireGrant"
        | "RevokeGrant"
        | "DeleteAlias"
        | "DeleteImportedKeyMaterial" => [OK, OK, OK, OK, OK, OK],
        "ReplicateKey" | "UpdatePrimaryRegion" => [OK, OK, INV, OK, INV, INV],
        other => panic!("no expectation for {other}"),
    }
}

const OPS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "CreateGrant",
    "CancelKeyDeletion",
    "CreateAlias",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateKeyDescription",
    "EnableKey",
    "DisableKey",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "DescribeKey",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListGrants",
    "ListKeyPolicies",
    "ListResourceTags",
    "RetireGrant",
    "RevokeGrant",
    "DeleteAlias",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
];

/// The import operations: on a key of origin AWS_KMS they answer UnsupportedOperationException
/// in every state (the origin is checked before the state).
const IMPORT_OPS: &[&str] = &[
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
];

#[test]
fn state_table() {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
    for op in OPS.iter().chain(&["ReplicateKey", "UpdatePrimaryRegion"]) {
        for (state, want) in KeyState::ALL.iter().zip(expected(op)) {
            let got = check_state(KmsOp::from_name(op).expect("an operation"), *state, arn);
            match (want, &got) {
                ("ok", Ok(())) => {}
                (code, Err(e)) if e.code == code => {}
                _ => panic!("{op} in {state:?}: want {want}, got {got:?}"),
            }
        }
    }
    assert_eq!(
        check_state(KmsOp::Encrypt, KeyState::Disabled, arn)
            .unwrap_err()
            .message
            .as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k is disabled.")
    );
    assert_eq!(
        check_state(KmsOp::Encrypt, KeyState::PendingDeletion, arn)
            .unwrap_err()
            .message
            .as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k is pending deletion.")
    );
    assert_eq!(
        check_state(KmsOp::Encrypt, KeyState::PendingImport, arn)
            .unwrap_err()
            .message
            .as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k is pending import.")
    );
    assert_eq!(
        check_state(KmsOp::Encrypt, KeyState::PendingReplicaDeletion, arn)
            .unwrap_err()
            .message
            .as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k is pending replica deletion.")
    );
    assert_eq!(
        check_state(KmsOp::CancelKeyDeletion, KeyState::Enabled, arn)
            .unwrap_err()
            .message
            .as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k is not pending deletion.")
    );
}

/// A request for `op` on key `id` (with a ciphertext `ct` of that key, a second key `other`
/// and a grant `grant` on the key).
fn request(op: &str, id: &str, ct: &str, other: &str, grant: &str) -> Value {
    match op {
        "Encrypt" => json!({"KeyId": id, "Plaintext": b64(b"hello")}),
        "Decrypt" => json!({"CiphertextBlob": ct}),
        "ReEncrypt" => json!({"CiphertextBlob": ct, "DestinationKeyId": other}),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            json!({"KeyId": id, "KeySpec": "AES_256"})
        }
        "CreateGrant" => {
            json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/alice"), "Operations": ["Decrypt"]})
        }
        "CreateAlias" => json!({"AliasName": format!("alias/s-{}", &id[..8]), "TargetKeyId": id}),
        "ScheduleKeyDeletion" => json!({"KeyId": id, "PendingWindowInDays": 7}),
        "TagResource" => json!({"KeyId": id, "Tags": [{"TagKey": "t", "TagValue": "v"}]}),
        "UntagResource" => json!({"KeyId": id, "TagKeys": ["t"]}),
        "UpdateKeyDescription" => json!({"KeyId": id, "Description": "d"}),
        "PutKeyPolicy" => json!({"KeyId": id, "Policy": default_policy_text()}),
        "RevokeGrant" => json!({"KeyId": id, "GrantId": grant}),
        "RetireGrant" => json!({"KeyId": arn(id), "GrantId": grant}),
        "GetParametersForImport" => {
            json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})
        }
        "ImportKeyMaterial" => json!({"KeyId": id, "ImportToken": b64(b"token"),
            "EncryptedKeyMaterial": b64(b"material"), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
        _ => json!({"KeyId": id}),
    }
}

/// A ciphertext of key `id`.
fn ciphertext(w: &World, id: &str) -> String {
    w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"hello")}))["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The id of a grant on key `id` that lets bob of the account encrypt.
fn bob_grant(w: &World, id: &str) -> String {
    w.ok(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/bob"), "Operations": ["Encrypt"]}),
    )["GrantId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn default_policy_text() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"}]})
    .to_string()
}

/// [decision engine] Every operation in every reachable state, through `Kms::call`.
#[test]
fn state_table_through_calls() {
    let states = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::PendingDeletion,
    ];
    for (si, state) in states.iter().enumerate() {
        for op in OPS {
            if *op == "DeleteAlias" {
                continue; // takes an alias, covered in kms_aliases
            }
            let w = World::new();
            let id = w.key();
            let other = w.key();
            let ct = ciphertext(&w, &id);
            let grant = bob_grant(&w, &id);
            match state {
                KeyState::Disabled => {
                    w.ok("DisableKey", json!({"KeyId": id}));
                }
                KeyState::PendingDeletion => {
                    w.ok("ScheduleKeyDeletion", json!({"KeyId": id}));
                }
                _ => {}
            }
            let before = w.dump();
            let got = w.call(op, &root(ACCT), request(op, &id, &ct, &other, &grant));
            let want = if IMPORT_OPS.contains(op) {
                "UnsupportedOperationException"
            } else {
                expected(op)[si]
            };
            match (&got, want) {
                (Ok(_), "ok") => {}
                (Err(e), code) if e.code == code => {
                    assert_eq!(
                        w.dump(),
                        before,
                        "{op} in {state:?} failed but changed the store"
                    );
                    if code == "DisabledException" {
                        assert_eq!(
                            e.message.clone().unwrap(),
                            format!("{} is disabled.", arn(&id))
                        );
                    }
                }
                _ => panic!("{op} in {state:?}: want {want}, got {got:?}"),
            }
        }
    }
}

/// An EXTERNAL key with its material imported (Enabled). Returns (key id, a ciphertext).
fn imported_key(w: &World) -> (String, String) {
    let id = w.ok("CreateKey", json!({"Origin": "EXTERNAL"}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let input = import_request(w, &id);
    w.ok("ImportKeyMaterial", input);
    let ct = ciphertext(w, &id);
    (id, ct)
}

/// Move the key to `state` (PendingImport: its material deleted).
fn set_state(w: &World, id: &str, state: KeyState) {
    match state {
        KeyState::Disabled => {
            w.ok("DisableKey", json!({"KeyId": id}));
        }
        KeyState::PendingDeletion => {
            w.ok("ScheduleKeyDeletion", json!({"KeyId": id}));
        }
        KeyState::PendingImport => {
            w.ok("DeleteImportedKeyMaterial", json!({"KeyId": id}));
        }
        _ => {}
    }
}

const IMPORTED: [u8; 32] = [0x5a; 32];

/// Parameters for the key and its material wrapped under them: an ImportKeyMaterial request.
fn import_request(w: &World, id: &str) -> Value {
    use kmsd_crypto::import::{wrap_for_import, WrappingAlgorithm};
    let p = w.ok(
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let wrapped = wrap_for_import(
        &unb64(&p["PublicKey"]),
        WrappingAlgorithm::RsaesOaepSha256,
        &IMPORTED,
    )
    .unwrap();
    json!({"KeyId": id, "ImportToken": p["ImportToken"], "EncryptedKeyMaterial": b64(&wrapped),
           "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
}

/// [decision engine] Every operation on a key with imported material in each state it can
/// reach (Enabled, Disabled, PendingDeletion, PendingImport), through `Kms::call`. Where the
/// state allows a rotation operation, a key of origin EXTERNAL answers as the rules for
/// imported material say.
#[test]
fn state_table_through_calls_imported_keys() {
    let states = [
        (0, KeyState::Enabled),
        (1, KeyState::Disabled),
        (2, KeyState::PendingDeletion),
        (3, KeyState::PendingImport),
    ];
    for (si, state) in states {
        for op in OPS {
            if *op == "DeleteAlias" {
                continue;
            }
            let w = World::new();
            let (id, ct) = imported_key(&w);
            let other = w.key();
            let grant = bob_grant(&w, &id);
            // Parameters made while the key is Enabled (the same material again).
            let input = if *op == "ImportKeyMaterial" {
                import_request(&w, &id)
            } else {
                request(op, &id, &ct, &other, &grant)
            };
            set_state(&w, &id, state);
            let mut want = expected(op)[si];
            match (*op, state) {
                ("EnableKeyRotation" | "DisableKeyRotation", KeyState::Enabled) => {
                    want = "UnsupportedOperationException"
                }
                // Nothing imported as NEW_KEY_MATERIAL is pending rotation.
                ("RotateKeyOnDemand", KeyState::Enabled) => want = "KMSInvalidStateException",
                _ => {}
            }
            let before = w.dump();
            let got = w.call(op, &root(ACCT), input);
            match (&got, want) {
                (Ok(_), "ok") => {}
                (Err(e), code) if e.code == code => {
                    assert_eq!(
                        w.dump(),
                        before,
                        "{op} in {state:?} failed but changed the store"
                    );
                }
                _ => panic!("{op} in {state:?}: want {want}, got {got:?}"),
            }
        }
    }
}

/// [decision engine] Every operation on a multi-Region primary key waiting in
/// PendingReplicaDeletion (scheduled for deletion while a replica exists), through
/// `Kms::call`.
#[test]
fn state_table_through_calls_pending_replica_deletion() {
    let si = KeyState::ALL
        .iter()
        .position(|s| *s == KeyState::PendingReplicaDeletion)
        .unwrap();
    for op in OPS {
        if *op == "DeleteAlias" {
            continue;
        }
        let w = World::new();
        let id = w.ok("CreateKey", json!({"MultiRegion": true}))["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_string();
        w.ok(
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
        );
        let other = w.key();
        let ct = ciphertext(&w, &id);
        let grant = bob_grant(&w, &id);
        let v = w.ok("ScheduleKeyDeletion", json!({"KeyId": id}));
        assert_eq!(v["KeyState"], "PendingReplicaDeletion");
        let before = w.dump();
        let got = w.call(op, &root(ACCT), request(op, &id, &ct, &other, &grant));
        let want = if IMPORT_OPS.contains(op) {
            "UnsupportedOperationException"
        } else {
            expected(op)[si]
        };
        match (&got, want) {
            (Ok(_), "ok") => {}
            (Err(e), code) if e.code == code => {
                assert_eq!(w.dump(), before, "{op} failed but changed the store");
            }
            _ => panic!("{op} in PendingReplicaDeletion: want {want}, got {got:?}"),
        }
    }
}

/// Deny by default: a caller of the key's account with no policy at all (the default key
/// policy delegates to IAM, and IAM grants it nothing) is refused every key operation with
/// AccessDeniedException, the audit facts say ImplicitDeny, and nothing changes; the same
/// for the operations that name no key (decided by IAM policies alone).
#[test]
fn a_caller_without_any_policy_is_denied_everything() {
    let nobody = user(ACCT, "nobody", &[]);
    let w = World::new();
    let id = w.key();
    let other = w.key();
    let ct = ciphertext(&w, &id);
    let grant = bob_grant(&w, &id);
    let external = w.ok("CreateKey", json!({"Origin": "EXTERNAL"}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let w_alias = format!("alias/taken-{}", &id[..8]);
    w.ok(
        "CreateAlias",
        json!({"AliasName": w_alias, "TargetKeyId": id}),
    );
    let mut cases: Vec<(&str, Value)> = OPS
        .iter()
        .map(|op| {
            let key = if IMPORT_OPS.contains(op) {
                &external
            } else {
                &id
            };
            let input = match *op {
                "DeleteAlias" => json!({"AliasName": w_alias}),
                _ => request(op, key, &ct, &other, &grant),
            };
            (*op, input)
        })
        .collect();
    cases.extend([
        ("CreateKey", json!({})),
        ("ListKeys", json!({})),
        ("ListAliases", json!({})),
        ("GenerateRandom", json!({"NumberOfBytes": 16})),
        (
            "ListRetirableGrants",
            json!({"RetiringPrincipal": format!("arn:aws:iam::{ACCT}:user/bob")}),
        ),
        ("DescribeCustomKeyStores", json!({})),
    ]);
    for (op, input) in cases {
        let before = w.dump();
        let call = w.call_full(op, &nobody, input);
        match &call.result {
            Err(e) if e.code == "AccessDeniedException" => {}
            other => panic!(
                "{op} by a caller without policies: want AccessDeniedException, got {other:?}"
            ),
        }
        assert_eq!(
            call.audit.decision,
            Some(kmsd_policy::Decision::ImplicitDeny),
            "{op}: the audit facts must say ImplicitDeny"
        );
        assert_eq!(w.dump(), before, "{op} was denied but changed the store");
    }
}
