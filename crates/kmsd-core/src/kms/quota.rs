//! Request quotas: AWS KMS's per-account, per-Region request rates, enforced with one token
//! bucket per (account, Region, quota group). Off by default.
//!
//! The figures of [`QuotaConfig::aws_defaults`] are those of the table "Request quotas for
//! each AWS KMS API operation" of the AWS KMS Developer Guide (page `requests-per-second`):
//! the cryptographic operations on symmetric keys (`Decrypt`, `Encrypt`, `GenerateDataKey`,
//! `GenerateDataKeyWithoutPlaintext`, `GenerateRandom`, `ReEncrypt`, `GenerateMac`,
//! `VerifyMac`) share one quota of 5,500 requests per second (10,000 or 50,000 in some
//! Regions); every other operation has its own quota (`CreateKey` 5, `CreateGrant` 50,
//! `DescribeKey` 1,000, ...). Operations the table does not list are not throttled.
//!
//! As in AWS, the requesting account is throttled (not the account owning the key), and a
//! throttled request gets `ThrottlingException` (HTTP 400) with AWS KMS's message (the
//! throttling page of the guide; real KMS answers carry the same text, not the
//! `Rate exceeded` of other services), before any authorization work. Each bucket holds one second of its rate (at least one token) and
//! refills continuously from the domain [`Clock`](crate::clock::Clock), so `N` requests
//! pass in a burst and the `N+1`th within the same second is throttled.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;

use super::op::{KmsOp, Quota, KMS_OPS};
use super::Kms;
use crate::error::{ApiError, ErrorCode, KmsError};

/// The code AWS KMS answers a throttled request with (HTTP 400).
pub const THROTTLING_CODE: ErrorCode = ErrorCode::KmsError(KmsError::ThrottlingException);
/// The message AWS KMS sends with [`THROTTLING_CODE`].
pub const THROTTLING_MESSAGE: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/// Name of the quota shared by the cryptographic operations on symmetric keys.
pub const SYMMETRIC_CRYPTO: &str = "Cryptographic operations (symmetric)";

/// AWS's default rate of [`SYMMETRIC_CRYPTO`] in Regions not listed in
/// [`SYMMETRIC_CRYPTO_BY_REGION`].
const SYMMETRIC_CRYPTO_DEFAULT: f64 = 5_500.0;

/// Regions where AWS's default symmetric cryptographic quota is higher.
const SYMMETRIC_CRYPTO_BY_REGION: &[(&str, f64)] = &[
    ("us-east-1", 50_000.0),
    ("us-west-2", 50_000.0),
    ("eu-west-1", 50_000.0),
    ("us-east-2", 10_000.0),
    ("ap-southeast-1", 10_000.0),
    ("ap-southeast-2", 10_000.0),
    ("ap-northeast-1", 10_000.0),
    ("eu-central-1", 10_000.0),
    ("eu-west-2", 10_000.0),
];

/// Which request rates apply. `QuotaConfig::default()` is [`QuotaConfig::off`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaConfig {
    enabled: bool,
    /// Rate of [`SYMMETRIC_CRYPTO`] by Region; `symmetric_default` elsewhere.
    symmetric_by_region: BTreeMap<String, f64>,
    symmetric_default: f64,
    /// Rate by operation name (operations not listed are unlimited).
    per_operation: BTreeMap<String, f64>,
}

impl QuotaConfig {
    /// No throttling at all (the default).
    pub fn off() -> QuotaConfig {
        QuotaConfig::default()
    }

    /// AWS's documented default request quotas.
    pub fn aws_defaults() -> QuotaConfig {
        QuotaConfig {
            enabled: true,
            symmetric_by_region: SYMMETRIC_CRYPTO_BY_REGION
                .iter()
                .map(|(r, v)| ((*r).to_string(), *v))
                .collect(),
            symmetric_default: SYMMETRIC_CRYPTO_DEFAULT,
            per_operation: KMS_OPS
                .iter()
                .filter_map(|spec| match spec.quota {
                    Quota::Own(rate) => Some((spec.name.to_string(), rate)),
                    Quota::None | Quota::SymmetricCrypto => None,
                })
                .collect(),
        }
    }

    /// Every rate multiplied by `factor` (e.g. 0.001 for tests; 10 for a bigger account).
    /// A factor that is not a positive finite number leaves the rates unchanged.
    pub fn scaled(mut self, factor: f64) -> QuotaConfig {
        if !(factor.is_finite() && factor > 0.0) {
            return self;
        }
        self.symmetric_default *= factor;
        for v in self.symmetric_by_region.values_mut() {
            *v *= factor;
        }
        for v in self.per_operation.values_mut() {
            *v *= factor;
        }
        self
    }

    /// Set the rate (requests per second) of one quota: an operation name, or
    /// [`SYMMETRIC_CRYPTO`] (then for every Region). Turns quotas on.
    pub fn with_rate(mut self, quota: &str, per_second: f64) -> QuotaConfig {
        self.enabled = true;
        if quota == SYMMETRIC_CRYPTO {
            self.symmetric_default = per_second;
            for v in self.symmetric_by_region.values_mut() {
                *v = per_second;
            }
        } else {
            self.per_operation.insert(quota.to_string(), per_second);
        }
        self
    }

    /// Whether any quota applies.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The quota an operation counts against and its rate in `region`; `None` when the
    /// operation is not throttled.
    pub fn quota_for(&self, op: &str, region: &str) -> Option<(&'static str, f64)> {
        self.quota_for_op(KmsOp::from_name(op)?, region)
    }

    /// [`QuotaConfig::quota_for`] by operation: the group comes from the operation table.
    pub fn quota_for_op(&self, op: KmsOp, region: &str) -> Option<(&'static str, f64)> {
        if !self.enabled {
            return None;
        }
        match op.spec().quota {
            Quota::SymmetricCrypto => {
                let rate = self
                    .symmetric_by_region
                    .get(region)
                    .copied()
                    .unwrap_or(self.symmetric_default);
                Some((SYMMETRIC_CRYPTO, rate))
            }
            // The configured rate: AWS's default (the table's), scaled or overridden.
            Quota::Own(_) | Quota::None => {
                let rate = *self.per_operation.get(op.name())?;
                Some((op.name(), rate))
            }
        }
    }
}

/// One token bucket: holds up to one second of its rate (at least one token).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    per_second: f64,
    capacity: f64,
    tokens: f64,
    last_millis: i64,
}

impl TokenBucket {
    /// A full bucket at `now_millis`.
    pub fn new(per_second: f64, now_millis: i64) -> TokenBucket {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            0.0
        };
        let capacity = per_second.max(1.0);
        TokenBucket {
            per_second,
            capacity,
            tokens: capacity,
            last_millis: now_millis,
        }
    }

    fn refill(&mut self, now_millis: i64) {
        if now_millis > self.last_millis {
            let elapsed = (now_millis - self.last_millis) as f64 / 1000.0;
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
            self.last_millis = now_millis;
        }
    }

    /// Whether the bucket is full at `now_millis` (then it is the same as a new one).
    pub fn is_full(&mut self, now_millis: i64) -> bool {
        self.refill(now_millis);
        self.tokens >= self.capacity
    }

    /// Take one token if there is one (after refilling up to `now_millis`).
    pub fn try_take(&mut self, now_millis: i64) -> bool {
        self.refill(now_millis);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// (account, Region, quota name).
type BucketKey = (String, String, &'static str);

/// Most buckets held. The Region comes from the caller's credential scope, so the key space
/// is open: at the cap, full buckets are dropped (a full bucket is the same as a new one);
/// if none is full, a request for a key without a bucket passes untracked, which is what
/// a fresh bucket would do for its first request anyway.
const MAX_BUCKETS: usize = 4096;

/// The limiter a [`Kms`] holds: the configuration and the buckets in use.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    inner: Mutex<LimiterState>,
    /// Fast path: false while quotas are off (no lock taken).
    enabled: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct LimiterState {
    config: QuotaConfig,
    buckets: HashMap<BucketKey, TokenBucket>,
}

impl Limiter {
    fn set(&self, config: QuotaConfig) {
        let mut st = self.inner.lock();
        self.enabled
            .store(config.is_enabled(), std::sync::atomic::Ordering::Release);
        st.config = config;
        st.buckets.clear();
    }

    /// Count one request; `Err(ThrottlingException)` when its quota is used up.
    pub(crate) fn admit(
        &self,
        op: KmsOp,
        account: &str,
        region: &str,
        now_millis: i64,
    ) -> Result<(), ApiError> {
        if !self.enabled.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let mut st = self.inner.lock();
        let Some((name, rate)) = st.config.quota_for_op(op, region) else {
            return Ok(());
        };
        let key = (account.to_string(), region.to_string(), name);
        if st.buckets.len() >= MAX_BUCKETS && !st.buckets.contains_key(&key) {
            st.buckets.retain(|_, b| !b.is_full(now_millis));
            if st.buckets.len() >= MAX_BUCKETS {
                return Ok(());
            }
        }
        let bucket = st
            .buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(rate, now_millis));
        if bucket.try_take(now_millis) {
            Ok(())
        } else {
            Err(ApiError::new(THROTTLING_CODE, THROTTLING_MESSAGE))
        }
    }
}

impl Kms {
    /// Turn request quotas on ([`QuotaConfig::aws_defaults`], possibly scaled) or off
    /// ([`QuotaConfig::off`]). Buckets start full.
    pub fn set_quotas(&self, config: QuotaConfig) {
        self.quotas.set(config);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use kmsd_policy::Caller;
    use serde_json::json;

    use super::*;
    use crate::clock::{Clock, ManualClock};
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
            .admit(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
            .is_ok());
        l.set(QuotaConfig::off().with_rate(SYMMETRIC_CRYPTO, 2.0));
        assert!(l
            .admit(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
            .is_ok());
        assert!(l
            .admit(KmsOp::Decrypt, "111122223333", "us-west-2", 0)
            .is_ok());
        let e = l
            .admit(KmsOp::GenerateRandom, "111122223333", "us-west-2", 0)
            .unwrap_err();
        assert_eq!(e.code, THROTTLING_CODE);
        // Another account, another Region: their own buckets.
        assert!(l
            .admit(KmsOp::Encrypt, "444455556666", "us-west-2", 0)
            .is_ok());
        assert!(l
            .admit(KmsOp::Encrypt, "111122223333", "eu-west-1", 0)
            .is_ok());
        // Unlisted operations are never throttled.
        for _ in 0..10 {
            assert!(l
                .admit(KmsOp::DescribeKey, "111122223333", "us-west-2", 0)
                .is_ok());
        }
        l.set(QuotaConfig::off());
        assert!(l
            .admit(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
            .is_ok());
    }

    #[test]
    fn bucket_map_stays_bounded_and_keeps_busy_buckets() {
        let l = Limiter::default();
        l.set(QuotaConfig::off().with_rate(SYMMETRIC_CRYPTO, 1.0));
        let len = || l.inner.lock().buckets.len();
        // The busy bucket of us-west-2: empty until t = 1000 ms.
        assert!(l
            .admit(KmsOp::Encrypt, "111122223333", "us-west-2", 0)
            .is_ok());
        // A flood of made-up Regions within the same second: capped, never throttled.
        for i in 0..(MAX_BUCKETS * 2) {
            let region = format!("made-up-{i}");
            assert!(l
                .admit(KmsOp::Encrypt, "111122223333", &region, 500)
                .is_ok());
        }
        assert_eq!(len(), MAX_BUCKETS);
        // us-west-2 kept its state through it.
        let e = l
            .admit(KmsOp::Encrypt, "111122223333", "us-west-2", 900)
            .unwrap_err();
        assert_eq!(e.code, THROTTLING_CODE);
        // A second later the flood's buckets are full again and make room.
        assert!(l
            .admit(KmsOp::Encrypt, "444455556666", "eu-west-3", 1_600)
            .is_ok());
        assert!(len() < 10, "full buckets dropped: {}", len());
        let e = l
            .admit(KmsOp::Encrypt, "444455556666", "eu-west-3", 1_600)
            .unwrap_err();
        assert_eq!(e.code, THROTTLING_CODE, "the new bucket is tracked");
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
            &json!({"KeyId": "alias/none", "Plaintext": "AA=="}),
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
}
