//! Randomness.
//!
//! - Secrets and AES-GCM nonces come from the operating system's CSPRNG
//!   (`ring::rand::SystemRandom`, one `getrandom` per call): a nonce must never repeat under
//!   one key, and the kernel's generator has no user-space state that a fork or a snapshot
//!   could duplicate (see `docs/ciphertext-format.md`).
//! - Identifiers that need to be unique and unguessable but protect no data (request ids,
//!   audit event ids) come from [`random_uuid`]: `rand`'s thread-local ChaCha12 generator,
//!   seeded from the OS and reseeded from it after every 64 KiB of output and after a fork,
//!   so no system call per identifier.

use ring::rand::{SecureRandom, SystemRandom};

use crate::CryptoError;

/// `len` bytes from the operating system's CSPRNG.
pub fn random_bytes(len: usize) -> Result<Vec<u8>, CryptoError> {
    let mut out = vec![0u8; len];
    fill(&mut out)?;
    Ok(out)
}

/// Fill `buf` from the operating system's CSPRNG.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new().fill(buf).map_err(|_| CryptoError::Rng)
}

/// A fresh 96-bit AES-GCM nonce.
pub(crate) fn nonce() -> Result<[u8; 12], CryptoError> {
    let mut n = [0u8; 12];
    fill(&mut n)?;
    Ok(n)
}

/// A random (version 4) UUID in lower-case hyphenated text, from a thread-local user-space
/// CSPRNG (ChaCha12, seeded and periodically reseeded from the OS). For identifiers, never
/// for keys or nonces.
pub fn random_uuid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    crate::uuid_text::format(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_uuids_are_v4_text_and_distinct() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        for u in [&a, &b] {
            assert_eq!(u.len(), 36);
            assert_eq!(&u[14..15], "4", "{u}");
            assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
            assert!(crate::uuid_text::parse(u).is_ok(), "{u}");
            assert_eq!(u.to_ascii_lowercase(), *u);
        }
    }
}
