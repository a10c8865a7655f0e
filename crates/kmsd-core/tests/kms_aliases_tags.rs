//! Aliases and tags [decision engine]: create/update/delete/list aliases with their errors,
//! tag limits and listing.
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
fn alias_lifecycle() {
    let w = World::new();
    let a = w.key();
    let b = w.key();
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/one", "TargetKeyId": a}),
    );
    w.ok(
        "CreateAlias",
        json!({"AliasName": "alias/two", "TargetKeyId": arn(&a)}),
    );
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "alias/one", "TargetKeyId": b}),
    );
    assert_err(
        &e,
        "AlreadyExistsException",
        Some(&format!(
            "An alias with the name arn:aws:kms:{REGION}:{ACCT}:alias/one already exists"
        )),
    );
    let l = w.ok("ListAliases", json!({}));
    let entries = l["Aliases"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["AliasName"], "alias/one");
    assert_eq!(
        entries[0]["AliasArn"],
        format!("arn:aws:kms:{REGION}:{ACCT}:alias/one")
    );
    assert_eq!(entries[0]["TargetKeyId"], a);
    assert_eq!(entries[0]["CreationDate"], json!(T0 / 1000));
    let p = w.ok("ListAliases", json!({"Limit": 1}));
    assert_eq!(p["Truncated"], true);
    let p2 = w.ok(
        "ListAliases",
        json!({"Limit": 1, "Marker": p["NextMarker"]}),
    );
    assert_eq!(p2["Aliases"][0]["AliasName"], "alias/two");
    assert_eq!(
        w.ok("ListAliases", json!({"KeyId": b}))["Aliases"],
        json!([])
    );
    assert_eq!(
        w.err(
            "ListAliases",
            json!({"KeyId": "99999999-9999-4999-8999-999999999999"})
        )
        .code,
        "NotFoundException"
    );

    w.clock.advance_secs(60);
    w.ok(
        "UpdateAlias",
        json!({"AliasName": "alias/one", "TargetKeyId": b}),
    );
    let m = w.ok("DescribeKey", json!({"KeyId": "alias/one"}));
    assert_eq!(m["KeyMetadata"]["KeyId"], b);
    let l = w.ok("ListAliases", json!({"KeyId": b}));
    assert_eq!(l["Aliases"][0]["LastUpdatedDate"], json!(T0 / 1000 + 60));
    let e = w.err(
        "UpdateAlias",
        json!({"AliasName": "alias/none", "TargetKeyId": b}),
    );
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!(
            "Alias arn:aws:kms:{REGION}:{ACCT}:alias/none is not found."
        )),
    );
    w.ok("ScheduleKeyDeletion", json!({"KeyId": a}));
    let e = w.err(
        "UpdateAlias",
        json!({"AliasName": "alias/one", "TargetKeyId": a}),
    );
    assert_err(
        &e,
        "KMSInvalidStateException",
        Some(&format!("{} is pending deletion.", arn(&a))),
    );
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "alias/three", "TargetKeyId": a}),
    );
    assert_eq!(e.code, "KMSInvalidStateException");
    // DeleteAlias works in any state.
    w.ok("DeleteAlias", json!({"AliasName": "alias/two"}));
    let e = w.err("DeleteAlias", json!({"AliasName": "alias/two"}));
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!(
            "Alias arn:aws:kms:{REGION}:{ACCT}:alias/two is not found."
        )),
    );
    // Aliases are per account.
    let e = w
        .call("DescribeKey", &root(OTHER), json!({"KeyId": "alias/one"}))
        .unwrap_err();
    assert_eq!(e.code, "NotFoundException");
}

#[test]
fn alias_needs_both_permissions() {
    let w = World::new();
    let id = w.key();
    // IAM allows the alias but not the key: key policy delegates to IAM, so both come from IAM.
    let only_alias = user(
        ACCT,
        "alice",
        &[serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:CreateAlias", "Resource": format!("arn:aws:kms:{REGION}:{ACCT}:alias/*")}]})],
    );
    let e = w
        .call(
            "CreateAlias",
            &only_alias,
            json!({"AliasName": "alias/a", "TargetKeyId": id}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let only_key = user(
        ACCT,
        "alice",
        &[serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:CreateAlias", "Resource": arn(&id)}]})],
    );
    let e = w
        .call(
            "CreateAlias",
            &only_key,
            json!({"AliasName": "alias/a", "TargetKeyId": id}),
        )
        .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(e.message.unwrap().contains("alias/a"));
    let both = user(ACCT, "alice", &[allow("kms:CreateAlias")]);
    w.call(
        "CreateAlias",
        &both,
        json!({"AliasName": "alias/a", "TargetKeyId": id}),
    )
    .unwrap();
}

#[test]
fn tags() {
    let w = World::new();
    let id = w.key();
    w.ok("TagResource", json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": ""}]}));
    w.ok(
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "2"}]}),
    );
    let t = w.ok("ListResourceTags", json!({"KeyId": id}));
    assert_eq!(
        t,
        json!({"Tags": [{"TagKey": "a", "TagValue": "2"}, {"TagKey": "b", "TagValue": ""}], "Truncated": false})
    );
    let p = w.ok("ListResourceTags", json!({"KeyId": id, "Limit": 1}));
    assert_eq!(p["Truncated"], true);
    assert_eq!(p["NextMarker"], "b");
    let before = w.dump();
    let e = w.err(
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "AWS:x", "TagValue": "1"}]}),
    );
    assert_err(
        &e,
        "TagException",
        Some("Tags beginning with aws: are reserved"),
    );
    let e = w.err(
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "v".repeat(257)}]}),
    );
    assert!(e.message.unwrap().contains("'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"));
    let many: Vec<_> = (0..49)
        .map(|i| json!({"TagKey": format!("k{i}"), "TagValue": "v"}))
        .collect();
    let e = w.err("TagResource", json!({"KeyId": id, "Tags": many}));
    assert_err(&e, "TagException", Some("Too many tags"));
    let e = w.err("TagResource", json!({"KeyId": id}));
    assert_eq!(e.code, "ValidationException");
    let e = w.err(
        "UntagResource",
        json!({"KeyId": id, "TagKeys": ["aws:foo"]}),
    );
    assert_eq!(e.code, "TagException");
    assert_eq!(w.dump(), before);
    w.ok(
        "UntagResource",
        json!({"KeyId": id, "TagKeys": ["a", "missing"]}),
    );
    assert_eq!(
        w.ok("ListResourceTags", json!({"KeyId": id}))["Tags"],
        json!([{"TagKey": "b", "TagValue": ""}])
    );
    w.ok("ScheduleKeyDeletion", json!({"KeyId": id}));
    assert_eq!(
        w.err(
            "TagResource",
            json!({"KeyId": id, "Tags": [{"TagKey": "c", "TagValue": "1"}]})
        )
        .code,
        "KMSInvalidStateException"
    );
    assert!(w.ok("ListResourceTags", json!({"KeyId": id}))["Tags"]
        .as_array()
        .is_some());
}
