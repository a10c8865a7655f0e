//! Bad input of every kind gets AWS's error and changes nothing. These checks run before
//! authorization, so they do not depend on the decision engine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use kms_support::*;
use serde_json::json;

const FAKE: &str = "11111111-2222-4333-8444-555555555555";

#[test]
fn identifier_errors() {
    let w = World::new();
    let e = w.err("DescribeKey", json!({"KeyId": "fake-key-id"}));
    assert_err(&e, "NotFoundException", Some("Invalid keyId 'fake-key-id'"));
    let e = w.err("DescribeKey", json!({"KeyId": "mrk-fake-key-id"}));
    assert_err(
        &e,
        "NotFoundException",
        Some("Invalid keyId 'mrk-fake-key-id'"),
    );
    let e = w.err("DescribeKey", json!({"KeyId": FAKE}));
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!("Key '{}' does not exist", arn(FAKE))),
    );
    let e = w.err(
        "DescribeKey",
        json!({"KeyId": format!("arn:aws:kms:eu-west-1:{ACCT}:key/{FAKE}")}),
    );
    assert_err(&e, "NotFoundException", Some("Invalid arn eu-west-1"));
    let e = w.err("DescribeKey", json!({"KeyId": "alias/nope"}));
    assert_err(
        &e,
        "NotFoundException",
        Some(&format!(
            "Alias arn:aws:kms:{REGION}:{ACCT}:alias/nope is not found."
        )),
    );
    // Key-id-only operations reject aliases.
    let e = w.err("EnableKey", json!({"KeyId": "alias/x"}));
    assert_err(
        &e,
        "InvalidArnException",
        Some("Key Aliases are not supported for this operation."),
    );
    let e = w.err("CreateGrant", json!({"KeyId": format!("arn:aws:kms:{REGION}:{ACCT}:alias/x"), "GranteePrincipal": "x", "Operations": ["Decrypt"]}));
    assert_err(
        &e,
        "InvalidArnException",
        Some("Key Aliases are not supported for this operation."),
    );
    // Missing and over-long KeyId.
    let e = w.err("DescribeKey", json!({}));
    assert_err(
        &e,
        "ValidationException",
        Some("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"),
    );
    let long = "a".repeat(2049);
    let e = w.err("DescribeKey", json!({"KeyId": long}));
    assert!(e
        .message
        .unwrap()
        .ends_with("Member must have length less than or equal to 2048"));
    // Wrong JSON type.
    let e = w.err("DescribeKey", json!({"KeyId": 5}));
    assert_eq!(e.code, "SerializationException");
    assert!(w.dump().is_empty());
}

#[test]
fn crypto_input_limits() {
    let w = World::new();
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": b64(&[0u8; 4097])}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"),
    );
    let e = w.err("Encrypt", json!({"KeyId": FAKE, "Plaintext": ""}));
    assert!(e
        .message
        .unwrap()
        .contains("Member must have length greater than or equal to 1"));
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": "!!not base64!!"}),
    );
    assert_eq!(e.code, "SerializationException");
    let e = w.err("Encrypt", json!({"KeyId": FAKE}));
    assert!(e.message.unwrap().contains("Value null at 'plaintext'"));
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "AES"}),
    );
    assert!(e
        .message
        .unwrap()
        .contains("Member must satisfy enum value set: [SYMMETRIC_DEFAULT"));
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": b64(b"x"), "EncryptionContext": {"a": 1}}),
    );
    assert_eq!(e.code, "SerializationException");
    let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&[1u8; 6145])}));
    assert!(e
        .message
        .unwrap()
        .contains("Member must have length less than or equal to 6144"));
    let e = w.err(
        "GenerateDataKey",
        json!({"KeyId": FAKE, "NumberOfBytes": 2048}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("1 validation error detected: Value '2048' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"),
    );
    let e = w.err("GenerateDataKey", json!({"KeyId": FAKE}));
    assert_err(
        &e,
        "ValidationException",
        Some("Please specify either number of bytes or key spec."),
    );
    let e = w.err(
        "GenerateDataKey",
        json!({"KeyId": FAKE, "NumberOfBytes": 16, "KeySpec": "AES_128"}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("Please specify either number of bytes or key spec."),
    );
    let e = w.err(
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": FAKE, "KeySpec": "AES_512"}),
    );
    assert!(e
        .message
        .unwrap()
        .contains("Member must satisfy enum value set: [AES_256, AES_128]"));
    let e = w.err("GenerateRandom", json!({}));
    assert_err(
        &e,
        "ValidationException",
        Some("NumberOfBytes is required."),
    );
    let e = w.err("GenerateRandom", json!({"NumberOfBytes": 0}));
    assert_err(
        &e,
        "ValidationException",
        Some("1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"),
    );
    let e = w.err("GenerateRandom", json!({"NumberOfBytes": 1025}));
    assert!(e
        .message
        .unwrap()
        .ends_with("Member must have value less than or equal to 1024"));
    let too_many: Vec<String> = (0..11).map(|_| "t".to_string()).collect();
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": b64(b"x"), "GrantTokens": too_many}),
    );
    assert!(e.message.unwrap().contains("'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"));
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": b64(b"x"), "GrantTokens": ["garbage"]}),
    );
    assert_eq!(e.code, "InvalidGrantTokenException");
    // Model violations come before a malformed grant token.
    let e = w.err(
        "Encrypt",
        json!({"KeyId": FAKE, "Plaintext": b64(&[0u8; 4097]), "GrantTokens": ["garbage"]}),
    );
    assert_eq!(e.code, "ValidationException");
    assert!(w.dump().is_empty());
}

#[test]
fn garbage_ciphertext_is_invalid_ciphertext_without_message() {
    let w = World::new();
    for blob in [vec![0u8; 1], vec![9u8; 60], vec![1u8; 20]] {
        let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&blob)}));
        assert_err(&e, "InvalidCiphertextException", None);
        assert_eq!(e.message, None);
    }
    // A well-formed blob naming a key that does not exist.
    let mut blob = vec![1u8];
    blob.extend_from_slice(&[0x11; 16]);
    blob.extend_from_slice(&[0, 0, 0, 1]);
    blob.extend_from_slice(&[0; 12 + 16 + 4]);
    let e = w.err("Decrypt", json!({"CiphertextBlob": b64(&blob)}));
    assert_err(
        &e,
        "AccessDeniedException",
        Some("The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access."),
    );
}

#[test]
fn create_key_parameters() {
    let w = World::new();
    let e = w.err("CreateKey", json!({"KeySpec": "HMAC_random"}));
    assert!(e.message.unwrap().starts_with("1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: ["));
    let e = w.err("CreateKey", json!({"KeySpec": "HMAC_256"}));
    assert_err(
        &e,
        "ValidationException",
        Some("You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."),
    );
    let e = w.err(
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "KEY_AGREEMENT"}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"),
    );
    let e = w.err(
        "CreateKey",
        json!({"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"}),
    );
    assert_eq!(e.code, "ValidationException");
    let e = w.err("CreateKey", json!({"Description": "x".repeat(8193)}));
    assert!(e
        .message
        .unwrap()
        .contains("'description' failed to satisfy constraint"));
    let e = w.err(
        "CreateKey",
        json!({"Tags": [{"TagKey": "aws:x", "TagValue": "v"}]}),
    );
    assert_err(
        &e,
        "TagException",
        Some("Tags beginning with aws: are reserved"),
    );
    let e = w.err(
        "CreateKey",
        json!({"Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}]}),
    );
    assert_err(&e, "TagException", Some("Duplicate tag keys"));
    let tags: Vec<_> = (0..51)
        .map(|i| json!({"TagKey": format!("k{i}"), "TagValue": "v"}))
        .collect();
    let e = w.err("CreateKey", json!({"Tags": tags}));
    assert_err(&e, "TagException", Some("Too many tags"));
    let e = w.err(
        "CreateKey",
        json!({"Tags": [{"TagKey": "k".repeat(129), "TagValue": "v"}]}),
    );
    assert!(e.message.unwrap().contains("at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"));
    let e = w.err(
        "CreateKey",
        json!({"Policy": "{\"Version\": \"2012-10-17\u{0100}\"}"}),
    );
    assert_eq!(e.code, "ValidationException");
    assert!(w.dump().is_empty());
}

#[test]
fn alias_names() {
    let w = World::new();
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "foo", "TargetKeyId": FAKE}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"),
    );
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "alias/aws/s3", "TargetKeyId": FAKE}),
    );
    assert_err(&e, "NotAuthorizedException", None);
    assert_eq!(e.message, None);
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "alias/a b", "TargetKeyId": FAKE}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"),
    );
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "alias/a:b", "TargetKeyId": FAKE}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("alias/a:b contains invalid characters for an alias"),
    );
    let e = w.err(
        "CreateAlias",
        json!({"AliasName": "alias/x", "TargetKeyId": "alias/y"}),
    );
    assert_err(
        &e,
        "ValidationException",
        Some("Aliases must refer to keys. Not aliases"),
    );
    let e = w.err("DeleteAlias", json!({"AliasName": "alias/aws/ebs"}));
    assert_err(&e, "NotAuthorizedException", None);
    assert!(w.dump().is_empty());
}

#[test]
fn unsupported_and_unknown_operations() {
    let w = World::new();
    let e = w.err(
        "ReplicateKey",
        json!({"KeyId": FAKE, "ReplicaRegion": "eu-west-1"}),
    );
    assert_eq!(e.code, "NotFoundException");
    // No CloudHSM cluster exists for this server's accounts.
    let e = w.err(
        "CreateCustomKeyStore",
        json!({"CustomKeyStoreName": "x", "CloudHsmClusterId": "cluster-234567abcdef", "TrustAnchorCertificate": "c", "KeyStorePassword": "secret-pw"}),
    );
    assert_eq!(e.code, "CloudHsmClusterNotFoundException");
    let v = w.ok("DescribeCustomKeyStores", json!({}));
    assert_eq!(v, json!({"CustomKeyStores": [], "Truncated": false}));
    let e = w.err("Frobnicate", json!({}));
    assert_eq!(e.code, "UnknownOperationException");
}

#[test]
fn audit_never_holds_plaintext() {
    let w = World::new();
    let call = w.call_full(
        "Encrypt",
        &root(ACCT),
        json!({"KeyId": FAKE, "Plaintext": b64(b"top secret"), "EncryptionContext": {"Dept": "X"}}),
    );
    assert!(call.result.is_err());
    let rp = call.audit.request_parameters.to_string();
    assert!(!rp.contains(&b64(b"top secret")), "{rp}");
    assert_eq!(call.audit.request_parameters["keyId"], FAKE);
    assert_eq!(
        call.audit.request_parameters["encryptionContext"]["Dept"],
        "X"
    );
    assert!(call.audit.response_elements.is_none());
}
