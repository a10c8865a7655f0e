//! The operations of asymmetric KMS keys: GetPublicKey, Sign, Verify, RSA Encrypt/Decrypt
//! (entered from `ops::crypto` when the key is asymmetric), DeriveSharedSecret, Encapsulate
//! and Decapsulate, and the algorithm lists of `KeyMetadata`.
//!
//! Order of checks, as for every cryptographic operation: input validation → key
//! resolution → authorization (`kms:<Op>` with `kms:SigningAlgorithm`, `kms:MessageType`,
//! `kms:EncryptionAlgorithm` or `kms:KeyAgreementAlgorithm`; `kms:KeySpec` and
//! `kms:KeyUsage` come with every key) → key state → key usage
//! (`InvalidKeyUsageException`) → the algorithm must be one of the key spec's
//! (`InvalidKeyUsageException`) → message rules (`ValidationException`) → DryRun → the
//! operation. The private key is already unwrapped in memory; these run under the state
//! read lock. Messages, signatures, plaintexts and shared secrets never reach the audit
//! record (`api::sanitize`, and these are cryptographic operations whose responses are not
//! copied).

use std::collections::BTreeMap;

use kmsd_crypto::asymmetric::{
    max_plaintext_len, AsymError, EncryptionAlgorithm, KeySpec as Asym, MessageType,
    SigningAlgorithm,
};
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::Req;
use crate::kms::decode::input::{b64, Input};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::internal;
use crate::kms::model::key::algorithm_fields;
use crate::kms::model::op::KmsOp;
use crate::kms::ops::crypto_shared::{dry_run, no_recipient, object};
use crate::kms::ops::grants::grant_tokens;
use crate::kms::Kms;

/// The model's `SigningAlgorithmSpec` values.
const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];

/// The model's `MessageType` values.
const MESSAGE_TYPES: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];

/// The model's `KeyAgreementAlgorithmSpec` values.
const KEY_AGREEMENT_ALGORITHMS: &[&str] = &["ECDH"];

/// The model's `EncapsulationAlgorithmSpec` values.
const ENCAPSULATION_ALGORITHMS: &[&str] = &["ML_KEM"];

/// Longest `Message` (bytes).
const MAX_MESSAGE: usize = 4096;
/// Longest `Signature` / ciphertext (bytes), as the model allows.
const MAX_CIPHERTEXT: usize = 6144;
/// Longest ECDH `PublicKey` (bytes), as the model allows.
const MAX_PUBLIC_KEY: usize = 8192;

/// `InvalidKeyUsageException` for an algorithm the key spec does not support.
fn incompatible(alg: &str, spec: &str) -> ApiError {
    ApiError::new(
        KmsError::InvalidKeyUsageException,
        format!("Algorithm {alg} is incompatible with key spec {spec}."),
    )
}

/// A required enum member: validated by `Input`, reported as missing when absent.
fn required_enum<'a>(
    i: &mut Input<'a>,
    name: &str,
    allowed: &[&'static str],
) -> Result<Option<&'a str>, ApiError> {
    let v = i.enum_opt(name, allowed)?;
    if v.is_none() {
        i.null(name);
    }
    Ok(v)
}

/// A required blob member.
fn required_blob(
    i: &mut Input<'_>,
    name: &str,
    max: usize,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, ApiError> {
    let v = i.blob_opt(name, 1, max)?;
    if v.is_none() {
        i.null(name);
    }
    Ok(v)
}

impl Kms {
    /// The asymmetric key of `key`, or `wrong` (the operation's error for other keys).
    fn private_key(
        key: &KeyEntry,
        wrong: impl FnOnce() -> ApiError,
    ) -> Result<&kmsd_crypto::asymmetric::PrivateKey, ApiError> {
        key.asym.as_deref().ok_or_else(wrong)
    }

    pub(crate) fn get_public_key(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        grant_tokens(&mut i)?;
        i.finish()?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::GetPublicKey, |_| {})?;
        let spec = key.rec.key_spec;
        let (Some(a), Some(pk)) = (spec.asymmetric(), key.asym.as_deref()) else {
            return Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!(
                    "{} key spec is {} which is not valid for GetPublicKey.",
                    key.arn,
                    spec.as_str()
                ),
            ));
        };
        let mut out = json!({
            "KeyId": key.arn,
            "PublicKey": b64(pk.public_key_spki()),
            "CustomerMasterKeySpec": spec.as_str(),
            "KeySpec": spec.as_str(),
            "KeyUsage": key.rec.key_usage.as_str(),
        });
        if let Value::Object(o) = &mut out {
            for (k, v) in algorithm_fields(a, key.rec.key_usage) {
                o.insert(k.into(), v);
            }
        }
        Ok(out)
    }

    pub(crate) fn sign(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        self.sign_or_verify(req, input, false)
    }

    pub(crate) fn verify(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        self.sign_or_verify(req, input, true)
    }

    fn sign_or_verify(
        &self,
        req: &mut Req<'_>,
        input: &Value,
        verify: bool,
    ) -> Result<Value, ApiError> {
        let op = if verify { KmsOp::Verify } else { KmsOp::Sign };
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let message = required_blob(&mut i, "Message", MAX_MESSAGE)?;
        let mt_name = i.enum_opt("MessageType", MESSAGE_TYPES)?.unwrap_or("RAW");
        let signature = if verify {
            required_blob(&mut i, "Signature", MAX_CIPHERTEXT)?
        } else {
            None
        };
        grant_tokens(&mut i)?;
        let alg_name = required_enum(&mut i, "SigningAlgorithm", SIGNING_ALGORITHMS)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        let (Some(message), Some(alg_name)) = (message, alg_name) else {
            return Err(internal());
        };
        let mt = MessageType::from_name(mt_name).ok_or_else(internal)?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, op, |ctx| {
            ctx.set("kms:SigningAlgorithm", alg_name);
            ctx.set("kms:MessageType", mt_name);
        })?;
        key.require_usage(op)?;
        let spec = key.rec.key_spec.as_str();
        let pk = Self::private_key(key, internal)?;
        let alg = SigningAlgorithm::from_name(alg_name)
            .filter(|a| pk.spec().signing_algorithms().contains(a))
            .ok_or_else(|| incompatible(alg_name, spec))?;
        if !alg.accepts(mt) {
            return Err(ApiError::validation(format!(
                "MessageType {mt_name} is not supported with signing algorithm {alg_name}."
            )));
        }
        if mt != MessageType::Raw && message.len() != alg.hash().len() {
            return Err(ApiError::validation(format!(
                "Digest is invalid length for algorithm {alg_name}."
            )));
        }
        let map = |e: AsymError| match e {
            AsymError::InvalidSignature => ApiError::bare(KmsError::KMSInvalidSignatureException),
            AsymError::DigestLength => ApiError::validation(format!(
                "Digest is invalid length for algorithm {alg_name}."
            )),
            AsymError::Algorithm => incompatible(alg_name, spec),
            _ => internal(),
        };
        match signature {
            Some(sig) => {
                // A bad signature fails even under DryRun: the request would not succeed.
                pk.verify(alg, mt, &message, &sig).map_err(map)?;
                if dry {
                    return Err(dry_run());
                }
                Ok(object([
                    ("KeyId", Value::String(key.arn.clone())),
                    ("SignatureValid", Value::Bool(true)),
                    ("SigningAlgorithm", Value::from(alg_name)),
                ]))
            }
            None => {
                if dry {
                    return Err(dry_run());
                }
                let sig = pk.sign(alg, mt, &message).map_err(map)?;
                Ok(object([
                    ("KeyId", Value::String(key.arn.clone())),
                    ("Signature", b64(&sig)),
                    ("SigningAlgorithm", Value::from(alg_name)),
                ]))
            }
        }
    }

    /// RSA checks shared by Encrypt and Decrypt: no encryption context, an RSAES algorithm
    /// of the key.
    pub(crate) fn rsa_algorithm(
        key: &KeyEntry,
        alg: Option<&str>,
        ec: &BTreeMap<String, String>,
    ) -> Result<EncryptionAlgorithm, ApiError> {
        let spec = key.rec.key_spec.as_str();
        let alg_name = alg.unwrap_or("SYMMETRIC_DEFAULT");
        let alg = EncryptionAlgorithm::from_name(alg_name)
            .filter(|_| {
                key.rec
                    .key_spec
                    .asymmetric()
                    .and_then(Asym::rsa_bits)
                    .is_some()
            })
            .ok_or_else(|| incompatible(alg_name, spec))?;
        if !ec.is_empty() {
            return Err(ApiError::validation(
                "EncryptionContext is not supported with asymmetric KMS keys.",
            ));
        }
        Ok(alg)
    }

    /// Encrypt with an RSA `ENCRYPT_DECRYPT` key (called by `encrypt` after authorization
    /// and the key-state check).
    pub(crate) fn asym_encrypt(
        &self,
        key: &KeyEntry,
        alg: Option<&str>,
        ec: &BTreeMap<String, String>,
        plaintext: &[u8],
        dry: bool,
    ) -> Result<Value, ApiError> {
        key.require_usage(KmsOp::Encrypt)?;
        let a = Self::rsa_algorithm(key, alg, ec)?;
        Self::rsa_limit(key, a, plaintext.len())?;
        if dry {
            return Err(dry_run());
        }
        let ct = Self::rsa_encrypt_bytes(key, a, plaintext)?;
        Ok(object([
            ("CiphertextBlob", b64(&ct)),
            ("KeyId", Value::String(key.arn.clone())),
            ("EncryptionAlgorithm", Value::from(a.name())),
        ]))
    }

    /// AWS's plaintext limit for RSAES-OAEP with the key's size: `ValidationException`.
    fn rsa_limit(key: &KeyEntry, a: EncryptionAlgorithm, len: usize) -> Result<(), ApiError> {
        let pk = Self::private_key(key, internal)?;
        let bits = pk.spec().rsa_bits().ok_or_else(internal)?;
        let max = max_plaintext_len(bits, a);
        if len > max {
            return Err(ApiError::validation(format!(
                "Plaintext must be at most {max} bytes for {} with key spec {}.",
                a.name(),
                key.rec.key_spec.as_str()
            )));
        }
        Ok(())
    }

    /// RSAES-OAEP encryption under an RSA key (limit checked).
    pub(crate) fn rsa_encrypt_bytes(
        key: &KeyEntry,
        a: EncryptionAlgorithm,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ApiError> {
        Self::rsa_limit(key, a, plaintext.len())?;
        let pk = Self::private_key(key, internal)?;
        pk.encrypt(a, plaintext).map_err(|_| internal())
    }

    /// RSAES-OAEP decryption; any failure is `InvalidCiphertextException`.
    pub(crate) fn rsa_decrypt_bytes(
        key: &KeyEntry,
        a: EncryptionAlgorithm,
        ct: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ApiError> {
        let pk = Self::private_key(key, internal)?;
        pk.decrypt(a, ct)
            .map_err(|_| ApiError::bare(KmsError::InvalidCiphertextException))
    }

    /// Decrypt with an RSA `ENCRYPT_DECRYPT` key (called by `decrypt` after authorization
    /// and the key-state check). `ct` is `None` only under DryRun with IGNORE_CIPHERTEXT.
    pub(crate) fn asym_decrypt(
        &self,
        key: &KeyEntry,
        alg: Option<&str>,
        ec: &BTreeMap<String, String>,
        ct: Option<&[u8]>,
        dry: bool,
    ) -> Result<Value, ApiError> {
        key.require_usage(KmsOp::Decrypt)?;
        let a = Self::rsa_algorithm(key, alg, ec)?;
        if dry {
            return Err(dry_run());
        }
        let ct = ct.ok_or_else(internal)?;
        let pt = Self::rsa_decrypt_bytes(key, a, ct)?;
        Ok(object([
            ("KeyId", Value::String(key.arn.clone())),
            ("Plaintext", b64(&pt)),
            ("EncryptionAlgorithm", Value::from(a.name())),
        ]))
    }

    pub(crate) fn derive_shared_secret(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let alg = required_enum(&mut i, "KeyAgreementAlgorithm", KEY_AGREEMENT_ALGORITHMS)?;
        let peer = required_blob(&mut i, "PublicKey", MAX_PUBLIC_KEY)?;
        grant_tokens(&mut i)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        no_recipient(&i)?;
        let (Some(alg), Some(peer)) = (alg, peer) else {
            return Err(internal());
        };
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::DeriveSharedSecret, |ctx| {
            ctx.set("kms:KeyAgreementAlgorithm", alg)
        })?;
        key.require_usage(KmsOp::DeriveSharedSecret)?;
        let pk = Self::private_key(key, internal)?;
        if dry {
            return Err(dry_run());
        }
        let secret = pk.derive_shared_secret(&peer).map_err(|e| match e {
            AsymError::InvalidPublicKey => ApiError::validation(format!(
                "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a point on the curve of key spec {}.",
                key.rec.key_spec.as_str()
            )),
            _ => internal(),
        })?;
        Ok(object([
            ("KeyId", Value::String(key.arn.clone())),
            ("SharedSecret", b64(&secret)),
            ("KeyAgreementAlgorithm", Value::from(alg)),
            ("KeyOrigin", Value::from("AWS_KMS")),
        ]))
    }

    pub(crate) fn encapsulate(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        self.kem_op(req, input, false)
    }

    pub(crate) fn decapsulate(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        self.kem_op(req, input, true)
    }

    fn kem_op(&self, req: &mut Req<'_>, input: &Value, decap: bool) -> Result<Value, ApiError> {
        let op = if decap {
            KmsOp::Decapsulate
        } else {
            KmsOp::Encapsulate
        };
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let ct = if decap {
            required_blob(&mut i, "SharedSecretCiphertextBlob", MAX_CIPHERTEXT)?
        } else {
            None
        };
        let alg = required_enum(&mut i, "EncapsulationAlgorithm", ENCAPSULATION_ALGORITHMS)?;
        grant_tokens(&mut i)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        let alg = alg.ok_or_else(internal)?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, op, |_| {})?;
        key.require_usage(op)?;
        let pk = Self::private_key(key, internal)?;
        if dry {
            return Err(dry_run());
        }
        if let Some(ct) = ct {
            let ss = pk
                .decapsulate(&ct)
                .map_err(|_| ApiError::bare(KmsError::InvalidCiphertextException))?;
            return Ok(object([
                ("KeyId", Value::String(key.arn.clone())),
                ("SharedSecret", b64(&ss)),
                ("EncapsulationAlgorithm", Value::from(alg)),
            ]));
        }
        let (ct, ss) = pk.encapsulate().map_err(|_| internal())?;
        Ok(object([
            ("KeyId", Value::String(key.arn.clone())),
            ("SharedSecret", b64(&ss)),
            ("SharedSecretCiphertextBlob", b64(&ct)),
            ("EncapsulationAlgorithm", Value::from(alg)),
        ]))
    }
}
