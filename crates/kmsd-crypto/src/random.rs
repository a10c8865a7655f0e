//! The system CSPRNG (`ring::rand::SystemRandom`).

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
