//! Keys as stored: key states, specs, usages, origins, material info, the persisted
//! `KeyRecord` and new material. The in-memory key and `KeyMetadata` are `entry`; the
//! key-state table of §3 that every operation consults is `states`.

use std::collections::BTreeMap;

use kmsd_crypto::asymmetric::Family;
use kmsd_crypto::asymmetric::KeySpec as Asym;
use kmsd_crypto::{KeyMaterial, MacAlgorithm};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::model::ids::{internal, key_arn, random_hex64};

/// A key's state (`KeyState` in `KeyMetadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    Unavailable,
    /// A multi-Region primary key scheduled for deletion while it still has replicas.
    PendingReplicaDeletion,
}

impl KeyState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::Unavailable => "Unavailable",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
        }
    }

    /// Every state, for table tests.
    pub const ALL: [KeyState; 6] = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::PendingDeletion,
        KeyState::PendingImport,
        KeyState::Unavailable,
        KeyState::PendingReplicaDeletion,
    ];

    /// `PendingDeletion` or `PendingReplicaDeletion`: scheduled for deletion.
    pub fn is_pending_deletion(self) -> bool {
        matches!(
            self,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        )
    }
}

/// A key's `KeySpec`: symmetric encryption, HMAC and asymmetric keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeySpec {
    #[default]
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    SymmetricDefault,
    #[serde(rename = "HMAC_224")]
    Hmac224,
    #[serde(rename = "HMAC_256")]
    Hmac256,
    #[serde(rename = "HMAC_384")]
    Hmac384,
    #[serde(rename = "HMAC_512")]
    Hmac512,
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    #[serde(rename = "RSA_3072")]
    Rsa3072,
    #[serde(rename = "RSA_4096")]
    Rsa4096,
    #[serde(rename = "ECC_NIST_P256")]
    EccNistP256,
    #[serde(rename = "ECC_NIST_P384")]
    EccNistP384,
    #[serde(rename = "ECC_NIST_P521")]
    EccNistP521,
    #[serde(rename = "ECC_SECG_P256K1")]
    EccSecgP256k1,
    #[serde(rename = "ECC_NIST_EDWARDS25519")]
    EccNistEdwards25519,
    #[serde(rename = "ML_DSA_44")]
    MlDsa44,
    #[serde(rename = "ML_DSA_65")]
    MlDsa65,
    #[serde(rename = "ML_DSA_87")]
    MlDsa87,
    #[serde(rename = "ML_KEM_512")]
    MlKem512,
    #[serde(rename = "ML_KEM_768")]
    MlKem768,
    #[serde(rename = "ML_KEM_1024")]
    MlKem1024,
}

impl KeySpec {
    /// The wire name (also `CustomerMasterKeySpec`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeySpec::SymmetricDefault => "SYMMETRIC_DEFAULT",
            KeySpec::Hmac224 => "HMAC_224",
            KeySpec::Hmac256 => "HMAC_256",
            KeySpec::Hmac384 => "HMAC_384",
            KeySpec::Hmac512 => "HMAC_512",
            other => other.asymmetric().map_or("SYMMETRIC_DEFAULT", Asym::name),
        }
    }

    /// Every spec this server makes.
    pub const ALL: [KeySpec; 19] = [
        KeySpec::SymmetricDefault,
        KeySpec::Hmac224,
        KeySpec::Hmac256,
        KeySpec::Hmac384,
        KeySpec::Hmac512,
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

    /// The spec of a wire name, if this server makes such keys.
    pub fn from_name(name: &str) -> Option<KeySpec> {
        KeySpec::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The asymmetric spec of an asymmetric key; `None` for symmetric and HMAC keys.
    pub fn asymmetric(self) -> Option<Asym> {
        Some(match self {
            KeySpec::SymmetricDefault
            | KeySpec::Hmac224
            | KeySpec::Hmac256
            | KeySpec::Hmac384
            | KeySpec::Hmac512 => return None,
            KeySpec::Rsa2048 => Asym::Rsa2048,
            KeySpec::Rsa3072 => Asym::Rsa3072,
            KeySpec::Rsa4096 => Asym::Rsa4096,
            KeySpec::EccNistP256 => Asym::EccNistP256,
            KeySpec::EccNistP384 => Asym::EccNistP384,
            KeySpec::EccNistP521 => Asym::EccNistP521,
            KeySpec::EccSecgP256k1 => Asym::EccSecgP256k1,
            KeySpec::EccNistEdwards25519 => Asym::EccNistEdwards25519,
            KeySpec::MlDsa44 => Asym::MlDsa44,
            KeySpec::MlDsa65 => Asym::MlDsa65,
            KeySpec::MlDsa87 => Asym::MlDsa87,
            KeySpec::MlKem512 => Asym::MlKem512,
            KeySpec::MlKem768 => Asym::MlKem768,
            KeySpec::MlKem1024 => Asym::MlKem1024,
        })
    }

    /// The MAC algorithm of an HMAC spec; `None` for a symmetric encryption key.
    pub fn mac_algorithm(self) -> Option<MacAlgorithm> {
        MacAlgorithm::for_key_spec(self.as_str())
    }

    /// True for `SYMMETRIC_DEFAULT` (the default of records written before key specs).
    pub fn is_symmetric(&self) -> bool {
        *self == KeySpec::SymmetricDefault
    }
}

/// A key's `KeyUsage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeyUsage {
    #[default]
    #[serde(rename = "ENCRYPT_DECRYPT")]
    EncryptDecrypt,
    #[serde(rename = "GENERATE_VERIFY_MAC")]
    GenerateVerifyMac,
    #[serde(rename = "SIGN_VERIFY")]
    SignVerify,
    #[serde(rename = "KEY_AGREEMENT")]
    KeyAgreement,
    #[serde(rename = "ENCAPSULATE_DECAPSULATE")]
    EncapsulateDecapsulate,
}

impl KeyUsage {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUsage::EncryptDecrypt => "ENCRYPT_DECRYPT",
            KeyUsage::GenerateVerifyMac => "GENERATE_VERIFY_MAC",
            KeyUsage::SignVerify => "SIGN_VERIFY",
            KeyUsage::KeyAgreement => "KEY_AGREEMENT",
            KeyUsage::EncapsulateDecapsulate => "ENCAPSULATE_DECAPSULATE",
        }
    }

    /// The usage of a wire name.
    pub fn from_name(name: &str) -> Option<KeyUsage> {
        [
            KeyUsage::EncryptDecrypt,
            KeyUsage::GenerateVerifyMac,
            KeyUsage::SignVerify,
            KeyUsage::KeyAgreement,
            KeyUsage::EncapsulateDecapsulate,
        ]
        .into_iter()
        .find(|u| u.as_str() == name)
    }

    /// True for `ENCRYPT_DECRYPT` (the default of records written before key usages).
    pub fn is_encrypt_decrypt(&self) -> bool {
        *self == KeyUsage::EncryptDecrypt
    }
}

/// `InvalidKeyUsageException` for an operation the key's usage does not allow.
pub(crate) fn wrong_usage(arn: &str, usage: KeyUsage, op: &str) -> ApiError {
    ApiError::new(
        KmsError::InvalidKeyUsageException,
        format!(
            "{arn} key usage is {} which is not valid for {op}.",
            usage.as_str()
        ),
    )
}

/// How a material version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum MaterialOrigin {
    Creation,
    Automatic,
    OnDemand,
}

/// One version of a key's material (the bytes live wrapped in their own table).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MaterialInfo {
    pub version: u32,
    /// `KeyMaterialId`: 64 lower-hex characters.
    pub material_id: String,
    pub created_millis: i64,
    pub origin: MaterialOrigin,
    /// Imported material (keys of origin `EXTERNAL`): its import state and expiration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportedMaterial>,
}

impl MaterialInfo {
    /// Imported for an on-demand rotation that has not happened yet (`PENDING_ROTATION`).
    pub(crate) fn pending_rotation(&self) -> bool {
        self.import.as_ref().is_some_and(|i| i.pending_rotation)
    }
}

/// `ExpirationModel` of imported key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ExpirationModel {
    #[serde(rename = "KEY_MATERIAL_EXPIRES")]
    Expires,
    #[serde(rename = "KEY_MATERIAL_DOES_NOT_EXPIRE")]
    DoesNotExpire,
}

impl ExpirationModel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExpirationModel::Expires => "KEY_MATERIAL_EXPIRES",
            ExpirationModel::DoesNotExpire => "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }
    }
}

/// The import facts of one material version of an `EXTERNAL` key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportedMaterial {
    /// The material is held (`IMPORTED`); false once deleted or expired (`PENDING_IMPORT`).
    pub present: bool,
    /// Imported with `NEW_KEY_MATERIAL` after the first material, not yet rotated to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending_rotation: bool,
    /// Model and `ValidTo` of the import that made the material present (kept after a
    /// deletion for ListKeyRotations; replaced by the next import).
    pub expiration_model: ExpirationModel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to_millis: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A key's `Origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum Origin {
    #[default]
    #[serde(rename = "AWS_KMS")]
    AwsKms,
    #[serde(rename = "EXTERNAL")]
    External,
}

impl Origin {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Origin::AwsKms => "AWS_KMS",
            Origin::External => "EXTERNAL",
        }
    }

    pub(crate) fn is_aws_kms(&self) -> bool {
        *self == Origin::AwsKms
    }
}

/// The persisted part of a key (table `kms_keys`, one JSON record per key id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub id: String,
    pub account: String,
    pub region: String,
    pub description: String,
    pub creation_millis: i64,
    pub state: KeyState,
    pub deletion_millis: Option<i64>,
    pub pending_window_days: Option<u32>,
    /// The key policy as given (or the default policy).
    pub policy: String,
    pub tags: BTreeMap<String, String>,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<u32>,
    pub next_rotation_millis: Option<i64>,
    pub materials: Vec<MaterialInfo>,
    pub on_demand_rotations: u32,
    /// An AWS managed key (`KeyManager: AWS`), made for a predefined `alias/aws/...` alias.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub aws_managed: bool,
    /// `KeySpec`; records written before HMAC keys have none and are symmetric.
    #[serde(default, skip_serializing_if = "KeySpec::is_symmetric")]
    pub key_spec: KeySpec,
    /// `KeyUsage`; records written before HMAC keys have none and are `ENCRYPT_DECRYPT`.
    #[serde(default, skip_serializing_if = "KeyUsage::is_encrypt_decrypt")]
    pub key_usage: KeyUsage,
    /// `Origin`; records written before imported keys have none and are `AWS_KMS`.
    #[serde(default, skip_serializing_if = "Origin::is_aws_kms")]
    pub origin: Origin,
    /// GetKeyLastUsage's tracking start and last use as of the last commit of this record.
    #[serde(default)]
    pub usage: crate::kms::model::usage::UsageRecord,
    /// A multi-Region key (`mrk-` id): the Region of its primary key, which is this key's
    /// own Region for the primary. `None` for a single-Region key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

impl KeyRecord {
    pub(crate) fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.id)
    }

    /// The key's index in memory and in the store (see [`crate::kms::model::ids::slot`]).
    pub(crate) fn slot(&self) -> String {
        crate::kms::model::ids::slot(&self.id, &self.region)
    }

    /// True for a multi-Region key.
    pub(crate) fn is_multi_region(&self) -> bool {
        self.primary_region.is_some()
    }

    /// True for a multi-Region replica key.
    pub(crate) fn is_replica(&self) -> bool {
        self.primary_region
            .as_deref()
            .is_some_and(|p| p != self.region)
    }

    /// The material new ciphertexts use: the newest version not pending rotation.
    pub(crate) fn current(&self) -> Option<&MaterialInfo> {
        self.materials.iter().rev().find(|m| !m.pending_rotation())
    }
}

const RSA_ENCRYPTION: &[&str] = &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];

/// The algorithm members of `KeyMetadata` / GetPublicKey for an asymmetric key.
pub(crate) fn algorithm_fields(spec: Asym, usage: KeyUsage) -> Vec<(&'static str, Value)> {
    match usage {
        KeyUsage::SignVerify => {
            let names: Vec<&str> = spec.signing_algorithms().iter().map(|a| a.name()).collect();
            vec![("SigningAlgorithms", json!(names))]
        }
        KeyUsage::EncryptDecrypt => vec![("EncryptionAlgorithms", json!(RSA_ENCRYPTION))],
        KeyUsage::KeyAgreement => vec![("KeyAgreementAlgorithms", json!(["ECDH"]))],
        KeyUsage::EncapsulateDecapsulate => {
            vec![("EncapsulationAlgorithms", json!(["ML_KEM"]))]
        }
        KeyUsage::GenerateVerifyMac => Vec::new(),
    }
}

/// Whether keys of the asymmetric spec `a` may have origin `EXTERNAL` (the Developer Guide's
/// RSA and ECC key specs; not Ed25519, ML-DSA or ML-KEM).
pub(crate) fn importable(a: Asym) -> bool {
    matches!(a.family(), Family::Rsa | Family::Ecc)
}

/// Fresh material and its info record.
pub(crate) fn new_material(
    version: u32,
    now: i64,
    origin: MaterialOrigin,
) -> Result<(KeyMaterial, MaterialInfo), ApiError> {
    let m = KeyMaterial::generate().map_err(|_| internal())?;
    Ok((
        m,
        MaterialInfo {
            version,
            material_id: random_hex64()?,
            created_millis: now,
            origin,
            import: None,
        },
    ))
}
