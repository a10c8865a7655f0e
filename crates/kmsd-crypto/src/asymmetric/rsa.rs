//! RSA keys (2048/3072/4096 bits, e = 65537): RSASSA-PSS (salt length = hash length, MGF1
//! with the same hash) and RSASSA-PKCS1-v1_5 signatures over SHA-256/384/512, and RSAES-OAEP
//! with SHA-1 or SHA-256 (MGF1 with the same hash, empty label).
//!
//! `RAW` messages are signed by `ring` (constant-time, and the fastest path); `DIGEST`
//! messages, which `ring` cannot take, by the `rsa` crate with blinding. Verification,
//! encryption and blinded OAEP decryption use the `rsa` crate.

use ring::signature::{self as rs, RsaKeyPair};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use super::{AsymError, EncryptionAlgorithm, KeySpec, MessageType, SigningAlgorithm};

/// The longest plaintext RSAES-OAEP takes for a key of `bits` (k − 2·hLen − 2 bytes):
/// 214/190 (2048), 342/318 (3072), 470/446 (4096) for SHA-1/SHA-256.
pub fn max_plaintext_len(bits: usize, alg: EncryptionAlgorithm) -> usize {
    (bits / 8).saturating_sub(2 * alg.hash_len() + 2)
}

/// Generate an RSA key of `spec`'s size: PKCS#8 DER.
pub(super) fn generate(spec: KeySpec) -> Result<Zeroizing<Vec<u8>>, AsymError> {
    let bits = spec.rsa_bits().ok_or(AsymError::Generation)?;
    let key =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(|_| AsymError::Generation)?;
    let der = key.to_pkcs8_der().map_err(|_| AsymError::Generation)?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

/// A parsed RSA key: `ring`'s form for RAW signing, the `rsa` crate's for the rest.
pub(super) struct RsaKey {
    ring: RsaKeyPair,
    key: RsaPrivateKey,
    public: RsaPublicKey,
}

impl RsaKey {
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<RsaKey, AsymError> {
        let bits = spec.rsa_bits().ok_or(AsymError::KeyEncoding)?;
        let key = RsaPrivateKey::from_pkcs8_der(pkcs8).map_err(|_| AsymError::KeyEncoding)?;
        if key.n().bits() != bits {
            return Err(AsymError::KeyEncoding);
        }
        let ring = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| AsymError::KeyEncoding)?;
        let public = RsaPublicKey::from(&key);
        Ok(RsaKey { ring, key, public })
    }

    pub(super) fn spki(&self) -> Result<Vec<u8>, AsymError> {
        self.public
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|_| AsymError::KeyEncoding)
    }

    fn ring_alg(alg: SigningAlgorithm) -> Option<&'static dyn rs::RsaEncoding> {
        Some(match alg {
            SigningAlgorithm::RsassaPssSha256 => &rs::RSA_PSS_SHA256,
            SigningAlgorithm::RsassaPssSha384 => &rs::RSA_PSS_SHA384,
            SigningAlgorithm::RsassaPssSha512 => &rs::RSA_PSS_SHA512,
            SigningAlgorithm::RsassaPkcs1V15Sha256 => &rs::RSA_PKCS1_SHA256,
            SigningAlgorithm::RsassaPkcs1V15Sha384 => &rs::RSA_PKCS1_SHA384,
            SigningAlgorithm::RsassaPkcs1V15Sha512 => &rs::RSA_PKCS1_SHA512,
            _ => return None,
        })
    }

    pub(super) fn sign(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        msg: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        if mt == MessageType::Raw {
            let enc = Self::ring_alg(alg).ok_or(AsymError::Algorithm)?;
            let mut sig = vec![0u8; self.ring.public().modulus_len()];
            self.ring
                .sign(enc, &ring::rand::SystemRandom::new(), msg, &mut sig)
                .map_err(|_| AsymError::Generation)?;
            return Ok(sig);
        }
        let mut rng = rand::rngs::OsRng;
        let r = match alg {
            SigningAlgorithm::RsassaPssSha256 => {
                self.key
                    .sign_with_rng(&mut rng, Pss::new::<sha2::Sha256>(), msg)
            }
            SigningAlgorithm::RsassaPssSha384 => {
                self.key
                    .sign_with_rng(&mut rng, Pss::new::<sha2::Sha384>(), msg)
            }
            SigningAlgorithm::RsassaPssSha512 => {
                self.key
                    .sign_with_rng(&mut rng, Pss::new::<sha2::Sha512>(), msg)
            }
            SigningAlgorithm::RsassaPkcs1V15Sha256 => {
                self.key
                    .sign_with_rng(&mut rng, Pkcs1v15Sign::new::<sha2::Sha256>(), msg)
            }
            SigningAlgorithm::RsassaPkcs1V15Sha384 => {
                self.key
                    .sign_with_rng(&mut rng, Pkcs1v15Sign::new::<sha2::Sha384>(), msg)
            }
            SigningAlgorithm::RsassaPkcs1V15Sha512 => {
                self.key
                    .sign_with_rng(&mut rng, Pkcs1v15Sign::new::<sha2::Sha512>(), msg)
            }
            _ => return Err(AsymError::Algorithm),
        };
        r.map_err(|_| AsymError::Generation)
    }

    pub(super) fn verify(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        msg: &[u8],
        sig: &[u8],
    ) -> bool {
        let digest = match mt {
            MessageType::Raw => alg.hash().digest(msg),
            _ => msg.to_vec(),
        };
        let p = &self.public;
        match alg {
            SigningAlgorithm::RsassaPssSha256 => p.verify(Pss::new::<sha2::Sha256>(), &digest, sig),
            SigningAlgorithm::RsassaPssSha384 => p.verify(Pss::new::<sha2::Sha384>(), &digest, sig),
            SigningAlgorithm::RsassaPssSha512 => p.verify(Pss::new::<sha2::Sha512>(), &digest, sig),
            SigningAlgorithm::RsassaPkcs1V15Sha256 => {
                p.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, sig)
            }
            SigningAlgorithm::RsassaPkcs1V15Sha384 => {
                p.verify(Pkcs1v15Sign::new::<sha2::Sha384>(), &digest, sig)
            }
            SigningAlgorithm::RsassaPkcs1V15Sha512 => {
                p.verify(Pkcs1v15Sign::new::<sha2::Sha512>(), &digest, sig)
            }
            _ => return false,
        }
        .is_ok()
    }

    fn oaep(alg: EncryptionAlgorithm) -> Oaep {
        match alg {
            EncryptionAlgorithm::RsaesOaepSha1 => Oaep::new::<sha1::Sha1>(),
            EncryptionAlgorithm::RsaesOaepSha256 => Oaep::new::<sha2::Sha256>(),
        }
    }

    pub(super) fn encrypt(
        &self,
        alg: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        if plaintext.len() > max_plaintext_len(self.public.n().bits(), alg) {
            return Err(AsymError::PlaintextTooLong);
        }
        self.public
            .encrypt(&mut rand::rngs::OsRng, Self::oaep(alg), plaintext)
            .map_err(|_| AsymError::PlaintextTooLong)
    }

    pub(super) fn decrypt(
        &self,
        alg: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        if ciphertext.len() != self.public.size() {
            return Err(AsymError::InvalidCiphertext);
        }
        self.key
            .decrypt_blinded(&mut rand::rngs::OsRng, Self::oaep(alg), ciphertext)
            .map(Zeroizing::new)
            .map_err(|_| AsymError::InvalidCiphertext)
    }
}
