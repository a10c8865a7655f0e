//! Sign / Verify / DeriveSharedSecret / Decapsulate inputs on asymmetric keys
//! (`kmsd_crypto::asymmetric`), the checks the KMS operations rely on.
//!
//! One key per spec (RSA-2048, the four ECDSA curves, Ed25519, ML-DSA-44, ML-KEM-512) is
//! made once per process. From the input: a key, a signing algorithm (any of the model's,
//! valid for the key or not), a message type, a message, a signature and a peer public key.
//!
//! Properties:
//! - nothing panics, whatever the algorithm, message type, lengths or bytes;
//! - an algorithm or message type the key does not take is `AsymError::Algorithm`; a
//!   DIGEST/EXTERNAL_MU message of the wrong length is `AsymError::DigestLength`;
//! - a signature made by the key verifies; the fuzzer's own signature bytes never verify
//!   (no key is known outside the process), and neither does ours over another message;
//! - ECDH with arbitrary peer bytes either fails with `InvalidPublicKey` or gives a secret
//!   of the curve's field size; with a fresh key of the same curve both sides agree;
//! - decapsulating arbitrary bytes never panics and fails only on a wrong length.

use std::sync::OnceLock;

use arbitrary::Unstructured;
use kmsd_crypto::asymmetric::{AsymError, KeySpec, MessageType, PrivateKey, SigningAlgorithm};

use crate::gen::{byte, raw_len};

const SPECS: [KeySpec; 8] = [
    KeySpec::Rsa2048,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
    KeySpec::EccNistEdwards25519,
    KeySpec::MlDsa44,
    KeySpec::MlKem512,
];

fn keys() -> &'static Vec<PrivateKey> {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        SPECS
            .iter()
            .map(|s| s.generate().expect("key generation"))
            .collect()
    })
}

fn bytes(u: &mut Unstructured<'_>) -> Vec<u8> {
    let n = raw_len(u);
    (0..n).map(|_| byte(u)).collect()
}

/// Entry point.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let keys = keys();
    let Some(k) = keys.get(usize::from(byte(&mut u)) % keys.len()) else {
        return;
    };
    let alg = SigningAlgorithm::ALL[usize::from(byte(&mut u)) % SigningAlgorithm::ALL.len()];
    let mt = [
        MessageType::Raw,
        MessageType::Digest,
        MessageType::ExternalMu,
    ][usize::from(byte(&mut u)) % 3];
    let message = bytes(&mut u);
    let signature = bytes(&mut u);
    let peer = bytes(&mut u);

    let valid = k.spec().signing_algorithms().contains(&alg) && alg.accepts(mt);
    let signed = k.sign(alg, mt, &message);
    match &signed {
        Err(AsymError::Algorithm) => assert!(!valid, "{alg:?} {mt:?} refused"),
        Err(AsymError::DigestLength) => {
            assert!(valid && mt != MessageType::Raw && message.len() != alg.hash().len())
        }
        Err(e) => panic!("sign failed: {e:?}"),
        Ok(sig) => {
            assert!(valid);
            assert_eq!(k.verify(alg, mt, &message, sig), Ok(()));
            if mt == MessageType::Raw {
                let mut other = message.clone();
                other.push(0);
                assert_eq!(
                    k.verify(alg, mt, &other, sig),
                    Err(AsymError::InvalidSignature)
                );
            }
        }
    }
    let verified = k.verify(alg, mt, &message, &signature);
    if valid && (mt == MessageType::Raw || message.len() == alg.hash().len()) {
        assert_eq!(
            verified,
            Err(AsymError::InvalidSignature),
            "fuzzer signature verified"
        );
    } else {
        assert!(verified.is_err());
    }

    match k.derive_shared_secret(&peer) {
        Ok(s) => assert!(
            matches!(s.len(), 32 | 48 | 66),
            "secret of {} bytes",
            s.len()
        ),
        Err(e) => assert!(matches!(
            e,
            AsymError::InvalidPublicKey | AsymError::Algorithm
        )),
    }
    if matches!(
        k.spec(),
        KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521
    ) && byte(&mut u) == 0
    {
        let other = k.spec().generate().expect("key generation");
        let a = k.derive_shared_secret(other.public_key_spki());
        let b = other.derive_shared_secret(k.public_key_spki());
        assert!(a.is_ok() && a == b);
    }

    match k.decapsulate(&signature) {
        Ok(ss) => assert_eq!(ss.len(), 32),
        Err(e) => assert!(matches!(
            e,
            AsymError::InvalidCiphertext | AsymError::Algorithm
        )),
    }
}
