//! Signing-key derivation (`kDate → kRegion → kService → kSigning`) and a
//! bounded, thread-safe cache of derived keys.
//!
//! Keys and copies of secrets are zeroized on drop and never printed by
//! `Debug`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use parking_lot::RwLock;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A derived SigV4 signing key (`kSigning`). Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives `kSigning` from a secret access key and a credential scope.
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let mut k = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
        k.extend_from_slice(b"AWS4");
        k.extend_from_slice(secret_access_key.as_bytes());
        let k_date = Zeroizing::new(hmac_sha256(&k, date.as_bytes()));
        let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
        SigningKey(hmac_sha256(&*k_service, b"aws4_request"))
    }

    /// Raw signature bytes of a string to sign.
    pub fn sign_bytes(&self, string_to_sign: &str) -> [u8; 32] {
        hmac_sha256(&self.0, string_to_sign.as_bytes())
    }

    /// Raw signature bytes of a string to sign given as consecutive pieces (the same MAC
    /// as [`SigningKey::sign_bytes`] of their concatenation).
    pub fn sign_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Lower-case hex signature of a string to sign.
    pub fn sign(&self, string_to_sign: &str) -> String {
        let mut s = String::with_capacity(64);
        crate::canonical::push_hex(&self.sign_bytes(string_to_sign), &mut s);
        s
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct Entry {
    secret: Vec<u8>,
    #[zeroize(skip)]
    key: SigningKey,
    #[zeroize(skip)]
    last_used: AtomicU64,
}

/// Cache of signing keys per (access key id, secret, date, region, service).
///
/// Lookups are keyed by access key id and scope; an entry is used only when
/// the secret it was derived from equals the caller's secret (compared in
/// constant time), so a rotated secret never reuses a stale key. When full,
/// the least recently used entry is evicted.
pub struct SigningKeyCache {
    /// Keyed by `access key id \0 date \0 region \0 service`.
    map: RwLock<HashMap<Vec<u8>, Entry>>,
    capacity: usize,
    clock: AtomicU64,
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        SigningKeyCache {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
            clock: AtomicU64::new(0),
        }
    }

    /// Writes the cache key into `buf` when it fits (the usual case: no allocation per
    /// lookup), else returns it as a vector.
    fn cache_key<'b>(parts: [&str; 4], buf: &'b mut [u8; 128], spill: &'b mut Vec<u8>) -> &'b [u8] {
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + 3;
        let out: &mut [u8] = if len <= buf.len() {
            &mut buf[..len]
        } else {
            spill.resize(len, 0);
            spill.as_mut_slice()
        };
        let mut at = 0;
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out[at] = 0;
                at += 1;
            }
            out[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        out
    }

    /// The signing key for this scope, derived on a miss.
    pub fn get(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> SigningKey {
        let mut buf = [0u8; 128];
        let mut spill = Vec::new();
        let ck = Self::cache_key([access_key_id, date, region, service], &mut buf, &mut spill);
        let stamp = self.clock.fetch_add(1, Ordering::Relaxed);
        {
            let map = self.map.read();
            if let Some(e) = map.get(ck) {
                if bool::from(e.secret.as_slice().ct_eq(secret_access_key.as_bytes())) {
                    e.last_used.store(stamp, Ordering::Relaxed);
                    return e.key.clone();
                }
            }
        }
        let key = SigningKey::derive(secret_access_key, date, region, service);
        let mut map = self.map.write();
        if map.len() >= self.capacity && !map.contains_key(ck) {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            ck.to_vec(),
            Entry {
                secret: secret_access_key.as_bytes().to_vec(),
                key: key.clone(),
                last_used: AtomicU64::new(stamp),
            },
        );
        key
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every cached key (e.g. after a secret is deleted).
    pub fn clear(&self) {
        self.map.write().clear();
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        SigningKeyCache::new(1024)
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn aws_documented_key() {
        // AWS general reference example (20120215 / us-east-1 / iam).
        let k = SigningKey::derive(SECRET, "20120215", "us-east-1", "iam");
        assert_eq!(
            hex::encode(k.0),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn cache_hits_misses_and_bounds() {
        let c = SigningKeyCache::new(2);
        let a = c.get("AKID", SECRET, "20150830", "us-east-1", "kms");
        let b = c.get("AKID", SECRET, "20150830", "us-east-1", "kms");
        assert_eq!(a.0, b.0);
        assert_eq!(c.len(), 1);
        // Different secret under the same key id: fresh derivation.
        let d = c.get("AKID", "other", "20150830", "us-east-1", "kms");
        assert_ne!(a.0, d.0);
        assert_eq!(
            d.0,
            SigningKey::derive("other", "20150830", "us-east-1", "kms").0
        );
        c.get("AKID", SECRET, "20150831", "us-east-1", "kms");
        c.get("AKID", SECRET, "20150901", "us-east-1", "kms");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn evicts_least_recently_used() {
        let c = SigningKeyCache::new(2);
        c.get("A", SECRET, "20150830", "us-east-1", "kms");
        c.get("B", SECRET, "20150830", "us-east-1", "kms");
        c.get("A", SECRET, "20150830", "us-east-1", "kms"); // A is now newer than B
        c.get("C", SECRET, "20150830", "us-east-1", "kms"); // evicts B
        let map = c.map.read();
        let mut keys: Vec<&[u8]> = map.keys().map(|k| &k[..1]).collect();
        keys.sort_unstable();
        assert_eq!(keys, [b"A", b"C"]);
    }

    #[test]
    fn long_scopes_are_cached_too() {
        let c = SigningKeyCache::new(4);
        let long_id = "A".repeat(200);
        let a = c.get(&long_id, SECRET, "20150830", "us-east-1", "kms");
        let b = c.get(&long_id, SECRET, "20150830", "us-east-1", "kms");
        assert_eq!(a.0, b.0);
        assert_eq!(c.len(), 1);
        c.get("AK", SECRET, "20150830", "us-east-1", "kms");
        c.get("AK", SECRET, "20150830", "us-east-1", "sts");
        assert_eq!(c.len(), 3);
        let mut want = long_id.into_bytes();
        want.extend_from_slice(b"\x0020150830\x00us-east-1\x00kms");
        assert!(c.map.read().contains_key(&want));
    }

    #[test]
    fn debug_redacts() {
        let c = SigningKeyCache::new(4);
        let k = c.get("AKID", SECRET, "20150830", "us-east-1", "kms");
        let s = format!("{k:?} {c:?}");
        assert!(!s.contains(SECRET));
        assert!(!s.contains(&hex::encode(k.0)));
        assert!(!s.contains("wJalr"));
    }
}
