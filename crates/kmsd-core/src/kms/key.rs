//! Keys: the persisted key record, the in-memory key (unwrapped material versions, compiled
//! policy, grants, aliases), `KeyMetadata`, and the key-state table of §3 that every
//! operation consults.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use kmsd_crypto::asymmetric::{KeySpec as Asym, PrivateKey};
use kmsd_crypto::{KeyMaterial, MacAlgorithm, MacKey};
use kmsd_policy::{Caller, Grant, SourcedPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::ts;
use super::grants::GrantRecord;
use super::ids::key_arn;
use super::op::{KmsOp, StateRule, Usages};
use crate::error::ApiError;
use crate::error::KmsError;

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

fn invalid(arn: &str, what: &str) -> ApiError {
    ApiError::new(
        KmsError::KMSInvalidStateException,
        format!("{arn} is {what}."),
    )
}

fn disabled(arn: &str) -> ApiError {
    ApiError::new(KmsError::DisabledException, format!("{arn} is disabled."))
}

fn pending_deletion(arn: &str) -> ApiError {
    invalid(arn, "pending deletion")
}

fn pending_replica_deletion(arn: &str) -> ApiError {
    invalid(arn, "pending replica deletion")
}

fn pending_import(arn: &str) -> ApiError {
    invalid(arn, "pending import")
}

/// The key-state table of §3: may operation `op` run on a key in `state`? The error is
/// AWS's code and message. The rule comes from the operation table ([`KmsOp::states`]).
pub fn check_state(op: KmsOp, state: KeyState, arn: &str) -> Result<(), ApiError> {
    check_state_rule(op.states(), state, arn)
}

/// One rule of the key-state table.
pub fn check_state_rule(rule: StateRule, state: KeyState, arn: &str) -> Result<(), ApiError> {
    use KeyState::*;
    match rule {
        StateRule::Use => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            Unavailable => Err(invalid(arn, "unavailable")),
        },
        StateRule::CreateGrant => match state {
            Enabled | Unavailable => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
        },
        StateRule::Import => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            Unavailable => Err(invalid(arn, "unavailable")),
            _ => Ok(()),
        },
        StateRule::CancelDeletion => match state {
            PendingDeletion | PendingReplicaDeletion => Ok(()),
            _ => Err(invalid(arn, "not pending deletion")),
        },
        StateRule::Metadata => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            _ => Ok(()),
        },
        StateRule::EnableDisable => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            _ => Ok(()),
        },
        StateRule::RotationChange => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} origin is EXTERNAL which is not valid for this operation."),
            )),
            Unavailable => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} is unavailable."),
            )),
        },
        StateRule::RotationRead => match state {
            PendingImport => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} origin is EXTERNAL which is not valid for this operation."),
            )),
            Unavailable => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} is unavailable."),
            )),
            _ => Ok(()),
        },
        StateRule::RotateOnDemand => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            Unavailable => Err(ApiError::bare(KmsError::UnsupportedOperationException)),
        },
        // DescribeKey, GetKeyPolicy, PutKeyPolicy, ListGrants, ListKeyPolicies,
        // ListResourceTags, ListAliases, RetireGrant, RevokeGrant, DeleteAlias,
        // UpdateAlias (old target), DeleteImportedKeyMaterial: every state.
        StateRule::Any | StateRule::NoKey => Ok(()),
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
    pub usage: super::last_usage::UsageRecord,
    /// A multi-Region key (`mrk-` id): the Region of its primary key, which is this key's
    /// own Region for the primary. `None` for a single-Region key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

impl KeyRecord {
    pub(crate) fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.id)
    }

    /// The key's index in memory and in the store (see [`super::ids::slot`]).
    pub(crate) fn slot(&self) -> String {
        super::ids::slot(&self.id, &self.region)
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

/// A key's grants in the decision engine's form, with the indexes that keep CreateGrant and
/// every request cheap when a key holds many grants (AWS's quota is 50,000 per key):
///
/// - by grantee group (see `group_of`): a request looks only at the grants that can name
///   its caller, borrowed without a copy when one group holds them all (the usual case);
/// - by name: CreateGrant's Name idempotency looks only at the grants of that name.
///
/// Order: every list here is in grant-id order, the order of `KeyEntry::grants`. A view built
/// whole ([`GrantView::new`]: at load, for declared keys) and one changed grant by grant
/// ([`GrantView::insert`] on CreateGrant, [`GrantView::remove`] on RetireGrant/RevokeGrant)
/// are therefore the same, before and after a restart. The order matters because the engine
/// cites the first grant that allows a request. Grant-id order needs no stored sequence
/// number (creation time does not order grants made in the same millisecond), and
/// CreateGrant picks each new id above every id on the key, so an insert is an append.
#[derive(Debug, Default, Clone)]
pub(crate) struct GrantView {
    /// Grants by grantee group, each in grant-id order.
    groups: HashMap<String, Vec<Grant>>,
    /// Grant ids by grant name, in grant-id order.
    by_name: HashMap<String, Vec<String>>,
    len: usize,
    /// How many grantees are STS session ARNs: only when some are is a session caller's ARN
    /// built to look its group up.
    sessions: usize,
    /// Every grant in grant-id order, built on first use after a change (keys with few
    /// grants, PutKeyPolicy's lockout check, explain).
    all: OnceLock<Vec<Grant>>,
}

/// Up to this many grants the engine scans them all; beyond it, the grantee index is used.
const SCAN_ALL_GRANTS: usize = 16;

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The group a grantee principal is filed under: an account's root ARN
/// (`arn:aws:iam::<12 digits>:root`) shares the group of the bare account id (both name the
/// account, and a caller is always looked up by its account); any other grantee is its own
/// group.
fn group_of(grantee: &str) -> &str {
    match grantee
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
    {
        Some(account) if is_account_id(account) => account,
        _ => grantee,
    }
}

fn is_session_arn(grantee: &str) -> bool {
    grantee.starts_with("arn:aws:sts::")
}

impl GrantView {
    /// The view of `grants` (any order; the view is in grant-id order).
    pub(crate) fn new(grants: impl IntoIterator<Item = Grant>) -> GrantView {
        let mut v = GrantView::default();
        for g in grants {
            v.insert(g);
        }
        v
    }

    /// Add a grant whose id is not in the view yet. O(1) amortized plus a binary search when
    /// the id is above every id in its group (CreateGrant's ids are); otherwise the group's
    /// later grants shift by one.
    pub(crate) fn insert(&mut self, g: Grant) {
        self.all = OnceLock::new();
        if is_session_arn(&g.grantee_principal) {
            self.sessions += 1;
        }
        if let Some(name) = &g.name {
            let ids = self.by_name.entry(name.clone()).or_default();
            let at = ids.partition_point(|id| *id < g.grant_id);
            ids.insert(at, g.grant_id.clone());
        }
        let group = match self.groups.get_mut(group_of(&g.grantee_principal)) {
            Some(group) => group,
            None => self
                .groups
                .entry(group_of(&g.grantee_principal).to_string())
                .or_default(),
        };
        let at = group.partition_point(|x| x.grant_id < g.grant_id);
        group.insert(at, g);
        self.len += 1;
    }

    /// Remove the grant `grant_id` (its grantee and name as stored). O(log n) plus moving the
    /// group's later grants down by one (no grant is copied); false if it is not there.
    pub(crate) fn remove(&mut self, grant_id: &str, grantee: &str, name: Option<&str>) -> bool {
        let key = group_of(grantee);
        let Some(group) = self.groups.get_mut(key) else {
            return false;
        };
        let Ok(at) = group.binary_search_by(|x| x.grant_id.as_str().cmp(grant_id)) else {
            return false;
        };
        group.remove(at);
        if group.is_empty() {
            self.groups.remove(key);
        }
        if let Some(n) = name {
            if let Some(ids) = self.by_name.get_mut(n) {
                if let Ok(i) = ids.binary_search_by(|id| id.as_str().cmp(grant_id)) {
                    ids.remove(i);
                }
                if ids.is_empty() {
                    self.by_name.remove(n);
                }
            }
        }
        if is_session_arn(grantee) {
            self.sessions = self.sessions.saturating_sub(1);
        }
        self.len = self.len.saturating_sub(1);
        self.all = OnceLock::new();
        true
    }

    /// Ids of the grants named `name`, in grant-id order.
    pub(crate) fn named(&self, name: &str) -> &[String] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The grants filed in the group of `principal` (for a root ARN or an account id: every
    /// grant to that account, in either form), in grant-id order.
    pub(crate) fn group(&self, principal: &str) -> &[Grant] {
        self.groups
            .get(group_of(principal))
            .map_or(&[], Vec::as_slice)
    }

    /// Every grant, in grant-id order.
    pub(crate) fn all(&self) -> &[Grant] {
        self.all.get_or_init(|| {
            let mut v: Vec<&Grant> = self.groups.values().flatten().collect();
            v.sort_unstable_by(|a, b| a.grant_id.cmp(&b.grant_id));
            v.into_iter().cloned().collect()
        })
    }

    /// The grants whose grantee can name `caller` (its user, role or session ARN, or its
    /// account as id or root ARN), in grant-id order. Small sets are returned whole: the
    /// engine's per-grant check is cheaper than picking the subset. Otherwise no string is
    /// built (except a session caller's ARN when some grantee is a session ARN, and the root
    /// ARN of an account id that is not 12 digits) and, when a single group holds the
    /// caller's grants, nothing is copied.
    pub(crate) fn for_caller(&self, caller: &Caller) -> Cow<'_, [Grant]> {
        if self.len <= SCAN_ALL_GRANTS {
            return Cow::Borrowed(self.all());
        }
        let account = caller.account();
        let session = match caller {
            Caller::AssumedRole { .. } if self.sessions > 0 => Some(caller.arn()),
            _ => None,
        };
        // A 12-digit account's root ARN is filed with the account id.
        let root_arn = (!is_account_id(account)).then(|| format!("arn:aws:iam::{account}:root"));
        let own = match caller {
            Caller::Root { .. } => None,
            Caller::User { arn, .. } => Some(arn.as_str()),
            Caller::AssumedRole { role_arn, .. } => Some(role_arn.as_str()),
        };
        let names = [own, session.as_deref(), Some(account), root_arn.as_deref()];
        let mut keys: [&str; 4] = [""; 4];
        let mut hits: [&[Grant]; 4] = [&[]; 4];
        let mut n = 0;
        for name in names.into_iter().flatten() {
            let key = group_of(name);
            if keys.get(..n).is_some_and(|seen| seen.contains(&key)) {
                continue;
            }
            if let Some(group) = self.groups.get(key) {
                if let (Some(k), Some(h)) = (keys.get_mut(n), hits.get_mut(n)) {
                    *k = key;
                    *h = group;
                    n += 1;
                }
            }
        }
        match hits.get(..n).unwrap_or_default() {
            [] => Cow::Borrowed(&[]),
            [one] => Cow::Borrowed(one),
            several => {
                let mut picked: Vec<&Grant> = several.iter().flat_map(|g| g.iter()).collect();
                picked.sort_unstable_by(|a, b| a.grant_id.cmp(&b.grant_id));
                Cow::Owned(picked.into_iter().cloned().collect())
            }
        }
    }
}

impl std::ops::Deref for GrantView {
    type Target = [Grant];
    fn deref(&self) -> &[Grant] {
        self.all()
    }
}

/// A key in memory: the record plus everything derived from it.
#[derive(Debug)]
pub(crate) struct KeyEntry {
    pub rec: KeyRecord,
    pub arn: String,
    /// Unwrapped material, by version (index = version - 1). Empty for an HMAC key; `None`
    /// for imported material that was deleted or expired.
    pub materials: Vec<Option<Arc<KeyMaterial>>>,
    /// The unwrapped HMAC material of an HMAC key (its one material version).
    pub mac: Option<Arc<MacKey>>,
    /// The private key of an asymmetric key (unwrapped).
    pub asym: Option<Arc<PrivateKey>>,
    /// The key policy compiled once (recompiled on PutKeyPolicy).
    pub policy: SourcedPolicy,
    pub grants: BTreeMap<String, GrantRecord>,
    /// The grants as the decision engine sees them, indexed by grantee.
    pub grant_view: Arc<GrantView>,
    /// Alias names (`alias/...`) that point at this key.
    pub aliases: Vec<String>,
    /// The last successful cryptographic use (atomics; see `last_usage`).
    pub last_use: Arc<super::last_usage::LastUse>,
}

impl KeyEntry {
    /// Material for a version named in a ciphertext.
    pub(crate) fn material(&self, version: u32) -> Option<&Arc<KeyMaterial>> {
        let idx = usize::try_from(version).ok()?.checked_sub(1)?;
        self.materials.get(idx)?.as_ref()
    }

    /// Rebuild the engine's view from `grants` (at load, and after a batch of changes).
    pub(crate) fn refresh_grants(&mut self) {
        self.grant_view = Arc::new(GrantView::new(
            self.grants.values().map(GrantRecord::to_policy),
        ));
    }

    /// Add a grant to the key in memory (the record and the engine's view).
    pub(crate) fn add_grant(&mut self, rec: GrantRecord) {
        Arc::make_mut(&mut self.grant_view).insert(rec.to_policy());
        self.grants.insert(rec.grant_id.clone(), rec);
    }

    /// Remove a grant from the key in memory; the removed record, if it was there.
    pub(crate) fn remove_grant(&mut self, grant_id: &str) -> Option<GrantRecord> {
        let rec = self.grants.remove(grant_id)?;
        let view = Arc::make_mut(&mut self.grant_view);
        if !view.remove(grant_id, &rec.grantee_principal, rec.name.as_deref()) {
            // The view missed the grant: rebuild it rather than trust it.
            self.refresh_grants();
        }
        Some(rec)
    }

    /// `InvalidKeyUsageException` unless the operation table lets `op` use a key of this
    /// key's usage.
    pub(crate) fn require_usage(&self, op: KmsOp) -> Result<(), ApiError> {
        match op.spec().usages {
            Usages::Any => Ok(()),
            Usages::Only(usages) if usages.contains(&self.rec.key_usage) => Ok(()),
            Usages::Only(_) => Err(wrong_usage(&self.arn, self.rec.key_usage, op.name())),
        }
    }

    /// `KeyMetadata` (§2.2).
    pub(crate) fn metadata(&self) -> Value {
        let r = &self.rec;
        let spec = r.key_spec.as_str();
        let mut m = json!({
            "AWSAccountId": r.account,
            "KeyId": r.id,
            "Arn": self.arn,
            "CreationDate": ts(r.creation_millis),
            "Enabled": r.state == KeyState::Enabled,
            "Description": r.description,
            "KeyUsage": r.key_usage.as_str(),
            "KeyState": r.state.as_str(),
            "Origin": r.origin.as_str(),
            "KeyManager": if r.aws_managed { "AWS" } else { "CUSTOMER" },
            "CustomerMasterKeySpec": spec,
            "KeySpec": spec,
            "MultiRegion": r.is_multi_region(),
        });
        if let Value::Object(o) = &mut m {
            match (r.key_spec.mac_algorithm(), r.key_spec.asymmetric()) {
                (Some(alg), _) => {
                    o.insert("MacAlgorithms".into(), json!([alg.name()]));
                }
                (None, Some(a)) => {
                    for (k, v) in super::asymmetric_ops::algorithm_fields(a, r.key_usage) {
                        o.insert(k.into(), v);
                    }
                }
                (None, None) => {
                    o.insert("EncryptionAlgorithms".into(), json!(["SYMMETRIC_DEFAULT"]));
                }
            }
            if let Some(d) = r.deletion_millis {
                o.insert("DeletionDate".into(), ts(d));
            }
            if let Some(w) = r.pending_window_days {
                o.insert("PendingDeletionWindowInDays".into(), Value::from(w));
            }
            if let Some(imp) = r.current().and_then(|c| c.import.as_ref()) {
                o.insert(
                    "ExpirationModel".into(),
                    Value::from(imp.expiration_model.as_str()),
                );
                if let Some(v) = imp.valid_to_millis {
                    o.insert("ValidTo".into(), ts(v));
                }
            }
            // AWS shows no CurrentKeyMaterialId for HMAC keys.
            if let Some(c) = r.current().filter(|_| r.key_spec.is_symmetric()) {
                o.insert(
                    "CurrentKeyMaterialId".into(),
                    Value::from(c.material_id.clone()),
                );
            }
        }
        m
    }
}

/// The default key policy of §2.3 for an account.
pub(crate) fn default_policy(account: &str) -> String {
    let v = json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    const GRANTEES: &[&str] = &[
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:role/app",
        "arn:aws:sts::111122223333:assumed-role/app/s1",
        "arn:aws:sts::111122223333:assumed-role/app/s2",
        "444455556666",
        "arn:aws:iam::444455556666:root",
        "arn:aws:iam::444455556666:user/carol",
        "acct-x",
        "arn:aws:iam::acct-x:root",
        "arn:aws:iam::acct-x:user/dave",
    ];

    fn callers() -> Vec<Caller> {
        let role = |account: &str, session: &str| Caller::AssumedRole {
            account: account.into(),
            role_arn: format!("arn:aws:iam::{account}:role/app"),
            role_name: "app".into(),
            role_unique_id: "AROAAPP".into(),
            session_name: session.into(),
        };
        vec![
            Caller::Root {
                account: "111122223333".into(),
            },
            Caller::Root {
                account: "444455556666".into(),
            },
            Caller::Root {
                account: "acct-x".into(),
            },
            Caller::User {
                account: "111122223333".into(),
                arn: "arn:aws:iam::111122223333:user/alice".into(),
                name: "alice".into(),
                unique_id: "AIDAALICE".into(),
            },
            Caller::User {
                account: "acct-x".into(),
                arn: "arn:aws:iam::acct-x:user/dave".into(),
                name: "dave".into(),
                unique_id: "AIDADAVE".into(),
            },
            role("111122223333", "s1"),
            role("111122223333", "s3"),
            role("444455556666", "s1"),
        ]
    }

    /// A small deterministic generator (xorshift64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
        }
    }

    fn grant(rng: &mut Rng) -> Grant {
        let id = format!(
            "{:016x}{:016x}{:016x}{:016x}",
            rng.next(),
            rng.next(),
            rng.next(),
            rng.next()
        );
        Grant {
            grant_id: id,
            name: (rng.below(3) == 0).then(|| format!("name-{}", rng.below(4))),
            grantee_principal: GRANTEES[rng.below(GRANTEES.len())].to_string(),
            operations: vec!["Decrypt".into()],
            constraints: None,
        }
    }

    /// The selection as it was made before the grantee groups: every grant whose grantee is
    /// one of the caller's four names, in grant-id order, from the whole list.
    fn reference_for_caller(all: &[Grant], caller: &Caller) -> Vec<Grant> {
        if all.len() <= SCAN_ALL_GRANTS {
            return all.to_vec();
        }
        let account = caller.account();
        let names = [
            caller.arn(),
            caller.principal_arn(),
            account.to_string(),
            format!("arn:aws:iam::{account}:root"),
        ];
        all.iter()
            .filter(|g| names.contains(&g.grantee_principal))
            .cloned()
            .collect()
    }

    /// Grown grant by grant (with removals), the view equals the one built whole from the
    /// surviving grants: same order, same per-caller selections (equal to the reference
    /// selection), same name index.
    #[test]
    fn incremental_view_equals_rebuilt_view() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..40 {
            let mut live: BTreeMap<String, Grant> = BTreeMap::new();
            let mut view = GrantView::default();
            let steps = 5 + round * 3;
            for _ in 0..steps {
                if !live.is_empty() && rng.below(4) == 0 {
                    let pick = rng.below(live.len());
                    let id = live.keys().nth(pick).unwrap().clone();
                    let g = live.remove(&id).unwrap();
                    assert!(view.remove(&id, &g.grantee_principal, g.name.as_deref()));
                    assert!(!view.remove(&id, &g.grantee_principal, g.name.as_deref()));
                } else {
                    let g = grant(&mut rng);
                    live.insert(g.grant_id.clone(), g.clone());
                    view.insert(g);
                }
                let rebuilt = GrantView::new(live.values().rev().cloned());
                let expected: Vec<Grant> = live.values().cloned().collect();
                assert_eq!(view.all(), expected.as_slice());
                assert_eq!(rebuilt.all(), expected.as_slice());
                assert_eq!(&*view, expected.as_slice());
                for c in callers() {
                    let want = reference_for_caller(&expected, &c);
                    assert_eq!(view.for_caller(&c).as_ref(), want.as_slice(), "{c:?}");
                    assert_eq!(rebuilt.for_caller(&c).as_ref(), want.as_slice(), "{c:?}");
                }
                for n in 0..4 {
                    let name = format!("name-{n}");
                    let want: Vec<String> = expected
                        .iter()
                        .filter(|g| g.name.as_deref() == Some(name.as_str()))
                        .map(|g| g.grant_id.clone())
                        .collect();
                    assert_eq!(view.named(&name), want.as_slice());
                    assert_eq!(rebuilt.named(&name), want.as_slice());
                }
                assert_eq!(view.len, live.len());
            }
        }
    }

    /// Cost of picking a caller's grants on a key with 50,000 grants (45,000 to the caller),
    /// against the selection as it was made before the grantee groups (`reference_for_caller`,
    /// which copies them). Run: `cargo test -p kmsd-core --lib for_caller_cost -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn for_caller_cost() {
        let mut rng = Rng(7);
        let mut view = GrantView::default();
        for i in 0..50_000 {
            let mut g = grant(&mut rng);
            g.grantee_principal = if i % 10 == 9 {
                "arn:aws:iam::111122223333:user/bob".into()
            } else {
                "arn:aws:iam::111122223333:user/alice".into()
            };
            view.insert(g);
        }
        let alice = &callers()[3];
        let all = view.all().to_vec();
        let rounds = 20u32;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            assert_eq!(view.for_caller(alice).len(), 45_000);
        }
        let new = t.elapsed() / rounds;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            assert_eq!(reference_for_caller(&all, alice).len(), 45_000);
        }
        let old = t.elapsed() / rounds;
        eprintln!(
            "for_caller, 45,000 of 50,000 grants: {new:?} per call; copying selection: {old:?}"
        );
    }

    /// A caller whose grants sit in one grantee group gets them without a copy.
    #[test]
    fn one_group_is_borrowed() {
        let mut view = GrantView::default();
        for i in 0..40 {
            view.insert(Grant {
                grant_id: format!("{i:064x}"),
                name: None,
                grantee_principal: if i % 2 == 0 {
                    "arn:aws:iam::111122223333:user/alice".into()
                } else {
                    "arn:aws:iam::111122223333:user/bob".into()
                },
                operations: vec!["Decrypt".into()],
                constraints: None,
            });
        }
        let alice = Caller::User {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            name: "alice".into(),
            unique_id: "AIDAALICE".into(),
        };
        let got = view.for_caller(&alice);
        assert!(matches!(got, Cow::Borrowed(_)));
        assert_eq!(got.len(), 20);
        // Adding an account-wide grant makes two groups: merged in grant-id order.
        view.insert(Grant {
            grant_id: format!("{:064x}", 7),
            name: None,
            grantee_principal: "arn:aws:iam::111122223333:root".into(),
            operations: vec!["Decrypt".into()],
            constraints: None,
        });
        let got = view.for_caller(&alice);
        assert!(matches!(got, Cow::Owned(_)));
        let ids: Vec<&str> = got.iter().map(|g| g.grant_id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        assert_eq!(ids.len(), 21);
    }
}
