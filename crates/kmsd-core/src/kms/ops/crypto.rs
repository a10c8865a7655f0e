//! The symmetric cryptographic operations (§4.4, §5): Encrypt, Decrypt, ReEncrypt,
//! GenerateDataKey(WithoutPlaintext), GenerateRandom; and the answers for operations that
//! need key types or origins this server does not create. Every operation here but
//! GenerateRandom refuses an HMAC key (`InvalidKeyUsageException`) after authorization and
//! the key-state check.
//!
//! These run under the state *read* lock: no store access, material already unwrapped.
//! Plaintext and data keys live in `Zeroizing` buffers until they are base64-encoded
//! into the response.

use std::collections::BTreeMap;

use kmsd_crypto::blob;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{add_encryption_context, base_context, key_context, Req};
use crate::kms::decode::input::{b64, Input};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::internal;
use crate::kms::model::op::{KeyIdForms, KmsOp};
use crate::kms::model::states::check_state;
use crate::kms::ops::crypto_shared::{dry_run, no_recipient, object};
use crate::kms::ops::grants::grant_tokens;
use crate::kms::Kms;

const ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

/// How ReEncrypt's `DestinationKeyId` may name its key. The row's `key_id` describes the
/// source (`SourceKeyId`); the destination is a second key with its own rule, which AWS
/// documents as the same: key id, key ARN, alias name or alias ARN, other accounts by ARN.
const DESTINATION_FORMS: KeyIdForms = KeyIdForms::Any;

/// ReEncrypt's two IAM actions from its row: on the source key and on the destination key.
fn re_encrypt_actions() -> Result<(&'static str, &'static str), ApiError> {
    match KmsOp::ReEncrypt.spec().actions {
        &[from, to] => Ok((from, to)),
        _ => Err(internal()),
    }
}

fn invalid_ciphertext() -> ApiError {
    ApiError::bare(KmsError::InvalidCiphertextException)
}

fn incorrect_key() -> ApiError {
    ApiError::new(
        KmsError::IncorrectKeyException,
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )
}

fn unknown_ciphertext_key() -> ApiError {
    ApiError::new(
        KmsError::AccessDeniedException,
        "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
    )
}

fn check_algorithm(alg: Option<&str>, arn: &str, op: &str) -> Result<(), ApiError> {
    match alg {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(a) => Err(ApiError::new(
            KmsError::InvalidKeyUsageException,
            format!(
                "Algorithm {a} is incompatible with key spec SYMMETRIC_DEFAULT for {op} on {arn}."
            ),
        )),
    }
}

fn ignore_ciphertext(i: &mut Input<'_>) -> Result<bool, ApiError> {
    let mods = i
        .str_list_opt("DryRunModifiers", 0, 64, 0, 1)?
        .unwrap_or_default();
    for m in &mods {
        if *m != "IGNORE_CIPHERTEXT" {
            i.violate(
                Some(m),
                "dryRunModifiers.member",
                "Member must satisfy enum value set: [IGNORE_CIPHERTEXT]",
            );
        }
    }
    Ok(mods.contains(&"IGNORE_CIPHERTEXT"))
}

/// Seal under the key's current material.
pub(super) fn seal(
    key: &KeyEntry,
    ec: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<(Vec<u8>, String), ApiError> {
    let info = key.rec.current().ok_or_else(internal)?;
    let m = key.material(info.version).ok_or_else(internal)?;
    let ct = blob::seal(m, &key.rec.id, info.version, ec, plaintext).map_err(|_| internal())?;
    Ok((ct, info.material_id.clone()))
}

/// Open a blob with the material version it names.
fn open(
    key: &KeyEntry,
    version: u32,
    ec: &BTreeMap<String, String>,
    ct: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, String), ApiError> {
    let m = key.material(version).ok_or_else(invalid_ciphertext)?;
    let id = key
        .rec
        .materials
        .get(
            usize::try_from(version)
                .unwrap_or(usize::MAX)
                .wrapping_sub(1),
        )
        .map(|m| m.material_id.clone())
        .ok_or_else(invalid_ciphertext)?;
    let pt = blob::open(m, ct, ec).map_err(|_| invalid_ciphertext())?;
    Ok((pt, id))
}

impl Kms {
    /// Resolve the KeyId of a Decrypt (or ReEncrypt source) as the key of `op`. A bare key id
    /// that is the id the ciphertext names is accepted even when the key is in another
    /// account: the blob identifies the key, as in AWS.
    fn resolve_source(
        &self,
        st: &crate::kms::model::state::State,
        req: &Req<'_>,
        raw: &str,
        ct: Option<&[u8]>,
        op: KmsOp,
    ) -> Result<crate::kms::authz::Resolved, ApiError> {
        if let (Some(ct), Ok(crate::kms::model::ids::KeyRef::Id(id))) =
            (ct, crate::kms::model::ids::parse_key_ref(raw))
        {
            if let Ok(h) = blob::parse_header(ct) {
                let slot = crate::kms::model::ids::slot(&id, req.region());
                if h.key_id == id && st.keys.contains_key(&slot) {
                    return Ok(crate::kms::authz::Resolved {
                        id: slot,
                        alias: None,
                    });
                }
            }
        }
        self.resolve(st, req, raw, op)
    }

    pub(crate) fn encrypt(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let pt = i.blob_opt("Plaintext", 1, 4096)?;
        if pt.is_none() {
            i.null("Plaintext");
        }
        let ec = i.map_opt("EncryptionContext")?.unwrap_or_default();
        grant_tokens(&mut i)?;
        let alg = i.enum_opt("EncryptionAlgorithm", ALGORITHMS)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        let pt = pt.ok_or_else(internal)?;
        let st = self.state.read();
        let op = KmsOp::Encrypt;
        let r = self.resolve(&st, req, key_id, op)?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        let mut ctx = key_context(req, key, r.alias.as_deref());
        add_encryption_context(&mut ctx, &ec);
        ctx.set(
            "kms:EncryptionAlgorithm",
            alg.unwrap_or("SYMMETRIC_DEFAULT"),
        );
        self.authorize(req, key, op.spec().action(), &ctx, Some(&ec))?;
        check_state(op, key.rec.state, &key.arn)?;
        if key.rec.key_spec.asymmetric().is_some() {
            return self.asym_encrypt(key, alg, &ec, &pt, dry);
        }
        key.require_usage(op)?;
        check_algorithm(alg, &key.arn, "Encrypt")?;
        if dry {
            return Err(dry_run());
        }
        let (ct, _) = seal(key, &ec, &pt)?;
        Ok(object([
            ("CiphertextBlob", b64(&ct)),
            ("KeyId", Value::String(key.arn.clone())),
            ("EncryptionAlgorithm", Value::from("SYMMETRIC_DEFAULT")),
        ]))
    }

    pub(crate) fn decrypt(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let ct = i.blob_opt("CiphertextBlob", 1, 6144)?;
        let ec = i.map_opt("EncryptionContext")?.unwrap_or_default();
        grant_tokens(&mut i)?;
        let key_id = i.str_opt("KeyId", 1, 2048)?;
        let alg = i.enum_opt("EncryptionAlgorithm", ALGORITHMS)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        let ignore_ct = ignore_ciphertext(&mut i)?;
        if ct.is_none() && !(dry && ignore_ct) {
            i.null("CiphertextBlob");
        }
        i.finish()?;
        no_recipient(&i)?;
        // DryRun with IGNORE_CIPHERTEXT: "KMS ignores the ciphertext" (it may be absent or
        // anything); the key comes from KeyId.
        let ct = if dry && ignore_ct { None } else { ct };
        let op = KmsOp::Decrypt;
        let action = op.spec().action();
        let st = self.state.read();
        let named = match key_id {
            Some(k) => Some(self.resolve_source(&st, req, k, ct.as_deref().map(|c| &c[..]), op)?),
            None => None,
        };
        // An asymmetric key named by KeyId: its ciphertext is a bare RSAES-OAEP one.
        if let Some(n) = &named {
            if let Some(key) = st
                .keys
                .get(&n.id)
                .filter(|k| k.rec.key_spec.asymmetric().is_some())
            {
                let mut ctx = key_context(req, key, n.alias.as_deref());
                add_encryption_context(&mut ctx, &ec);
                ctx.set(
                    "kms:EncryptionAlgorithm",
                    alg.unwrap_or("SYMMETRIC_DEFAULT"),
                );
                self.authorize(req, key, action, &ctx, Some(&ec))?;
                check_state(op, key.rec.state, &key.arn)?;
                return self.asym_decrypt(key, alg, &ec, ct.as_deref().map(|c| &c[..]), dry);
            }
        }
        let (key, version) = match &ct {
            Some(ct) => {
                let h = blob::parse_header(ct).map_err(|_| invalid_ciphertext())?;
                let key = st
                    .keys
                    .get(&crate::kms::model::ids::slot(&h.key_id, req.region()))
                    .filter(|k| k.rec.region == req.region())
                    .ok_or_else(unknown_ciphertext_key)?;
                if let Some(n) = &named {
                    if n.id != key.rec.slot() {
                        return Err(incorrect_key());
                    }
                }
                (key, Some(h.material_version))
            }
            None => {
                // DryRun with IGNORE_CIPHERTEXT: the key comes from KeyId.
                let Some(n) = &named else {
                    return Err(ApiError::validation(
                        "KeyId is required when the DryRun modifier IGNORE_CIPHERTEXT is set.",
                    ));
                };
                (st.keys.get(&n.id).ok_or_else(internal)?, None)
            }
        };
        let alias = named.as_ref().and_then(|n| n.alias.as_deref());
        let mut ctx = key_context(req, key, alias);
        add_encryption_context(&mut ctx, &ec);
        ctx.set(
            "kms:EncryptionAlgorithm",
            alg.unwrap_or("SYMMETRIC_DEFAULT"),
        );
        self.authorize(req, key, action, &ctx, Some(&ec))?;
        check_state(op, key.rec.state, &key.arn)?;
        key.require_usage(op)?;
        check_algorithm(alg, &key.arn, "Decrypt")?;
        if dry {
            return Err(dry_run());
        }
        let (Some(ct), Some(version)) = (&ct, version) else {
            return Err(internal());
        };
        let (pt, material_id) = open(key, version, &ec, ct)?;
        Ok(object([
            ("KeyId", Value::String(key.arn.clone())),
            ("Plaintext", b64(&pt)),
            ("EncryptionAlgorithm", Value::from("SYMMETRIC_DEFAULT")),
            ("KeyMaterialId", Value::String(material_id)),
        ]))
    }

    pub(crate) fn re_encrypt(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let ct = i.blob_opt("CiphertextBlob", 1, 6144)?;
        let src_ec = i.map_opt("SourceEncryptionContext")?.unwrap_or_default();
        let src_id = i.str_opt("SourceKeyId", 1, 2048)?;
        let dst_id = i.str_req("DestinationKeyId", 1, 2048)?;
        let dst_ec = i
            .map_opt("DestinationEncryptionContext")?
            .unwrap_or_default();
        let src_alg = i.enum_opt("SourceEncryptionAlgorithm", ALGORITHMS)?;
        let dst_alg = i.enum_opt("DestinationEncryptionAlgorithm", ALGORITHMS)?;
        grant_tokens(&mut i)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        let ignore_ct = ignore_ciphertext(&mut i)?;
        if ct.is_none() && !(dry && ignore_ct) {
            i.null("CiphertextBlob");
        }
        i.finish()?;
        // DryRun with IGNORE_CIPHERTEXT: the ciphertext is ignored; the source key comes
        // from SourceKeyId.
        let ct = if dry && ignore_ct { None } else { ct };
        let op = KmsOp::ReEncrypt;
        let (from_action, to_action) = re_encrypt_actions()?;
        let st = self.state.read();
        let named_src = match src_id {
            Some(k) => Some(self.resolve_source(&st, req, k, ct.as_deref().map(|c| &c[..]), op)?),
            None => None,
        };
        // The destination is not the key the row describes: its own forms and action.
        let dst = self.resolve_as(&st, req, dst_id, DESTINATION_FORMS, to_action)?;
        // An asymmetric source key named by SourceKeyId: the ciphertext is a bare RSAES-OAEP one.
        let src_asym = named_src
            .as_ref()
            .and_then(|n| st.keys.get(&n.id))
            .filter(|k| k.rec.key_spec.asymmetric().is_some());
        let (src, version) = match (&ct, src_asym) {
            (_, Some(k)) => (k, None),
            (ct, None) => match ct {
                Some(ct) => {
                    let h = blob::parse_header(ct).map_err(|_| invalid_ciphertext())?;
                    let src = st
                        .keys
                        .get(&crate::kms::model::ids::slot(&h.key_id, req.region()))
                        .filter(|k| k.rec.region == req.region())
                        .ok_or_else(unknown_ciphertext_key)?;
                    if let Some(n) = &named_src {
                        if n.id != src.rec.slot() {
                            return Err(incorrect_key());
                        }
                    }
                    (src, Some(h.material_version))
                }
                None => {
                    let Some(n) = &named_src else {
                        return Err(ApiError::validation(
                        "SourceKeyId is required when the DryRun modifier IGNORE_CIPHERTEXT is set.",
                    ));
                    };
                    (st.keys.get(&n.id).ok_or_else(internal)?, None)
                }
            },
        };
        let dkey = st.keys.get(&dst.id).ok_or_else(internal)?;
        let same = if src.rec.id == dkey.rec.id {
            "true"
        } else {
            "false"
        };
        let mut sctx = key_context(
            req,
            src,
            named_src.as_ref().and_then(|n| n.alias.as_deref()),
        );
        add_encryption_context(&mut sctx, &src_ec);
        sctx.set(
            "kms:EncryptionAlgorithm",
            src_alg.unwrap_or("SYMMETRIC_DEFAULT"),
        );
        sctx.set("kms:ReEncryptOnSameKey", same);
        self.authorize(req, src, from_action, &sctx, Some(&src_ec))?;
        let mut dctx = key_context(req, dkey, dst.alias.as_deref());
        add_encryption_context(&mut dctx, &dst_ec);
        dctx.set(
            "kms:EncryptionAlgorithm",
            dst_alg.unwrap_or("SYMMETRIC_DEFAULT"),
        );
        dctx.set("kms:ReEncryptOnSameKey", same);
        self.authorize(req, dkey, to_action, &dctx, Some(&dst_ec))?;
        req.audit.key_arn = Some(src.arn.clone());
        check_state(op, src.rec.state, &src.arn)?;
        check_state(op, dkey.rec.state, &dkey.arn)?;
        src.require_usage(op)?;
        dkey.require_usage(op)?;
        // RSA keys take an RSAES algorithm and no encryption context; symmetric keys
        // SYMMETRIC_DEFAULT.
        let src_rsa = match src.rec.key_spec.asymmetric() {
            Some(_) => Some(Kms::rsa_algorithm(src, src_alg, &src_ec)?),
            None => {
                check_algorithm(src_alg, &src.arn, "ReEncrypt")?;
                None
            }
        };
        let dst_rsa = match dkey.rec.key_spec.asymmetric() {
            Some(_) => Some(Kms::rsa_algorithm(dkey, dst_alg, &dst_ec)?),
            None => {
                check_algorithm(dst_alg, &dkey.arn, "ReEncrypt")?;
                None
            }
        };
        if dry {
            return Err(dry_run());
        }
        let ct = ct.as_ref().ok_or_else(internal)?;
        let (pt, src_material) = match (src_rsa, version) {
            (Some(a), _) => (Kms::rsa_decrypt_bytes(src, a, ct)?, None),
            (None, Some(version)) => {
                let (pt, m) = open(src, version, &src_ec, ct)?;
                (pt, Some(m))
            }
            (None, None) => return Err(internal()),
        };
        let (out, dst_material) = match dst_rsa {
            Some(a) => (Kms::rsa_encrypt_bytes(dkey, a, &pt)?, None),
            None => {
                let (out, m) = seal(dkey, &dst_ec, &pt)?;
                (out, Some(m))
            }
        };
        let mut res = json!({
            "CiphertextBlob": b64(&out),
            "SourceKeyId": src.arn,
            "KeyId": dkey.arn,
            "SourceEncryptionAlgorithm": src_rsa.map_or("SYMMETRIC_DEFAULT", |a| a.name()),
            "DestinationEncryptionAlgorithm": dst_rsa.map_or("SYMMETRIC_DEFAULT", |a| a.name()),
        });
        if let Value::Object(o) = &mut res {
            if let Some(m) = src_material {
                o.insert("SourceKeyMaterialId".into(), Value::String(m));
            }
            if let Some(m) = dst_material {
                o.insert("DestinationKeyMaterialId".into(), Value::String(m));
            }
        }
        Ok(res)
    }

    pub(crate) fn generate_data_key(
        &self,
        req: &mut Req<'_>,
        input: &Value,
        with_plaintext: bool,
    ) -> Result<Value, ApiError> {
        let op = if with_plaintext {
            KmsOp::GenerateDataKey
        } else {
            KmsOp::GenerateDataKeyWithoutPlaintext
        };
        let action = op.spec().action();
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let ec = i.map_opt("EncryptionContext")?.unwrap_or_default();
        let n = i.int_opt("NumberOfBytes", 1, 1024)?;
        let spec = i.enum_opt("KeySpec", &["AES_256", "AES_128"])?;
        grant_tokens(&mut i)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        if with_plaintext {
            no_recipient(&i)?;
        }
        let len = match (n, spec) {
            (Some(n), None) => usize::try_from(n).map_err(|_| internal())?,
            (None, Some("AES_128")) => 16,
            (None, Some(_)) => 32,
            _ => {
                return Err(ApiError::validation(
                    "Please specify either number of bytes or key spec.",
                ))
            }
        };
        let st = self.state.read();
        let r = self.resolve(&st, req, key_id, op)?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        let mut ctx = key_context(req, key, r.alias.as_deref());
        add_encryption_context(&mut ctx, &ec);
        ctx.set("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
        self.authorize(req, key, action, &ctx, Some(&ec))?;
        check_state(op, key.rec.state, &key.arn)?;
        key.require_usage(op)?;
        crate::kms::model::entry::refuse_asymmetric(key, op.name())?;
        if dry {
            return Err(dry_run());
        }
        let dk = Zeroizing::new(kmsd_crypto::random_bytes(len).map_err(|_| internal())?);
        let (ct, material_id) = seal(key, &ec, &dk)?;
        let mut out = object([
            ("CiphertextBlob", b64(&ct)),
            ("KeyId", Value::String(key.arn.clone())),
            ("KeyMaterialId", Value::String(material_id)),
        ]);
        if with_plaintext {
            if let Value::Object(o) = &mut out {
                o.insert("Plaintext".into(), b64(&dk));
            }
        }
        Ok(out)
    }

    pub(crate) fn generate_random(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let n = i.int_opt("NumberOfBytes", 1, 1024)?;
        let store = i.str_opt("CustomKeyStoreId", 1, 64)?;
        i.finish()?;
        let Some(n) = n else {
            return Err(ApiError::validation("NumberOfBytes is required."));
        };
        no_recipient(&i)?;
        let ctx = base_context(req);
        self.authorize_identity(req, KmsOp::GenerateRandom.spec().action(), "*", &ctx)?;
        if let Some(s) = store {
            return Err(ApiError::new(
                KmsError::CustomKeyStoreNotFoundException,
                format!("Custom key store {s} does not exist."),
            ));
        }
        let bytes = Zeroizing::new(
            kmsd_crypto::random_bytes(usize::try_from(n).map_err(|_| internal())?)
                .map_err(|_| internal())?,
        );
        Ok(json!({ "Plaintext": b64(&bytes) }))
    }
}
