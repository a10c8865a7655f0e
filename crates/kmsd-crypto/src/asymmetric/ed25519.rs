//! Ed25519 keys (`ed25519-dalek`): `ED25519_SHA_512` is pure Ed25519 over a RAW message
//! (RFC 8032 §5.1), `ED25519_PH_SHA_512` is Ed25519ph with an empty context over a
//! 64-byte SHA-512 DIGEST the caller computed.
//!
//! Private keys are RFC 8410 PKCS#8 v1 (`CurvePrivateKey`: the 32-byte seed), public keys
//! the 44-byte RFC 8410 `SubjectPublicKeyInfo`.

use digest011::{FixedOutput, HashMarker, Output, OutputSizeUser, Update};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _};
use zeroize::Zeroizing;

use super::{seed, AsymError, MessageType};

/// RFC 8410 §10.3: the fixed PKCS#8 v1 header before the 32-byte seed.
const PKCS8_HEADER: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// RFC 8410 §4: the fixed SPKI header before the 32-byte public key.
const SPKI_HEADER: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

pub(super) fn generate() -> Result<Zeroizing<Vec<u8>>, AsymError> {
    let s = seed(32)?;
    let mut der = Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&PKCS8_HEADER);
    der.extend_from_slice(&s);
    Ok(der)
}

pub(super) struct EdKey(SigningKey);

/// A SHA-512 digest the caller already computed, presented to Ed25519ph as the "hash"
/// whose output it is (the prehash API takes a hasher and only finalizes it).
#[derive(Clone)]
struct Prehashed([u8; 64]);

impl Default for Prehashed {
    fn default() -> Prehashed {
        Prehashed([0; 64])
    }
}

impl HashMarker for Prehashed {}

impl OutputSizeUser for Prehashed {
    type OutputSize = digest011::consts::U64;
}

impl Update for Prehashed {
    fn update(&mut self, _data: &[u8]) {}
}

impl FixedOutput for Prehashed {
    fn finalize_into(self, out: &mut Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

impl Prehashed {
    fn new(digest: &[u8]) -> Option<Prehashed> {
        Some(Prehashed(digest.try_into().ok()?))
    }
}

impl EdKey {
    pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<EdKey, AsymError> {
        if pkcs8.len() != 48 || pkcs8[..16] != PKCS8_HEADER {
            return Err(AsymError::KeyEncoding);
        }
        let seed: [u8; 32] = pkcs8[16..].try_into().map_err(|_| AsymError::KeyEncoding)?;
        let seed = Zeroizing::new(seed);
        Ok(EdKey(SigningKey::from_bytes(&seed)))
    }

    pub(super) fn spki(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(44);
        v.extend_from_slice(&SPKI_HEADER);
        v.extend_from_slice(self.0.verifying_key().as_bytes());
        v
    }

    pub(super) fn sign(&self, mt: MessageType, msg: &[u8]) -> Result<Vec<u8>, AsymError> {
        match mt {
            MessageType::Raw => Ok(self.0.sign(msg).to_bytes().to_vec()),
            MessageType::Digest => {
                let ph = Prehashed::new(msg).ok_or(AsymError::DigestLength)?;
                self.0
                    .sign_prehashed(ph, None)
                    .map(|s| s.to_bytes().to_vec())
                    .map_err(|_| AsymError::Generation)
            }
            MessageType::ExternalMu => Err(AsymError::Algorithm),
        }
    }

    pub(super) fn verify(&self, mt: MessageType, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        let vk = self.0.verifying_key();
        match mt {
            MessageType::Raw => vk.verify(msg, &sig).is_ok(),
            MessageType::Digest => match Prehashed::new(msg) {
                Some(ph) => vk.verify_prehashed(ph, None, &sig).is_ok(),
                None => false,
            },
            MessageType::ExternalMu => false,
        }
    }
}
