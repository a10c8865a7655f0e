//! ML-KEM (FIPS 203) keys at the three security levels (RustCrypto `ml-kem`):
//! encapsulation to the public key and decapsulation with implicit rejection; the shared
//! secret is 32 bytes.
//!
//! Private keys are the 64-byte seed (d ‖ z) form of the LAMPS ML-KEM PKCS#8 encoding,
//! public keys the `SubjectPublicKeyInfo` with the id-alg-ml-kem-* OID.

use ml_kem::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ml_kem::{Decapsulate, DecapsulationKey, Encapsulate, MlKem1024, MlKem512, MlKem768, Seed};
use zeroize::Zeroizing;

use super::{seed, AsymError, KeySpec};

pub(super) enum MlKemKey {
    L512(DecapsulationKey<MlKem512>),
    L768(DecapsulationKey<MlKem768>),
    L1024(DecapsulationKey<MlKem1024>),
}

pub(super) fn generate(spec: KeySpec) -> Result<Zeroizing<Vec<u8>>, AsymError> {
    let s = seed(64)?;
    let s = Seed::try_from(&s[..]).map_err(|_| AsymError::Generation)?;
    let der = match spec {
        KeySpec::MlKem512 => DecapsulationKey::<MlKem512>::from_seed(s).to_pkcs8_der(),
        KeySpec::MlKem768 => DecapsulationKey::<MlKem768>::from_seed(s).to_pkcs8_der(),
        KeySpec::MlKem1024 => DecapsulationKey::<MlKem1024>::from_seed(s).to_pkcs8_der(),
        _ => return Err(AsymError::Generation),
    }
    .map_err(|_| AsymError::Generation)?;
    Ok(Zeroizing::new(der.as_bytes().to_vec()))
}

impl MlKemKey {
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<MlKemKey, AsymError> {
        let e = |_| AsymError::KeyEncoding;
        Ok(match spec {
            KeySpec::MlKem512 => {
                MlKemKey::L512(DecapsulationKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            KeySpec::MlKem768 => {
                MlKemKey::L768(DecapsulationKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            KeySpec::MlKem1024 => {
                MlKemKey::L1024(DecapsulationKey::from_pkcs8_der(pkcs8).map_err(e)?)
            }
            _ => return Err(AsymError::KeyEncoding),
        })
    }

    pub(super) fn spki(&self) -> Result<Vec<u8>, AsymError> {
        match self {
            MlKemKey::L512(k) => k.encapsulation_key().to_public_key_der(),
            MlKemKey::L768(k) => k.encapsulation_key().to_public_key_der(),
            MlKemKey::L1024(k) => k.encapsulation_key().to_public_key_der(),
        }
        .map(|d| d.as_bytes().to_vec())
        .map_err(|_| AsymError::KeyEncoding)
    }

    pub(super) fn encapsulate(&self) -> (Vec<u8>, Zeroizing<Vec<u8>>) {
        let (ct, ss) = match self {
            MlKemKey::L512(k) => {
                let (ct, ss) = k.encapsulation_key().encapsulate();
                (ct.to_vec(), ss)
            }
            MlKemKey::L768(k) => {
                let (ct, ss) = k.encapsulation_key().encapsulate();
                (ct.to_vec(), ss)
            }
            MlKemKey::L1024(k) => {
                let (ct, ss) = k.encapsulation_key().encapsulate();
                (ct.to_vec(), ss)
            }
        };
        (ct, Zeroizing::new(ss.to_vec()))
    }

    pub(super) fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        match self {
            MlKemKey::L512(k) => k.decapsulate_slice(ct),
            MlKemKey::L768(k) => k.decapsulate_slice(ct),
            MlKemKey::L1024(k) => k.decapsulate_slice(ct),
        }
        .map(|ss| Zeroizing::new(ss.to_vec()))
        .map_err(|_| AsymError::InvalidCiphertext)
    }
}
