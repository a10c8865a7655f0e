//! ML-DSA (FIPS 204) keys at the three security levels (RustCrypto `ml-dsa`).
//! `ML_DSA_SHAKE_256` signs a `RAW` message as ML-DSA.Sign with an empty context string
//! (hedged: fresh randomness per signature), or a 64-byte `EXTERNAL_MU` μ that the caller
//! computed as SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ 0 ‖ M, 64).
//!
//! Private keys are the 32-byte seed form of the LAMPS ML-DSA PKCS#8 encoding (`[0]
//! IMPLICIT OCTET STRING`), public keys the `SubjectPublicKeyInfo` with the id-ml-dsa-*
//! OID.

use ml_dsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ml_dsa::{KeyInit, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Signature, SigningKey, B32};
use zeroize::Zeroizing;

use super::{seed, AsymError, KeySpec, MessageType};

pub(super) enum MlDsaKey {
    L44(SigningKey<MlDsa44>),
    L65(SigningKey<MlDsa65>),
    L87(SigningKey<MlDsa87>),
}

pub(super) fn generate(spec: KeySpec) -> Result<Zeroizing<Vec<u8>>, AsymError> {
    let s = seed(32)?;
    let der = match spec {
        KeySpec::MlDsa44 => SigningKey::<MlDsa44>::new_from_slice(&s)
            .map_err(|_| AsymError::Generation)?
            .to_pkcs8_der(),
        KeySpec::MlDsa65 => SigningKey::<MlDsa65>::new_from_slice(&s)
            .map_err(|_| AsymError::Generation)?
            .to_pkcs8_der(),
        KeySpec::MlDsa87 => SigningKey::<MlDsa87>::new_from_slice(&s)
            .map_err(|_| AsymError::Generation)?
            .to_pkcs8_der(),
        _ => return Err(AsymError::Generation),
    }
    .map_err(|_| AsymError::Generation)?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

fn sign_with<P: MlDsaParams>(
    k: &SigningKey<P>,
    mt: MessageType,
    msg: &[u8],
) -> Result<Vec<u8>, AsymError> {
    let sig = match mt {
        MessageType::Raw => {
            let rnd = seed(32)?;
            let rnd = B32::try_from(&rnd[..]).map_err(|_| AsymError::Generation)?;
            // M' = 0 ‖ |ctx| ‖ ctx ‖ M with the empty context (FIPS 204 Algorithm 2).
            k.expanded_key().sign_internal(&[&[0u8, 0u8], msg], &rnd)
        }
        MessageType::ExternalMu => {
            let mu: [u8; 64] = msg.try_into().map_err(|_| AsymError::DigestLength)?;
            k.expanded_key().sign_mu_deterministic(&mu.into())
        }
        MessageType::Digest => return Err(AsymError::Algorithm),
    };
    Ok(sig.encode().to_vec())
}

fn verify_with<P: MlDsaParams>(k: &SigningKey<P>, mt: MessageType, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = Signature::<P>::try_from(sig) else {
        return false;
    };
    let vk = k.expanded_key().verifying_key();
    match mt {
        MessageType::Raw => vk.verify_with_context(msg, &[], &sig),
        MessageType::ExternalMu => match <[u8; 64]>::try_from(msg) {
            Ok(mu) => vk.verify_mu(&mu.into(), &sig),
            Err(_) => false,
        },
        MessageType::Digest => false,
    }
}

impl MlDsaKey {
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<MlDsaKey, AsymError> {
        let e = |_| AsymError::KeyEncoding;
        Ok(match spec {
            KeySpec::MlDsa44 => MlDsaKey::L44(SigningKey::from_pkcs8_der(pkcs8).map_err(e)?),
            KeySpec::MlDsa65 => MlDsaKey::L65(SigningKey::from_pkcs8_der(pkcs8).map_err(e)?),
            KeySpec::MlDsa87 => MlDsaKey::L87(SigningKey::from_pkcs8_der(pkcs8).map_err(e)?),
            _ => return Err(AsymError::KeyEncoding),
        })
    }

    pub(super) fn spki(&self) -> Result<Vec<u8>, AsymError> {
        match self {
            MlDsaKey::L44(k) => k.expanded_key().verifying_key().to_public_key_der(),
            MlDsaKey::L65(k) => k.expanded_key().verifying_key().to_public_key_der(),
            MlDsaKey::L87(k) => k.expanded_key().verifying_key().to_public_key_der(),
        }
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| AsymError::KeyEncoding)
    }

    pub(super) fn sign(&self, mt: MessageType, msg: &[u8]) -> Result<Vec<u8>, AsymError> {
        match self {
            MlDsaKey::L44(k) => sign_with(k, mt, msg),
            MlDsaKey::L65(k) => sign_with(k, mt, msg),
            MlDsaKey::L87(k) => sign_with(k, mt, msg),
        }
    }

    pub(super) fn verify(&self, mt: MessageType, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            MlDsaKey::L44(k) => verify_with(k, mt, msg, sig),
            MlDsaKey::L65(k) => verify_with(k, mt, msg, sig),
            MlDsaKey::L87(k) => verify_with(k, mt, msg, sig),
        }
    }
}
