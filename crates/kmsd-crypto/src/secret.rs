//! Secrets in memory: [`KeyMaterial`] (256-bit key bytes) and the generic
//! [`Secret`] wrapper, both zeroized on drop and never printed.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{random, CryptoError};

/// 32 bytes of AES-256 key material. Zeroized on drop; `Debug` prints `KeyMaterial(<redacted>)`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyMaterial([u8; 32]);

impl KeyMaterial {
    /// Fresh material from the system CSPRNG.
    pub fn generate() -> Result<KeyMaterial, CryptoError> {
        let mut m = KeyMaterial([0u8; 32]);
        random::fill(&mut m.0)?;
        Ok(m)
    }

    /// Wrap existing bytes (the caller should zeroize its copy).
    pub fn from_bytes(b: [u8; 32]) -> KeyMaterial {
        KeyMaterial(b)
    }

    /// The raw bytes. Do not copy them anywhere that is not zeroized.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality of two materials.
    pub fn ct_eq(&self, other: &KeyMaterial) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

/// Constant-time equality of two byte strings (length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Any zeroizable secret (a secret access key, a plaintext, ...): zeroized on
/// drop, `Debug` prints `Secret(<redacted>)`. Read it with [`Secret::expose`].
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    /// Take ownership of a secret value.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// Borrow the secret value. Do not copy it anywhere that is not zeroized.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Secret<T> {
        Secret(value)
    }
}

impl<T: Zeroize> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Constant-time equality of two byte strings, for comparing secrets (MACs,
/// tokens). Lengths are not secret: different lengths return `false` at once.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    ct_eq(a, b)
}
