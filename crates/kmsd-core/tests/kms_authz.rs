//! Authorization and key policies [decision engine]: IAM users under the default key policy,
//! AccessDenied messages, cross-account use by ARN and hiding keys a caller cannot see,
//! condition keys KMS adds (RequestAlias, ResourceTag, EncryptionContext, CallerAccount),
//! GetKeyPolicy/PutKeyPolicy/ListKeyPolicies with K1–K8, the compiled-policy cache, explain,
//! access views and declared keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use std::collections::BTreeMap;

use kms_support::*;
use kmsd_core::kms::{DeclaredGrant, DeclaredKey};
use kmsd_policy::{Decision, RequestContext};
use serde_json::{json, Value};

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn root_admin() -> Value {
    json!({"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"})
}

#[test]
fn iam_users_under_the_default_policy() {
    let w = World::new();
    let id = w.key();
    let alice = user(ACCT, "alice", &[allow("kms:*")]);
    let bob = user(ACCT, "bob", &[]);
    let v = w
        .call(
            "Encrypt",
            &alice,
            json!({"KeyId": id, "Plaintext": b64(b"x")}),
        )
        .unwrap();
    let call = w.call_full(
        "Decrypt",
        &bob,
        json!({"CiphertextBlob": v["CiphertextBlob"]}),
    );
    let e = call.result.unwrap_err();
    assert_err(
        &e,
        "AccessDeniedException",
        Some(&format!(
            "User: arn:aws:iam::{ACCT}:user/bob is not authorized to perform: kms:Decrypt on resource: {} because no identity-based policy allows the kms:Decrypt action",
            arn(&id)
        )),
    );
    assert_eq!(call.audit.decision, Some(Decision::ImplicitDeny));
    assert_eq!(call.audit.key_arn.as_deref(), Some(arn(&id).as_str()));
    // Keyless operations are IAM-only.
    assert_eq!(
        w.call("ListKeys", &bob, json!({})).unwrap_err().code,
        "AccessDeniedException"
    );
    assert_eq!(
        w.call("CreateKey", &bob, json!({})).unwrap_err().code,
        "AccessDeniedException"
    );
    assert_eq!(
        w.call("GenerateRandom", &bob, json!({"NumberOfBytes": 4}))
            .unwrap_err()
            .code,
        "AccessDeniedException"
    );
    assert!(w.call("ListKeys", &alice, json!({})).is_ok());
    // CreateKey with tags also needs kms:TagResource.
    let maker = user(ACCT, "alice", &[allow("kms:CreateKey")]);
    assert!(w.call("CreateKey", &maker, json!({})).is_ok());
    let e = w
        .call(
            "CreateKey",
            &maker,
            json!({"Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn cross_account_by_arn_only() {
    let w = World::new();
    let id = w.key();
    let carol = user(OTHER, "carol", &[allow("kms:*")]);
    // Default policy: carol cannot use it, and nothing reveals that it exists.
    let e1 = w
        .call(
            "Encrypt",
            &carol,
            json!({"KeyId": arn(&id), "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    let ghost = "99999999-9999-4999-8999-999999999999";
    let e2 = w
        .call(
            "Encrypt",
            &carol,
            json!({"KeyId": arn(ghost), "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    assert_eq!(e1.code, "AccessDeniedException");
    assert_eq!(e2.code, "AccessDeniedException");
    assert_eq!(
        e1.message.unwrap().replace(&id, "ID"),
        e2.message.unwrap().replace(ghost, "ID")
    );
    // Open the key to OTHER.
    let p = policy(
        json!([root_admin(), {"Sid": "Other", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:EnableKey", "kms:CreateGrant"], "Resource": "*"}]),
    );
    w.ok("PutKeyPolicy", json!({"KeyId": id, "Policy": p}));
    let v = w
        .call(
            "Encrypt",
            &carol,
            json!({"KeyId": arn(&id), "Plaintext": b64(b"x")}),
        )
        .unwrap();
    assert_eq!(v["KeyId"], arn(&id));
    w.call(
        "Decrypt",
        &carol,
        json!({"CiphertextBlob": v["CiphertextBlob"]}),
    )
    .unwrap();
    // A bare key id is tolerated for Decrypt when it is the key the ciphertext names.
    w.call(
        "Decrypt",
        &carol,
        json!({"CiphertextBlob": v["CiphertextBlob"], "KeyId": id}),
    )
    .unwrap();
    w.call("DescribeKey", &carol, json!({"KeyId": arn(&id)}))
        .unwrap();
    // A bare id resolves in carol's own account.
    let e = w
        .call(
            "Encrypt",
            &carol,
            json!({"KeyId": id, "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!(
            "Key 'arn:aws:kms:{REGION}:{OTHER}:key/{id}' does not exist"
        )),
    );
    // Same-account-only operations do not reach across (rule E10): denied, and the message
    // does not reveal whether the key exists.
    let e = w
        .call("EnableKey", &carol, json!({"KeyId": arn(&id)}))
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let text = e.message.clone().unwrap_or_default();
    assert!(text.contains("kms:EnableKey"), "{text}");
    assert!(text.contains("does not exist in this Region"), "{text}");
    // The caller's IAM policy must allow it too.
    let dave = user(OTHER, "dave", &[]);
    let e = w
        .call(
            "Encrypt",
            &dave,
            json!({"KeyId": arn(&id), "Plaintext": b64(b"x")}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    // Cross-account CreateGrant by key ARN.
    w.call("CreateGrant", &carol, json!({"KeyId": arn(&id), "GranteePrincipal": format!("arn:aws:iam::{OTHER}:user/carol"), "Operations": ["Decrypt"]})).unwrap();
}

#[test]
fn condition_keys_kms_adds() {
    let w = World::new();
    let id = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    );
    w.ok(
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "env", "TagValue": "prod"}]}),
    );
    let alice_arn = format!("arn:aws:iam::{ACCT}:user/alice");
    let p = policy(json!([root_admin(),
        {"Sid": "ViaAlias", "Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:RequestAlias": "alias/app", "aws:ResourceTag/env": "prod", "kms:CallerAccount": ACCT}}},
        {"Sid": "WithContext", "Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}, "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app"]}}}
    ]));
    w.ok("PutKeyPolicy", json!({"KeyId": id, "Policy": p}));
    let alice = user(ACCT, "alice", &[]);
    assert!(w
        .call(
            "Encrypt",
            &alice,
            json!({"KeyId": "alias/app", "Plaintext": b64(b"x")})
        )
        .is_ok());
    assert_eq!(
        w.call(
            "Encrypt",
            &alice,
            json!({"KeyId": id, "Plaintext": b64(b"x")})
        )
        .unwrap_err()
        .code,
        "AccessDeniedException"
    );
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x"), "EncryptionContext": {"app": "billing"}}),
    )["CiphertextBlob"]
        .clone();
    assert!(w
        .call(
            "Decrypt",
            &alice,
            json!({"CiphertextBlob": ct, "EncryptionContext": {"app": "billing"}})
        )
        .is_ok());
    let ct2 = w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x"), "EncryptionContext": {"app": "billing", "x": "y"}}))["CiphertextBlob"].clone();
    assert_eq!(
        w.call(
            "Decrypt",
            &alice,
            json!({"CiphertextBlob": ct2, "EncryptionContext": {"app": "billing", "x": "y"}})
        )
        .unwrap_err()
        .code,
        "AccessDeniedException"
    );
    // Untag: the ResourceTag condition no longer holds.
    w.ok("UntagResource", json!({"KeyId": id, "TagKeys": ["env"]}));
    assert_eq!(
        w.call(
            "Encrypt",
            &alice,
            json!({"KeyId": "alias/app", "Plaintext": b64(b"x")})
        )
        .unwrap_err()
        .code,
        "AccessDeniedException"
    );
}

#[test]
fn key_policy_rules() {
    let w = World::new();
    let id = w.key();
    let before = w.dump();
    // K6: lockout.
    let locked = policy(
        json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:user/alice")}, "Action": "kms:*", "Resource": "*"}]),
    );
    let e = w.err("PutKeyPolicy", json!({"KeyId": id, "Policy": locked}));
    assert_err(
        &e,
        "MalformedPolicyDocumentException",
        Some("The new key policy will not allow you to update the key policy in the future."),
    );
    let e = w.err("CreateKey", json!({"Policy": locked}));
    assert_eq!(e.code, "MalformedPolicyDocumentException");
    // K5: unknown principals.
    let ghost = policy(
        json!([root_admin(), {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:user/ghost")}, "Action": "kms:*", "Resource": "*"}]),
    );
    let e = w.err("PutKeyPolicy", json!({"KeyId": id, "Policy": ghost}));
    assert_err(
        &e,
        "MalformedPolicyDocumentException",
        Some("Policy contains a statement with one or more invalid principals."),
    );
    let e = w.err("CreateKey", json!({"Policy": ghost}));
    assert_err(
        &e,
        "MalformedPolicyDocumentException",
        Some("Policy contains a statement with one or more invalid principals."),
    );
    // K3/K4: grammar.
    for bad in [
        "not json",
        "{\"Statement\": 5}",
        &policy(json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])),
        &policy(json!([{"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}])),
    ] {
        let e = w.err("PutKeyPolicy", json!({"KeyId": id, "Policy": bad}));
        assert_eq!(e.code, "MalformedPolicyDocumentException", "{bad}");
    }
    // K7: ForAllValues on a single-valued encryption-context key.
    let overly = policy(
        json!([root_admin(), {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")},
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContext:app": "x"}}}]),
    );
    let e = w.err("PutKeyPolicy", json!({"KeyId": id, "Policy": overly}));
    assert_eq!(e.code, "MalformedPolicyDocumentException");
    assert!(e.message.unwrap().contains("OverlyPermissiveCondition"));
    // K1: size.
    let big = policy(
        json!([root_admin(), {"Sid": "x".repeat(33_000), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "kms:*", "Resource": "*"}]),
    );
    assert_eq!(
        w.err("PutKeyPolicy", json!({"KeyId": id, "Policy": big}))
            .code,
        "LimitExceededException"
    );
    // K2: characters.
    let e = w.err(
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": "{\"Version\": \"\u{2603}\"}"}),
    );
    assert_eq!(e.code, "ValidationException");
    // K8: names.
    let good = policy(json!([root_admin()]));
    let e = w.err(
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": good, "PolicyName": "AWS_RAM"}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("The AWS_RAM policy can only be managed by the RAM service."),
    );
    assert_eq!(
        w.err(
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": good, "PolicyName": "other"})
        )
        .code,
        "ValidationException"
    );
    assert_eq!(
        w.err(
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": good, "PolicyName": "bad-name"})
        )
        .code,
        "ValidationException"
    );
    assert_eq!(
        w.err("GetKeyPolicy", json!({"KeyId": id, "PolicyName": "other"}))
            .code,
        "NotFoundException"
    );
    assert_eq!(w.dump(), before, "rejected policies change nothing");
    // Bypass lets a lockout policy through; then even root is locked out.
    w.ok(
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": locked, "BypassPolicyLockoutSafetyCheck": true}),
    );
    assert_eq!(
        w.err("GetKeyPolicy", json!({"KeyId": id})).code,
        "AccessDeniedException"
    );
    let k2 = w.ok(
        "CreateKey",
        json!({"Policy": locked, "BypassPolicyLockoutSafetyCheck": true}),
    );
    assert_eq!(k2["KeyMetadata"]["KeyState"], "Enabled");
    let v = w.ok("ListKeyPolicies", json!({"KeyId": w.key()}));
    assert_eq!(v, json!({"PolicyNames": ["default"], "Truncated": false}));
}

#[test]
fn put_key_policy_replaces_the_compiled_policy() {
    let w = World::new();
    let id = w.key();
    w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")}));
    let deny = policy(
        json!([root_admin(), {"Sid": "NoEncrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}]),
    );
    w.ok("PutKeyPolicy", json!({"KeyId": id, "Policy": deny}));
    let call = w.call_full(
        "Encrypt",
        &root(ACCT),
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    );
    let e = call.result.unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(e
        .message
        .unwrap()
        .contains("with an explicit deny in a resource-based policy"));
    assert_eq!(call.audit.decision, Some(Decision::ExplicitDeny));
    assert!(call.audit.deciding.iter().any(
        |b| matches!(b, kmsd_policy::Because::Statement { sid: Some(s), .. } if s == "NoEncrypt")
    ));
    // The new policy survives a restart, compiled again from the store.
    let kms2 = w.reopen().unwrap();
    let e = kms2
        .call(
            "Encrypt",
            &root(ACCT),
            &meta(REGION),
            &json!({"KeyId": id, "Plaintext": b64(b"x")}),
        )
        .result
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
}

#[test]
fn explain_and_views() {
    let w = World::new();
    let id = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/ex", "TargetKeyId": id}),
    );
    w.ok("CreateGrant", json!({"KeyId": id, "GranteePrincipal": format!("arn:aws:iam::{ACCT}:user/bob"), "Operations": ["Decrypt"]}));
    let alice = user(ACCT, "alice", &[allow("kms:Decrypt")]);
    let x = w
        .kms
        .explain(
            &alice,
            "kms:Decrypt",
            &arn(&id),
            REGION,
            &RequestContext::new(),
            None,
        )
        .unwrap();
    assert_eq!(x.outcome.decision, Decision::Allow);
    assert!(!x.path.is_empty());
    let x = w
        .kms
        .explain(
            &alice,
            "kms:Encrypt",
            &format!("arn:aws:kms:{REGION}:{ACCT}:alias/ex"),
            REGION,
            &RequestContext::new(),
            None,
        )
        .unwrap();
    assert_ne!(x.outcome.decision, Decision::Allow);
    assert!(x.message.unwrap().contains("kms:Encrypt"));
    let e = w
        .kms
        .explain(
            &alice,
            "kms:Decrypt",
            &arn("99999999-9999-4999-8999-999999999999"),
            REGION,
            &RequestContext::new(),
            None,
        )
        .unwrap_err();
    assert_eq!(e.code, "NotFoundException");
    let v = w.kms.key_authz_view(&arn(&id)).unwrap();
    assert_eq!(v.key_arn, arn(&id));
    assert_eq!(v.account, ACCT);
    assert_eq!(v.aliases, vec!["alias/ex".to_string()]);
    assert_eq!(v.grants.len(), 1);
    assert_eq!(v.policy.id, "key-policy");
    assert!(w
        .kms
        .key_authz_view("arn:aws:kms:us-east-1:111122223333:key/nope")
        .is_none());
    assert_eq!(w.kms.list_key_arns(), vec![arn(&id)]);
}

fn declared(id: &str) -> DeclaredKey {
    DeclaredKey {
        id: id.to_string(),
        region: REGION.to_string(),
        description: "declared".into(),
        policy: None,
        aliases: vec!["alias/declared".into()],
        enabled: true,
        tags: BTreeMap::from([("team".to_string(), "blue".to_string())]),
        grants: vec![DeclaredGrant {
            name: Some("g1".into()),
            grantee_principal: format!("arn:aws:iam::{ACCT}:user/alice"),
            retiring_principal: None,
            operations: vec!["Encrypt".into(), "Decrypt".into()],
            constraints: None,
        }],
    }
}

#[test]
fn declared_keys_are_idempotent() {
    let w = World::new();
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let d = declared(id);
    w.kms.validate_declared_key(ACCT, &d).unwrap();
    w.kms.ensure_declared_key(ACCT, &d).unwrap();
    let dump = w.dump();
    let material_before: Vec<_> = dump
        .iter()
        .filter(|(k, _)| k.starts_with("kms_material"))
        .cloned()
        .collect();
    w.kms.ensure_declared_key(ACCT, &d).unwrap();
    let after = w.dump();
    assert_eq!(
        after
            .iter()
            .filter(|(k, _)| k.starts_with("kms_material"))
            .cloned()
            .collect::<Vec<_>>(),
        material_before
    );
    assert_eq!(
        after
            .iter()
            .filter(|(k, _)| k.starts_with("kms_grants"))
            .count(),
        1
    );
    let m = w.ok("DescribeKey", json!({"KeyId": "alias/declared"}));
    assert_eq!(m["KeyMetadata"]["KeyId"], id);
    assert_eq!(m["KeyMetadata"]["Description"], "declared");
    let alice = user(ACCT, "alice", &[]);
    assert!(w
        .call(
            "Encrypt",
            &alice,
            json!({"KeyId": id, "Plaintext": b64(b"x")})
        )
        .is_ok());
    let mut off = d.clone();
    off.enabled = false;
    w.kms.ensure_declared_key(ACCT, &off).unwrap();
    assert_eq!(
        w.ok("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["KeyState"],
        "Disabled"
    );

    let mut bad = declared("not-a-uuid");
    assert!(w.kms.validate_declared_key(ACCT, &bad).is_err());
    bad = declared(id);
    bad.policy = Some("{".into());
    assert!(w
        .kms
        .validate_declared_key(ACCT, &bad)
        .unwrap_err()
        .contains("policy"));
    bad = declared(id);
    bad.aliases = vec!["alias/aws/x".into()];
    assert!(w.kms.validate_declared_key(ACCT, &bad).is_err());
    bad = declared(id);
    bad.grants[0].operations = vec!["Sign".into()];
    assert!(w.kms.validate_declared_key(ACCT, &bad).is_err());
    assert!(w
        .kms
        .validate_declared_key(OTHER, &declared(id))
        .unwrap_err()
        .contains("another account"));
    let mut ghost = declared("2234abcd-12ab-34cd-56ef-1234567890ab");
    ghost.aliases.clear();
    ghost.grants[0].grantee_principal = format!("arn:aws:iam::{ACCT}:user/ghost");
    assert_eq!(
        w.kms.ensure_declared_key(ACCT, &ghost).unwrap_err().code,
        "InvalidArnException"
    );
}
