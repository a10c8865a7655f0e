//! Custom key store operations for accounts without a CloudHSM cluster or a reachable XKS
//! proxy: model validation, authorization with each operation's IAM action, and AWS's answers
//! (CloudHsmClusterNotFoundException, XksProxyUriUnreachableException,
//! XksProxyVpcEndpointServiceNotFoundException, CustomKeyStoreNotFoundException, an empty
//! DescribeCustomKeyStores); nothing is stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use serde_json::json;

fn xks(extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({
        "CustomKeyStoreName": "xks",
        "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": "https://xks.example.com",
        "XksProxyUriPath": "/example/kms/xks/v1",
        "XksProxyAuthenticationCredential": {
            "AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
            "RawSecretAccessKey": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
        }
    });
    if let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}

#[test]
fn answers_for_an_account_without_custom_key_stores() {
    let w = World::new();
    let e = w.err(
        "CreateCustomKeyStore",
        json!({"CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-234567abcdef",
               "TrustAnchorCertificate": "-----BEGIN CERTIFICATE-----", "KeyStorePassword": "kmsuser-pw"}),
    );
    assert_err(&e, "CloudHsmClusterNotFoundException", None);
    let e = w.err("CreateCustomKeyStore", xks(json!({})));
    assert_err(&e, "XksProxyUriUnreachableException", None);
    let e = w.err(
        "CreateCustomKeyStore",
        xks(json!({"XksProxyConnectivity": "VPC_ENDPOINT_SERVICE",
                   "XksProxyVpcEndpointServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-example1"})),
    );
    assert_err(&e, "XksProxyVpcEndpointServiceNotFoundException", None);
    assert_eq!(
        w.ok("DescribeCustomKeyStores", json!({})),
        json!({"CustomKeyStores": [], "Truncated": false})
    );
    for input in [
        json!({"CustomKeyStoreId": "cks-1234567890abcdef0"}),
        json!({"CustomKeyStoreName": "hsm"}),
    ] {
        let e = w.err("DescribeCustomKeyStores", input);
        assert_err(&e, "CustomKeyStoreNotFoundException", None);
    }
    for op in [
        "ConnectCustomKeyStore",
        "DisconnectCustomKeyStore",
        "DeleteCustomKeyStore",
        "UpdateCustomKeyStore",
    ] {
        let e = w.err(op, json!({"CustomKeyStoreId": "cks-1234567890abcdef0"}));
        assert_err(&e, "CustomKeyStoreNotFoundException", None);
        let e = w.err(op, json!({}));
        assert_err(&e, "ValidationException", None);
    }
    let e = w.err(
        "CreateKey",
        json!({"CustomKeyStoreId": "cks-1234567890abcdef0"}),
    );
    assert_err(&e, "CustomKeyStoreNotFoundException", None);
    assert!(w.dump().is_empty());
}

#[test]
fn model_validation() {
    let w = World::new();
    for bad in [
        json!({"CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-1", "TrustAnchorCertificate": "c", "KeyStorePassword": "kmsuser-pw"}),
        json!({"CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-234567abcdef", "TrustAnchorCertificate": "c", "KeyStorePassword": "short"}),
        json!({"CustomKeyStoreName": ""}),
        json!({}),
        xks(json!({"XksProxyUriEndpoint": "http://xks.example.com"})),
        xks(json!({"XksProxyUriPath": "/kms/xks/v123"})),
        xks(json!({"XksProxyAuthenticationCredential": {"AccessKeyId": "ABCDEFGHIJKLMNOPQRST"}})),
        xks(json!({"XksProxyConnectivity": "SOMEWHERE"})),
    ] {
        let e = w.err("CreateCustomKeyStore", bad.clone());
        assert_err(&e, "ValidationException", None);
    }
    // The password never appears in an error.
    let e = w.err(
        "CreateCustomKeyStore",
        json!({"CustomKeyStoreName": "hsm", "CloudHsmClusterId": "cluster-1", "KeyStorePassword": "hunter2-secret"}),
    );
    assert!(!e.to_string().contains("hunter2-secret"));
}

#[test]
fn authorized_with_their_iam_actions() {
    let w = World::new();
    let nobody = user(ACCT, "alice", &[]);
    let only_describe = user(ACCT, "bob", &[allow("kms:DescribeCustomKeyStores")]);
    for (op, input) in [
        ("CreateCustomKeyStore", xks(json!({}))),
        ("DescribeCustomKeyStores", json!({})),
        (
            "ConnectCustomKeyStore",
            json!({"CustomKeyStoreId": "cks-1"}),
        ),
        (
            "DisconnectCustomKeyStore",
            json!({"CustomKeyStoreId": "cks-1"}),
        ),
        ("DeleteCustomKeyStore", json!({"CustomKeyStoreId": "cks-1"})),
        ("UpdateCustomKeyStore", json!({"CustomKeyStoreId": "cks-1"})),
    ] {
        let e = w.call(op, &nobody, input.clone()).unwrap_err();
        assert_err(&e, "AccessDeniedException", None);
        assert!(e.to_string().contains(&format!("kms:{op}")), "{e}");
    }
    assert!(w
        .call("DescribeCustomKeyStores", &only_describe, json!({}))
        .is_ok());
    let e = w
        .call(
            "DeleteCustomKeyStore",
            &only_describe,
            json!({"CustomKeyStoreId": "cks-1"}),
        )
        .unwrap_err();
    assert_err(&e, "AccessDeniedException", None);
}
