//! Quotas: the buckets, the table, and a throttled `Kms::call`.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_policy::Caller;
use serde_json::json;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::kms::Kms;
use crate::principal::{Principal, PrincipalDirectory, RequestMeta};
use crate::store::MemStore;

#[test]
fn bucket_allows_one_second_then_refills_with_the_clock() {
    let clock = ManualClock::new(1_000_000);
    let mut b = TokenBucket::new(5.0, clock.now_millis());
    for _ in 0..5 {
        assert!(b.try_take(clock.now_millis()));
    }
    assert!(!b.try_take(clock.now_millis()), "6th in the same instant");
    clock.set_millis(1_000_199);
    assert!(!b.try_take(clock.now_millis()), "0.995 token after 199 ms");
    clock.set_millis(1_000_200);
    assert!(b.try_take(clock.now_millis()), "one token after 200 ms");
    assert!(!b.try_take(clock.now_millis()));
    // A long pause never stores more than one second of tokens.
    clock.advance_secs(3600);
    let mut n = 0;
    while b.try_take(clock.now_millis()) {
        n += 1;
    }
    assert_eq!(n, 5);
    // Time going backwards adds nothing.
    clock.set_millis(0);
    assert!(!b.try_take(clock.now_millis()));
}

#[test]
fn fractional_rates_hold_one_token() {
    let mut b = TokenBucket::new(0.25, 0);
    assert!(b.try_take(0));
    assert!(!b.try_take(3_999));
    assert!(b.try_take(4_000));
    let mut zero = TokenBucket::new(0.0, 0);
    assert!(zero.try_take(0));
    assert!(!zero.try_take(1_000_000));
}

#[test]
fn aws_defaults_groups_and_regions() {
    let c = QuotaConfig::aws_defaults();
    assert_eq!(
        c.quota_for("Encrypt", "eu-north-1"),
        Some((SYMMETRIC_CRYPTO, 5_500.0))
    );
    assert_eq!(
        c.quota_for("GenerateRandom", "us-east-1"),
        Some((SYMMETRIC_CRYPTO, 50_000.0))
    );
    assert_eq!(
        c.quota_for("Decrypt", "eu-central-1"),
        Some((SYMMETRIC_CRYPTO, 10_000.0))
    );
    assert_eq!(
        c.quota_for("CreateKey", "us-west-2"),
        Some(("CreateKey", 5.0))
    );
    assert_eq!(
        c.quota_for("CreateGrant", "us-west-2"),
        Some(("CreateGrant", 50.0))
    );
    assert_eq!(c.quota_for("NoSuchOp", "us-west-2"), None);
    assert_eq!(QuotaConfig::off().quota_for("Encrypt", "us-west-2"), None);
    let s = QuotaConfig::aws_defaults().scaled(0.01);
    assert_eq!(
        s.quota_for("Encrypt", "us-west-2"),
        Some((SYMMETRIC_CRYPTO, 500.0))
    );
    assert_eq!(s.quota_for("CreateGrant", "x"), Some(("CreateGrant", 0.5)));
    let w = QuotaConfig::off().with_rate(SYMMETRIC_CRYPTO, 3.0);
    assert_eq!(
        w.quota_for("ReEncrypt", "us-east-1"),
        Some((SYMMETRIC_CRYPTO, 3.0))
    );
    assert_eq!(w.quota_for("CreateKey", "us-east-1"), None);
}

#[test]
fn limiter_keys_by_account_region_and_group() {
    let l = Limiter::default();
    assert!(l
        .admit_sym(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
        .is_ok());
    l.set(QuotaConfig::off().with_rate(SYMMETRIC_CRYPTO, 2.0));
    assert!(l
        .admit_sym(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
        .is_ok());
    assert!(l
        .admit_sym(KmsOp::Decrypt, "111122223333", "us-west-2", 0)
        .is_ok());
    let e = l
        .admit_sym(KmsOp::GenerateRandom, "111122223333", "us-west-2", 0)
        .unwrap_err();
    assert_eq!(e.code, THROTTLING_CODE);
    // Another account, another Region: their own buckets.
    assert!(l
        .admit_sym(KmsOp::Encrypt, "444455556666", "us-west-2", 0)
        .is_ok());
    assert!(l
        .admit_sym(KmsOp::Encrypt, "111122223333", "eu-west-1", 0)
        .is_ok());
    // Unlisted operations are never throttled.
    for _ in 0..10 {
        assert!(l
            .admit_sym(KmsOp::DescribeKey, "111122223333", "us-west-2", 0)
            .is_ok());
    }
    l.set(QuotaConfig::off());
    assert!(l
        .admit_sym(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
        .is_ok());
}

#[test]
fn bucket_map_stays_bounded_and_keeps_busy_buckets() {
    let l = Limiter::default();
    l.set(QuotaConfig::off().with_rate(SYMMETRIC_CRYPTO, 1.0));
    let len = || l.inner.lock().buckets.len();
    // The busy bucket of us-west-2: empty until t = 1000 ms.
    assert!(l
        .admit_sym(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
        .is_ok());
    // A flood of made-up Regions within the same second: capped, never throttled.
    for i in 0..(MAX_BUCKETS * 2) {
        let region = format!("made-up-{i}");
        assert!(l
            .admit_sym(KmsOp::Encrypt, "111122223333", &region, 500)
            .is_ok());
    }
    assert_eq!(len(), MAX_BUCKETS);
    // us-west-2 kept its state through it.
    let e = l
        .admit_sym(KmsOp::Encrypt, "111122223333", "us-west-2", 900)
        .unwrap_err();
    assert_eq!(e.code, THROTTLING_CODE);
    // A second later the flood's buckets are full again and make room.
    assert!(l
        .admit_sym(KmsOp::Encrypt, "444455556666", "eu-west-3", 1_600)
        .is_ok());
    assert!(len() < 10, "full buckets dropped: {}", len());
    let e = l
        .admit_sym(KmsOp::Encrypt, "444455556666", "eu-west-3", 1_600)
        .unwrap_err();
    assert_eq!(e.code, THROTTLING_CODE, "the new bucket is tracked");
}

impl Limiter {
    /// As the server admits an operation on a symmetric key (or one naming no key).
    fn admit_sym(
        &self,
        op: KmsOp,
        account: &str,
        region: &str,
        now_millis: i64,
    ) -> Result<(), ApiError> {
        self.admit_key(op, KeySpec::SymmetricDefault, account, region, now_millis)
    }
}

#[derive(Debug)]
struct NoDirectory;
impl PrincipalDirectory for NoDirectory {
    fn account_exists(&self, _account: &str) -> bool {
        true
    }
    fn principal_exists(&self, _arn: &str) -> bool {
        true
    }
}

fn root(account: &str) -> Principal {
    Principal {
        caller: Caller::Root {
            account: account.to_string(),
        },
        policies: Arc::default(),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    }
}

fn meta(region: &str) -> RequestMeta {
    RequestMeta {
        source_ip: None,
        secure_transport: true,
        time_millis: 0,
        region: region.to_string(),
        user_agent: None,
        request_id: "r".to_string(),
    }
}

#[test]
fn kms_call_throttles_the_n_plus_first_call_with_aws_error() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let kms = Kms::open(
        Arc::new(MemStore::new()),
        clock.clone(),
        Arc::new(kmsd_crypto::RootKey::generate().unwrap()),
        Arc::new(NoDirectory),
    )
    .unwrap();
    let p = root("111122223333");
    let m = meta("us-west-2");
    let input = json!({"NumberOfBytes": 16});
    let sym = create_key(&kms, &p, &m, json!({}));
    // Off by default: many calls, none throttled.
    for _ in 0..20 {
        let c = kms.call("GenerateRandom", &p, &m, &input);
        assert_ne!(
            c.result.as_ref().err().map(|e| e.code),
            Some(THROTTLING_CODE)
        );
    }
    // Three symmetric cryptographic calls per second, shared by every such operation.
    kms.set_quotas(QuotaConfig::aws_defaults().with_rate(SYMMETRIC_CRYPTO, 3.0));
    for i in 0..3 {
        let c = kms.call("GenerateRandom", &p, &m, &input);
        assert_ne!(
            c.result.as_ref().err().map(|e| e.code),
            Some(THROTTLING_CODE),
            "call {i}"
        );
    }
    let c = kms.call(
        "Encrypt",
        &p,
        &m,
        &json!({"KeyId": sym, "Plaintext": "AA=="}),
    );
    let e = c.result.unwrap_err();
    assert_eq!(e.code, "ThrottlingException");
    assert_eq!(e.message.as_deref(), Some(THROTTLING_MESSAGE));
    assert!(c.audit.decision.is_none(), "throttled before authorization");
    // Another account is not affected; after a second the bucket is full again.
    let other = kms.call("GenerateRandom", &root("444455556666"), &m, &input);
    assert_ne!(other.result.err().map(|e| e.code), Some(THROTTLING_CODE));
    clock.advance_secs(1);
    let mut ok = 0;
    for _ in 0..5 {
        let c = kms.call("GenerateRandom", &p, &m, &input);
        if c.result.as_ref().err().map(|e| e.code) != Some(THROTTLING_CODE) {
            ok += 1;
        }
    }
    assert_eq!(ok, 3);
    // CreateKey: AWS's 5 per second, scaled.
    kms.set_quotas(QuotaConfig::aws_defaults().scaled(0.4));
    let mut throttled_at = None;
    for i in 0..5 {
        let c = kms.call("CreateKey", &p, &m, &json!({}));
        if c.result.as_ref().err().map(|e| e.code) == Some(THROTTLING_CODE) {
            throttled_at = Some(i);
            break;
        }
    }
    assert_eq!(throttled_at, Some(2), "5 * 0.4 = 2 CreateKey per second");
    kms.set_quotas(QuotaConfig::off());
    let c = kms.call("CreateKey", &p, &m, &json!({}));
    assert_ne!(c.result.err().map(|e| e.code), Some(THROTTLING_CODE));
}

fn create_key(kms: &Kms, p: &Principal, m: &RequestMeta, input: serde_json::Value) -> String {
    let c = kms.call("CreateKey", p, m, &input);
    let v = c.result.unwrap();
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

fn throttled(c: &crate::kms::KmsCall) -> bool {
    c.result.as_ref().err().map(|e| e.code) == Some(THROTTLING_CODE)
}

#[test]
fn key_type_quotas_by_key_spec() {
    let c = QuotaConfig::aws_defaults();
    let r = "eu-north-1";
    assert_eq!(
        c.quota_for_key(KmsOp::Sign, KeySpec::Rsa2048, r),
        Some((RSA_CRYPTO, 500.0))
    );
    assert_eq!(
        c.quota_for_key(KmsOp::Decrypt, KeySpec::Rsa4096, r),
        Some((RSA_CRYPTO, 500.0))
    );
    assert_eq!(
        c.quota_for_key(KmsOp::Verify, KeySpec::EccNistP384, r),
        Some((ECC_CRYPTO, 300.0))
    );
    assert_eq!(
        c.quota_for_key(KmsOp::Sign, KeySpec::EccNistEdwards25519, r),
        Some((ECC_CRYPTO, 300.0))
    );
    assert_eq!(
        c.quota_for_key(KmsOp::DeriveSharedSecret, KeySpec::EccNistP256, r),
        Some((ECC_CRYPTO, 300.0))
    );
    // Symmetric and HMAC keys: the symmetric quota of the Region.
    assert_eq!(
        c.quota_for_key(KmsOp::Encrypt, KeySpec::SymmetricDefault, "us-east-1"),
        Some((SYMMETRIC_CRYPTO, 50_000.0))
    );
    assert_eq!(
        c.quota_for_key(KmsOp::GenerateMac, KeySpec::Hmac256, r),
        Some((SYMMETRIC_CRYPTO, 5_500.0))
    );
    // No documented default for ML-DSA here; ML-KEM has no shared quota.
    assert_eq!(c.quota_for_key(KmsOp::Sign, KeySpec::MlDsa65, r), None);
    assert_eq!(
        c.quota_for_key(KmsOp::Decapsulate, KeySpec::MlKem768, r),
        None
    );
    let d = QuotaConfig::aws_defaults().with_rate(ML_DSA_CRYPTO, 7.0);
    assert_eq!(
        d.quota_for_key(KmsOp::Sign, KeySpec::MlDsa44, r),
        Some((ML_DSA_CRYPTO, 7.0))
    );
    // Operations with their own quota ignore the key.
    assert_eq!(
        c.quota_for_key(KmsOp::DescribeKey, KeySpec::Rsa2048, r),
        c.quota_for_op(KmsOp::DescribeKey, r)
    );
    let s = QuotaConfig::aws_defaults().scaled(0.01);
    assert_eq!(
        s.quota_for_key(KmsOp::Sign, KeySpec::EccSecgP256k1, r),
        Some((ECC_CRYPTO, 3.0))
    );
    assert_eq!(
        QuotaConfig::off().quota_for_key(KmsOp::Sign, KeySpec::Rsa2048, r),
        None
    );
    // Admission of these operations waits for the key only while quotas are on.
    let l = Limiter::default();
    assert!(!l.defers(KmsOp::Sign));
    l.set(QuotaConfig::aws_defaults());
    assert!(l.defers(KmsOp::Sign) && l.defers(KmsOp::Encrypt));
    assert!(!l.defers(KmsOp::GenerateRandom) && !l.defers(KmsOp::CreateKey));
}

#[test]
fn asymmetric_keys_count_against_their_own_shared_quota() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let kms = Kms::open(
        Arc::new(MemStore::new()),
        clock.clone(),
        Arc::new(kmsd_crypto::RootKey::generate().unwrap()),
        Arc::new(NoDirectory),
    )
    .unwrap();
    let p = root("111122223333");
    let m = meta("us-west-2");
    let rsa = create_key(
        &kms,
        &p,
        &m,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}),
    );
    let ecc = create_key(
        &kms,
        &p,
        &m,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    let sym = create_key(&kms, &p, &m, json!({}));
    let sign = |key: &str, alg: &str| {
        kms.call(
            "Sign",
            &p,
            &m,
            &json!({"KeyId": key, "Message": "aGVsbG8=", "MessageType": "RAW",
                    "SigningAlgorithm": alg}),
        )
    };
    let encrypt = |key: &str| {
        kms.call(
            "Encrypt",
            &p,
            &m,
            &json!({"KeyId": key, "Plaintext": "AA=="}),
        )
    };
    kms.set_quotas(
        QuotaConfig::aws_defaults()
            .with_rate(RSA_CRYPTO, 2.0)
            .with_rate(ECC_CRYPTO, 1.0)
            .with_rate(SYMMETRIC_CRYPTO, 1.0),
    );
    // RSA: two per second, shared by Sign and Verify.
    let s1 = sign(&rsa, "RSASSA_PSS_SHA_256");
    assert!(s1.result.is_ok(), "{:?}", s1.result);
    let sig = s1.result.unwrap()["Signature"].clone();
    let v = kms.call(
        "Verify",
        &p,
        &m,
        &json!({"KeyId": rsa, "Message": "aGVsbG8=", "MessageType": "RAW",
                "SigningAlgorithm": "RSASSA_PSS_SHA_256", "Signature": sig}),
    );
    assert!(v.result.is_ok(), "{:?}", v.result);
    let t = sign(&rsa, "RSASSA_PSS_SHA_256");
    assert!(throttled(&t));
    assert_eq!(
        t.result.unwrap_err().message.as_deref(),
        Some(THROTTLING_MESSAGE)
    );
    assert!(t.audit.decision.is_none(), "throttled before authorization");
    // ECC and symmetric keys have their own buckets, untouched by the RSA calls.
    assert!(sign(&ecc, "ECDSA_SHA_256").result.is_ok());
    assert!(throttled(&sign(&ecc, "ECDSA_SHA_256")));
    assert!(encrypt(&sym).result.is_ok());
    assert!(throttled(&encrypt(&sym)));
    // The symmetric bucket is empty, the RSA one too; a second later both refill.
    assert!(throttled(&sign(&rsa, "RSASSA_PSS_SHA_256")));
    clock.advance_secs(1);
    assert!(sign(&rsa, "RSASSA_PSS_SHA_256").result.is_ok());
    assert!(encrypt(&sym).result.is_ok());
    // A request whose key is never found counts against the symmetric quota (AWS
    // throttles before it looks at anything): that bucket is empty again, so it is
    // throttled; the ECC bucket (one token again after the second) is untouched.
    for _ in 0..3 {
        let c = sign("alias/none", "ECDSA_SHA_256");
        assert!(throttled(&c), "{:?}", c.result);
    }
    assert!(sign(&ecc, "ECDSA_SHA_256").result.is_ok());
    // Off again: nothing pending, nothing throttled.
    kms.set_quotas(QuotaConfig::off());
    for _ in 0..5 {
        assert!(sign(&rsa, "RSASSA_PSS_SHA_256").result.is_ok());
    }
}
