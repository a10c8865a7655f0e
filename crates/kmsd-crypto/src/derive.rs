//! Keys derived from the root key: the same on every node that holds the same root key, and
//! never stored. Used for authenticators that any node must check (self-verifying grant
//! tokens), never for wrapping.
//!
//! Derivation works for a local root key and for one in a hardware module alike, since it
//! needs only the root key's AES-256-GCM seal: sealing 32 zero bytes under a reserved nonce
//! gives AES-CTR keystream blocks of the root key for that nonce (a pseudorandom function of
//! the root key only), which are the input key material of HKDF-SHA256 (RFC 5869) with the
//! caller's label as `info`. The reserved nonce is all `0xff`; wrapping uses fresh random
//! 96-bit nonces, so a collision has probability 2^-96 per wrap.

use ring::hkdf;
use zeroize::Zeroizing;

use crate::aead::NONCE_LEN;
use crate::{CryptoError, RootKey};

/// The nonce reserved for derivation.
const DERIVE_NONCE: [u8; NONCE_LEN] = [0xff; NONCE_LEN];
/// HKDF salt (domain separation from any other use of HKDF on the same material).
const DERIVE_SALT: &[u8] = b"kmsd root-key derivation v1";
/// AAD of the derivation seal.
const DERIVE_AAD: &[u8] = b"kmsd root-key derivation";

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl RootKey {
    /// A 256-bit key derived from this root key for `label` (distinct labels, independent
    /// keys). Deterministic: every node with the same root key derives the same key.
    pub fn derive_key(&self, label: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let mut ikm = Zeroizing::new([0u8; 32]);
        // The tag is not used: it depends on GHASH, not a PRF of the label.
        let _tag = self.seal_in_place(DERIVE_NONCE, DERIVE_AAD, &mut ikm[..])?;
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, DERIVE_SALT).extract(&ikm[..]);
        let info = [label];
        let okm = prk
            .expand(&info, Len32)
            .map_err(|_| CryptoError::BadRootKey("key derivation failed".into()))?;
        let mut out = Zeroizing::new([0u8; 32]);
        okm.fill(&mut out[..])
            .map_err(|_| CryptoError::BadRootKey("key derivation failed".into()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

    use super::*;

    #[test]
    fn derived_keys_are_deterministic_per_root_key_and_label() {
        let a = RootKey::from_bytes([7; 32]);
        let a2 = RootKey::from_bytes([7; 32]);
        let b = RootKey::from_bytes([8; 32]);
        let k1 = a.derive_key(b"grant-token").unwrap();
        assert_eq!(*k1, *a2.derive_key(b"grant-token").unwrap());
        assert_ne!(*k1, *a.derive_key(b"other").unwrap());
        assert_ne!(*k1, *b.derive_key(b"grant-token").unwrap());
        assert_ne!(*k1, [0u8; 32]);
        // Not the root key itself.
        assert_ne!(*k1, [7u8; 32]);
    }
}
