//! Asymmetric data key pairs, as `GenerateDataKeyPair(WithoutPlaintext)` returns them.
//!
//! [`generate`] makes a fresh key pair of a [`KeyPairSpec`] and returns the private key as
//! PKCS#8 DER (in a zeroizing buffer) and the public key as DER `SubjectPublicKeyInfo`.
//! ECC NIST P-256 / P-384 and Ed25519 keys come from `ring` (Ed25519 private keys are
//! RFC 8410 PKCS#8 v1: the 32-byte seed); RSA 2048 / 3072 / 4096 (public exponent 65537)
//! from the `rsa` crate, used for key generation and DER encoding only.
//!
//! [`spki_spec`] reads which spec a `SubjectPublicKeyInfo` is (algorithm, curve or modulus
//! size) and [`pair_matches`] proves that a PKCS#8 private key and a public key belong
//! together by signing with one and verifying with the other through `ring`, independently
//! of the code that made the pair.

use ring::rand::SystemRandom;
use ring::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

/// The key pair specs this module generates: every `DataKeyPairSpec` AWS offers outside
/// China Regions (`SM2` is China-only; [`KeyPairSpec::from_name`] answers `None` for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPairSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistEdwards25519,
    EccNistP521,
    EccSecgP256k1,
    MlKem512,
    MlKem768,
    MlKem1024,
}

impl KeyPairSpec {
    /// Every supported spec.
    pub const ALL: [KeyPairSpec; 11] = [
        KeyPairSpec::Rsa2048,
        KeyPairSpec::Rsa3072,
        KeyPairSpec::Rsa4096,
        KeyPairSpec::EccNistP256,
        KeyPairSpec::EccNistP384,
        KeyPairSpec::EccNistEdwards25519,
        KeyPairSpec::EccNistP521,
        KeyPairSpec::EccSecgP256k1,
        KeyPairSpec::MlKem512,
        KeyPairSpec::MlKem768,
        KeyPairSpec::MlKem1024,
    ];

    /// The spec named `name` (AWS's `DataKeyPairSpec` value), if this module generates it.
    pub fn from_name(name: &str) -> Option<KeyPairSpec> {
        KeyPairSpec::ALL.into_iter().find(|s| s.name() == name)
    }

    /// AWS's name of the spec (`RSA_2048`, `ECC_NIST_P256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KeyPairSpec::Rsa2048 => "RSA_2048",
            KeyPairSpec::Rsa3072 => "RSA_3072",
            KeyPairSpec::Rsa4096 => "RSA_4096",
            KeyPairSpec::EccNistP256 => "ECC_NIST_P256",
            KeyPairSpec::EccNistP384 => "ECC_NIST_P384",
            KeyPairSpec::EccNistEdwards25519 => "ECC_NIST_EDWARDS25519",
            KeyPairSpec::EccNistP521 => "ECC_NIST_P521",
            KeyPairSpec::EccSecgP256k1 => "ECC_SECG_P256K1",
            KeyPairSpec::MlKem512 => "ML_KEM_512",
            KeyPairSpec::MlKem768 => "ML_KEM_768",
            KeyPairSpec::MlKem1024 => "ML_KEM_1024",
        }
    }

    /// Specs generated through [`crate::asymmetric`] (RustCrypto curves and ML-KEM).
    fn asymmetric(self) -> Option<crate::asymmetric::KeySpec> {
        use crate::asymmetric::KeySpec as A;
        match self {
            KeyPairSpec::EccNistP521 => Some(A::EccNistP521),
            KeyPairSpec::EccSecgP256k1 => Some(A::EccSecgP256k1),
            KeyPairSpec::MlKem512 => Some(A::MlKem512),
            KeyPairSpec::MlKem768 => Some(A::MlKem768),
            KeyPairSpec::MlKem1024 => Some(A::MlKem1024),
            _ => None,
        }
    }

    fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyPairSpec::Rsa2048 => Some(2048),
            KeyPairSpec::Rsa3072 => Some(3072),
            KeyPairSpec::Rsa4096 => Some(4096),
            _ => None,
        }
    }
}

/// A freshly generated key pair. The private key is zeroized when this is dropped.
pub struct DataKeyPair {
    /// PKCS#8 DER (`PrivateKeyInfo`) of the private key.
    pub private_key_pkcs8: Zeroizing<Vec<u8>>,
    /// DER `SubjectPublicKeyInfo` of the public key.
    pub public_key_spki: Vec<u8>,
}

impl std::fmt::Debug for DataKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeyPair")
            .field("private_key_pkcs8", &"<redacted>")
            .field("public_key_spki_len", &self.public_key_spki.len())
            .finish()
    }
}

/// Why a key pair could not be made. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    /// The random number generator or the key generation failed.
    #[error("key pair generation failed: {0}")]
    Generation(&'static str),
    /// DER encoding failed.
    #[error("key pair encoding failed")]
    Encoding,
}

/// DER of `id-ecPublicKey` (1.2.840.10045.2.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of `secp256r1` (1.2.840.10045.3.1.7).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of `secp384r1` (1.3.132.0.34).
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of `secp521r1` (1.3.132.0.35).
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
/// DER of `secp256k1` (1.3.132.0.10).
const OID_K256: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
/// DER of `id-alg-ml-kem-512/768/1024` (2.16.840.1.101.3.4.4.1/2/3).
const OID_ML_KEM: [&[u8]; 3] = [
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x01],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x02],
    &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x03],
];
/// DER of `id-Ed25519` (1.3.101.112).
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// DER of `rsaEncryption` (1.2.840.113549.1.1.1).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// Generate a key pair of `spec`. RSA generation takes from tens of milliseconds (2048)
/// to seconds (4096); callers should not hold locks meanwhile.
pub fn generate(spec: KeyPairSpec) -> Result<DataKeyPair, KeyPairError> {
    if let Some(a) = spec.asymmetric() {
        let k = a
            .generate()
            .map_err(|_| KeyPairError::Generation("key generation failed"))?;
        return Ok(DataKeyPair {
            private_key_pkcs8: Zeroizing::new(k.pkcs8().to_vec()),
            public_key_spki: k.public_key_spki().to_vec(),
        });
    }
    match spec.rsa_bits() {
        Some(bits) => generate_rsa(bits),
        None if spec == KeyPairSpec::EccNistEdwards25519 => generate_ed25519(),
        None => generate_ec(spec),
    }
}

fn generate_rsa(bits: usize) -> Result<DataKeyPair, KeyPairError> {
    let mut rng = rand::rngs::OsRng;
    // `RsaPrivateKey` zeroizes its secret parts on drop.
    let key = rsa::RsaPrivateKey::new(&mut rng, bits)
        .map_err(|_| KeyPairError::Generation("RSA key generation failed"))?;
    let pkcs8 = key.to_pkcs8_der().map_err(|_| KeyPairError::Encoding)?;
    let private_key_pkcs8 = Zeroizing::new(pkcs8.as_bytes().to_vec());
    let spki = rsa::RsaPublicKey::from(&key)
        .to_public_key_der()
        .map_err(|_| KeyPairError::Encoding)?;
    Ok(DataKeyPair {
        private_key_pkcs8,
        public_key_spki: spki.as_bytes().to_vec(),
    })
}

fn ec_algorithms(
    spec: KeyPairSpec,
) -> Option<(
    &'static signature::EcdsaSigningAlgorithm,
    &'static signature::EcdsaVerificationAlgorithm,
    &'static [u8],
)> {
    match spec {
        KeyPairSpec::EccNistP256 => Some((
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P256_SHA256_ASN1,
            OID_P256,
        )),
        KeyPairSpec::EccNistP384 => Some((
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1,
            OID_P384,
        )),
        _ => None,
    }
}

fn generate_ec(spec: KeyPairSpec) -> Result<DataKeyPair, KeyPairError> {
    let (alg, _, curve) = ec_algorithms(spec).ok_or(KeyPairError::Encoding)?;
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng)
        .map_err(|_| KeyPairError::Generation("system random number generator failed"))?;
    let private_key_pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
    let pair = EcdsaKeyPair::from_pkcs8(alg, &private_key_pkcs8, &rng)
        .map_err(|_| KeyPairError::Encoding)?;
    let public_key_spki = ec_spki(curve, pair.public_key().as_ref());
    Ok(DataKeyPair {
        private_key_pkcs8,
        public_key_spki,
    })
}

/// Ed25519: a random 32-byte seed, encoded as the RFC 8410 PKCS#8 v1 `PrivateKeyInfo`
/// (`CurvePrivateKey` in an OCTET STRING); the public key from `ring`.
fn generate_ed25519() -> Result<DataKeyPair, KeyPairError> {
    let seed = Zeroizing::new(
        crate::random_bytes(32)
            .map_err(|_| KeyPairError::Generation("system random number generator failed"))?,
    );
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyPairError::Encoding)?;
    let mut alg = Vec::with_capacity(5);
    der_tlv(&mut alg, 0x06, OID_ED25519);
    let mut body = Zeroizing::new(Vec::with_capacity(46));
    der_tlv(&mut body, 0x02, &[0]); // version v1
    der_tlv(&mut body, 0x30, &alg);
    let mut curve_key = Zeroizing::new(Vec::with_capacity(34));
    der_tlv(&mut curve_key, 0x04, &seed);
    der_tlv(&mut body, 0x04, &curve_key);
    let mut private_key_pkcs8 = Zeroizing::new(Vec::with_capacity(48));
    der_tlv(&mut private_key_pkcs8, 0x30, &body);
    let mut bits = Vec::with_capacity(33);
    bits.push(0);
    bits.extend_from_slice(pair.public_key().as_ref());
    let mut spki_body = Vec::with_capacity(42);
    der_tlv(&mut spki_body, 0x30, &alg);
    der_tlv(&mut spki_body, 0x03, &bits);
    let mut public_key_spki = Vec::with_capacity(44);
    der_tlv(&mut public_key_spki, 0x30, &spki_body);
    Ok(DataKeyPair {
        private_key_pkcs8,
        public_key_spki,
    })
}

/// Append a DER length.
fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Append one DER TLV.
fn der_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    der_len(out, content.len());
    out.extend_from_slice(content);
}

/// `SubjectPublicKeyInfo { AlgorithmIdentifier { id-ecPublicKey, curve }, BIT STRING point }`
/// (RFC 5480) for an uncompressed point.
fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let mut alg = Vec::with_capacity(24);
    der_tlv(&mut alg, 0x06, OID_EC_PUBLIC_KEY);
    der_tlv(&mut alg, 0x06, curve_oid);
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(point);
    let mut body = Vec::with_capacity(alg.len() + bits.len() + 8);
    der_tlv(&mut body, 0x30, &alg);
    der_tlv(&mut body, 0x03, &bits);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(&mut out, 0x30, &body);
    out
}

/// [`ec_spki`] for the tests of other modules.
#[cfg(test)]
pub(crate) fn ec_spki_for_test(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    ec_spki(curve_oid, point)
}

/// [`parse_spki`] for the tests of other modules.
#[cfg(test)]
pub(crate) fn parse_spki_for_test(spki: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    parse_spki(spki)
}

/// A minimal DER reader: one TLV at a time.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next TLV with `tag`: its contents.
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&t, rest) = self.0.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (lb, r) = rest.split_at(n);
            rest = r;
            lb.iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        if rest.len() < len {
            return None;
        }
        let (content, r) = rest.split_at(len);
        self.0 = r;
        Some(content)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The parts of a `SubjectPublicKeyInfo`: algorithm OID, parameters (raw TLV or empty) and
/// the public key bits.
fn parse_spki(spki: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut outer = Der(spki);
    let body = outer.take(0x30)?;
    if !outer.is_empty() {
        return None;
    }
    let mut body = Der(body);
    let alg = body.take(0x30)?;
    let bits = body.take(0x03)?;
    if !body.is_empty() {
        return None;
    }
    let mut alg = Der(alg);
    let oid = alg.take(0x06)?;
    let params = alg.0;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    Some((oid, params, key))
}

/// Which spec a DER `SubjectPublicKeyInfo` is: RSA with its modulus size, or an EC key
/// on P-256 / P-384 with a well-formed uncompressed point. `None` for anything else.
pub fn spki_spec(spki: &[u8]) -> Option<KeyPairSpec> {
    let (oid, params, key) = parse_spki(spki)?;
    if oid == OID_RSA {
        if params != [0x05, 0x00] {
            return None;
        }
        let mut outer = Der(key);
        let mut seq = Der(outer.take(0x30)?);
        let n = seq.take(0x02)?;
        let e = seq.take(0x02)?;
        if !seq.is_empty() || !outer.is_empty() || e.is_empty() {
            return None;
        }
        let n = match n.split_first() {
            Some((0, rest)) => rest,
            _ => n,
        };
        let first = *n.first()?;
        let bits = n.len() * 8 - first.leading_zeros() as usize;
        return match bits {
            2048 => Some(KeyPairSpec::Rsa2048),
            3072 => Some(KeyPairSpec::Rsa3072),
            4096 => Some(KeyPairSpec::Rsa4096),
            _ => None,
        };
    }
    if oid == OID_ED25519 {
        return (params.is_empty() && key.len() == 32).then_some(KeyPairSpec::EccNistEdwards25519);
    }
    for (i, (ml_oid, len)) in OID_ML_KEM.iter().zip([800, 1184, 1568]).enumerate() {
        if oid == *ml_oid {
            let spec = [
                KeyPairSpec::MlKem512,
                KeyPairSpec::MlKem768,
                KeyPairSpec::MlKem1024,
            ]
            .get(i)
            .copied()?;
            return (params.is_empty() && key.len() == len).then_some(spec);
        }
    }
    if oid != OID_EC_PUBLIC_KEY {
        return None;
    }
    let mut p = Der(params);
    let curve = p.take(0x06)?;
    if !p.is_empty() {
        return None;
    }
    let (spec, coord) = if curve == OID_P256 {
        (KeyPairSpec::EccNistP256, 32)
    } else if curve == OID_P384 {
        (KeyPairSpec::EccNistP384, 48)
    } else if curve == OID_P521 {
        (KeyPairSpec::EccNistP521, 66)
    } else if curve == OID_K256 {
        (KeyPairSpec::EccSecgP256k1, 32)
    } else {
        return None;
    };
    (key.len() == 1 + 2 * coord && key.first() == Some(&0x04)).then_some(spec)
}

/// True if `pkcs8` (a PKCS#8 DER private key of `spec`) and `spki` (a DER
/// `SubjectPublicKeyInfo`) are the two halves of one key pair: a signature made with the
/// private key verifies under the public key (through `ring`).
pub fn pair_matches(spec: KeyPairSpec, pkcs8: &[u8], spki: &[u8]) -> bool {
    if spki_spec(spki) != Some(spec) {
        return false;
    }
    let Some((_, _, public)) = parse_spki(spki) else {
        return false;
    };
    if let Some(a) = spec.asymmetric() {
        // RustCrypto curves and ML-KEM: the public key derived from the private key is the
        // given one.
        return crate::asymmetric::PrivateKey::from_pkcs8(a, pkcs8)
            .is_ok_and(|k| k.public_key_spki() == spki);
    }
    let rng = SystemRandom::new();
    let msg = b"kmsd data key pair check";
    if spec == KeyPairSpec::EccNistEdwards25519 {
        let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) else {
            return false;
        };
        let sig = pair.sign(msg);
        return UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(msg, sig.as_ref())
            .is_ok();
    }
    match ec_algorithms(spec) {
        Some((sign_alg, verify_alg, _)) => {
            let Ok(pair) = EcdsaKeyPair::from_pkcs8(sign_alg, pkcs8, &rng) else {
                return false;
            };
            let Ok(sig) = pair.sign(&rng, msg) else {
                return false;
            };
            UnparsedPublicKey::new(verify_alg, public)
                .verify(msg, sig.as_ref())
                .is_ok()
        }
        None => {
            let Ok(pair) = RsaKeyPair::from_pkcs8(pkcs8) else {
                return false;
            };
            let mut sig = vec![0u8; pair.public().modulus_len()];
            if pair
                .sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                .is_err()
            {
                return false;
            }
            UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public)
                .verify(msg, &sig)
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
    use super::*;

    #[test]
    fn names_round_trip_and_unsupported_specs_have_none() {
        for s in KeyPairSpec::ALL {
            assert_eq!(KeyPairSpec::from_name(s.name()), Some(s));
        }
        for n in ["SM2", "ML_DSA_44", "rsa_2048", ""] {
            assert_eq!(KeyPairSpec::from_name(n), None, "{n}");
        }
    }

    #[test]
    fn ec_pairs_match_and_have_the_right_spki() {
        for (spec, len) in [
            (KeyPairSpec::EccNistP256, 91),
            (KeyPairSpec::EccNistP384, 120),
        ] {
            let a = generate(spec).unwrap();
            let b = generate(spec).unwrap();
            assert_eq!(a.public_key_spki.len(), len);
            assert_eq!(spki_spec(&a.public_key_spki), Some(spec));
            assert!(pair_matches(spec, &a.private_key_pkcs8, &a.public_key_spki));
            // Fresh keys each time; halves of different pairs do not match.
            assert_ne!(a.public_key_spki, b.public_key_spki);
            assert!(!pair_matches(
                spec,
                &a.private_key_pkcs8,
                &b.public_key_spki
            ));
        }
    }

    #[test]
    fn ed25519_pair_is_rfc8410() {
        let spec = KeyPairSpec::EccNistEdwards25519;
        let a = generate(spec).unwrap();
        let b = generate(spec).unwrap();
        // RFC 8410 section 10.3 / 4: fixed 16-byte PKCS#8 v1 and 12-byte SPKI headers.
        let pkcs8_header: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let spki_header: [u8; 12] = [
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        assert_eq!(a.private_key_pkcs8.len(), 48);
        assert_eq!(&a.private_key_pkcs8[..16], &pkcs8_header);
        assert_eq!(a.public_key_spki.len(), 44);
        assert_eq!(&a.public_key_spki[..12], &spki_header);
        assert_eq!(spki_spec(&a.public_key_spki), Some(spec));
        assert!(pair_matches(spec, &a.private_key_pkcs8, &a.public_key_spki));
        assert!(!pair_matches(
            spec,
            &a.private_key_pkcs8,
            &b.public_key_spki
        ));
        assert_ne!(a.private_key_pkcs8, b.private_key_pkcs8);
    }

    #[test]
    fn asymmetric_specs_make_matching_pairs() {
        for spec in [
            KeyPairSpec::EccNistP521,
            KeyPairSpec::EccSecgP256k1,
            KeyPairSpec::MlKem512,
            KeyPairSpec::MlKem768,
            KeyPairSpec::MlKem1024,
        ] {
            let a = generate(spec).unwrap();
            let b = generate(spec).unwrap();
            assert_eq!(spki_spec(&a.public_key_spki), Some(spec), "{spec:?}");
            assert!(pair_matches(spec, &a.private_key_pkcs8, &a.public_key_spki));
            assert!(!pair_matches(
                spec,
                &a.private_key_pkcs8,
                &b.public_key_spki
            ));
        }
    }

    #[test]
    fn known_p256_spki_header() {
        let a = generate(KeyPairSpec::EccNistP256).unwrap();
        let header: [u8; 27] = [
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ];
        assert_eq!(&a.public_key_spki[..27], &header);
    }

    #[test]
    fn rsa_2048_pair_matches() {
        let a = generate(KeyPairSpec::Rsa2048).unwrap();
        assert_eq!(spki_spec(&a.public_key_spki), Some(KeyPairSpec::Rsa2048));
        assert!(pair_matches(
            KeyPairSpec::Rsa2048,
            &a.private_key_pkcs8,
            &a.public_key_spki
        ));
        // The wrong spec, or another pair's public key, does not match.
        assert!(!pair_matches(
            KeyPairSpec::Rsa3072,
            &a.private_key_pkcs8,
            &a.public_key_spki
        ));
        let ec = generate(KeyPairSpec::EccNistP256).unwrap();
        assert!(!pair_matches(
            KeyPairSpec::Rsa2048,
            &a.private_key_pkcs8,
            &ec.public_key_spki
        ));
    }

    #[test]
    fn spki_parser_rejects_garbage() {
        let a = generate(KeyPairSpec::EccNistP256).unwrap();
        let spki = &a.public_key_spki;
        assert_eq!(spki_spec(&[]), None);
        assert_eq!(spki_spec(&spki[..spki.len() - 1]), None);
        let mut extra = spki.clone();
        extra.push(0);
        assert_eq!(spki_spec(&extra), None);
        let mut compressed = spki.clone();
        compressed[26] = 0x02;
        assert_eq!(spki_spec(&compressed), None);
        for cut in 0..spki.len() {
            let _ = spki_spec(&spki[..cut]);
        }
    }

    #[test]
    fn der_lengths() {
        let mut v = Vec::new();
        der_len(&mut v, 0x7f);
        der_len(&mut v, 0x80);
        der_len(&mut v, 0x1234);
        assert_eq!(v, [0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }
}
