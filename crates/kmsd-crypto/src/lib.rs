//! Cryptography for kmsd, and the only crate that links `ring`.
//!
//! - [`KeyMaterial`]: 256-bit symmetric key material, zeroized on drop, redacted in `Debug`.
//! - [`RootKey`]: the key outside the store that wraps every [`KeyMaterial`] at rest
//!   ([`RootKey::wrap`] / [`RootKey::unwrap`], format in `docs/ciphertext-format.md`): a local
//!   key, or one held in a hardware security module ([`RootKeyBackend`], [`pkcs11`]).
//! - [`mac`]: HMAC keys ([`MacKey`], [`MacAlgorithm`]) and their wrapping under the root key.
//! - [`blob`]: the versioned, self-describing ciphertext blob returned by `Encrypt`.
//! - [`Secret`]: a zeroizing, redacting wrapper for any other secret; [`constant_time_eq`].
//! - [`key_pair`]: asymmetric data key pairs (PKCS#8 private, SPKI public) for
//!   `GenerateDataKeyPair`.
//! - [`asymmetric`]: asymmetric KMS keys (RSA, ECC, Ed25519, ML-DSA, ML-KEM): generation,
//!   Sign/Verify, RSA-OAEP, ECDH, ML-KEM encapsulation.
//! - [`random_bytes`]: the system CSPRNG; [`random_uuid`]: identifiers from a user-space
//!   CSPRNG seeded from it.
//! - [`CryptoError`]: every failure; none of them carries secret bytes.

mod aead;
pub mod asymmetric;
pub mod blob;
mod derive;
mod error;
pub mod import;
pub mod key_pair;
pub mod mac;
pub mod pkcs11;
mod random;
mod root_key;
mod secret;
mod uuid_text;

pub use error::CryptoError;
pub use mac::{MacAlgorithm, MacKey};
pub use random::{random_bytes, random_uuid};
pub use root_key::{wrap_aad, RootKey, RootKeyBackend, WRAPPED_KEY_LEN, WRAPPED_KEY_VERSION_V1};
pub use secret::{constant_time_eq, KeyMaterial, Secret};
