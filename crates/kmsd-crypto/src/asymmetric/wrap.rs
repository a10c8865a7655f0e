//! Wrapped asymmetric private key, version 4 (`docs/ciphertext-format.md`): the PKCS#8 DER
//! of an asymmetric KMS key sealed under the root key with AES-256-GCM.
//!
//! ```text
//! 0x84 | spec byte | nonce (12) | AES-256-GCM(PKCS#8 DER) | tag (16)
//! ```
//!
//! AAD = `0x84 || spec byte || caller AAD` (the framing is [`RootKey::seal_framed`]'s) (the caller passes `wrap_aad(key_id, 1)`), so
//! the spec, the key and the version are all bound to the bytes.

use super::{KeySpec, PrivateKey};
use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::{CryptoError, RootKey};

/// Version byte of a wrapped asymmetric private key.
pub const WRAPPED_PRIVATE_KEY_VERSION_V4: u8 = 0x84;

/// Longest PKCS#8 accepted when unwrapping (an ML-DSA-87 or RSA-4096 key is far below).
const MAX_PKCS8: usize = 8192;

impl KeySpec {
    /// The spec byte of the wrapped format (stable: never renumber).
    pub fn code(self) -> u8 {
        match self {
            KeySpec::Rsa2048 => 1,
            KeySpec::Rsa3072 => 2,
            KeySpec::Rsa4096 => 3,
            KeySpec::EccNistP256 => 4,
            KeySpec::EccNistP384 => 5,
            KeySpec::EccNistP521 => 6,
            KeySpec::EccSecgP256k1 => 7,
            KeySpec::EccNistEdwards25519 => 8,
            KeySpec::MlDsa44 => 9,
            KeySpec::MlDsa65 => 10,
            KeySpec::MlDsa87 => 11,
            KeySpec::MlKem512 => 12,
            KeySpec::MlKem768 => 13,
            KeySpec::MlKem1024 => 14,
        }
    }

    /// The spec of a spec byte.
    pub fn from_code(code: u8) -> Option<KeySpec> {
        KeySpec::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl RootKey {
    /// Wrap an asymmetric private key under this root key (format v4,
    /// [`RootKey::seal_framed`]).
    pub fn wrap_private_key(&self, key: &PrivateKey, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_framed(
            &[WRAPPED_PRIVATE_KEY_VERSION_V4, key.spec().code()],
            key.pkcs8(),
            aad,
        )
    }

    /// Unwrap bytes made by [`RootKey::wrap_private_key`] with the same `aad`.
    pub fn unwrap_private_key(
        &self,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<PrivateKey, CryptoError> {
        let (Some(&WRAPPED_PRIVATE_KEY_VERSION_V4), Some(spec)) = (
            wrapped.first(),
            wrapped.get(1).copied().and_then(KeySpec::from_code),
        ) else {
            return Err(CryptoError::InvalidWrappedKey);
        };
        let framing = 2 + NONCE_LEN + TAG_LEN;
        if wrapped.len() <= framing || wrapped.len() > framing + MAX_PKCS8 {
            return Err(CryptoError::InvalidWrappedKey);
        }
        let pkcs8 = self.open_framed(wrapped, 2, aad)?;
        PrivateKey::from_pkcs8(spec, &pkcs8).map_err(|_| CryptoError::InvalidWrappedKey)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trip_binds_spec_and_aad() {
        let root = RootKey::from_bytes([7; 32]);
        let k = KeySpec::EccNistP256.generate().unwrap();
        let w = root.wrap_private_key(&k, b"aad").unwrap();
        assert_eq!(w[0], 0x84);
        assert_eq!(w[1], 4);
        assert_eq!(w.len(), 2 + 12 + k.pkcs8().len() + 16);
        let back = root.unwrap_private_key(&w, b"aad").unwrap();
        assert_eq!(back.public_key_spki(), k.public_key_spki());
        assert!(root.unwrap_private_key(&w, b"other").is_err());
        assert!(RootKey::from_bytes([8; 32])
            .unwrap_private_key(&w, b"aad")
            .is_err());
        let mut spec_changed = w.clone();
        spec_changed[1] = 5;
        assert!(root.unwrap_private_key(&spec_changed, b"aad").is_err());
        let mut tampered = w.clone();
        tampered[20] ^= 1;
        assert!(root.unwrap_private_key(&tampered, b"aad").is_err());
        for cut in 0..w.len() {
            assert!(root.unwrap_private_key(&w[..cut], b"aad").is_err());
        }
        for s in KeySpec::ALL {
            assert_eq!(KeySpec::from_code(s.code()), Some(s));
        }
    }
}
