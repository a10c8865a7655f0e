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
//! The shared cryptographic quota depends on the key's type ("Shared quotas for
//! cryptographic operations" on the same page): operations on RSA keys (`Encrypt`,
//! `Decrypt`, `ReEncrypt`, `Sign`, `Verify`) share `Cryptographic operations (RSA)`, 500
//! per second; operations on elliptic-curve keys (`Sign`, `Verify`, `DeriveSharedSecret`)
//! share `Cryptographic operations (ECC)`, 300 per second; each is counted independently of
//! the symmetric quota. ML-DSA keys count against `Cryptographic operations (ML-DSA)`, which
//! has no default here (unthrottled unless [`QuotaConfig::with_rate`] sets it), and ML-KEM
//! keys against none. For these operations ([`Quota::ByKeyType`]) admission waits until the
//! key is resolved: the request carries the pending admission, and the first key
//! authorization of the request (`Kms::authorize_with`) takes the token of the key's group
//! before deciding (for `ReEncrypt`, the source key's group). With quotas off nothing is
//! pending and no lock is taken.
//!
//! As in AWS, the requesting account is throttled (not the account owning the key), and a
//! throttled request gets `ThrottlingException` (HTTP 400) with AWS KMS's message (the
//! throttling page of the guide; real KMS answers carry the same text, not the
//! `Rate exceeded` of other services), before any authorization work. Each bucket holds one second of its rate (at least one token) and
//! refills continuously from the domain [`Clock`](crate::clock::Clock), so `N` requests
//! pass in a burst and the `N+1`th within the same second is throttled.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;

use super::key::KeySpec;
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

/// Name of the quota shared by the cryptographic operations on RSA keys.
pub const RSA_CRYPTO: &str = "Cryptographic operations (RSA)";
/// Name of the quota shared by the cryptographic operations on elliptic-curve keys.
pub const ECC_CRYPTO: &str = "Cryptographic operations (ECC)";
/// Name of the quota shared by the cryptographic operations on ML-DSA keys.
pub const ML_DSA_CRYPTO: &str = "Cryptographic operations (ML-DSA)";

/// AWS's default rates of the key-type quotas (per account and Region).
const KEY_TYPE_DEFAULTS: &[(&str, f64)] = &[(RSA_CRYPTO, 500.0), (ECC_CRYPTO, 300.0)];

/// The shared cryptographic quota a key's operations count against: `None` for the
/// symmetric quota (symmetric and HMAC keys), `Some(None)` for keys with no shared quota.
fn key_type_group(spec: KeySpec) -> Option<Option<&'static str>> {
    use KeySpec::*;
    match spec {
        SymmetricDefault | Hmac224 | Hmac256 | Hmac384 | Hmac512 => None,
        Rsa2048 | Rsa3072 | Rsa4096 => Some(Some(RSA_CRYPTO)),
        EccNistP256 | EccNistP384 | EccNistP521 | EccSecgP256k1 | EccNistEdwards25519 => {
            Some(Some(ECC_CRYPTO))
        }
        MlDsa44 | MlDsa65 | MlDsa87 => Some(Some(ML_DSA_CRYPTO)),
        MlKem512 | MlKem768 | MlKem1024 => Some(None),
    }
}

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
    /// Rate of the key-type quotas ([`RSA_CRYPTO`], ...); a group not listed is unlimited.
    key_type: BTreeMap<&'static str, f64>,
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
                    Quota::None | Quota::SymmetricCrypto | Quota::ByKeyType => None,
                })
                .collect(),
            key_type: KEY_TYPE_DEFAULTS.iter().copied().collect(),
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
        for v in self.key_type.values_mut() {
            *v *= factor;
        }
        self
    }

    /// Set the rate (requests per second) of one quota: an operation name,
    /// [`SYMMETRIC_CRYPTO`] (then for every Region), or a key-type quota ([`RSA_CRYPTO`],
    /// [`ECC_CRYPTO`], [`ML_DSA_CRYPTO`]). Turns quotas on.
    pub fn with_rate(mut self, quota: &str, per_second: f64) -> QuotaConfig {
        self.enabled = true;
        if quota == SYMMETRIC_CRYPTO {
            self.symmetric_default = per_second;
            for v in self.symmetric_by_region.values_mut() {
                *v = per_second;
            }
        } else if let Some(group) = [RSA_CRYPTO, ECC_CRYPTO, ML_DSA_CRYPTO]
            .into_iter()
            .find(|g| *g == quota)
        {
            self.key_type.insert(group, per_second);
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
            // Without a key, an operation of the shared quotas counts as symmetric.
            Quota::SymmetricCrypto | Quota::ByKeyType => Some(self.symmetric(region)),
            // The configured rate: AWS's default (the table's), scaled or overridden.
            Quota::Own(_) | Quota::None => {
                let rate = *self.per_operation.get(op.name())?;
                Some((op.name(), rate))
            }
        }
    }

    /// The quota an operation on a key of `spec` counts against and its rate; `None` when
    /// it is not throttled. Only [`Quota::ByKeyType`] operations depend on the key.
    pub fn quota_for_key(
        &self,
        op: KmsOp,
        spec: KeySpec,
        region: &str,
    ) -> Option<(&'static str, f64)> {
        if !self.enabled || op.spec().quota != Quota::ByKeyType {
            return self.quota_for_op(op, region);
        }
        match key_type_group(spec) {
            None => Some(self.symmetric(region)),
            Some(group) => {
                let group = group?;
                Some((group, *self.key_type.get(group)?))
            }
        }
    }

    fn symmetric(&self, region: &str) -> (&'static str, f64) {
        let rate = self
            .symmetric_by_region
            .get(region)
            .copied()
            .unwrap_or(self.symmetric_default);
        (SYMMETRIC_CRYPTO, rate)
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

    /// Whether `op`'s admission waits for its key ([`Limiter::admit_key`]): quotas on and
    /// the operation counts against the quota of the key's type.
    pub(crate) fn defers(&self, op: KmsOp) -> bool {
        op.spec().quota == Quota::ByKeyType
            && self.enabled.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Count one request before its key is known; `Err(ThrottlingException)` when its
    /// quota is used up. An operation [`Limiter::defers`] passes here and is counted by
    /// [`Limiter::admit_key`].
    pub(crate) fn admit(
        &self,
        op: KmsOp,
        account: &str,
        region: &str,
        now_millis: i64,
    ) -> Result<(), ApiError> {
        if op.spec().quota == Quota::ByKeyType {
            return Ok(());
        }
        self.admit_with(account, region, now_millis, |c| c.quota_for_op(op, region))
    }

    /// Count one request of a [`Quota::ByKeyType`] operation on a key of `spec`.
    pub(crate) fn admit_key(
        &self,
        op: KmsOp,
        spec: KeySpec,
        account: &str,
        region: &str,
        now_millis: i64,
    ) -> Result<(), ApiError> {
        self.admit_with(account, region, now_millis, |c| {
            c.quota_for_key(op, spec, region)
        })
    }

    fn admit_with(
        &self,
        account: &str,
        region: &str,
        now_millis: i64,
        quota: impl FnOnce(&QuotaConfig) -> Option<(&'static str, f64)>,
    ) -> Result<(), ApiError> {
        if !self.enabled.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let mut st = self.inner.lock();
        let Some((name, rate)) = quota(&st.config) else {
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

    fn throttled(c: &super::super::KmsCall) -> bool {
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
}
