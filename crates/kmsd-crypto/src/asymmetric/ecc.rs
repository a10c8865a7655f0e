//! Elliptic-curve keys on NIST P-256, P-384, P-521 and SECG secp256k1 (RustCrypto
//! `p256`/`p384`/`p521`/`k256`): ECDSA over a digest with RFC 6979 deterministic nonces and
//! DER (`Ecdsa-Sig-Value`) signatures, and raw ECDH (the x-coordinate of the shared point).
//!
//! Private keys are RFC 5915 `ECPrivateKey` inside PKCS#8; public keys RFC 5480
//! `SubjectPublicKeyInfo` with an uncompressed point. secp256k1 signatures are produced in
//! low-S form, and high-S signatures are accepted on verification (normalized first), so
//! that signatures made by OpenSSL verify.

use ecdsa_traits::{PrehashSigner, PrehashVerifier};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use zeroize::Zeroizing;

use super::{seed, AsymError, KeySpec};

mod ecdsa_traits {
    pub use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
}

/// A parsed EC key of one of the four curves.
pub(super) enum EcKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    K256(k256::ecdsa::SigningKey),
}

/// Field size in bytes of the curve of `spec`.
fn scalar_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => Some(32),
        KeySpec::EccNistP384 => Some(48),
        KeySpec::EccNistP521 => Some(66),
        _ => None,
    }
}

/// Generate a key: a uniformly random scalar in [1, n) by rejection sampling.
pub(super) fn generate(spec: KeySpec) -> Result<Zeroizing<Vec<u8>>, AsymError> {
    let len = scalar_len(spec).ok_or(AsymError::Generation)?;
    for _ in 0..128 {
        let mut bytes = seed(len)?;
        if spec == KeySpec::EccNistP521 {
            // 521 bits: only the lowest bit of the first byte can be set.
            if let Some(b) = bytes.first_mut() {
                *b &= 0x01;
            }
        }
        let der = match spec {
            KeySpec::EccNistP256 => p256::ecdsa::SigningKey::from_slice(&bytes)
                .ok()
                .map(|k| k.to_pkcs8_der()),
            KeySpec::EccNistP384 => p384::ecdsa::SigningKey::from_slice(&bytes)
                .ok()
                .map(|k| k.to_pkcs8_der()),
            KeySpec::EccNistP521 => p521::ecdsa::SigningKey::from_slice(&bytes)
                .ok()
                .map(|k| k.to_pkcs8_der()),
            KeySpec::EccSecgP256k1 => k256::ecdsa::SigningKey::from_slice(&bytes)
                .ok()
                .map(|k| k.to_pkcs8_der()),
            _ => return Err(AsymError::Generation),
        };
        if let Some(der) = der {
            let der = der.map_err(|_| AsymError::Generation)?;
            return Ok(Zeroizing::new(der.as_bytes().to_vec()));
        }
    }
    Err(AsymError::Generation)
}

macro_rules! each_curve {
    ($self:expr, $k:ident, $c:ident => $body:expr) => {
        match $self {
            EcKey::P256($k) => {
                use p256 as $c;
                $body
            }
            EcKey::P384($k) => {
                use p384 as $c;
                $body
            }
            EcKey::P521($k) => {
                use p521 as $c;
                $body
            }
            EcKey::K256($k) => {
                use k256 as $c;
                $body
            }
        }
    };
}

impl EcKey {
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<EcKey, AsymError> {
        let e = |_| AsymError::KeyEncoding;
        Ok(match spec {
            KeySpec::EccNistP256 => {
                EcKey::P256(p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            KeySpec::EccNistP384 => {
                EcKey::P384(p384::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            KeySpec::EccNistP521 => {
                EcKey::P521(p521::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            KeySpec::EccSecgP256k1 => {
                EcKey::K256(k256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            _ => return Err(AsymError::KeyEncoding),
        })
    }

    pub(super) fn spki(&self) -> Result<Vec<u8>, AsymError> {
        each_curve!(self, k, c => c::pkcs8::EncodePublicKey::to_public_key_der(k.verifying_key()))
            .map(|d| d.as_bytes().to_vec())
            .map_err(|_| AsymError::KeyEncoding)
    }

    /// ECDSA over `digest` (already the algorithm's hash length): DER signature.
    pub(super) fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, AsymError> {
        each_curve!(self, k, c => {
            let sig: c::ecdsa::Signature =
                k.sign_prehash(digest).map_err(|_| AsymError::Generation)?;
            let sig = sig.normalize_s();
            Ok(sig.to_der().as_bytes().to_vec())
        })
    }

    /// Verify a DER ECDSA signature over `digest`.
    pub(super) fn verify_digest(&self, digest: &[u8], der: &[u8]) -> bool {
        each_curve!(self, k, c => {
            let Ok(sig) = c::ecdsa::Signature::from_der(der) else {
                return false;
            };
            // DER must be canonical: re-encoding gives the same bytes.
            if sig.to_der().as_bytes() != der {
                return false;
            }
            let sig = sig.normalize_s();
            k.verifying_key().verify_prehash(digest, &sig).is_ok()
        })
    }

    /// Raw ECDH with a peer SPKI on the same curve.
    pub(super) fn ecdh(&self, peer_spki: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        match self {
            EcKey::P256(k) => {
                let peer = p256::PublicKey::from_public_key_der(peer_spki)
                    .map_err(|_| AsymError::InvalidPublicKey)?;
                let s = p256::ecdh::diffie_hellman(k.as_nonzero_scalar(), peer.as_affine());
                Ok(Zeroizing::new(s.raw_secret_bytes().to_vec()))
            }
            EcKey::P384(k) => {
                let peer = p384::PublicKey::from_public_key_der(peer_spki)
                    .map_err(|_| AsymError::InvalidPublicKey)?;
                let s = p384::ecdh::diffie_hellman(k.as_nonzero_scalar(), peer.as_affine());
                Ok(Zeroizing::new(s.raw_secret_bytes().to_vec()))
            }
            EcKey::P521(k) => {
                let peer = p521::PublicKey::from_public_key_der(peer_spki)
                    .map_err(|_| AsymError::InvalidPublicKey)?;
                let s = p521::ecdh::diffie_hellman(k.as_nonzero_scalar(), peer.as_affine());
                Ok(Zeroizing::new(s.raw_secret_bytes().to_vec()))
            }
            EcKey::K256(_) => Err(AsymError::Algorithm),
        }
    }
}
