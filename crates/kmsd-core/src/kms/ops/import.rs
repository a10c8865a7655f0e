//! Imported key material (keys of origin `EXTERNAL`): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, the expiry of imported material at its
//! `ValidTo` (run from `maintain`, driven by the injected clock), and the persisted import
//! parameters.
//!
//! Import parameters (table `kms_import`, `<key id>#<token id>` → [`ImportParams`]): each
//! GetParametersForImport makes an RSA wrapping key pair, valid 24 hours; its private key is
//! stored only wrapped under the root key (format v3 of `kmsd_crypto::import`, AAD binding
//! key id and token id). The import token names the key and the parameters; it carries no
//! secret (a token id is 128 random bits). Expired parameters are dropped by the next
//! GetParametersForImport on the key and with the key.
//!
//! Material identity: `KeyMaterialId` = SHA-256 over a label, the key id and the material, so
//! reimporting the same material into the same key finds the same material version (old
//! ciphertexts decrypt again), and any other material is `IncorrectKeyMaterialException`.
//! A deleted or expired material keeps its version record (without its bytes); the key is
//! `PendingImport` while any material that is not pending rotation is absent.
//!
//! Imported asymmetric keys (RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1; see
//! [`importable`](crate::kms::model::key::importable)): the material is the private key as PKCS#8 DER (AWS KMS Developer Guide,
//! *Requirements for imported key material*); KMS derives the public key from it. An RSA
//! private key, longer than RSA-OAEP can carry, must be wrapped with `RSA_AES_KEY_WRAP_SHA_*`,
//! and ECC_NIST_P521 material cannot be wrapped with `RSAES_OAEP_*` under an RSA_2048 wrapping
//! key: GetParametersForImport refuses those combinations for such keys. The material identity
//! of an asymmetric key is its public key (`SubjectPublicKeyInfo`), so the same key pair in
//! another PKCS#8 encoding is the same material, and any other key pair (or a key of another
//! size or curve) is `IncorrectKeyMaterialException`.
//!
//! Multiple key materials (symmetric keys): `ImportType` `NEW_KEY_MATERIAL` after the first
//! material imports a version `PENDING_ROTATION`; RotateKeyOnDemand makes it current (see
//! `rotation`).

use std::sync::Arc;

use base64::Engine as _;
use kmsd_crypto::asymmetric::{Family, KeySpec as Asym, PrivateKey};
use kmsd_crypto::import::{WrappingAlgorithm, WrappingKey, WrappingKeySpec};
use kmsd_crypto::{KeyMaterial, MacKey};
use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{Req, Resolved};
use crate::kms::decode::input::{b64, Input};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::{hex, internal};
use crate::kms::model::imports::ImportParams;
use crate::kms::model::key::{
    ExpirationModel, ImportedMaterial, KeyState, MaterialInfo, MaterialOrigin, Origin,
};
use crate::kms::model::op::KmsOp;
use crate::kms::model::state::State;
use crate::kms::model::ts::ts;
use crate::kms::persist::imports::{delete_params, params_aad, put_params};
use crate::kms::{persist, Kms};

const DAY_MS: i64 = 86_400_000;
/// Import parameters are valid for 24 hours.
const PARAMS_VALID_MS: i64 = DAY_MS;
/// `ValidTo` may be at most 365 days after the request.
const MAX_VALID_TO_MS: i64 = 365 * DAY_MS;
/// Import parameters kept per key (the oldest are dropped beyond this).
const MAX_PARAMS_PER_KEY: usize = 10;

const TOKEN_MAGIC: &[u8; 4] = b"KMIT";
const TOKEN_VERSION: u8 = 1;
const TOKEN_ID_LEN: usize = 16;

const ALGORITHM_SPECS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];
const IMPORT_TYPES: &[&str] = &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"];

fn token_bytes(p: &ImportParams, token_raw: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(4 + 1 + TOKEN_ID_LEN + 8 + p.key_id.len());
    t.extend_from_slice(TOKEN_MAGIC);
    t.push(TOKEN_VERSION);
    t.extend_from_slice(token_raw);
    t.extend_from_slice(&p.valid_to_millis.to_be_bytes());
    t.extend_from_slice(p.key_id.as_bytes());
    t
}

/// A parsed import token: (token id hex, valid-to millis, key id).
fn parse_token(t: &[u8]) -> Option<(String, i64, String)> {
    let rest = t.strip_prefix(TOKEN_MAGIC.as_slice())?;
    let (&ver, rest) = rest.split_first()?;
    if ver != TOKEN_VERSION {
        return None;
    }
    let id = rest.get(..TOKEN_ID_LEN)?;
    let when: [u8; 8] = rest.get(TOKEN_ID_LEN..TOKEN_ID_LEN + 8)?.try_into().ok()?;
    let key = std::str::from_utf8(rest.get(TOKEN_ID_LEN + 8..)?).ok()?;
    Some((hex(id), i64::from_be_bytes(when), key.to_string()))
}

fn invalid_token() -> ApiError {
    ApiError::new(
        KmsError::InvalidImportTokenException,
        "The import token is invalid or was not issued for this KMS key.",
    )
}

fn expired_token() -> ApiError {
    ApiError::new(KmsError::ExpiredImportTokenException,
        "The import token has expired. Call GetParametersForImport for a new public key and import token.",
    )
}

fn incorrect_material(msg: &str) -> ApiError {
    ApiError::new(KmsError::IncorrectKeyMaterialException, msg)
}

/// `KeyMaterialId` of imported material: derived from the key id and the material.
fn imported_material_id(key_id: &str, material: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"kmsd-imported-key-material\0");
    h.update(
        u32::try_from(key_id.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    h.update(key_id.as_bytes());
    h.update(material);
    hex(&h.finalize())
}

/// Epoch milliseconds of a timestamp member (awsJson: epoch seconds, possibly fractional).
fn timestamp_opt(i: &mut Input<'_>, name: &str) -> Result<Option<i64>, ApiError> {
    match i.value(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.is_finite() && f.abs() < 1.0e12 =>
            {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "bounded above: |f| < 1e12 seconds, so f * 1000 fits an i64"
                )]
                Ok(Some((f * 1000.0).round() as i64))
            }
            _ => Err(ApiError::new(
                KmsError::SerializationException,
                format!("Invalid timestamp in field {name}"),
            )),
        },
        Some(_) => Err(ApiError::new(
            KmsError::SerializationException,
            format!("Invalid timestamp in field {name}"),
        )),
    }
}

/// True when every material of the key that is not pending rotation is held.
fn all_present(rec: &crate::kms::model::key::KeyRecord) -> bool {
    !rec.materials.is_empty()
        && rec
            .materials
            .iter()
            .filter(|m| !m.pending_rotation())
            .all(|m| m.import.as_ref().is_none_or(|i| i.present))
}

/// The imported bytes, checked against the key's spec.
enum Imported {
    Aes(KeyMaterial),
    Mac(MacKey),
    Asym(PrivateKey),
}

/// GetParametersForImport's refusal of a wrapping algorithm and wrapping key spec that cannot
/// carry the private key of an asymmetric key of spec `a`.
fn check_wrapping_for(
    a: Asym,
    alg: WrappingAlgorithm,
    spec: WrappingKeySpec,
) -> Result<(), ApiError> {
    if alg.is_key_wrap() {
        return Ok(());
    }
    if a.family() == Family::Rsa {
        return Err(ApiError::validation(format!(
            "The {} wrapping algorithm cannot wrap RSA private key material. Use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.",
            alg.name()
        )));
    }
    if a == Asym::EccNistP521 && spec == WrappingKeySpec::Rsa2048 {
        return Err(ApiError::validation(format!(
            "The {} wrapping algorithm with the RSA_2048 wrapping key spec cannot wrap ECC_NIST_P521 key material. Use a larger wrapping key spec or an RSA_AES_KEY_WRAP_SHA_* wrapping algorithm.",
            alg.name()
        )));
    }
    Ok(())
}

impl Kms {
    /// Resolve, authorize `action` with `extra` context, refuse keys that are not `EXTERNAL`
    /// (after authorization, as AWS does), then check the key state for `op`.
    fn import_gate<'s>(
        &self,
        st: &'s State,
        req: &mut Req<'_>,
        raw: &str,
        op: KmsOp,
        extra: impl FnOnce(&mut kmsd_policy::RequestContext),
    ) -> Result<(Resolved, &'s KeyEntry), ApiError> {
        self.gate_checked(st, req, raw, op, extra, |key| {
            if key.rec.origin != Origin::External {
                return Err(ApiError::new(
                    KmsError::UnsupportedOperationException,
                    format!(
                        "{} origin is {} which is not valid for this operation.",
                        key.arn,
                        key.rec.origin.as_str()
                    ),
                ));
            }
            Ok(())
        })
    }

    pub(crate) fn get_parameters_for_import(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let alg = i.enum_opt("WrappingAlgorithm", ALGORITHM_SPECS)?;
        let spec = i.enum_opt("WrappingKeySpec", WRAPPING_KEY_SPECS)?;
        if alg.is_none() {
            i.null("WrappingAlgorithm");
        }
        if spec.is_none() {
            i.null("WrappingKeySpec");
        }
        i.finish()?;
        let (Some(alg_name), Some(spec_name)) = (alg, spec) else {
            return Err(internal());
        };
        let set = |c: &mut kmsd_policy::RequestContext| {
            c.set("kms:WrappingAlgorithm", alg_name);
            c.set("kms:WrappingKeySpec", spec_name);
        };
        let key_spec = {
            let st = self.state.read();
            let (_, key) =
                self.import_gate(&st, req, key_id, KmsOp::GetParametersForImport, set)?;
            key.rec.key_spec
        };
        let (alg, spec) = match (
            WrappingAlgorithm::from_name(alg_name),
            WrappingKeySpec::from_name(spec_name),
        ) {
            (Some(a), Some(s)) => (a, s),
            _ if alg_name == "RSAES_PKCS1_V1_5" => {
                return Err(ApiError::new(KmsError::UnsupportedOperationException,
                    "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.",
                ))
            }
            _ if alg_name == "SM2PKE" || spec_name == "SM2" => {
                return Err(ApiError::new(KmsError::UnsupportedOperationException,
                    "The SM2PKE wrapping algorithm and the SM2 wrapping key spec are supported only in China Regions.",
                ))
            }
            _ => return Err(internal()),
        };
        if let Some(a) = key_spec.asymmetric() {
            check_wrapping_for(a, alg, spec)?;
        }
        // RSA generation (up to seconds for 4096 bits) runs before any lock is taken.
        let wrapping = WrappingKey::generate(spec).map_err(|_| internal())?;
        let public = wrapping.public_key_der().map_err(|_| internal())?;
        let token_raw = kmsd_crypto::random_bytes(TOKEN_ID_LEN).map_err(|_| internal())?;
        let token_id = hex(&token_raw);
        let now = self.now();
        let st = self.state.upgradable_read();
        // Authorized and checked again: the key may have changed during the generation.
        let (r, key) = self.import_gate(&st, req, key_id, KmsOp::GetParametersForImport, set)?;
        let arn = key.arn.clone();
        let sealed = wrapping
            .seal(&self.root_key, &params_aad(&r.id, &token_id))
            .map_err(|_| internal())?;
        let params = ImportParams {
            key_id: r.id.clone(),
            token_id,
            algorithm: alg.name().to_string(),
            wrapping_key_spec: spec.name().to_string(),
            valid_to_millis: now + PARAMS_VALID_MS,
            wrapped_private_key: base64::engine::general_purpose::STANDARD.encode(sealed),
        };
        // Drop expired parameters and the oldest beyond the per-key bound.
        let mut kept: Vec<ImportParams> = st.imports.get(&r.id).cloned().unwrap_or_default();
        let mut muts = vec![put_params(&params)?];
        kept.retain(|p| {
            let keep = p.valid_to_millis > now;
            if !keep {
                muts.push(delete_params(p));
            }
            keep
        });
        while kept.len() >= MAX_PARAMS_PER_KEY {
            let old = kept.remove(0);
            muts.push(delete_params(&old));
        }
        self.commit(&muts)?;
        let token = token_bytes(&params, &token_raw);
        let valid_to = params.valid_to_millis;
        kept.push(params);
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.imports.insert(r.id, kept);
        Ok(json!({
            "KeyId": arn,
            "ImportToken": b64(&token),
            "PublicKey": b64(&public),
            "ParametersValidTo": ts(valid_to),
        }))
    }

    pub(crate) fn import_key_material(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let token = i.blob_opt("ImportToken", 1, 6144)?;
        let wrapped = i.blob_opt("EncryptedKeyMaterial", 1, 6144)?;
        if token.is_none() {
            i.null("ImportToken");
        }
        if wrapped.is_none() {
            i.null("EncryptedKeyMaterial");
        }
        let valid_to = timestamp_opt(&mut i, "ValidTo")?;
        let model = i.enum_opt("ExpirationModel", EXPIRATION_MODELS)?;
        let import_type = i.enum_opt("ImportType", IMPORT_TYPES)?;
        let description = i.str_opt("KeyMaterialDescription", 0, 256)?;
        if let Some(d) = description {
            let ok = !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || ":/_.-".contains(c));
            i.pattern_check(
                "KeyMaterialDescription",
                Some(d),
                ok,
                "^[a-zA-Z0-9:/_\\s.-]+$",
            );
        }
        let material_id = i.str_opt("KeyMaterialId", 64, 64)?;
        if let Some(m) = material_id {
            let ok = m
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            i.pattern_check("KeyMaterialId", Some(m), ok, "^[a-f0-9]+$");
        }
        i.finish()?;
        let (Some(token), Some(wrapped)) = (token, wrapped) else {
            return Err(internal());
        };
        // The API reference: the default model is KEY_MATERIAL_EXPIRES, which needs ValidTo;
        // KEY_MATERIAL_DOES_NOT_EXPIRE must not have one.
        let model = match (model, valid_to) {
            (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), None) => ExpirationModel::DoesNotExpire,
            (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => {
                return Err(ApiError::validation(
                    "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.",
                ))
            }
            (_, None) => {
                return Err(ApiError::validation(
                    "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.",
                ))
            }
            (_, Some(_)) => ExpirationModel::Expires,
        };
        if import_type == Some("NEW_KEY_MATERIAL") && material_id.is_some() {
            return Err(ApiError::validation(
                "You cannot specify a KeyMaterialId when ImportType is NEW_KEY_MATERIAL.",
            ));
        }
        let now = self.now();
        if let Some(v) = valid_to {
            if v <= now {
                return Err(ApiError::validation(
                    "ValidTo must be a future date and time.",
                ));
            }
            if v > now + MAX_VALID_TO_MS {
                return Err(ApiError::validation(
                    "ValidTo must be at most 365 days from the request date.",
                ));
            }
        }
        let valid_to_text = valid_to.map(|v| (v / 1000).to_string());
        let st = self.state.upgradable_read();
        let (r, _) = self.import_gate(&st, req, key_id, KmsOp::ImportKeyMaterial, |c| {
            c.set("kms:ExpirationModel", model.as_str());
            if let Some(v) = &valid_to_text {
                c.set("kms:ValidTo", v.clone());
            }
        })?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        // The token: this key's, current, and known.
        let (token_id, token_valid_to, token_key) =
            parse_token(&token).ok_or_else(invalid_token)?;
        if token_key != r.id {
            return Err(invalid_token());
        }
        let params = st
            .imports
            .get(&r.id)
            .and_then(|v| v.iter().find(|p| p.token_id == token_id));
        let params = match params {
            Some(p) if p.valid_to_millis <= now => return Err(expired_token()),
            Some(p) => p.clone(),
            None if token_valid_to <= now => return Err(expired_token()),
            None => return Err(invalid_token()),
        };
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(params.wrapped_private_key.as_bytes())
            .map_err(|_| internal())?;
        let wrapping = WrappingKey::open(
            &self.root_key,
            &sealed,
            &params_aad(&r.id, &params.token_id),
        )
        .map_err(|_| internal())?;
        let alg = WrappingAlgorithm::from_name(&params.algorithm).ok_or_else(internal)?;
        let bytes: Zeroizing<Vec<u8>> = wrapping.unwrap_material(alg, &wrapped).map_err(|_| {
            ApiError::new(KmsError::InvalidCiphertextException,
                "KMS cannot decrypt the encrypted key material. Wrap the key material with the public key and wrapping algorithm of the GetParametersForImport response whose import token you use.",
            )
        })?;
        let imported = match key.rec.key_spec.mac_algorithm() {
            None if key.rec.key_spec.asymmetric().is_some() => {
                let a = key.rec.key_spec.asymmetric().ok_or_else(internal)?;
                Imported::Asym(PrivateKey::from_pkcs8(a, &bytes).map_err(|_| {
                    incorrect_material(&format!(
                        "The key material is invalid: it must be the PKCS #8 DER encoding of a private key of key spec {}.",
                        a.name()
                    ))
                })?)
            }
            None => {
                let mut raw: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    incorrect_material(
                        "The key material is invalid: symmetric encryption key material must be 256 bits (32 bytes).",
                    )
                })?;
                let m = KeyMaterial::from_bytes(raw);
                raw.zeroize();
                Imported::Aes(m)
            }
            Some(mac_alg) => {
                Imported::Mac(MacKey::from_imported(mac_alg, bytes.to_vec()).map_err(|_| {
                    let range = mac_alg.import_lengths();
                    incorrect_material(&format!(
                        "The key material is invalid: {} key material must be {} to {} bytes.",
                        key.rec.key_spec.as_str(),
                        range.start(),
                        range.end()
                    ))
                })?)
            }
        };
        // An asymmetric key's material is identified by its public key (any PKCS#8 encoding of
        // the same key pair is the same material). Related multi-Region keys share it: the id
        // is the key id, not the slot.
        let key_id = crate::kms::model::ids::id_of_slot(&r.id);
        let computed = match &imported {
            Imported::Asym(k) => imported_material_id(key_id, k.public_key_spki()),
            Imported::Aes(_) | Imported::Mac(_) => imported_material_id(key_id, &bytes),
        };
        drop(bytes);
        if let Some(m) = material_id {
            if m != computed {
                return Err(incorrect_material(
                    "The key material does not match the specified KeyMaterialId.",
                ));
            }
        }
        let mut rec = key.rec.clone();
        let first = rec.materials.is_empty();
        let new = match import_type {
            Some("NEW_KEY_MATERIAL") => true,
            Some(_) => false,
            None => first,
        };
        let existing = rec.materials.iter().position(|m| m.material_id == computed);
        let import_info = |prev: Option<&ImportedMaterial>, pending: bool| ImportedMaterial {
            present: true,
            pending_rotation: pending,
            expiration_model: model,
            valid_to_millis: valid_to,
            description: description
                .map(str::to_string)
                .or_else(|| prev.and_then(|p| p.description.clone())),
        };
        let version: u32 = if new {
            if existing.is_some() {
                return Err(incorrect_material(
                    "The key material is already associated with this KMS key; import it with ImportType EXISTING_KEY_MATERIAL.",
                ));
            }
            if !first {
                if !rec.key_spec.is_symmetric() {
                    return Err(ApiError::new(KmsError::UnsupportedOperationException,
                        "ImportType NEW_KEY_MATERIAL after the first key material is supported only for symmetric encryption keys.",
                    ));
                }
                if rec.materials.iter().any(MaterialInfo::pending_rotation) {
                    return Err(ApiError::new(KmsError::KMSInvalidStateException,
                        format!("{} already has key material pending rotation. Rotate the key (RotateKeyOnDemand) or delete that key material first.", key.arn),
                    ));
                }
                if !all_present(&rec) {
                    return Err(ApiError::new(
                        KmsError::KMSInvalidStateException,
                        format!("{} is pending import.", key.arn),
                    ));
                }
            }
            let version = u32::try_from(rec.materials.len() + 1).map_err(|_| internal())?;
            rec.materials.push(MaterialInfo {
                version,
                material_id: computed.clone(),
                created_millis: now,
                origin: if first {
                    MaterialOrigin::Creation
                } else {
                    MaterialOrigin::OnDemand
                },
                import: Some(import_info(None, !first)),
            });
            version
        } else {
            let Some(idx) = existing else {
                return Err(incorrect_material(
                    "The key material is not the key material that was previously imported into this KMS key.",
                ));
            };
            let m = rec.materials.get_mut(idx).ok_or_else(internal)?;
            let pending = m.pending_rotation();
            m.import = Some(import_info(m.import.as_ref(), pending));
            m.version
        };
        if rec.state == KeyState::PendingImport && all_present(&rec) {
            rec.state = KeyState::Enabled;
        }
        let wrapped_mut = match &imported {
            Imported::Aes(m) => persist::put_material(&self.root_key, &r.id, version, m)?,
            Imported::Mac(m) => persist::put_mac_material(&self.root_key, &r.id, version, m)?,
            Imported::Asym(k) => persist::put_private_key(&self.root_key, &r.id, version, k)?,
        };
        self.commit(&[persist::put_key(&rec)?, wrapped_mut])?;
        let arn = key.arn.clone();
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        let entry = st.keys.get_mut(&r.id).ok_or_else(internal)?;
        entry.rec = rec;
        match imported {
            Imported::Aes(m) => {
                let idx = usize::try_from(version - 1).map_err(|_| internal())?;
                while entry.materials.len() <= idx {
                    entry.materials.push(None);
                }
                let slot = entry.materials.get_mut(idx).ok_or_else(internal)?;
                *slot = Some(Arc::new(m));
            }
            Imported::Mac(m) => entry.mac = Some(Arc::new(m)),
            Imported::Asym(k) => entry.asym = Some(Arc::new(k)),
        }
        self.recompute_due(&st);
        let mut out = json!({ "KeyId": arn });
        if entry_is_symmetric(&st, &r.id) {
            if let Value::Object(o) = &mut out {
                o.insert("KeyMaterialId".into(), Value::from(computed));
            }
        }
        Ok(out)
    }

    pub(crate) fn delete_imported_key_material(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let material_id = i.str_opt("KeyMaterialId", 64, 64)?;
        if let Some(m) = material_id {
            let ok = m
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            i.pattern_check("KeyMaterialId", Some(m), ok, "^[a-f0-9]+$");
        }
        i.finish()?;
        let st = self.state.upgradable_read();
        let (r, key) =
            self.import_gate(&st, req, key_id, KmsOp::DeleteImportedKeyMaterial, |_| {})?;
        let arn = key.arn.clone();
        let symmetric = key.rec.key_spec.is_symmetric();
        let target = match material_id {
            Some(m) => key
                .rec
                .materials
                .iter()
                .position(|x| x.material_id == m)
                .ok_or_else(|| {
                    ApiError::new(
                        KmsError::NotFoundException,
                        format!("Key material {m} is not associated with {arn}."),
                    )
                })?,
            None => match key.rec.current() {
                Some(c) => usize::try_from(c.version - 1).map_err(|_| internal())?,
                // Nothing was ever imported: no effect.
                None => return Ok(json!({ "KeyId": arn })),
            },
        };
        let mut rec = key.rec.clone();
        let info = rec.materials.get(target).ok_or_else(internal)?.clone();
        let was_present = info.import.as_ref().is_none_or(|i| i.present);
        let version = info.version;
        let mut muts = Vec::new();
        let removed_pending = info.pending_rotation();
        if removed_pending {
            // Material pending rotation is not permanently associated with the key: it goes.
            rec.materials.remove(target);
            muts.push(persist::delete_material(&r.id, version));
        } else if was_present {
            if let Some(m) = rec.materials.get_mut(target) {
                if let Some(imp) = m.import.as_mut() {
                    imp.present = false;
                }
            }
            muts.push(persist::delete_material(&r.id, version));
            if !rec.state.is_pending_deletion() {
                rec.state = KeyState::PendingImport;
            }
        }
        if !muts.is_empty() {
            muts.insert(0, persist::put_key(&rec)?);
            self.commit(&muts)?;
            let mut st = RwLockUpgradableReadGuard::upgrade(st);
            let entry = st.keys.get_mut(&r.id).ok_or_else(internal)?;
            entry.rec = rec;
            if entry.rec.key_spec.mac_algorithm().is_some() {
                entry.mac = None;
            } else if entry.rec.key_spec.asymmetric().is_some() {
                entry.asym = None;
            } else if removed_pending {
                if target < entry.materials.len() {
                    entry.materials.remove(target);
                }
            } else if let Some(slot) = entry.materials.get_mut(target) {
                *slot = None;
            }
            self.recompute_due(&st);
        }
        let mut out = json!({ "KeyId": arn });
        if symmetric {
            if let Value::Object(o) = &mut out {
                o.insert("KeyMaterialId".into(), Value::from(info.material_id));
            }
        }
        Ok(out)
    }

    /// Delete imported material whose `ValidTo` has passed (holding the write lock, from
    /// `maintain`). The key becomes `PendingImport` unless it is pending deletion.
    pub(crate) fn expire_imported(&self, st: &mut State, now: i64) -> Result<(), ApiError> {
        let due: Vec<(String, Vec<usize>)> = st
            .keys
            .values()
            .filter(|k| k.rec.origin == Origin::External)
            .filter_map(|k| {
                let idx: Vec<usize> = k
                    .rec
                    .materials
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| {
                        m.import.as_ref().is_some_and(|i| {
                            i.present && i.valid_to_millis.is_some_and(|v| v <= now)
                        })
                    })
                    .map(|(i, _)| i)
                    .collect();
                (!idx.is_empty()).then(|| (k.rec.slot(), idx))
            })
            .collect();
        for (id, idx) in due {
            let entry = st.keys.get(&id).ok_or_else(internal)?;
            let mut rec = entry.rec.clone();
            let mut muts = Vec::new();
            let mut permanent = false;
            for &i in &idx {
                if let Some(m) = rec.materials.get_mut(i) {
                    if let Some(imp) = m.import.as_mut() {
                        imp.present = false;
                    }
                    permanent |= !m.pending_rotation();
                    muts.push(persist::delete_material(&id, m.version));
                }
            }
            if permanent && !rec.state.is_pending_deletion() {
                rec.state = KeyState::PendingImport;
            }
            muts.insert(0, persist::put_key(&rec)?);
            self.commit(&muts)?;
            let entry = st.keys.get_mut(&id).ok_or_else(internal)?;
            entry.rec = rec;
            if entry.rec.key_spec.mac_algorithm().is_some() {
                entry.mac = None;
            } else if entry.rec.key_spec.asymmetric().is_some() {
                entry.asym = None;
            } else {
                for i in idx {
                    if let Some(slot) = entry.materials.get_mut(i) {
                        *slot = None;
                    }
                }
            }
        }
        Ok(())
    }
}

fn entry_is_symmetric(st: &State, id: &str) -> bool {
    st.keys
        .get(id)
        .is_some_and(|k| k.rec.key_spec.is_symmetric())
}

#[cfg(test)]
mod tests;
