//! Asymmetric KMS keys: key generation per `KeySpec`, signing and verification, RSA-OAEP
//! encryption, ECDH and ML-KEM encapsulation.
//!
//! A [`PrivateKey`] is made by [`KeySpec::generate`] or loaded from its PKCS#8 DER with
//! [`PrivateKey::from_pkcs8`]; it keeps the PKCS#8 bytes (zeroized on drop), the DER
//! `SubjectPublicKeyInfo` and the parsed key, so an operation never re-parses. The
//! algorithms and the crates behind them:
//!
//! | spec | module | crate |
//! | --- | --- | --- |
//! | RSA 2048/3072/4096 | [`rsa`](self::rsa) | `ring` (RAW signing), `rsa` (DIGEST signing, verification, OAEP) |
//! | ECC NIST P-256/P-384/P-521, SECG secp256k1 | `ecc` | RustCrypto `p256`/`p384`/`p521`/`k256` (ECDSA with RFC 6979 nonces, ECDH) |
//! | Ed25519 | `ed25519` | `ed25519-dalek` (pure Ed25519 and Ed25519ph) |
//! | ML-DSA-44/65/87 | `ml_dsa` | RustCrypto `ml-dsa` (FIPS 204, empty context, hedged signing) |
//! | ML-KEM-512/768/1024 | `ml_kem` | RustCrypto `ml-kem` (FIPS 203, seed-form private keys) |
//!
//! Message rules are AWS's: `RAW` messages are hashed here with the algorithm's hash,
//! `DIGEST` messages must be exactly the hash length, `EXTERNAL_MU` (ML-DSA only) is the
//! 64-byte μ. Errors ([`AsymError`]) never carry key bytes.

mod ecc;
mod ed25519;
mod ml_dsa;
mod ml_kem;
mod rsa;
mod wrap;

use zeroize::Zeroizing;

pub use self::rsa::max_plaintext_len;
pub use self::wrap::WRAPPED_PRIVATE_KEY_VERSION_V4;

/// An asymmetric `KeySpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccNistP256,
    EccNistP384,
    EccNistP521,
    EccSecgP256k1,
    EccNistEdwards25519,
    MlDsa44,
    MlDsa65,
    MlDsa87,
    MlKem512,
    MlKem768,
    MlKem1024,
}

/// The family of a [`KeySpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    Ecc,
    Ed25519,
    MlDsa,
    MlKem,
}

impl KeySpec {
    /// Every asymmetric spec this module makes.
    pub const ALL: [KeySpec; 14] = [
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
        KeySpec::MlDsa44,
        KeySpec::MlDsa65,
        KeySpec::MlDsa87,
        KeySpec::MlKem512,
        KeySpec::MlKem768,
        KeySpec::MlKem1024,
    ];

    /// AWS's name (`RSA_2048`, `ECC_NIST_P256`, `ML_DSA_65`, ...).
    pub fn name(self) -> &'static str {
        match self {
            KeySpec::Rsa2048 => "RSA_2048",
            KeySpec::Rsa3072 => "RSA_3072",
            KeySpec::Rsa4096 => "RSA_4096",
            KeySpec::EccNistP256 => "ECC_NIST_P256",
            KeySpec::EccNistP384 => "ECC_NIST_P384",
            KeySpec::EccNistP521 => "ECC_NIST_P521",
            KeySpec::EccSecgP256k1 => "ECC_SECG_P256K1",
            KeySpec::EccNistEdwards25519 => "ECC_NIST_EDWARDS25519",
            KeySpec::MlDsa44 => "ML_DSA_44",
            KeySpec::MlDsa65 => "ML_DSA_65",
            KeySpec::MlDsa87 => "ML_DSA_87",
            KeySpec::MlKem512 => "ML_KEM_512",
            KeySpec::MlKem768 => "ML_KEM_768",
            KeySpec::MlKem1024 => "ML_KEM_1024",
        }
    }

    /// The spec named `name`, if it is one of these.
    pub fn from_name(name: &str) -> Option<KeySpec> {
        KeySpec::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The family of the spec.
    pub fn family(self) -> Family {
        match self {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => Family::Rsa,
            KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1 => Family::Ecc,
            KeySpec::EccNistEdwards25519 => Family::Ed25519,
            KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => Family::MlDsa,
            KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => Family::MlKem,
        }
    }

    /// Modulus size of an RSA spec.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeySpec::Rsa2048 => Some(2048),
            KeySpec::Rsa3072 => Some(3072),
            KeySpec::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// The `KeyUsage` values AWS accepts for the spec in CreateKey.
    pub fn key_usages(self) -> &'static [&'static str] {
        match self {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]
            }
            KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 => {
                &["SIGN_VERIFY", "KEY_AGREEMENT"]
            }
            KeySpec::EccSecgP256k1
            | KeySpec::EccNistEdwards25519
            | KeySpec::MlDsa44
            | KeySpec::MlDsa65
            | KeySpec::MlDsa87 => &["SIGN_VERIFY"],
            KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => {
                &["ENCAPSULATE_DECAPSULATE"]
            }
        }
    }

    /// The signing algorithms of a `SIGN_VERIFY` key of this spec, in AWS's order.
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm as S;
        match self {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => &[
                S::RsassaPssSha256,
                S::RsassaPssSha384,
                S::RsassaPssSha512,
                S::RsassaPkcs1V15Sha256,
                S::RsassaPkcs1V15Sha384,
                S::RsassaPkcs1V15Sha512,
            ],
            KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => &[S::EcdsaSha256],
            KeySpec::EccNistP384 => &[S::EcdsaSha384],
            KeySpec::EccNistP521 => &[S::EcdsaSha512],
            KeySpec::EccNistEdwards25519 => &[S::Ed25519Sha512, S::Ed25519PhSha512],
            KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => &[S::MlDsaShake256],
            KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => &[],
        }
    }

    /// Generate a fresh key. RSA-3072/4096 take up to seconds: never call this while
    /// holding a lock or on an async runtime thread.
    pub fn generate(self) -> Result<PrivateKey, AsymError> {
        let pkcs8 = match self.family() {
            Family::Rsa => rsa::generate(self)?,
            Family::Ecc => ecc::generate(self)?,
            Family::Ed25519 => ed25519::generate()?,
            Family::MlDsa => ml_dsa::generate(self)?,
            Family::MlKem => ml_kem::generate(self)?,
        };
        PrivateKey::from_pkcs8(self, &pkcs8)
    }
}

/// A `SigningAlgorithmSpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    RsassaPssSha256,
    RsassaPssSha384,
    RsassaPssSha512,
    RsassaPkcs1V15Sha256,
    RsassaPkcs1V15Sha384,
    RsassaPkcs1V15Sha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    Ed25519Sha512,
    Ed25519PhSha512,
    MlDsaShake256,
}

impl SigningAlgorithm {
    /// Every algorithm this module implements.
    pub const ALL: [SigningAlgorithm; 12] = [
        SigningAlgorithm::RsassaPssSha256,
        SigningAlgorithm::RsassaPssSha384,
        SigningAlgorithm::RsassaPssSha512,
        SigningAlgorithm::RsassaPkcs1V15Sha256,
        SigningAlgorithm::RsassaPkcs1V15Sha384,
        SigningAlgorithm::RsassaPkcs1V15Sha512,
        SigningAlgorithm::EcdsaSha256,
        SigningAlgorithm::EcdsaSha384,
        SigningAlgorithm::EcdsaSha512,
        SigningAlgorithm::Ed25519Sha512,
        SigningAlgorithm::Ed25519PhSha512,
        SigningAlgorithm::MlDsaShake256,
    ];

    /// AWS's name.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::RsassaPssSha256 => "RSASSA_PSS_SHA_256",
            SigningAlgorithm::RsassaPssSha384 => "RSASSA_PSS_SHA_384",
            SigningAlgorithm::RsassaPssSha512 => "RSASSA_PSS_SHA_512",
            SigningAlgorithm::RsassaPkcs1V15Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
            SigningAlgorithm::RsassaPkcs1V15Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
            SigningAlgorithm::RsassaPkcs1V15Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
            SigningAlgorithm::EcdsaSha256 => "ECDSA_SHA_256",
            SigningAlgorithm::EcdsaSha384 => "ECDSA_SHA_384",
            SigningAlgorithm::EcdsaSha512 => "ECDSA_SHA_512",
            SigningAlgorithm::Ed25519Sha512 => "ED25519_SHA_512",
            SigningAlgorithm::Ed25519PhSha512 => "ED25519_PH_SHA_512",
            SigningAlgorithm::MlDsaShake256 => "ML_DSA_SHAKE_256",
        }
    }

    /// The algorithm named `name`, if this module implements it (`SM2DSA` is not).
    pub fn from_name(name: &str) -> Option<SigningAlgorithm> {
        SigningAlgorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The hash a `RAW` message goes through, and so the length of a `DIGEST` message.
    pub fn hash(self) -> Hash {
        match self {
            SigningAlgorithm::RsassaPssSha256
            | SigningAlgorithm::RsassaPkcs1V15Sha256
            | SigningAlgorithm::EcdsaSha256 => Hash::Sha256,
            SigningAlgorithm::RsassaPssSha384
            | SigningAlgorithm::RsassaPkcs1V15Sha384
            | SigningAlgorithm::EcdsaSha384 => Hash::Sha384,
            SigningAlgorithm::RsassaPssSha512
            | SigningAlgorithm::RsassaPkcs1V15Sha512
            | SigningAlgorithm::EcdsaSha512
            | SigningAlgorithm::Ed25519Sha512
            | SigningAlgorithm::Ed25519PhSha512 => Hash::Sha512,
            SigningAlgorithm::MlDsaShake256 => Hash::Shake256Mu,
        }
    }

    /// The message types AWS accepts with the algorithm.
    pub fn accepts(self, mt: MessageType) -> bool {
        match self {
            SigningAlgorithm::Ed25519Sha512 => mt == MessageType::Raw,
            SigningAlgorithm::Ed25519PhSha512 => mt == MessageType::Digest,
            SigningAlgorithm::MlDsaShake256 => {
                matches!(mt, MessageType::Raw | MessageType::ExternalMu)
            }
            _ => matches!(mt, MessageType::Raw | MessageType::Digest),
        }
    }
}

/// The hash behind a signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
    /// ML-DSA: the 64-byte μ (SHAKE256 of the key hash and the message).
    Shake256Mu,
}

impl Hash {
    /// Output length in bytes.
    pub fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 | Hash::Shake256Mu => 64,
        }
    }

    /// Always false (a hash has an output); here for clippy's `len_without_is_empty`.
    pub fn is_empty(self) -> bool {
        false
    }

    /// Hash `msg` (not for [`Hash::Shake256Mu`], which needs the key).
    pub(crate) fn digest(self, msg: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Hash::Sha256 => sha2::Sha256::digest(msg).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(msg).to_vec(),
            Hash::Sha512 | Hash::Shake256Mu => sha2::Sha512::digest(msg).to_vec(),
        }
    }
}

/// A `MessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Raw,
    Digest,
    ExternalMu,
}

impl MessageType {
    /// AWS's name.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Raw => "RAW",
            MessageType::Digest => "DIGEST",
            MessageType::ExternalMu => "EXTERNAL_MU",
        }
    }

    /// The message type named `name`.
    pub fn from_name(name: &str) -> Option<MessageType> {
        [
            MessageType::Raw,
            MessageType::Digest,
            MessageType::ExternalMu,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// An RSA `EncryptionAlgorithmSpec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionAlgorithm {
    RsaesOaepSha1,
    RsaesOaepSha256,
}

impl EncryptionAlgorithm {
    /// AWS's name.
    pub fn name(self) -> &'static str {
        match self {
            EncryptionAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            EncryptionAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        }
    }

    /// The algorithm named `name`.
    pub fn from_name(name: &str) -> Option<EncryptionAlgorithm> {
        [
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    /// Hash output length (OAEP overhead is `2 * len + 2`).
    pub fn hash_len(self) -> usize {
        match self {
            EncryptionAlgorithm::RsaesOaepSha1 => 20,
            EncryptionAlgorithm::RsaesOaepSha256 => 32,
        }
    }
}

/// Why an asymmetric operation failed. Never carries key bytes or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsymError {
    /// The algorithm or message type does not go with this key.
    #[error("algorithm not valid for this key")]
    Algorithm,
    /// A `DIGEST` or `EXTERNAL_MU` message of the wrong length.
    #[error("digest is invalid length for algorithm")]
    DigestLength,
    /// The signature does not verify (or is not even well-formed).
    #[error("signature is invalid")]
    InvalidSignature,
    /// An RSA ciphertext or ML-KEM ciphertext that does not decrypt.
    #[error("ciphertext is invalid")]
    InvalidCiphertext,
    /// Plaintext longer than the key and algorithm allow.
    #[error("plaintext too long")]
    PlaintextTooLong,
    /// A peer public key (ECDH) that is not a valid key of the right curve.
    #[error("public key is invalid")]
    InvalidPublicKey,
    /// Stored key bytes that do not parse as a key of the spec.
    #[error("private key encoding invalid")]
    KeyEncoding,
    /// Random number generation or key generation failed.
    #[error("key generation failed")]
    Generation,
}

/// The parsed key.
enum Inner {
    Rsa(Box<rsa::RsaKey>),
    Ecc(Box<ecc::EcKey>),
    Ed25519(Box<ed25519::EdKey>),
    MlDsa(Box<ml_dsa::MlDsaKey>),
    MlKem(Box<ml_kem::MlKemKey>),
}

/// An asymmetric private key with its public half.
pub struct PrivateKey {
    spec: KeySpec,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
    inner: Inner,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("spec", &self.spec)
            .field("pkcs8", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Parse a PKCS#8 DER private key of `spec` (as [`PrivateKey::pkcs8`] gives it).
    pub fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<PrivateKey, AsymError> {
        let (inner, spki) = match spec.family() {
            Family::Rsa => {
                let k = rsa::RsaKey::from_pkcs8(spec, pkcs8)?;
                let spki = k.spki()?;
                (Inner::Rsa(Box::new(k)), spki)
            }
            Family::Ecc => {
                let k = ecc::EcKey::from_pkcs8(spec, pkcs8)?;
                let spki = k.spki()?;
                (Inner::Ecc(Box::new(k)), spki)
            }
            Family::Ed25519 => {
                let k = ed25519::EdKey::from_pkcs8(pkcs8)?;
                let spki = k.spki();
                (Inner::Ed25519(Box::new(k)), spki)
            }
            Family::MlDsa => {
                let k = ml_dsa::MlDsaKey::from_pkcs8(spec, pkcs8)?;
                let spki = k.spki()?;
                (Inner::MlDsa(Box::new(k)), spki)
            }
            Family::MlKem => {
                let k = ml_kem::MlKemKey::from_pkcs8(spec, pkcs8)?;
                let spki = k.spki()?;
                (Inner::MlKem(Box::new(k)), spki)
            }
        };
        Ok(PrivateKey {
            spec,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
            spki,
            inner,
        })
    }

    /// The key spec.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// PKCS#8 DER of the private key (for wrapping under the root key; never log it).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// DER `SubjectPublicKeyInfo` of the public key.
    pub fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    /// Check algorithm and message type against the key and the message length against
    /// AWS's rules; the message as the algorithm consumes it.
    fn check(&self, alg: SigningAlgorithm, mt: MessageType, msg: &[u8]) -> Result<(), AsymError> {
        if !self.spec.signing_algorithms().contains(&alg) || !alg.accepts(mt) {
            return Err(AsymError::Algorithm);
        }
        if mt != MessageType::Raw && msg.len() != alg.hash().len() {
            return Err(AsymError::DigestLength);
        }
        Ok(())
    }

    /// Sign `msg` (a `RAW` message, a `DIGEST` or an ML-DSA `EXTERNAL_MU`).
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        msg: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        self.check(alg, mt, msg)?;
        match &self.inner {
            Inner::Rsa(k) => k.sign(alg, mt, msg),
            Inner::Ecc(k) => {
                let digest = match mt {
                    MessageType::Raw => alg.hash().digest(msg),
                    _ => msg.to_vec(),
                };
                k.sign_digest(&digest)
            }
            Inner::Ed25519(k) => k.sign(mt, msg),
            Inner::MlDsa(k) => k.sign(mt, msg),
            Inner::MlKem(_) => Err(AsymError::Algorithm),
        }
    }

    /// Verify `signature` over `msg`: `Ok(())` if valid, [`AsymError::InvalidSignature`]
    /// if not.
    pub fn verify(
        &self,
        alg: SigningAlgorithm,
        mt: MessageType,
        msg: &[u8],
        signature: &[u8],
    ) -> Result<(), AsymError> {
        self.check(alg, mt, msg)?;
        let ok = match &self.inner {
            Inner::Rsa(k) => k.verify(alg, mt, msg, signature),
            Inner::Ecc(k) => {
                let digest = match mt {
                    MessageType::Raw => alg.hash().digest(msg),
                    _ => msg.to_vec(),
                };
                k.verify_digest(&digest, signature)
            }
            Inner::Ed25519(k) => k.verify(mt, msg, signature),
            Inner::MlDsa(k) => k.verify(mt, msg, signature),
            Inner::MlKem(_) => return Err(AsymError::Algorithm),
        };
        if ok {
            Ok(())
        } else {
            Err(AsymError::InvalidSignature)
        }
    }

    /// RSA-OAEP encryption with the public key.
    pub fn encrypt(
        &self,
        alg: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, AsymError> {
        match &self.inner {
            Inner::Rsa(k) => k.encrypt(alg, plaintext),
            _ => Err(AsymError::Algorithm),
        }
    }

    /// RSA-OAEP decryption (blinded).
    pub fn decrypt(
        &self,
        alg: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        match &self.inner {
            Inner::Rsa(k) => k.decrypt(alg, ciphertext),
            _ => Err(AsymError::Algorithm),
        }
    }

    /// ECDH with a peer's DER `SubjectPublicKeyInfo` on the same curve: the raw shared
    /// secret (the x-coordinate of the shared point, no KDF), as AWS returns it.
    pub fn derive_shared_secret(&self, peer_spki: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        match &self.inner {
            Inner::Ecc(k) => k.ecdh(peer_spki),
            _ => Err(AsymError::Algorithm),
        }
    }

    /// ML-KEM encapsulation to this key: (ciphertext, shared secret).
    pub fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), AsymError> {
        match &self.inner {
            Inner::MlKem(k) => Ok(k.encapsulate()),
            _ => Err(AsymError::Algorithm),
        }
    }

    /// ML-KEM decapsulation: the shared secret (implicit rejection: a tampered ciphertext
    /// of the right length gives an unrelated secret, as FIPS 203 specifies).
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, AsymError> {
        match &self.inner {
            Inner::MlKem(k) => k.decapsulate(ciphertext),
            _ => Err(AsymError::Algorithm),
        }
    }
}

/// Fill `n` bytes from the system CSPRNG into a zeroizing buffer.
fn seed(n: usize) -> Result<Zeroizing<Vec<u8>>, AsymError> {
    crate::random_bytes(n)
        .map(Zeroizing::new)
        .map_err(|_| AsymError::Generation)
}

#[cfg(test)]
mod tests;
