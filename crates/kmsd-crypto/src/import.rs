//! Imported key material: the RSA wrapping key pair that `GetParametersForImport` hands out,
//! unwrapping what `ImportKeyMaterial` receives under each documented wrapping algorithm, and
//! the root-key wrapping of the wrapping private key at rest.
//!
//! Wrapping algorithms (AWS KMS Developer Guide, *Importing key material*):
//! - `RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256`: the key material is RSA-OAEP encrypted under
//!   the public key (MGF1 with the same hash, empty label).
//! - `RSA_AES_KEY_WRAP_SHA_1` / `RSA_AES_KEY_WRAP_SHA_256`: an ephemeral AES key, RSA-OAEP
//!   encrypted under the public key (as long as the modulus), followed by the key material
//!   wrapped under that AES key with AES Key Wrap with Padding (RFC 5649, NIST SP 800-38F KWP).
//!
//! Decryption is blinded (`rsa` crate, OS randomness). Unwrapped material is returned in a
//! `Zeroizing` buffer; the private key zeroizes its secret parts on drop.
//!
//! Wrapped secret format v3 (root key, for the wrapping private key's PKCS#8 DER):
//! `0x83 | nonce (12) | AES-256-GCM(secret) | tag (16)`, AAD = `0x83 || caller AAD`.

use aes_kw::{KekAes128, KekAes192, KekAes256};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::{random, CryptoError, RootKey};

/// Version byte of the wrapped secret format.
pub const WRAPPED_SECRET_VERSION_V3: u8 = 0x83;

/// `WrappingKeySpec` of GetParametersForImport that this crate makes (RSA only; `SM2` is for
/// the China Regions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingKeySpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl WrappingKeySpec {
    /// The spec of a wire name.
    pub fn from_name(name: &str) -> Option<WrappingKeySpec> {
        match name {
            "RSA_2048" => Some(WrappingKeySpec::Rsa2048),
            "RSA_3072" => Some(WrappingKeySpec::Rsa3072),
            "RSA_4096" => Some(WrappingKeySpec::Rsa4096),
            _ => None,
        }
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            WrappingKeySpec::Rsa2048 => "RSA_2048",
            WrappingKeySpec::Rsa3072 => "RSA_3072",
            WrappingKeySpec::Rsa4096 => "RSA_4096",
        }
    }

    /// Modulus length in bits.
    pub fn bits(self) -> usize {
        match self {
            WrappingKeySpec::Rsa2048 => 2048,
            WrappingKeySpec::Rsa3072 => 3072,
            WrappingKeySpec::Rsa4096 => 4096,
        }
    }
}

/// `WrappingAlgorithm` of GetParametersForImport that this crate unwraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
    RsaAesKeyWrapSha1,
    RsaAesKeyWrapSha256,
}

impl WrappingAlgorithm {
    /// The algorithm of a wire name.
    pub fn from_name(name: &str) -> Option<WrappingAlgorithm> {
        match name {
            "RSAES_OAEP_SHA_1" => Some(WrappingAlgorithm::RsaesOaepSha1),
            "RSAES_OAEP_SHA_256" => Some(WrappingAlgorithm::RsaesOaepSha256),
            "RSA_AES_KEY_WRAP_SHA_1" => Some(WrappingAlgorithm::RsaAesKeyWrapSha1),
            "RSA_AES_KEY_WRAP_SHA_256" => Some(WrappingAlgorithm::RsaAesKeyWrapSha256),
            _ => None,
        }
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            WrappingAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            WrappingAlgorithm::RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
            WrappingAlgorithm::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }

    fn oaep(self) -> Oaep {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                Oaep::new::<sha1::Sha1>()
            }
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                Oaep::new::<sha2::Sha256>()
            }
        }
    }

    /// True for the `RSA_AES_KEY_WRAP_*` algorithms (RSA-OAEP of an AES key, then AES-KWP of
    /// the material), which carry material of any length.
    pub fn is_key_wrap(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
        )
    }
}

/// Why wrapped key material could not be unwrapped. Carries nothing secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    /// Not decryptable under the wrapping key with the algorithm (wrong key, wrong algorithm,
    /// corrupted bytes, wrong length).
    #[error("the wrapped key material cannot be decrypted")]
    Undecryptable,
}

/// The RSA key pair a `GetParametersForImport` response's public key belongs to.
pub struct WrappingKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappingKey({} bits, <redacted>)", self.key.size() * 8)
    }
}

impl WrappingKey {
    /// A fresh key pair of `spec`. RSA generation takes from tens of milliseconds (2048) to
    /// seconds (4096): do not call it on an async runtime thread or under a lock.
    pub fn generate(spec: WrappingKeySpec) -> Result<WrappingKey, CryptoError> {
        let mut rng = rand::rngs::OsRng;
        let key = RsaPrivateKey::new(&mut rng, spec.bits()).map_err(|_| CryptoError::Rng)?;
        Ok(WrappingKey { key })
    }

    /// The public key as DER `SubjectPublicKeyInfo` (GetParametersForImport's `PublicKey`).
    pub fn public_key_der(&self) -> Result<Vec<u8>, CryptoError> {
        RsaPublicKey::from(&self.key)
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|_| CryptoError::InvalidWrappedKey)
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.key.size() * 8
    }

    /// Wrap the private key (PKCS#8 DER) under `root` for storage, bound to `aad`.
    pub fn seal(&self, root: &RootKey, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let der = self
            .key
            .to_pkcs8_der()
            .map_err(|_| CryptoError::InvalidWrappedKey)?;
        root.wrap_secret(der.as_bytes(), aad)
    }

    /// The key pair [`WrappingKey::seal`] wrapped, with the same `aad`.
    pub fn open(root: &RootKey, wrapped: &[u8], aad: &[u8]) -> Result<WrappingKey, CryptoError> {
        let der = root.unwrap_secret(wrapped, aad)?;
        let key =
            RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| CryptoError::InvalidWrappedKey)?;
        Ok(WrappingKey { key })
    }

    /// Unwrap `wrapped` key material made with the public key and `alg`.
    pub fn unwrap_material(
        &self,
        alg: WrappingAlgorithm,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        let mut rng = rand::rngs::OsRng;
        if !alg.is_key_wrap() {
            return self
                .key
                .decrypt_blinded(&mut rng, alg.oaep(), wrapped)
                .map(Zeroizing::new)
                .map_err(|_| UnwrapError::Undecryptable);
        }
        let n = self.key.size();
        let (Some(head), Some(tail)) = (wrapped.get(..n), wrapped.get(n..)) else {
            return Err(UnwrapError::Undecryptable);
        };
        let aes_key = self
            .key
            .decrypt_blinded(&mut rng, alg.oaep(), head)
            .map(Zeroizing::new)
            .map_err(|_| UnwrapError::Undecryptable)?;
        let out = match aes_key.len() {
            16 => KekAes128::try_from(aes_key.as_slice())
                .ok()
                .and_then(|k| k.unwrap_with_padding_vec(tail).ok()),
            24 => KekAes192::try_from(aes_key.as_slice())
                .ok()
                .and_then(|k| k.unwrap_with_padding_vec(tail).ok()),
            32 => KekAes256::try_from(aes_key.as_slice())
                .ok()
                .and_then(|k| k.unwrap_with_padding_vec(tail).ok()),
            _ => None,
        };
        out.map(Zeroizing::new).ok_or(UnwrapError::Undecryptable)
    }
}

impl RootKey {
    /// Wrap an arbitrary secret under this root key (format v3, [`RootKey::seal_framed`]).
    pub fn wrap_secret(&self, secret: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_framed(&[WRAPPED_SECRET_VERSION_V3], secret, aad)
    }

    /// Unwrap bytes produced by [`RootKey::wrap_secret`] with the same `aad`.
    pub fn unwrap_secret(
        &self,
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.first() != Some(&WRAPPED_SECRET_VERSION_V3) {
            return Err(CryptoError::InvalidWrappedKey);
        }
        self.open_framed(wrapped, 1, aad)
    }
}

/// Test and tooling helper: wrap `material` under the DER SPKI `public_key` the way an
/// importer does (the inverse of [`WrappingKey::unwrap_material`]).
pub fn wrap_for_import(
    public_key_der: &[u8],
    alg: WrappingAlgorithm,
    material: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    use rsa::pkcs8::DecodePublicKey;
    let public = RsaPublicKey::from_public_key_der(public_key_der)
        .map_err(|_| CryptoError::InvalidWrappedKey)?;
    let mut rng = rand::rngs::OsRng;
    if !alg.is_key_wrap() {
        return public
            .encrypt(&mut rng, alg.oaep(), material)
            .map_err(|_| CryptoError::InvalidWrappedKey);
    }
    let mut aes_key = Zeroizing::new([0u8; 32]);
    random::fill(aes_key.as_mut_slice())?;
    let mut out = public
        .encrypt(&mut rng, alg.oaep(), aes_key.as_slice())
        .map_err(|_| CryptoError::InvalidWrappedKey)?;
    let kek = KekAes256::from(*aes_key);
    let wrapped = kek
        .wrap_with_padding_vec(material)
        .map_err(|_| CryptoError::InvalidWrappedKey)?;
    out.extend_from_slice(&wrapped);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    const ALGS: [WrappingAlgorithm; 4] = [
        WrappingAlgorithm::RsaesOaepSha1,
        WrappingAlgorithm::RsaesOaepSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha1,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
    ];

    #[test]
    fn every_algorithm_round_trips_and_rejects_the_others() {
        let k = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        assert_eq!(k.bits(), 2048);
        let public = k.public_key_der().unwrap();
        let material = [7u8; 32];
        for alg in ALGS {
            let w = wrap_for_import(&public, alg, &material).unwrap();
            assert_eq!(k.unwrap_material(alg, &w).unwrap().as_slice(), &material);
            for other in ALGS.into_iter().filter(|o| *o != alg) {
                assert_eq!(
                    k.unwrap_material(other, &w),
                    Err(UnwrapError::Undecryptable),
                    "{alg:?} unwrapped as {other:?}"
                );
            }
        }
    }

    #[test]
    fn variable_lengths_through_key_wrap() {
        let k = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let public = k.public_key_der().unwrap();
        for len in [1usize, 28, 33, 64, 100, 128, 300] {
            let m: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let w = wrap_for_import(&public, WrappingAlgorithm::RsaAesKeyWrapSha256, &m).unwrap();
            let got = k
                .unwrap_material(WrappingAlgorithm::RsaAesKeyWrapSha256, &w)
                .unwrap();
            assert_eq!(got.as_slice(), m.as_slice());
        }
    }

    #[test]
    fn another_key_or_tampered_bytes_do_not_unwrap() {
        let a = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let b = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let pa = a.public_key_der().unwrap();
        for alg in ALGS {
            let mut w = wrap_for_import(&pa, alg, &[1u8; 32]).unwrap();
            assert!(b.unwrap_material(alg, &w).is_err());
            let last = w.len() - 1;
            w[last] ^= 1;
            assert!(a.unwrap_material(alg, &w).is_err());
            assert!(a.unwrap_material(alg, &[]).is_err());
            assert!(a.unwrap_material(alg, &w[..w.len() / 2]).is_err());
        }
    }

    #[test]
    fn sealed_private_key_survives_and_is_bound_to_its_aad() {
        let root = RootKey::from_bytes([9u8; 32]);
        let k = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let sealed = k.seal(&root, b"key-1#token").unwrap();
        let der = k.key.to_pkcs8_der().unwrap();
        assert!(!sealed
            .windows(32)
            .any(|w| der.as_bytes().windows(32).any(|d| d == w)));
        let back = WrappingKey::open(&root, &sealed, b"key-1#token").unwrap();
        assert_eq!(back.public_key_der().unwrap(), k.public_key_der().unwrap());
        assert!(WrappingKey::open(&root, &sealed, b"key-2#token").is_err());
        let other_root = RootKey::from_bytes([8u8; 32]);
        assert!(WrappingKey::open(&other_root, &sealed, b"key-1#token").is_err());
    }

    #[test]
    fn wire_names_round_trip() {
        for alg in ALGS {
            assert_eq!(WrappingAlgorithm::from_name(alg.name()), Some(alg));
        }
        for s in [
            WrappingKeySpec::Rsa2048,
            WrappingKeySpec::Rsa3072,
            WrappingKeySpec::Rsa4096,
        ] {
            assert_eq!(WrappingKeySpec::from_name(s.name()), Some(s));
        }
        assert_eq!(WrappingAlgorithm::from_name("SM2PKE"), None);
        assert_eq!(WrappingKeySpec::from_name("SM2"), None);
    }
}
