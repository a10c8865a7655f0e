//! AES-256-GCM with detached nonce, the one primitive behind blobs and wrapped keys.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use crate::CryptoError;

/// GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;

fn key(raw: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    // `UnboundKey::new` only fails on a wrong key length, impossible with `[u8; 32]`.
    UnboundKey::new(&AES_256_GCM, raw)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::AuthenticationFailed)
}

/// Encrypt `in_out` in place and return the tag.
pub(crate) fn seal_in_place(
    raw: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<[u8; TAG_LEN], CryptoError> {
    let tag = key(raw)?
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .map_err(|_| CryptoError::InvalidCiphertext)?;
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Decrypt `ciphertext || tag` in place; returns the plaintext length (a prefix of `in_out`).
pub(crate) fn open_in_place(
    raw: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<usize, CryptoError> {
    key(raw)?
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .map(|pt| pt.len())
        .map_err(|_| CryptoError::AuthenticationFailed)
}
