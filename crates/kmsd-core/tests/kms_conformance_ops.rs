//! KMS operations against AWS's documented behaviour (second conformance review): who may
//! retire a grant ("Retiring and revoking grants"), the account a grant is issued under, and
//! the AWS managed keys DescribeKey creates for predefined `alias/aws/...` aliases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use serde_json::{json, Value};

fn deny(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": action, "Resource": "*"}]})
}

fn grant(w: &World, id: &str, extra: Value) -> (String, String) {
    let mut input = json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/alice"),
                           "Operations": ["Encrypt"]});
    if let (Value::Object(m), Value::Object(e)) = (&mut input, extra) {
        m.extend(e);
    }
    let g = w.ok("CreateGrant", input);
    (
        g["GrantId"].as_str().unwrap().to_string(),
        g["GrantToken"].as_str().unwrap().to_string(),
    )
}

fn grant_ids(w: &World, id: &str) -> Vec<String> {
    w.ok("ListGrants", json!({"KeyId": id}))["Grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["GrantId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn retiring_principal_is_stopped_by_an_iam_deny() {
    let w = World::new();
    let id = w.key();
    let bob = format!("arn:aws:iam::{ACCT}:user/bob");
    let (gid, token) = grant(&w, &id, json!({"RetiringPrincipal": bob}));
    let denied = user(ACCT, "bob", &[deny("kms:RetireGrant")]);
    let e = w
        .call("RetireGrant", &denied, json!({"GrantToken": token}))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(e.message.unwrap().contains("explicit deny"));
    assert_eq!(grant_ids(&w, &id), vec![gid.clone()]);
    // A Deny on another action does not matter; the grant alone lets bob retire it.
    let other = user(ACCT, "bob", &[deny("kms:Decrypt")]);
    let call = w.call_full("RetireGrant", &other, json!({"GrantToken": token}));
    assert!(call.result.is_ok());
    assert!(grant_ids(&w, &id).is_empty());
}

#[test]
fn key_policy_alone_does_not_let_a_principal_retire() {
    let w = World::new();
    let alice = format!("arn:aws:iam::{ACCT}:user/alice");
    let bob = format!("arn:aws:iam::{ACCT}:user/bob");
    // The key policy names bob for kms:RetireGrant (and the account for everything).
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": bob}, "Action": "kms:RetireGrant", "Resource": "*"}]});
    let id = w.ok("CreateKey", json!({"Policy": policy.to_string()}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let (gid, _) = grant(&w, &id, json!({}));
    let e = w
        .call(
            "RetireGrant",
            &user(ACCT, "bob", &[]),
            json!({"KeyId": arn(&id), "GrantId": gid}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // An IAM policy of the key's account delegates it, whatever the key policy says.
    let only_alice = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": alice}, "Action": "kms:*", "Resource": "*"}]});
    let id2 = w.ok(
        "CreateKey",
        json!({"Policy": only_alice.to_string(), "BypassPolicyLockoutSafetyCheck": true}),
    )["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_p = user(ACCT, "alice", &[]);
    let g2 = w
        .call(
            "CreateGrant",
            &alice_p,
            json!({"KeyId": id2, "GranteePrincipal": alice, "Operations": ["Decrypt"]}),
        )
        .unwrap();
    let gid2 = g2["GrantId"].as_str().unwrap();
    w.call(
        "RetireGrant",
        &user(ACCT, "bob", &[allow("kms:RetireGrant")]),
        json!({"KeyId": arn(&id2), "GrantId": gid2}),
    )
    .unwrap();
    // The account root needs no policy at all.
    let (gid3, token3) = grant(&w, &id, json!({}));
    w.ok("RetireGrant", json!({"GrantToken": token3}));
    assert!(!grant_ids(&w, &id).contains(&gid3));
}

#[test]
fn retiring_account_delegates_through_iam() {
    let w = World::new();
    let id = w.key();
    let (gid, token) = grant(
        &w,
        &id,
        json!({"RetiringPrincipal": format!("arn:aws:iam::{OTHER}:root")}),
    );
    let e = w
        .call(
            "RetireGrant",
            &user(OTHER, "carol", &[]),
            json!({"GrantToken": token}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // A bare account id names the account too.
    let (gid_bare, token_bare) = grant(&w, &id, json!({"RetiringPrincipal": OTHER}));
    let carol = user(OTHER, "carol", &[allow("kms:RetireGrant")]);
    w.call("RetireGrant", &carol, json!({"GrantToken": token}))
        .unwrap();
    w.call("RetireGrant", &carol, json!({"GrantToken": token_bare}))
        .unwrap();
    let left = grant_ids(&w, &id);
    assert!(!left.contains(&gid) && !left.contains(&gid_bare));
    // A grant that does not name the other account stays out of its reach.
    let (_, token4) = grant(&w, &id, json!({}));
    let e = w
        .call("RetireGrant", &carol, json!({"GrantToken": token4}))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn cross_account_grant_is_issued_under_the_callers_account() {
    let w = World::new();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
         "Action": "kms:CreateGrant", "Resource": "*"}]});
    let id = w.ok("CreateKey", json!({"Policy": policy.to_string()}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let carol = user(OTHER, "carol", &[allow("kms:*")]);
    let g = w
        .call(
            "CreateGrant",
            &carol,
            json!({"KeyId": arn(&id), "GranteePrincipal": format!("arn:aws:iam::{OTHER}:user/carol"),
                   "Operations": ["Encrypt"]}),
        )
        .unwrap();
    let list = w.ok("ListGrants", json!({"KeyId": id}));
    assert_eq!(
        list["Grants"][0]["IssuingAccount"],
        format!("arn:aws:iam::{OTHER}:root")
    );
    // Survives a restart.
    let again = w.reopen().unwrap();
    let listed = again
        .call(
            "ListGrants",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id}),
        )
        .result
        .unwrap();
    assert_eq!(
        listed["Grants"][0]["IssuingAccount"],
        format!("arn:aws:iam::{OTHER}:root")
    );
    // The issuing account retires it through IAM (the grant names neither it nor carol as
    // retiring principal, and carol's grant lacks RetireGrant).
    let gid = g["GrantId"].as_str().unwrap();
    w.call(
        "RetireGrant",
        &user(OTHER, "dan", &[allow("kms:RetireGrant")]),
        json!({"KeyId": arn(&id), "GrantId": gid}),
    )
    .unwrap();
    assert!(grant_ids(&w, &id).is_empty());
}

#[test]
fn describe_key_on_a_predefined_alias_creates_the_aws_managed_key() {
    let w = World::new();
    let meta1 = w.ok("DescribeKey", json!({"KeyId": "alias/aws/s3"}))["KeyMetadata"].clone();
    assert_eq!(meta1["KeyManager"], "AWS");
    assert_eq!(meta1["KeyState"], "Enabled");
    let id = meta1["KeyId"].as_str().unwrap().to_string();
    let by_arn = w.ok(
        "DescribeKey",
        json!({"KeyId": format!("arn:aws:kms:{REGION}:{ACCT}:alias/aws/s3")}),
    );
    assert_eq!(by_arn["KeyMetadata"]["KeyId"], id.as_str());
    let aliases = w.ok("ListAliases", json!({}))["Aliases"].clone();
    assert_eq!(aliases.as_array().unwrap().len(), 1);
    assert_eq!(aliases[0]["AliasName"], "alias/aws/s3");
    assert_eq!(aliases[0]["TargetKeyId"], id.as_str());
    let rot = w.ok("GetKeyRotationStatus", json!({"KeyId": id}));
    assert_eq!(rot["KeyRotationEnabled"], true);
    assert_eq!(rot["RotationPeriodInDays"], 365);
    // Not usable or manageable directly, even by the account root.
    for (op, input) in [
        (
            "Encrypt",
            json!({"KeyId": "alias/aws/s3", "Plaintext": b64(b"x")}),
        ),
        ("DisableKey", json!({"KeyId": id})),
        ("ScheduleKeyDeletion", json!({"KeyId": id})),
        ("DisableKeyRotation", json!({"KeyId": id})),
    ] {
        assert_eq!(w.err(op, input).code, "AccessDeniedException", "{op}");
    }
    // Another account's alias ARN, an unknown service, or another Region: nothing is made.
    for key_id in [
        format!("arn:aws:kms:{REGION}:{OTHER}:alias/aws/s3"),
        "alias/aws/not-a-service".to_string(),
        format!("arn:aws:kms:eu-west-1:{ACCT}:alias/aws/ebs"),
    ] {
        let e = w.err("DescribeKey", json!({"KeyId": key_id}));
        assert!(
            matches!(
                e.code.as_str(),
                "NotFoundException" | "AccessDeniedException"
            ),
            "{e}"
        );
    }
    assert_eq!(
        w.ok("ListKeys", json!({}))["Keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Customer managed keys keep KeyManager CUSTOMER; both survive a restart.
    let mine = w.key();
    let again = w.reopen().unwrap();
    let d = |k: &str| {
        again
            .call(
                "DescribeKey",
                &root(ACCT),
                &meta(REGION),
                &json!({"KeyId": k}),
            )
            .result
            .unwrap()["KeyMetadata"]
            .clone()
    };
    assert_eq!(d("alias/aws/s3")["KeyId"], id.as_str());
    assert_eq!(d("alias/aws/s3")["KeyManager"], "AWS");
    assert_eq!(d(&mine)["KeyManager"], "CUSTOMER");
}

#[test]
fn list_grants_grantee_filter_follows_the_model_pattern() {
    let w = World::new();
    let id = w.key();
    let e = w.err(
        "ListGrants",
        json!({"KeyId": id, "GranteePrincipal": "not a principal!"}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("1 validation error detected: Value 'not a principal!' at 'granteePrincipal' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"),
    );
    let (gid, _) = grant(&w, &id, json!({}));
    let l = w.ok(
        "ListGrants",
        json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/alice")}),
    );
    assert_eq!(l["Grants"][0]["GrantId"], gid.as_str());
}
