//! KMS over awsJson1_1, end to end: SigV4-signed `TrentService.*` requests with arbitrary
//! bodies through `kmsd_wire::handle` into `kmsd_core`'s KMS operations, on a fresh
//! in-memory service holding the seed world.
//!
//! One input is a short session of up to four calls by seed-world callers (account roots
//! and users). A body is either raw bytes (JSON decoding) or a JSON object built from the
//! input with the KMS members as keys (field decoding and the operations themselves).
//! `$KEY`, `$BLOB`, `$GRANT` and `$TOKEN` in a built body stand for the key id, ciphertext,
//! grant id and grant token of earlier answers of the session, so sequences such as
//! CreateKey → CreateAlias → Encrypt → ReEncrypt → ScheduleKeyDeletion are reachable.
//!
//! Properties: no panic; no 5xx; every answer is a JSON object; `decode_body` accepts
//! exactly JSON objects (or blank bodies); a ciphertext returned by a successful `Encrypt`
//! decrypts (when the caller may decrypt) to the plaintext sent, and never answers
//! `InvalidCiphertextException`.

use arbitrary::Unstructured;
use base64::Engine;
use serde_json::Value;

use crate::gen::{byte, json, pick, string};
use crate::world::{check_response, seeded_service, send, CALLERS};

const JSON_CT: &str = "application/x-amz-json-1.1";

/// Operations of the KMS model (plus two that are not).
pub const OPS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "UpdateKeyDescription",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "CreateGrant",
    "ListGrants",
    "ListRetirableGrants",
    "RetireGrant",
    "RevokeGrant",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "ListKeyRotations",
    "DescribeCustomKeyStores",
    "Sign",
    "Verify",
    "GenerateMac",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "GetPublicKey",
    "GenerateDataKeyPair",
    "ReplicateKey",
    "NoSuchOperation",
    "",
];

/// Members of KMS requests.
pub const KEYS: &[&str] = &[
    "KeyId",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "GrantTokens",
    "NumberOfBytes",
    "KeySpec",
    "KeyUsage",
    "CustomerMasterKeySpec",
    "Origin",
    "MultiRegion",
    "Description",
    "Policy",
    "PolicyName",
    "BypassPolicyLockoutSafetyCheck",
    "Tags",
    "TagKeys",
    "TagKey",
    "TagValue",
    "AliasName",
    "TargetKeyId",
    "Limit",
    "Marker",
    "PendingWindowInDays",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "EncryptionContextSubset",
    "EncryptionContextEquals",
    "Name",
    "GrantId",
    "GrantToken",
    "SourceKeyId",
    "DestinationKeyId",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "SourceEncryptionAlgorithm",
    "DestinationEncryptionAlgorithm",
    "EncryptionAlgorithm",
    "DryRun",
    "RotationPeriodInDays",
    "IncludeKeyMaterial",
    "Recipient",
    "CustomKeyStoreId",
    "XksKeyId",
    "KeyMaterialId",
    "a",
    "",
];

/// String values worth trying.
pub const WORDS: &[&str] = &[
    "$KEY", "$KEY", "$BLOB", "$BLOB", "$GRANT", "$TOKEN",
    "0987dcba-09fe-87dc-65ba-ab0987654321",
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
    "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-west-2:444455556666:alias/example-2",
    "alias/example-1", "alias/example-2", "alias/new", "alias/aws/s3", "alias/",
    "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:role/ExampleRole",
    "arn:aws:iam::444455556666:root", "arn:aws:sts::111122223333:assumed-role/ExampleRole/s",
    "aGVsbG8=", "AA==", "", "=", "!!!", "SYMMETRIC_DEFAULT", "AES_256", "AES_128", "RSA_2048",
    "HMAC_256", "ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "AWS_KMS", "EXTERNAL",
    "AWS_CLOUDHSM", "default", "Encrypt", "Decrypt", "GenerateDataKey", "ReEncryptFrom",
    "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
    "{\"Statement\":[]}", "{", "7", "true", "us-west-2", "\u{0}", "é", "🔑",
];

#[derive(Default)]
struct Session {
    key: Option<String>,
    blob: Option<String>,
    grant: Option<String>,
    token: Option<String>,
}

impl Session {
    fn learn(&mut self, v: &Value) {
        if let Some(k) = v
            .pointer("/KeyMetadata/KeyId")
            .or_else(|| v.get("KeyId"))
            .and_then(Value::as_str)
        {
            self.key = Some(k.to_string());
        }
        if let Some(b) = v.get("CiphertextBlob").and_then(Value::as_str) {
            self.blob = Some(b.to_string());
        }
        if let Some(g) = v.get("GrantId").and_then(Value::as_str) {
            self.grant = Some(g.to_string());
        }
        if let Some(t) = v.get("GrantToken").and_then(Value::as_str) {
            self.token = Some(t.to_string());
        }
    }

    fn substitute(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                let r = match s.as_str() {
                    "$KEY" => self.key.as_deref(),
                    "$BLOB" => self.blob.as_deref(),
                    "$GRANT" => self.grant.as_deref(),
                    "$TOKEN" => self.token.as_deref(),
                    _ => return,
                };
                *s = r
                    .unwrap_or("0987dcba-09fe-87dc-65ba-ab0987654321")
                    .to_string();
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.substitute(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.substitute(x)),
            _ => {}
        }
    }
}

/// Entry point.
pub fn run(data: &[u8]) {
    // The decoder alone, on the raw input.
    match kmsd_wire::kms::decode_body(data) {
        Ok(v) => assert!(v.is_object()),
        Err(e) => assert_eq!(e.status, 400),
    }

    let service = seeded_service("us-west-2");
    let mut u = Unstructured::new(data);
    let mut session = Session::default();
    let calls = 1 + byte(&mut u) % 4;
    for _ in 0..calls {
        let op = if byte(&mut u) < 250 {
            pick(&mut u, OPS).to_string()
        } else {
            string(&mut u, 24)
        };
        let caller = CALLERS[usize::from(byte(&mut u)) % CALLERS.len()];
        let mode = byte(&mut u);
        let body: Vec<u8> = if mode < 40 {
            let n = crate::gen::raw_len(&mut u);
            u.bytes(n).unwrap_or_default().to_vec()
        } else {
            let mut v = Value::Object(serde_json::Map::new());
            for _ in 0..1 + byte(&mut u) % 6 {
                let k = pick(&mut u, KEYS).to_string();
                let val = json(&mut u, KEYS, WORDS, 3);
                if let Value::Object(m) = &mut v {
                    m.insert(k, val);
                }
            }
            session.substitute(&mut v);
            v.to_string().into_bytes()
        };
        let target = format!("TrentService.{op}");
        let Some(resp) = send(
            &service,
            caller,
            "us-west-2",
            "kms",
            Some(&target),
            JSON_CT,
            &body,
        ) else {
            continue;
        };
        check_response(&resp, &op);
        let answer: Value = match serde_json::from_slice(&resp.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "{op}: answer is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&resp.body)
            ),
        };
        assert!(answer.is_object(), "{op}: answer {answer}");
        if resp.status == 200 {
            session.learn(&answer);
            if op == "Encrypt" {
                check_decrypts(&service, caller, &body, &answer);
            }
        }
    }
}

/// A fresh ciphertext decrypts to what was encrypted, under the same context.
fn check_decrypts(
    service: &kmsd_core::service::Service,
    caller: (&str, &str),
    req: &[u8],
    answer: &Value,
) {
    let Ok(input) = serde_json::from_slice::<Value>(req) else {
        return;
    };
    let mut d = serde_json::json!({ "CiphertextBlob": answer["CiphertextBlob"] });
    if let Some(ec) = input.get("EncryptionContext") {
        d["EncryptionContext"] = ec.clone();
    }
    if let Some(gt) = input.get("GrantTokens") {
        d["GrantTokens"] = gt.clone();
    }
    let body = d.to_string().into_bytes();
    let Some(resp) = send(
        service,
        caller,
        "us-west-2",
        "kms",
        Some("TrentService.Decrypt"),
        JSON_CT,
        &body,
    ) else {
        panic!("Decrypt request not representable");
    };
    check_response(&resp, "Decrypt after Encrypt");
    let out: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    if resp.status == 200 {
        let b64 = base64::engine::general_purpose::STANDARD;
        let sent = input
            .get("Plaintext")
            .and_then(Value::as_str)
            .and_then(|s| b64.decode(s).ok());
        let got = out
            .get("Plaintext")
            .and_then(Value::as_str)
            .and_then(|s| b64.decode(s).ok());
        assert_eq!(
            sent, got,
            "Decrypt after Encrypt gave another plaintext; request {input}"
        );
    } else {
        let code = out
            .get("__type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            !code.contains("InvalidCiphertext") && !code.contains("IncorrectKey"),
            "Decrypt after Encrypt: {out}; request {input}"
        );
    }
}
