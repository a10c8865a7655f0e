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

use crate::error::{ApiError, ErrorCode, KmsError};
use crate::kms::model::key::KeySpec;
use crate::kms::model::op::{KmsOp, Quota, KMS_OPS};

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

/// The limiter a [`Kms`](crate::kms::Kms) holds: the configuration and the buckets in use.
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
    pub(crate) fn set(&self, config: QuotaConfig) {
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

#[cfg(test)]
mod tests;
