//! Key lifecycle through `Kms::call` [decision engine: root caller, default key policy]:
//! CreateKey/DescribeKey/ListKeys/Enable/Disable/Schedule/Cancel/UpdateKeyDescription,
//! deletion when the window ends on the clock, persistence across reopen, and commit
//! failures that leave everything unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use std::sync::atomic::Ordering;

use kms_support::*;
use serde_json::json;

#[test]
fn create_and_describe() {
    let w = World::new();
    let v = w.ok(
        "CreateKey",
        json!({"Description": "my key", "Tags": [{"TagKey": "team", "TagValue": "blue"}]}),
    );
    let m = &v["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    assert_eq!(m["Arn"], arn(id));
    assert_eq!(m["AWSAccountId"], ACCT);
    assert_eq!(m["Description"], "my key");
    assert_eq!(m["Enabled"], true);
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["CustomerMasterKeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(m["Origin"], "AWS_KMS");
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["MultiRegion"], false);
    assert_eq!(m["CreationDate"], json!(T0 / 1000));
    assert_eq!(m["CurrentKeyMaterialId"].as_str().unwrap().len(), 64);
    assert!(m.get("DeletionDate").is_none());
    for form in [id.to_string(), arn(id)] {
        let d = w.ok("DescribeKey", json!({"KeyId": form}));
        assert_eq!(&d["KeyMetadata"], m);
    }
    let tags = w.ok("ListResourceTags", json!({"KeyId": id}));
    assert_eq!(
        tags,
        json!({"Tags": [{"TagKey": "team", "TagValue": "blue"}], "Truncated": false})
    );
    let p = w.ok("GetKeyPolicy", json!({"KeyId": id}));
    let doc: serde_json::Value = serde_json::from_str(p["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCT}:root")
    );
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    assert_eq!(p["PolicyName"], "default");
}

#[test]
fn unsupported_key_types() {
    let w = World::new();
    // Multi-Region keys are not made in a custom key store.
    let e = w.err(
        "CreateKey",
        json!({"MultiRegion": true, "Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": "cks-1"}),
    );
    assert_eq!(e.code, "UnsupportedOperationException");
    let e = w.err(
        "CreateKey",
        json!({"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": "cks-1"}),
    );
    assert_eq!(e.code, "CustomKeyStoreNotFoundException");
    assert!(w.dump().is_empty());
}

#[test]
fn list_keys_paginates() {
    let w = World::new();
    let mut ids: Vec<String> = (0..5).map(|_| w.key()).collect();
    ids.sort();
    // A key in another account is not listed.
    w.call("CreateKey", &root(OTHER), json!({})).unwrap();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = json!({"Limit": 2});
        if let Some(m) = &marker {
            req["Marker"] = json!(m);
        }
        let v = w.ok("ListKeys", req);
        for k in v["Keys"].as_array().unwrap() {
            assert_eq!(k["KeyArn"], arn(k["KeyId"].as_str().unwrap()));
            seen.push(k["KeyId"].as_str().unwrap().to_string());
        }
        if v["Truncated"] == true {
            marker = Some(v["NextMarker"].as_str().unwrap().to_string());
        } else {
            assert!(v.get("NextMarker").is_none());
            break;
        }
    }
    assert_eq!(seen, ids);
    let e = w.err("ListKeys", json!({"Marker": "bogus"}));
    assert_eq!(e.code, "InvalidMarkerException");
    let e = w.err("ListKeys", json!({"Limit": 0}));
    assert_eq!(e.code, "ValidationException");
}

#[test]
fn enable_disable_and_description() {
    let w = World::new();
    let id = w.key();
    w.ok("DisableKey", json!({"KeyId": id}));
    assert_eq!(
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["KeyState"],
        "Disabled"
    );
    let e = w.err("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")}));
    assert_err(
        &e,
        "DisabledException",
        Some(&format!("{} is disabled.", arn(&id))),
    );
    w.ok("DisableKey", json!({"KeyId": id}));
    w.ok("EnableKey", json!({"KeyId": id}));
    let m = w.ok("DescribeKey", json!({"KeyId": id}));
    assert_eq!(m["KeyMetadata"]["Enabled"], true);
    w.ok(
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": ""}),
    );
    w.ok(
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": "new"}),
    );
    assert_eq!(
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["Description"],
        "new"
    );
    let e = w.err("UpdateKeyDescription", json!({"KeyId": id}));
    assert!(e.message.unwrap().contains("Value null at 'description'"));
}

#[test]
fn schedule_cancel_and_window_expiry() {
    let w = World::new();
    let id = w.key();
    for days in [6, 31] {
        let e = w.err(
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": days}),
        );
        assert_err(
            &e,
            "ValidationException",
            Some("PendingWindowInDays must be between 7 and 30"),
        );
    }
    for (days, c) in [
        (0, "greater than or equal to 1"),
        (366, "less than or equal to 365"),
    ] {
        let e = w.err(
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": days}),
        );
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.clone().unwrap().contains(c), "{e}");
        assert!(e
            .message
            .unwrap()
            .contains(&format!("Value '{days}' at 'pendingWindowInDays'")));
    }
    let v = w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    assert_eq!(v["KeyId"], arn(&id));
    assert_eq!(v["KeyState"], "PendingDeletion");
    assert_eq!(v["PendingWindowInDays"], 7);
    assert_eq!(v["DeletionDate"], json!(T0 / 1000 + 7 * 86400));
    let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(m["Enabled"], false);
    assert_eq!(m["PendingDeletionWindowInDays"], 7);
    let e = w.err("ScheduleKeyDeletion", json!({"KeyId": id}));
    assert_err(
        &e,
        "KMSInvalidStateException",
        Some(&format!("{} is pending deletion.", arn(&id))),
    );
    let v = w.ok("CancelKeyDeletion", json!({"KeyId": id}));
    assert_eq!(v, json!({"KeyId": arn(&id)}));
    let m = w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(m["KeyState"], "Disabled");
    assert!(m.get("DeletionDate").is_none());
    let e = w.err("CancelKeyDeletion", json!({"KeyId": id}));
    assert_err(
        &e,
        "KMSInvalidStateException",
        Some(&format!("{} is not pending deletion.", arn(&id))),
    );

    // Default window is 30 days; the key disappears when the clock passes it.
    w.ok("EnableKey", json!({"KeyId": id}));
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/doomed", "TargetKeyId": id}),
    );
    w.ok("CreateGrant", json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/alice"), "Operations": ["Decrypt"]}));
    let v = w.ok("ScheduleKeyDeletion", json!({"KeyId": id}));
    assert_eq!(v["PendingWindowInDays"], 30);
    w.clock.advance_secs(30 * 86400 - 1);
    assert_eq!(w.kms.run_due_deletions().unwrap(), 0);
    assert_eq!(
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["KeyState"],
        "PendingDeletion"
    );
    w.clock.advance_secs(1);
    assert_eq!(w.kms.run_due_deletions().unwrap(), 1);
    let e = w.err("DescribeKey", json!({"KeyId": id}));
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!("Key '{}' does not exist", arn(&id))),
    );
    assert!(w.ok("ListAliases", json!({}))["Aliases"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        w.dump().is_empty(),
        "key, material, grants and aliases are all gone"
    );
}

#[test]
fn deletion_happens_lazily_when_touched() {
    let w = World::new();
    let id = w.key();
    w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    w.clock.advance_secs(7 * 86400);
    // No run_due_deletions: the next call notices.
    let e = w.err("DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.code, "NotFoundException");
    assert!(w.reopen().unwrap().list_key_arns().is_empty());
}

#[test]
fn state_survives_reopen() {
    let w = World::new();
    let id = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/keep", "TargetKeyId": id}),
    );
    w.ok(
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    );
    let ct = w.ok("Encrypt", json!({"KeyId": "alias/keep", "Plaintext": b64(b"persist me"), "EncryptionContext": {"k": "v"}}))["CiphertextBlob"].clone();
    w.ok("RotateKeyOnDemand", json!({"KeyId": id}));
    let g = w.ok("CreateGrant", json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/alice"), "Operations": ["Decrypt"]}));
    let before = w.ok("DescribeKey", json!({"KeyId": id}));
    let kms2 = w.reopen().unwrap();
    let call = |op: &str, input: serde_json::Value| {
        kms2.call(op, &root(ACCT), &meta(REGION), &input)
            .result
            .unwrap()
    };
    assert_eq!(call("DescribeKey", json!({"KeyId": id})), before);
    let pt = call(
        "Decrypt",
        json!({"CiphertextBlob": ct, "EncryptionContext": {"k": "v"}}),
    );
    assert_eq!(unb64(&pt["Plaintext"]), b"persist me");
    assert_eq!(
        call("ListAliases", json!({"KeyId": id}))["Aliases"][0]["AliasName"],
        "alias/keep"
    );
    assert_eq!(
        call("ListGrants", json!({"KeyId": id}))["Grants"][0]["GrantId"],
        g["GrantId"]
    );
    assert_eq!(
        call("ListResourceTags", json!({"KeyId": id}))["Tags"][0]["TagKey"],
        "a"
    );
    // Material is stored wrapped: the raw store never contains the plaintext key bytes, and
    // a different root key cannot open the store.
    let other_root = std::sync::Arc::new(kmsd_crypto::RootKey::generate().unwrap());
    let e = kmsd_core::kms::Kms::open(w.store.clone(), w.clock.clone(), other_root, w.dir.clone())
        .unwrap_err();
    assert_eq!(e.code, "KMSInternalException");
}

#[test]
fn unreachable_store_answers_dependency_timeout_and_changes_nothing() {
    let w = World::new();
    let id = w.key();
    let before_dump = w.dump();
    w.store.unreachable.store(true, Ordering::SeqCst);
    for (op, input) in [
        ("CreateKey", json!({})),
        ("DisableKey", json!({"KeyId": id})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/u", "TargetKeyId": id}),
        ),
    ] {
        let e = w.err(op, input);
        assert_eq!(e.code, "DependencyTimeoutException", "{op}");
        let message = e.message.unwrap_or_default();
        assert!(
            message.contains("You can retry the request"),
            "{op}: {message}"
        );
    }
    // Cryptographic operations read memory only: they go on.
    let ct = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": "aGk="}));
    assert!(ct["CiphertextBlob"].is_string());
    w.store.unreachable.store(false, Ordering::SeqCst);
    assert_eq!(w.dump(), before_dump);
    w.ok("DisableKey", json!({"KeyId": id}));
}

#[test]
fn failed_commit_changes_nothing() {
    let w = World::new();
    let id = w.key();
    let before_dump = w.dump();
    let before = w.ok("DescribeKey", json!({"KeyId": id}));
    w.store.fail.store(true, Ordering::SeqCst);
    for (op, input) in [
        ("CreateKey", json!({})),
        ("DisableKey", json!({"KeyId": id})),
        ("ScheduleKeyDeletion", json!({"KeyId": id})),
        (
            "UpdateKeyDescription",
            json!({"KeyId": id, "Description": "zzz"}),
        ),
        (
            "CreateAlias",
            json!({"AliasName": "alias/f", "TargetKeyId": id}),
        ),
        (
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ),
        ("EnableKeyRotation", json!({"KeyId": id})),
        ("RotateKeyOnDemand", json!({"KeyId": id})),
        (
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/alice"), "Operations": ["Decrypt"]}),
        ),
        (
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": w.ok("GetKeyPolicy", json!({"KeyId": id}))["Policy"].as_str().unwrap().replace("key-default-1", "changed")}),
        ),
    ] {
        let e = w.err(op, input);
        assert_eq!(e.code, "KMSInternalException", "{op}");
    }
    w.store.fail.store(false, Ordering::SeqCst);
    assert_eq!(w.dump(), before_dump);
    assert_eq!(w.ok("DescribeKey", json!({"KeyId": id})), before);
    assert!(w.ok("ListAliases", json!({}))["Aliases"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(w.ok("ListGrants", json!({"KeyId": id}))["Grants"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        w.ok("GetKeyRotationStatus", json!({"KeyId": id}))["KeyRotationEnabled"],
        false
    );
    assert_eq!(
        w.ok("ListKeys", json!({}))["Keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn audit_records_key_and_decision() {
    let w = World::new();
    let call = w.call_full("CreateKey", &root(ACCT), json!({"Description": "d"}));
    let id = call.result.as_ref().unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(call.audit.key_arn.as_deref(), Some(arn(&id).as_str()));
    assert_eq!(call.audit.decision, Some(kmsd_policy::Decision::Allow));
    assert_eq!(
        call.audit.response_elements.as_ref().unwrap()["keyMetadata"]["keyId"],
        id
    );
    let call = w.call_full(
        "Encrypt",
        &root(ACCT),
        json!({"KeyId": id, "Plaintext": b64(b"s3cr3t-data")}),
    );
    assert!(call.result.is_ok());
    assert_eq!(call.audit.decision, Some(kmsd_policy::Decision::Allow));
    assert!(!call.audit.deciding.is_empty());
    assert!(call.audit.response_elements.is_none());
    assert!(!call
        .audit
        .request_parameters
        .to_string()
        .contains(&b64(b"s3cr3t-data")));
    let call = w.call_full(
        "GenerateDataKey",
        &root(ACCT),
        json!({"KeyId": id, "KeySpec": "AES_256"}),
    );
    let pt = call.result.as_ref().unwrap()["Plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(call.audit.response_elements.is_none());
    assert!(!format!("{:?}", call.audit).contains(&pt));
}
