//! Grants [decision engine]: CreateGrant with constraints and tokens, Name idempotency,
//! grantees using grants, delegation limits, ListGrants / ListRetirableGrants, RetireGrant
//! (token, key+id, who may) and RevokeGrant, with the documented errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use serde_json::{json, Value};

fn alice_arn() -> String {
    format!("arn:aws:iam::{ACCT}:user/alice")
}
fn bob_arn() -> String {
    format!("arn:aws:iam::{ACCT}:user/bob")
}

#[test]
fn grant_lets_grantee_decrypt_within_constraints() {
    let w = World::new();
    let id = w.key();
    let ct = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"for alice"), "EncryptionContext": {"app": "x", "env": "prod"}}))["CiphertextBlob"].clone();
    let ct_other = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"not for alice"), "EncryptionContext": {"app": "y"}}),
    )["CiphertextBlob"]
        .clone();
    let alice = user(ACCT, "alice", &[]);
    // Before the grant alice (no IAM policy) is denied.
    let e = w
        .call(
            "Decrypt",
            &alice,
            json!({"CiphertextBlob": ct, "EncryptionContext": {"app": "x", "env": "prod"}}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(e.message.unwrap().starts_with(&format!(
        "User: {} is not authorized to perform: kms:Decrypt on resource: {}",
        alice_arn(),
        arn(&id)
    )));
    let g = w.ok(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"],
               "Constraints": {"EncryptionContextSubset": {"app": "x"}}, "RetiringPrincipal": bob_arn()}),
    );
    let gid = g["GrantId"].as_str().unwrap();
    assert_eq!(gid.len(), 64);
    let token = g["GrantToken"].as_str().unwrap();
    let call = w.call_full(
        "Decrypt",
        &alice,
        json!({"CiphertextBlob": ct, "EncryptionContext": {"app": "x", "env": "prod"}, "GrantTokens": [token]}),
    );
    assert_eq!(unb64(&call.result.unwrap()["Plaintext"]), b"for alice");
    assert!(call
        .audit
        .deciding
        .iter()
        .any(|b| matches!(b, kmsd_policy::Because::Grant { grant_id, .. } if grant_id == gid)));
    // Constraint not met.
    let e = w
        .call(
            "Decrypt",
            &alice,
            json!({"CiphertextBlob": ct_other, "EncryptionContext": {"app": "y"}}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // Operation not granted.
    let e = w
        .call(
            "Encrypt",
            &alice,
            json!({"KeyId": id, "Plaintext": b64(b"x"), "EncryptionContext": {"app": "x"}}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // Listing.
    let l = w.ok("ListGrants", json!({"KeyId": id}));
    let e0 = &l["Grants"][0];
    assert_eq!(e0["KeyId"], arn(&id));
    assert_eq!(e0["GranteePrincipal"], alice_arn());
    assert_eq!(e0["RetiringPrincipal"], bob_arn());
    assert_eq!(e0["IssuingAccount"], format!("arn:aws:iam::{ACCT}:root"));
    assert_eq!(e0["Operations"], json!(["Decrypt"]));
    assert_eq!(
        e0["Constraints"],
        json!({"EncryptionContextSubset": {"app": "x"}})
    );
    assert_eq!(e0["CreationDate"], json!(T0 / 1000));
    let r = w.ok(
        "ListRetirableGrants",
        json!({"RetiringPrincipal": bob_arn()}),
    );
    assert_eq!(r["Grants"][0]["GrantId"], gid);
    // The retiring principal retires it by token.
    let bob = user(ACCT, "bob", &[]);
    w.call("RetireGrant", &bob, json!({"GrantToken": token}))
        .unwrap();
    assert!(w.ok("ListGrants", json!({"KeyId": id}))["Grants"]
        .as_array()
        .unwrap()
        .is_empty());
    let e = w
        .call(
            "Decrypt",
            &alice,
            json!({"CiphertextBlob": ct, "EncryptionContext": {"app": "x", "env": "prod"}}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn name_idempotency() {
    let w = World::new();
    let id = w.key();
    let req = json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Encrypt", "Decrypt"], "Name": "my-grant"});
    let a = w.ok("CreateGrant", req.clone());
    let before = w.dump();
    let b = w.ok("CreateGrant", req.clone());
    assert_eq!(a["GrantId"], b["GrantId"]);
    assert_ne!(a["GrantToken"], b["GrantToken"]);
    assert_eq!(w.dump(), before, "an idempotent retry writes nothing");
    let mut other = req.clone();
    other["Operations"] = json!(["Decrypt"]);
    let c = w.ok("CreateGrant", other);
    assert_ne!(a["GrantId"], c["GrantId"]);
    let mut unnamed = req;
    unnamed.as_object_mut().unwrap().remove("Name");
    let d = w.ok("CreateGrant", unnamed.clone());
    let e = w.ok("CreateGrant", unnamed);
    assert_ne!(d["GrantId"], e["GrantId"]);
    assert_eq!(
        w.ok("ListGrants", json!({"KeyId": id}))["Grants"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn create_grant_errors_change_nothing() {
    let w = World::new();
    let id = w.key();
    let before = w.dump();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn()}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": []}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Fly"]}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Sign"]}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "Operations": ["Decrypt"]}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": "bad principal!", "Operations": ["Decrypt"]}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/ghost"), "Operations": ["Decrypt"]}),
            "InvalidArnException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "RetiringPrincipal": format!("arn:aws:iam::{ACCT}:user/ghost"), "Operations": ["Decrypt"]}),
            "InvalidArnException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "Constraints": {"EncryptionContextEquals": {"a": 1}}}),
            "SerializationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "Constraints": {"Bogus": {}}}),
            "SerializationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"1": "a", "2": "a", "3": "a", "4": "a", "5": "a", "6": "a", "7": "a", "8": "a", "9": "a"}}}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"a": "v".repeat(385)}}}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "Name": "bad name"}),
            "ValidationException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "GrantTokens": ["nope"]}),
            "InvalidGrantTokenException",
        ),
        (
            json!({"KeyId": "alias/x", "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"]}),
            "InvalidArnException",
        ),
        (
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"], "DryRun": true}),
            "DryRunOperationException",
        ),
    ];
    for (req, code) in cases {
        let e = w.err("CreateGrant", req.clone());
        assert_eq!(e.code, code, "{req} -> {e}");
    }
    assert_eq!(w.dump(), before);
}

#[test]
fn retire_and_revoke() {
    let w = World::new();
    let id = w.key();
    let mk = |ops: Value| {
        w.ok(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ops}),
        )
    };
    let g1 = mk(json!(["Decrypt", "RetireGrant"]));
    let g2 = mk(json!(["Decrypt"]));
    let g3 = mk(json!(["Decrypt"]));
    let alice = user(ACCT, "alice", &[]);
    let carol = user(OTHER, "carol", &[]);
    // The grantee may retire a grant that includes RetireGrant ...
    w.call(
        "RetireGrant",
        &alice,
        json!({"KeyId": arn(&id), "GrantId": g1["GrantId"]}),
    )
    .unwrap();
    // ... but not one without it (no IAM policy either).
    let e = w
        .call(
            "RetireGrant",
            &alice,
            json!({"GrantToken": g2["GrantToken"]}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // Another account cannot.
    let e = w
        .call(
            "RetireGrant",
            &carol,
            json!({"GrantToken": g2["GrantToken"]}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // The key's account (root, default policy) can.
    w.ok("RetireGrant", json!({"GrantToken": g2["GrantToken"]}));
    let e = w.err("RetireGrant", json!({"GrantToken": g2["GrantToken"]}));
    assert_eq!(e.code, "NotFoundException");
    let e = w.err("RetireGrant", json!({}));
    assert_err(
        &e,
        "ValidationException",
        Some("Grant token OR (grant ID, key ID) must be specified"),
    );
    let e = w.err("RetireGrant", json!({"GrantToken": "garbage"}));
    assert_eq!(e.code, "InvalidGrantTokenException");
    let e = w.err("RetireGrant", json!({"KeyId": arn(&id), "GrantId": "xyz"}));
    assert_eq!(e.code, "InvalidGrantIdException");
    // Revoke.
    let e = w.err(
        "RevokeGrant",
        json!({"KeyId": id, "GrantId": "f".repeat(64)}),
    );
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!("Grant ID {} not found", "f".repeat(64))),
    );
    let e = w.err("RevokeGrant", json!({"KeyId": id, "GrantId": "short"}));
    assert_eq!(e.code, "InvalidGrantIdException");
    let e = w
        .call(
            "RevokeGrant",
            &alice,
            json!({"KeyId": id, "GrantId": g3["GrantId"]}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    w.ok(
        "RevokeGrant",
        json!({"KeyId": id, "GrantId": g3["GrantId"]}),
    );
    assert!(w.ok("ListGrants", json!({"KeyId": id}))["Grants"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn list_grants_filters_and_pages() {
    let w = World::new();
    let id = w.key();
    let mut ids: Vec<String> = (0..5)
        .map(|i| {
            let who = if i % 2 == 0 { alice_arn() } else { bob_arn() };
            w.ok(
                "CreateGrant",
                json!({"KeyId": id, "GranteePrincipal": who, "Operations": ["Decrypt"]}),
            )["GrantId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    let p1 = w.ok("ListGrants", json!({"KeyId": id, "Limit": 3}));
    assert_eq!(p1["Truncated"], true);
    let p2 = w.ok(
        "ListGrants",
        json!({"KeyId": id, "Limit": 3, "Marker": p1["NextMarker"]}),
    );
    assert_eq!(p2["Truncated"], false);
    let got: Vec<String> = p1["Grants"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["Grants"].as_array().unwrap())
        .map(|g| g["GrantId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
    let a = w.ok(
        "ListGrants",
        json!({"KeyId": id, "GranteePrincipal": alice_arn()}),
    );
    assert_eq!(a["Grants"].as_array().unwrap().len(), 3);
    let one = w.ok("ListGrants", json!({"KeyId": id, "GrantId": ids[0]}));
    assert_eq!(one["Grants"].as_array().unwrap().len(), 1);
    let e = w.err("ListGrants", json!({"KeyId": id, "GrantId": "nope"}));
    assert_eq!(e.code, "InvalidGrantIdException");
    let e = w.err("ListGrants", json!({"KeyId": id, "Marker": "nope"}));
    assert_eq!(e.code, "InvalidMarkerException");
}

#[test]
fn grantee_delegates_only_a_subset() {
    let w = World::new();
    let id = w.key();
    w.ok("CreateGrant", json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt", "Encrypt", "CreateGrant"]}));
    let alice = user(ACCT, "alice", &[]);
    let ok = w.call(
        "CreateGrant",
        &alice,
        json!({"KeyId": arn(&id), "GranteePrincipal": bob_arn(), "Operations": ["Decrypt"]}),
    );
    assert!(ok.is_ok(), "{ok:?}");
    let e = w
        .call("CreateGrant", &alice, json!({"KeyId": arn(&id), "GranteePrincipal": bob_arn(), "Operations": ["Decrypt", "GenerateDataKey"]}))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

/// With more grants than the engine scans whole, a request sees exactly the grants whose
/// grantee names its caller (the per-key grantee index).
#[test]
fn many_grants_are_matched_through_the_grantee_index() {
    let w = World::new();
    let id = w.key();
    for i in 0..30 {
        w.ok(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": bob_arn(), "Operations": ["Encrypt"],
                   "Name": format!("bob-{i}")}),
        );
    }
    w.ok(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"]}),
    );
    let alice = user(ACCT, "alice", &[]);
    let bob = user(ACCT, "bob", &[]);
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"indexed")}),
    )["CiphertextBlob"]
        .clone();
    let out = w
        .call("Decrypt", &alice, json!({"CiphertextBlob": ct}))
        .unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"indexed");
    let e = w
        .call(
            "Encrypt",
            &alice,
            json!({"KeyId": id, "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    w.call(
        "Encrypt",
        &bob,
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    )
    .unwrap();
    let e = w
        .call("Decrypt", &bob, json!({"CiphertextBlob": ct}))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // The index survives a restart.
    let kms = w.reopen().unwrap();
    let call = kms.call(
        "Decrypt",
        &alice,
        &meta(REGION),
        &json!({"CiphertextBlob": ct}),
    );
    assert_eq!(unb64(&call.result.unwrap()["Plaintext"]), b"indexed");
}

/// Mutations commit without excluding readers: while their commit (an fsync on a real
/// disk) is in progress, Encrypt and Decrypt go on. CreateGrant, RotateKeyOnDemand and
/// RevokeGrant on the key being used; CreateKey; every key-record change on a second key;
/// the alias operations.
#[test]
fn crypto_goes_on_while_a_mutation_commits() {
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};

    let w = Arc::new(World::new());
    let id = w.key();
    let other = w.key();
    let policy = w.ok(
        "GetKeyPolicy",
        json!({"KeyId": other, "PolicyName": "default"}),
    )["Policy"]
        .clone();
    let ops: Vec<(&str, serde_json::Value)> = vec![
        (
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"]}),
        ),
        ("CreateKey", json!({})),
        (
            "UpdateKeyDescription",
            json!({"KeyId": other, "Description": "d"}),
        ),
        (
            "TagResource",
            json!({"KeyId": other, "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        ),
        ("UntagResource", json!({"KeyId": other, "TagKeys": ["k"]})),
        ("EnableKeyRotation", json!({"KeyId": other})),
        ("DisableKeyRotation", json!({"KeyId": other})),
        ("DisableKey", json!({"KeyId": other})),
        ("EnableKey", json!({"KeyId": other})),
        (
            "ScheduleKeyDeletion",
            json!({"KeyId": other, "PendingWindowInDays": 7}),
        ),
        ("CancelKeyDeletion", json!({"KeyId": other})),
        (
            "CreateAlias",
            json!({"AliasName": "alias/held", "TargetKeyId": other}),
        ),
        (
            "UpdateAlias",
            json!({"AliasName": "alias/held", "TargetKeyId": id}),
        ),
        ("DeleteAlias", json!({"AliasName": "alias/held"})),
        (
            "PutKeyPolicy",
            json!({"KeyId": other, "PolicyName": "default", "Policy": policy}),
        ),
        ("RotateKeyOnDemand", json!({"KeyId": id})),
        ("RevokeGrant", json!({"KeyId": id})),
    ];
    let mut grant_id = String::new();
    for (op, mut input) in ops {
        if op == "RevokeGrant" {
            input["GrantId"] = json!(grant_id);
        }
        let held = w.store.hold.lock().unwrap();
        let before = w.store.waiting.load(std::sync::atomic::Ordering::SeqCst);
        let mutator = {
            let w = w.clone();
            std::thread::spawn(move || w.call(op, &root(ACCT), input))
        };
        let started = Instant::now();
        while w.store.waiting.load(std::sync::atomic::Ordering::SeqCst) == before {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{op} never reached its commit"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let (tx, rx) = mpsc::channel();
        {
            let (w, id) = (w.clone(), id.clone());
            std::thread::spawn(move || {
                let ct = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"during")}))
                    ["CiphertextBlob"]
                    .clone();
                let pt = w.ok("Decrypt", json!({"CiphertextBlob": ct}))["Plaintext"].clone();
                let _ = tx.send(pt);
            });
        }
        let crypto = rx.recv_timeout(Duration::from_secs(10));
        drop(held);
        assert_eq!(
            crypto.map(|pt| unb64(&pt)).ok(),
            Some(b"during".to_vec()),
            "Encrypt/Decrypt waited for a {op} commit"
        );
        let out = mutator.join().unwrap();
        assert!(out.is_ok(), "{op} failed: {out:?}");
        if op == "CreateGrant" {
            grant_id = out.unwrap()["GrantId"].as_str().unwrap().to_string();
        }
    }
    // Every change was installed.
    let d = w.ok("DescribeKey", json!({"KeyId": other}))["KeyMetadata"].clone();
    assert_eq!(d["Description"], "d");
    assert_eq!(d["KeyState"], "Disabled");
    assert_eq!(
        w.ok("ListResourceTags", json!({"KeyId": other}))["Tags"],
        json!([])
    );
    let grants = w.ok("ListGrants", json!({"KeyId": id}));
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 0, "revoked");
    let aliases = w.ok("ListAliases", json!({}))["Aliases"].clone();
    assert!(
        aliases
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["AliasName"] != "alias/held"),
        "{aliases}"
    );
}
