//! Multi-Region keys: CreateKey MultiRegion, ReplicateKey, UpdatePrimaryRegion,
//! MultiRegionConfiguration, shared material and rotation, per-Region properties, replica
//! deletion (PendingReplicaDeletion), authorization (kms:ReplicateKey on the primary and
//! kms:CreateKey in the replica Region, kms:ReplicaRegion), bad input, and stores written
//! before multi-Region keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use kmsd_core::error::ApiError;
use kmsd_core::principal::Principal;
use kmsd_core::store::{Mutation, Store};
use serde_json::{json, Value};

const EU: &str = "eu-west-1";
const AP: &str = "ap-southeast-2";

fn call_in(
    w: &World,
    region: &str,
    p: &Principal,
    op: &str,
    input: Value,
) -> Result<Value, ApiError> {
    w.kms.call(op, p, &meta(region), &input).result
}

fn ok_in(w: &World, region: &str, op: &str, input: Value) -> Value {
    call_in(w, region, &root(ACCT), op, input).unwrap_or_else(|e| panic!("{op} in {region}: {e}"))
}

fn err_in(w: &World, region: &str, op: &str, input: Value) -> ApiError {
    match call_in(w, region, &root(ACCT), op, input) {
        Ok(v) => panic!("{op} in {region} unexpectedly succeeded: {v}"),
        Err(e) => e,
    }
}

fn arn_in(region: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCT}:key/{id}")
}

fn mrk(w: &World, input: Value) -> String {
    let mut input = input;
    input["MultiRegion"] = json!(true);
    let v = w.ok("CreateKey", input);
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

fn describe(w: &World, region: &str, id: &str) -> Value {
    ok_in(w, region, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone()
}

#[test]
fn create_key_multi_region_ids_and_configuration() {
    let w = World::new();
    let v = w.ok(
        "CreateKey",
        json!({"MultiRegion": true, "Description": "m"}),
    );
    let m = &v["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    let hex = id.strip_prefix("mrk-").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(m["MultiRegion"], true);
    assert_eq!(
        m["MultiRegionConfiguration"],
        json!({
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": arn(id), "Region": REGION},
            "ReplicaKeys": [],
        })
    );
    assert_eq!(
        describe(&w, REGION, id)["MultiRegionConfiguration"],
        m["MultiRegionConfiguration"]
    );
    // HMAC and asymmetric specs, and imported material, may be multi-Region.
    for input in [
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
        json!({"Origin": "EXTERNAL"}),
    ] {
        let id = mrk(&w, input.clone());
        assert!(id.starts_with("mrk-"), "{input}");
    }
    // Not in a custom key store.
    for origin in ["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"] {
        let before = w.dump();
        let e = w.err("CreateKey", json!({"MultiRegion": true, "Origin": origin}));
        assert_eq!(e.code, "UnsupportedOperationException", "{e}");
        assert_eq!(w.dump(), before);
    }
    // A single-Region key says so and has no configuration.
    let single = w.key();
    let d = describe(&w, REGION, &single);
    assert_eq!(d["MultiRegion"], false);
    assert!(d.get("MultiRegionConfiguration").is_none());
}

#[test]
fn replica_shares_material_and_id_and_decrypts_across_regions() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"across"), "EncryptionContext": {"a": "b"}}),
    )["CiphertextBlob"]
        .clone();
    // Before replication, the key does not exist in eu-west-1 (AWS answers a ciphertext of
    // a key it cannot find with AccessDeniedException).
    let e = err_in(
        &w,
        EU,
        "Decrypt",
        json!({"CiphertextBlob": ct, "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(e.code, "AccessDeniedException", "{e}");
    let e = err_in(&w, EU, "DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.code, "NotFoundException", "{e}");
    let v = w.ok(
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": EU, "Description": "replica", "Tags": [{"TagKey": "t", "TagValue": "v"}]}),
    );
    let rm = &v["ReplicaKeyMetadata"];
    assert_eq!(rm["KeyId"], id.as_str());
    assert_eq!(rm["Arn"], arn_in(EU, &id));
    assert_eq!(rm["KeyState"], "Enabled");
    assert_eq!(rm["Description"], "replica");
    assert_eq!(rm["MultiRegion"], true);
    assert_eq!(
        rm["MultiRegionConfiguration"],
        json!({
            "MultiRegionKeyType": "REPLICA",
            "PrimaryKey": {"Arn": arn(&id), "Region": REGION},
            "ReplicaKeys": [{"Arn": arn_in(EU, &id), "Region": EU}],
        })
    );
    assert_eq!(v["ReplicaTags"], json!([{"TagKey": "t", "TagValue": "v"}]));
    let policy: Value = serde_json::from_str(v["ReplicaPolicy"].as_str().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCT}:root")
    );
    // The primary lists the replica.
    assert_eq!(
        describe(&w, REGION, &id)["MultiRegionConfiguration"]["ReplicaKeys"],
        json!([{"Arn": arn_in(EU, &id), "Region": EU}])
    );
    // A ciphertext of one Region decrypts in the other, both ways.
    let pt = ok_in(
        &w,
        EU,
        "Decrypt",
        json!({"CiphertextBlob": ct, "EncryptionContext": {"a": "b"}}),
    );
    assert_eq!(unb64(&pt["Plaintext"]), b"across");
    assert_eq!(pt["KeyId"], arn_in(EU, &id));
    let ct2 = ok_in(
        &w,
        EU,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"back")}),
    )["CiphertextBlob"]
        .clone();
    let pt = w.ok("Decrypt", json!({"CiphertextBlob": ct2}));
    assert_eq!(unb64(&pt["Plaintext"]), b"back");
    // Per-Region properties: tags and description of each key are their own.
    assert_eq!(describe(&w, REGION, &id)["Description"], "");
    let tags = w.ok("ListResourceTags", json!({"KeyId": id}));
    assert_eq!(tags["Tags"], json!([]));
    // An ARN of the other Region does not name a key here (NotFoundException, as AWS).
    let e = w.err("DescribeKey", json!({"KeyId": arn_in(EU, &id)}));
    assert_eq!(e.code, "NotFoundException", "{e}");
    // Disabling the replica leaves the primary enabled.
    ok_in(&w, EU, "DisableKey", json!({"KeyId": id}));
    assert_eq!(describe(&w, REGION, &id)["KeyState"], "Enabled");
    assert_eq!(describe(&w, EU, &id)["KeyState"], "Disabled");
    // Everything survives a restart.
    let again = w.reopen().unwrap();
    let d = again
        .call("DescribeKey", &root(ACCT), &meta(EU), &json!({"KeyId": id}))
        .result
        .unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    assert_eq!(
        d["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "REPLICA"
    );
    let pt = again
        .call(
            "Decrypt",
            &root(ACCT),
            &meta(REGION),
            &json!({"CiphertextBlob": ct2}),
        )
        .result
        .unwrap();
    assert_eq!(unb64(&pt["Plaintext"]), b"back");
}

#[test]
fn hmac_and_asymmetric_replicas_share_their_keys() {
    let w = World::new();
    let id = mrk(
        &w,
        json!({"KeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": AP}));
    let mac = w.ok(
        "GenerateMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_384"}),
    )["Mac"]
        .clone();
    let v = ok_in(
        &w,
        AP,
        "VerifyMac",
        json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_384", "Mac": mac}),
    );
    assert_eq!(v["MacValid"], true);
    let id = mrk(
        &w,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    let a = w.ok("GetPublicKey", json!({"KeyId": id}))["PublicKey"].clone();
    let b = ok_in(&w, EU, "GetPublicKey", json!({"KeyId": id}))["PublicKey"].clone();
    assert_eq!(a, b);
    let sig = ok_in(
        &w,
        EU,
        "Sign",
        json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
    )["Signature"]
        .clone();
    let v = w.ok(
        "Verify",
        json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256", "Signature": sig}),
    );
    assert_eq!(v["SignatureValid"], true);
}

#[test]
fn bad_replicate_key_requests_change_nothing() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    let single = w.key();
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    let before = w.dump();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            REGION,
            json!({"KeyId": single, "ReplicaRegion": AP}),
            "UnsupportedOperationException",
        ),
        // A replica is not a primary key.
        (
            EU,
            json!({"KeyId": id, "ReplicaRegion": AP}),
            "UnsupportedOperationException",
        ),
        // Its own Region.
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": REGION}),
            "ValidationException",
        ),
        // A Region that does not exist, and strings that are not Regions.
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": "us-east-9"}),
            "ValidationException",
        ),
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": "EU-WEST-1"}),
            "ValidationException",
        ),
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": ""}),
            "ValidationException",
        ),
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": "x".repeat(40)}),
            "ValidationException",
        ),
        (REGION, json!({"KeyId": id}), "ValidationException"),
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": 7}),
            "SerializationException",
        ),
        // The replica exists already.
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": EU}),
            "AlreadyExistsException",
        ),
        // Unknown keys, and an alias (not accepted).
        (
            REGION,
            json!({"KeyId": "mrk-00000000000000000000000000000000", "ReplicaRegion": AP}),
            "NotFoundException",
        ),
        (
            REGION,
            json!({"KeyId": "alias/x", "ReplicaRegion": AP}),
            "InvalidArnException",
        ),
        (
            REGION,
            json!({"KeyId": id, "ReplicaRegion": AP, "Policy": "{not json"}),
            "MalformedPolicyDocumentException",
        ),
    ];
    for (region, input, code) in cases {
        let e = err_in(&w, region, "ReplicateKey", input.clone());
        assert_eq!(e.code, code, "{input}: {e}");
        assert_eq!(w.dump(), before, "{input} changed the store");
    }
    let e = err_in(
        &w,
        REGION,
        "ReplicateKey",
        json!({"KeyId": single, "ReplicaRegion": AP}),
    );
    assert_eq!(
        e.message.as_deref(),
        Some(format!("{} is not a multi-Region key.", arn(&single)).as_str())
    );
    // A lockout policy is refused unless bypassed.
    let lockout = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:Encrypt", "Resource": "*"}]}).to_string();
    let e = err_in(
        &w,
        REGION,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": AP, "Policy": lockout}),
    );
    assert_eq!(e.code, "MalformedPolicyDocumentException", "{e}");
    assert_eq!(w.dump(), before);
    let v = w.ok(
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": AP, "Policy": lockout, "BypassPolicyLockoutSafetyCheck": true}),
    );
    assert_eq!(v["ReplicaPolicy"], lockout.as_str());
}

#[test]
fn replicate_needs_create_key_in_the_replica_region() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    let only_replicate = user(ACCT, "rep", &[allow("kms:ReplicateKey")]);
    let before = w.dump();
    let e = call_in(
        &w,
        REGION,
        &only_replicate,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": EU}),
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert_eq!(
        e.message.as_deref(),
        Some(
            format!(
                "User: arn:aws:iam::{ACCT}:user/rep is not authorized to perform: kms:CreateKey on resource: {} because no identity-based policy allows the kms:CreateKey action",
                arn_in(EU, &id)
            )
            .as_str()
        )
    );
    assert_eq!(w.dump(), before);
    // kms:CreateKey only in eu-west-1 (aws:RequestedRegion is the replica Region) and
    // kms:ReplicateKey only towards eu-west-1 (kms:ReplicaRegion).
    let scoped = user(
        ACCT,
        "scoped",
        &[json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": EU}}},
            {"Effect": "Allow", "Action": "kms:ReplicateKey", "Resource": "*",
             "Condition": {"StringEquals": {"kms:ReplicaRegion": [EU, AP], "kms:MultiRegionKeyType": "PRIMARY"}, "Bool": {"kms:MultiRegion": "true"}}}
        ]})],
    );
    let e = call_in(
        &w,
        REGION,
        &scoped,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": AP}),
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException", "{e}");
    assert!(
        e.message.as_deref().unwrap().contains("kms:CreateKey"),
        "{e}"
    );
    let e = call_in(
        &w,
        REGION,
        &scoped,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException", "{e}");
    assert!(
        e.message.as_deref().unwrap().contains("kms:ReplicateKey"),
        "{e}"
    );
    assert_eq!(w.dump(), before);
    call_in(
        &w,
        REGION,
        &scoped,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": EU}),
    )
    .unwrap();
    // Tags need kms:TagResource too.
    let e = call_in(
        &w,
        REGION,
        &scoped,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2", "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException", "{e}");
}

#[test]
fn update_primary_region_swaps_roles() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": AP}));
    // Not on a replica; not to a Region without a replica.
    let before = w.dump();
    let e = err_in(
        &w,
        EU,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": AP}),
    );
    assert_eq!(e.code, "UnsupportedOperationException", "{e}");
    let e = w.err(
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": "us-west-2"}),
    );
    assert_eq!(e.code, "NotFoundException", "{e}");
    let e = w.err(
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": "nowhere"}),
    );
    assert_eq!(e.code, "ValidationException", "{e}");
    let e = w.err(
        "UpdatePrimaryRegion",
        json!({"KeyId": w.key(), "PrimaryRegion": EU}),
    );
    assert_eq!(e.code, "UnsupportedOperationException", "{e}");
    let after_key = w.dump();
    assert_eq!(
        after_key.len(),
        before.len() + 2,
        "only the new key's records"
    );
    w.ok(
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": EU}),
    );
    for region in [REGION, EU, AP] {
        let c = &describe(&w, region, &id)["MultiRegionConfiguration"];
        assert_eq!(
            c["PrimaryKey"],
            json!({"Arn": arn_in(EU, &id), "Region": EU}),
            "{region}"
        );
        assert_eq!(
            c["ReplicaKeys"],
            json!([{"Arn": arn_in(AP, &id), "Region": AP}, {"Arn": arn(&id), "Region": REGION}]),
            "{region}"
        );
        let t = if region == EU { "PRIMARY" } else { "REPLICA" };
        assert_eq!(c["MultiRegionKeyType"], t);
    }
    // The old primary is now a replica: ReplicateKey from it is refused, from eu-west-1 it works.
    let e = w.err(
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    );
    assert_eq!(e.code, "UnsupportedOperationException", "{e}");
    ok_in(
        &w,
        EU,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
    );
    // kms:UpdatePrimaryRegion is needed on the replica that becomes primary as well.
    let id2 = mrk(&w, json!({}));
    let deny_on_replica = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:UpdatePrimaryRegion", "Resource": "*"}
    ]})
    .to_string();
    w.ok(
        "ReplicateKey",
        json!({"KeyId": id2, "ReplicaRegion": EU, "Policy": deny_on_replica}),
    );
    let before = w.dump();
    let e = w.err(
        "UpdatePrimaryRegion",
        json!({"KeyId": id2, "PrimaryRegion": EU}),
    );
    assert_eq!(e.code, "AccessDeniedException", "{e}");
    assert_eq!(w.dump(), before);
}

#[test]
fn rotation_is_shared_and_set_on_the_primary_only() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    let e = err_in(&w, EU, "EnableKeyRotation", json!({"KeyId": id}));
    assert_eq!(e.code, "UnsupportedOperationException", "{e}");
    let e = err_in(&w, EU, "RotateKeyOnDemand", json!({"KeyId": id}));
    assert_eq!(e.code, "UnsupportedOperationException", "{e}");
    w.ok(
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    );
    let s = ok_in(&w, EU, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["KeyRotationEnabled"], true);
    assert_eq!(s["RotationPeriodInDays"], 90);
    // On demand: both keys get the new material (the same KeyMaterialId).
    w.ok("RotateKeyOnDemand", json!({"KeyId": id}));
    let a = w.ok("ListKeyRotations", json!({"KeyId": id}))["Rotations"].clone();
    let b = ok_in(&w, EU, "ListKeyRotations", json!({"KeyId": id}))["Rotations"].clone();
    assert_eq!(a.as_array().unwrap().len(), 1);
    assert_eq!(a[0]["KeyMaterialId"], b[0]["KeyMaterialId"]);
    let ct =
        w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"new")}))["CiphertextBlob"].clone();
    let pt = ok_in(&w, EU, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(unb64(&pt["Plaintext"]), b"new");
    assert_eq!(pt["KeyMaterialId"], a[0]["KeyMaterialId"]);
    // Automatically: when the period has passed, the primary rotates and the replica with it.
    w.clock.advance_secs(91 * 86_400);
    w.kms.run_due_deletions().unwrap();
    let a = w.ok("ListKeyRotations", json!({"KeyId": id}))["Rotations"].clone();
    let b = ok_in(&w, EU, "ListKeyRotations", json!({"KeyId": id}))["Rotations"].clone();
    assert_eq!(a.as_array().unwrap().len(), 2);
    assert_eq!(a, b);
    let ct = ok_in(
        &w,
        EU,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"auto")}),
    )["CiphertextBlob"]
        .clone();
    let pt = w.ok("Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(unb64(&pt["Plaintext"]), b"auto");
    w.ok("DisableKeyRotation", json!({"KeyId": id}));
    let s = ok_in(&w, EU, "GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(s["KeyRotationEnabled"], false);
}

#[test]
fn primary_waits_for_its_replicas_before_deletion() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    let v = w.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    );
    assert_eq!(
        v,
        json!({"KeyId": arn(&id), "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": 7})
    );
    let d = describe(&w, REGION, &id);
    assert_eq!(d["KeyState"], "PendingReplicaDeletion");
    assert_eq!(d["PendingDeletionWindowInDays"], 7);
    assert!(d.get("DeletionDate").is_none());
    assert_eq!(d["Enabled"], false);
    let e = w.err("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")}));
    assert_eq!(e.code, "KMSInvalidStateException", "{e}");
    let e = w.err("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": AP}));
    assert_eq!(e.code, "KMSInvalidStateException", "{e}");
    // The replica still works, and is scheduled on its own.
    ok_in(
        &w,
        EU,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    );
    let v = ok_in(
        &w,
        EU,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 10}),
    );
    assert_eq!(v["KeyState"], "PendingDeletion");
    assert!(v.get("DeletionDate").is_some());
    // Ten days on, the replica is deleted and the primary's 7 days begin.
    w.clock.advance_secs(10 * 86_400 + 1);
    assert_eq!(w.kms.run_due_deletions().unwrap(), 1);
    let e = err_in(&w, EU, "DescribeKey", json!({"KeyId": id}));
    assert_eq!(e.code, "NotFoundException", "{e}");
    let d = describe(&w, REGION, &id);
    assert_eq!(d["KeyState"], "PendingDeletion");
    assert_eq!(d["MultiRegionConfiguration"]["ReplicaKeys"], json!([]));
    let deletion = d["DeletionDate"].as_f64().unwrap();
    let now_secs = (T0 + (10 * 86_400 + 1) * 1000) as f64 / 1000.0;
    assert!(
        (deletion - (now_secs + 7.0 * 86_400.0)).abs() < 1.0,
        "{deletion}"
    );
    // Cancelling from PendingReplicaDeletion is possible too (another key).
    let id2 = mrk(&w, json!({}));
    w.ok("ReplicateKey", json!({"KeyId": id2, "ReplicaRegion": EU}));
    w.ok("ScheduleKeyDeletion", json!({"KeyId": id2}));
    w.ok("CancelKeyDeletion", json!({"KeyId": id2}));
    assert_eq!(describe(&w, REGION, &id2)["KeyState"], "Disabled");
    // Seven more days: the primary is gone.
    w.clock.advance_secs(7 * 86_400 + 1);
    assert_eq!(w.kms.run_due_deletions().unwrap(), 1);
    assert_eq!(
        w.err("DescribeKey", json!({"KeyId": id})).code,
        "NotFoundException"
    );
    // The restart agrees.
    let again = w.reopen().unwrap();
    let e = again
        .call(
            "DescribeKey",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id}),
        )
        .result
        .unwrap_err();
    assert_eq!(e.code, "NotFoundException");
}

#[test]
fn aliases_grants_and_policies_stay_per_region() {
    let w = World::new();
    let id = mrk(&w, json!({}));
    w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/here", "TargetKeyId": id}),
    );
    ok_in(
        &w,
        EU,
        "CreateAlias",
        json!({"AliasName": "alias/there", "TargetKeyId": id}),
    );
    let l = w.ok("ListAliases", json!({"KeyId": id}));
    assert_eq!(l["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(l["Aliases"][0]["TargetKeyId"], id.as_str());
    assert_eq!(l["Aliases"][0]["AliasName"], "alias/here");
    let ct = ok_in(
        &w,
        EU,
        "Encrypt",
        json!({"KeyId": "alias/there", "Plaintext": b64(b"a")}),
    )["CiphertextBlob"]
        .clone();
    assert_eq!(
        unb64(&w.ok("Decrypt", json!({"CiphertextBlob": ct}))["Plaintext"]),
        b"a"
    );
    let e = err_in(
        &w,
        EU,
        "Encrypt",
        json!({"KeyId": "alias/here", "Plaintext": b64(b"a")}),
    );
    assert_eq!(e.code, "NotFoundException");
    let g = ok_in(
        &w,
        EU,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/bob"), "Operations": ["Decrypt"]}),
    );
    let grants_eu = ok_in(&w, EU, "ListGrants", json!({"KeyId": id}));
    assert_eq!(grants_eu["Grants"].as_array().unwrap().len(), 1);
    let grants_us = w.ok("ListGrants", json!({"KeyId": id}));
    assert_eq!(grants_us["Grants"].as_array().unwrap().len(), 0);
    // The grant token works in its Region.
    ok_in(
        &w,
        EU,
        "RetireGrant",
        json!({"GrantToken": g["GrantToken"]}),
    );
    // Restart: aliases stay with their Region's key.
    let again = w.reopen().unwrap();
    let l = again
        .call("ListAliases", &root(ACCT), &meta(EU), &json!({"KeyId": id}))
        .result
        .unwrap();
    assert_eq!(l["Aliases"][0]["AliasName"], "alias/there");
}

/// An ImportKeyMaterial request for key `id` in `region` with `material` wrapped under fresh
/// import parameters.
fn import_request(w: &World, region: &str, id: &str, material: &[u8]) -> Value {
    use kmsd_crypto::import::{wrap_for_import, WrappingAlgorithm};
    let p = ok_in(
        w,
        region,
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let wrapped = wrap_for_import(
        &unb64(&p["PublicKey"]),
        WrappingAlgorithm::RsaesOaepSha256,
        material,
    )
    .unwrap();
    json!({"KeyId": id, "ImportToken": p["ImportToken"], "EncryptedKeyMaterial": b64(&wrapped),
           "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})
}

#[test]
fn imported_multi_region_replica_waits_for_the_same_material() {
    let w = World::new();
    let id = mrk(&w, json!({"Origin": "EXTERNAL"}));
    let material = [0x42u8; 32];
    ok_in(
        &w,
        REGION,
        "ImportKeyMaterial",
        import_request(&w, REGION, &id, &material),
    );
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"imported")}),
    )["CiphertextBlob"]
        .clone();
    let v = w.ok("ReplicateKey", json!({"KeyId": id, "ReplicaRegion": EU}));
    assert_eq!(v["ReplicaKeyMetadata"]["KeyState"], "PendingImport");
    assert_eq!(v["ReplicaKeyMetadata"]["Origin"], "EXTERNAL");
    let e = err_in(&w, EU, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(e.code, "KMSInvalidStateException", "{e}");
    // Other material is refused, and changes nothing.
    let other = import_request(&w, EU, &id, &[0x43u8; 32]);
    let before = w.dump();
    let e = err_in(&w, EU, "ImportKeyMaterial", other);
    assert_eq!(e.code, "IncorrectKeyMaterialException", "{e}");
    assert_eq!(w.dump(), before);
    // The primary's material makes the replica usable, with the primary's ciphertexts.
    ok_in(
        &w,
        EU,
        "ImportKeyMaterial",
        import_request(&w, EU, &id, &material),
    );
    assert_eq!(describe(&w, EU, &id)["KeyState"], "Enabled");
    let pt = ok_in(&w, EU, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(unb64(&pt["Plaintext"]), b"imported");
    assert_eq!(
        describe(&w, EU, &id)["CurrentKeyMaterialId"],
        describe(&w, REGION, &id)["CurrentKeyMaterialId"]
    );
}

/// A store as written before multi-Region keys (records keyed by the bare UUID, material AAD
/// of the key id) still loads, and its key still works.
#[test]
fn store_written_before_multi_region_keys_loads() {
    let w = World::new();
    let id = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let record = json!({
        "id": id,
        "account": ACCT,
        "region": REGION,
        "description": "old",
        "creation_millis": T0,
        "state": "Enabled",
        "deletion_millis": null,
        "pending_window_days": null,
        "policy": json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"}]}).to_string(),
        "tags": {},
        "rotation_enabled": false,
        "rotation_period_days": null,
        "next_rotation_millis": null,
        "materials": [{"version": 1, "material_id": "ab".repeat(32), "created_millis": T0, "origin": "Creation"}],
        "on_demand_rotations": 0,
    });
    let material = kmsd_crypto::KeyMaterial::generate().unwrap();
    let wrapped = w
        .root_key
        .wrap(&material, &kmsd_crypto::wrap_aad(id, 1))
        .unwrap();
    w.store
        .commit(&[
            Mutation::Put {
                table: "kms_keys",
                key: id.to_string(),
                value: serde_json::to_vec(&record).unwrap(),
            },
            Mutation::Put {
                table: "kms_material",
                key: format!("{id}#0000000001"),
                value: wrapped,
            },
        ])
        .unwrap();
    let kms = w.reopen().unwrap();
    let call = |op: &str, input: Value| {
        kms.call(op, &root(ACCT), &meta(REGION), &input)
            .result
            .unwrap()
    };
    let d = call("DescribeKey", json!({"KeyId": id}));
    assert_eq!(d["KeyMetadata"]["Description"], "old");
    assert_eq!(d["KeyMetadata"]["MultiRegion"], false);
    let ct =
        call("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"old")}))["CiphertextBlob"].clone();
    assert_eq!(
        unb64(&call("Decrypt", json!({"CiphertextBlob": ct}))["Plaintext"]),
        b"old"
    );
    // Its record is rewritten under the same store key.
    call(
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": "new"}),
    );
    let keys = w.store.load("kms_keys").unwrap();
    assert_eq!(keys.iter().filter(|(k, _)| k == id).count(), 1);
}
