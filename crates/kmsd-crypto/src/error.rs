//! The crate's error type. No variant ever carries key material or plaintext.

/// Every failure of `kmsd-crypto`.
///
/// Callers serving `Decrypt` map [`CryptoError::InvalidCiphertext`] and
/// [`CryptoError::AuthenticationFailed`] to `InvalidCiphertextException`
/// ([`CryptoError::is_invalid_ciphertext`]).
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The bytes are not a well-formed ciphertext blob (unknown version, too short, ...).
    #[error("invalid ciphertext")]
    InvalidCiphertext,
    /// AES-GCM authentication failed: tampered bytes, wrong key, or wrong encryption context / AAD.
    #[error("ciphertext authentication failed")]
    AuthenticationFailed,
    /// The bytes are not a well-formed wrapped key (unknown version or wrong length).
    #[error("invalid wrapped key material")]
    InvalidWrappedKey,
    /// A key id passed to `seal` is not UUID text.
    #[error("invalid key id: {0}")]
    InvalidKeyId(String),
    /// The root key could not be used: bad permissions, wrong length, bad hex, ...
    /// The message never contains key bytes.
    #[error("bad root key: {0}")]
    BadRootKey(String),
    /// An I/O failure (root key file).
    #[error("I/O error: {0}")]
    Io(String),
    /// The PKCS#11 token failed or refused (module, token, login, key lookup, operation).
    /// The message never contains the PIN or key bytes.
    #[error("HSM: {0}")]
    Hsm(String),
    /// The system random number generator failed.
    #[error("system random number generator failed")]
    Rng,
}

impl CryptoError {
    /// True for the failures a KMS reports as `InvalidCiphertextException`.
    pub fn is_invalid_ciphertext(&self) -> bool {
        matches!(
            self,
            CryptoError::InvalidCiphertext
                | CryptoError::AuthenticationFailed
                | CryptoError::InvalidWrappedKey
        )
    }
}
