//! AWS KMS's limits, through the real server: request body size, key policy size (32 KB),
//! aliases per key (50), tags per key (50), tag key/value lengths (128/256), Encrypt
//! plaintext (4096 bytes), GenerateRandom (1..1024 bytes), grant tokens (at most 10),
//! encryption-context constraints of grants (8 pairs, values of 384 characters), and request
//! quotas (`--request-quotas aws-default`, scaled) answered with `ThrottlingException`.
//!
//! Each limit is tested on both sides: the largest accepted value and the first refused one.
//! Grants per key (50,000) is enforced in kmsd-core but not driven here (50,000 calls).

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

mod common;

use std::net::SocketAddr;

use common::{b64, exchange, kms, kms_ok, signed_headers, Server};
use serde_json::{json, Value};

fn new_key(addr: SocketAddr) -> String {
    kms_ok(addr, "CreateKey", &json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Expect an error answer with this HTTP status and code; returns the message.
fn expect_err(addr: SocketAddr, op: &str, input: &Value, status: u16, code: &str) -> String {
    let (s, v) = kms(addr, op, input);
    assert_eq!((s, v["__type"].as_str()), (status, Some(code)), "{op}: {v}");
    v["message"]
        .as_str()
        .or_else(|| v["Message"].as_str())
        .unwrap_or("")
        .to_string()
}

fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &dir.path().join("err"), extra);
    (dir, server)
}

#[test]
fn request_body_size() {
    let (_dir, server) = start(&[]);
    let addr = server.addr;
    // Just under the 1 MiB wire limit: parsed (and refused for its content, not its size).
    let pad = "a".repeat(1024 * 1024 - 200);
    let body = json!({"KeyId": "alias/none", "Plaintext": "AA==", "Pad": pad}).to_string();
    assert!(body.len() <= 1024 * 1024);
    let (status, raw) = exchange(
        addr,
        &signed_headers(addr, "Encrypt", body.as_bytes()),
        body.as_bytes(),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_ne!(v["__type"], "RequestEntityTooLarge", "HTTP {status} {v}");
    // Over it: 413 with an AWS-shaped JSON error, before any signature work.
    let body = "x".repeat(1024 * 1024 + 1);
    let (status, raw) = exchange(
        addr,
        &signed_headers(addr, "Encrypt", body.as_bytes()),
        body.as_bytes(),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["__type"], "RequestEntityTooLarge");
}

#[test]
fn key_policy_size_32kb() {
    let (_dir, server) = start(&[]);
    let addr = server.addr;
    let key = new_key(addr);
    let base = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string();
    let sized = |n: usize| format!("{base}{}", " ".repeat(n - base.len()));
    kms_ok(
        addr,
        "PutKeyPolicy",
        &json!({"KeyId": key, "PolicyName": "default", "Policy": sized(32_768)}),
    );
    expect_err(
        addr,
        "PutKeyPolicy",
        &json!({"KeyId": key, "PolicyName": "default", "Policy": sized(32_769)}),
        400,
        "LimitExceededException",
    );
    expect_err(
        addr,
        "CreateKey",
        &json!({ "Policy": sized(40_000) }),
        400,
        "LimitExceededException",
    );
}

#[test]
fn aliases_per_key_50() {
    let (_dir, server) = start(&[]);
    let addr = server.addr;
    let key = new_key(addr);
    for i in 0..50 {
        kms_ok(
            addr,
            "CreateAlias",
            &json!({"AliasName": format!("alias/limit-{i}"), "TargetKeyId": key}),
        );
    }
    let msg = expect_err(
        addr,
        "CreateAlias",
        &json!({"AliasName": "alias/limit-50", "TargetKeyId": key}),
        400,
        "LimitExceededException",
    );
    assert!(msg.contains("50"), "{msg}");
    // Moving another key's alias onto the full key is refused too; the alias stays put.
    let other = new_key(addr);
    kms_ok(
        addr,
        "CreateAlias",
        &json!({"AliasName": "alias/other", "TargetKeyId": other}),
    );
    expect_err(
        addr,
        "UpdateAlias",
        &json!({"AliasName": "alias/other", "TargetKeyId": key}),
        400,
        "LimitExceededException",
    );
    let v = kms_ok(addr, "DescribeKey", &json!({"KeyId": "alias/other"}));
    assert_eq!(v["KeyMetadata"]["KeyId"], other.as_str());
    // After deleting one, there is room again.
    kms_ok(addr, "DeleteAlias", &json!({"AliasName": "alias/limit-0"}));
    kms_ok(
        addr,
        "UpdateAlias",
        &json!({"AliasName": "alias/other", "TargetKeyId": key}),
    );
}

fn tags(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"TagKey": format!("k{i}"), "TagValue": "v"}))
            .collect(),
    )
}

#[test]
fn tags_per_key_and_lengths() {
    let (_dir, server) = start(&[]);
    let addr = server.addr;
    let key = new_key(addr);
    kms_ok(
        addr,
        "TagResource",
        &json!({"KeyId": key, "Tags": tags(50)}),
    );
    // A 51st distinct key is refused; re-tagging an existing key is not.
    expect_err(
        addr,
        "TagResource",
        &json!({"KeyId": key, "Tags": [{"TagKey": "k50", "TagValue": "v"}]}),
        400,
        "TagException",
    );
    kms_ok(
        addr,
        "TagResource",
        &json!({"KeyId": key, "Tags": [{"TagKey": "k0", "TagValue": "w"}]}),
    );
    expect_err(
        addr,
        "CreateKey",
        &json!({ "Tags": tags(51) }),
        400,
        "TagException",
    );
    let key2 = new_key(addr);
    let ok =
        json!({"KeyId": key2, "Tags": [{"TagKey": "k".repeat(128), "TagValue": "v".repeat(256)}]});
    kms_ok(addr, "TagResource", &ok);
    let msg = expect_err(
        addr,
        "TagResource",
        &json!({"KeyId": key2, "Tags": [{"TagKey": "k".repeat(129), "TagValue": "v"}]}),
        400,
        "ValidationException",
    );
    assert!(msg.contains("128"), "{msg}");
    let msg = expect_err(
        addr,
        "TagResource",
        &json!({"KeyId": key2, "Tags": [{"TagKey": "k", "TagValue": "v".repeat(257)}]}),
        400,
        "ValidationException",
    );
    assert!(msg.contains("256"), "{msg}");
}

#[test]
fn crypto_sizes_grant_tokens_and_context_constraints() {
    let (_dir, server) = start(&[]);
    let addr = server.addr;
    let key = new_key(addr);
    // Encrypt plaintext: 1..4096 bytes.
    kms_ok(
        addr,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": b64(&[7u8; 4096])}),
    );
    let msg = expect_err(
        addr,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": b64(&[7u8; 4097])}),
        400,
        "ValidationException",
    );
    assert!(msg.contains("4096"), "{msg}");
    // GenerateRandom: 1..1024 bytes.
    let v = kms_ok(addr, "GenerateRandom", &json!({"NumberOfBytes": 1024}));
    assert_eq!(v["Plaintext"].as_str().unwrap().len(), 1368);
    for n in [0, 1025] {
        expect_err(
            addr,
            "GenerateRandom",
            &json!({ "NumberOfBytes": n }),
            400,
            "ValidationException",
        );
    }
    // GenerateDataKey NumberOfBytes: 1..1024 as well.
    expect_err(
        addr,
        "GenerateDataKey",
        &json!({"KeyId": key, "NumberOfBytes": 1025}),
        400,
        "ValidationException",
    );
    // Grant tokens: at most 10.
    let tokens: Vec<String> = (0..11).map(|i| format!("token-{i}")).collect();
    let msg = expect_err(
        addr,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": "AA==", "GrantTokens": tokens}),
        400,
        "ValidationException",
    );
    assert!(msg.contains("10"), "{msg}");
    // Grant encryption-context constraints: 8 pairs, values of 384 characters.
    let pairs = |n: usize, len: usize| -> Value {
        (0..n)
            .map(|i| (format!("k{i}"), Value::String("v".repeat(len))))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let grant = |c: Value| {
        json!({"KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:user/alice",
               "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": c}})
    };
    kms_ok(addr, "CreateGrant", &grant(pairs(8, 384)));
    expect_err(
        addr,
        "CreateGrant",
        &grant(pairs(9, 1)),
        400,
        "ValidationException",
    );
    expect_err(
        addr,
        "CreateGrant",
        &grant(pairs(1, 385)),
        400,
        "ValidationException",
    );
}

#[test]
fn request_quotas_throttle_with_aws_error() {
    // 5 CreateKey/s * 0.2 = 1 per second; symmetric crypto in us-west-2: 50,000 * 0.0001 = 5.
    let (_dir, server) = start(&[
        "--request-quotas",
        "aws-default",
        "--request-quota-scale",
        "0.0001",
    ]);
    let addr = server.addr;
    let (_d2, plain) = start(&[]);
    // CreateKey: 5 * 0.0001 rounds up to a bucket of one token that refills very slowly.
    kms_ok(addr, "CreateKey", &json!({}));
    let msg = expect_err(addr, "CreateKey", &json!({}), 400, "ThrottlingException");
    assert_eq!(
        msg,
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    );
    // Symmetric cryptographic operations share one bucket: 5 calls, then throttled.
    let mut outcomes = Vec::new();
    for i in 0..7 {
        let op = if i % 2 == 0 {
            "GenerateRandom"
        } else {
            "Encrypt"
        };
        let input = if op == "GenerateRandom" {
            json!({"NumberOfBytes": 8})
        } else {
            json!({"KeyId": "alias/none", "Plaintext": "AA=="})
        };
        let (_, v) = kms(addr, op, &input);
        outcomes.push(v["__type"].as_str() == Some("ThrottlingException"));
    }
    assert_eq!(outcomes, [false, false, false, false, false, true, true]);
    // Without the flag nothing is throttled.
    for _ in 0..10 {
        kms_ok(plain.addr, "CreateKey", &json!({}));
    }
}
