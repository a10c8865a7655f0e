//! Keys: the persisted key record, the in-memory key (unwrapped material versions, compiled
//! policy, grants, aliases), `KeyMetadata`, and the key-state table of §3 that every
//! operation consults.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kmsd_crypto::KeyMaterial;
use kmsd_policy::{Caller, Grant, SourcedPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::ts;
use super::grants::GrantRecord;
use super::ids::key_arn;
use crate::error::ApiError;

/// A key's state (`KeyState` in `KeyMetadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    Unavailable,
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
        }
    }

    /// Every state, for table tests.
    pub const ALL: [KeyState; 5] = [
        KeyState::Enabled,
        KeyState::Disabled,
        KeyState::PendingDeletion,
        KeyState::PendingImport,
        KeyState::Unavailable,
    ];
}

fn invalid(arn: &str, what: &str) -> ApiError {
    ApiError::new("KMSInvalidStateException", format!("{arn} is {what}."))
}

fn disabled(arn: &str) -> ApiError {
    ApiError::new("DisabledException", format!("{arn} is disabled."))
}

fn pending_deletion(arn: &str) -> ApiError {
    invalid(arn, "pending deletion")
}

fn pending_import(arn: &str) -> ApiError {
    invalid(arn, "pending import")
}

/// The key-state table of §3: may operation `op` (API name; `UpdateAliasTarget` for the new
/// target of UpdateAlias) run on a key in `state`? The error is AWS's code and message.
pub fn check_state(op: &str, state: KeyState, arn: &str) -> Result<(), ApiError> {
    use KeyState::*;
    match op {
        "Encrypt"
        | "Decrypt"
        | "ReEncrypt"
        | "ReEncryptFrom"
        | "ReEncryptTo"
        | "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext"
        | "GenerateDataKeyPair"
        | "GenerateDataKeyPairWithoutPlaintext"
        | "GenerateMac"
        | "VerifyMac"
        | "Sign"
        | "Verify"
        | "GetPublicKey"
        | "DeriveSharedSecret" => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            Unavailable => Err(invalid(arn, "unavailable")),
        },
        "CreateGrant" => match state {
            Enabled | Unavailable => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
        },
        "CancelKeyDeletion" => match state {
            PendingDeletion => Ok(()),
            _ => Err(invalid(arn, "not pending deletion")),
        },
        "CreateAlias"
        | "UpdateAliasTarget"
        | "ScheduleKeyDeletion"
        | "TagResource"
        | "UntagResource"
        | "UpdateKeyDescription" => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            _ => Ok(()),
        },
        "EnableKey" | "DisableKey" => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            _ => Ok(()),
        },
        "EnableKeyRotation" | "DisableKeyRotation" => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingImport => Err(ApiError::new(
                "UnsupportedOperationException",
                format!("{arn} origin is EXTERNAL which is not valid for this operation."),
            )),
            Unavailable => Err(ApiError::new(
                "UnsupportedOperationException",
                format!("{arn} is unavailable."),
            )),
        },
        "GetKeyRotationStatus" | "ListKeyRotations" => match state {
            PendingImport => Err(ApiError::new(
                "UnsupportedOperationException",
                format!("{arn} origin is EXTERNAL which is not valid for this operation."),
            )),
            Unavailable => Err(ApiError::new(
                "UnsupportedOperationException",
                format!("{arn} is unavailable."),
            )),
            _ => Ok(()),
        },
        "RotateKeyOnDemand" => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            Unavailable => Err(ApiError::bare("UnsupportedOperationException")),
        },
        // DescribeKey, GetKeyPolicy, PutKeyPolicy, ListGrants, ListKeyPolicies,
        // ListResourceTags, ListAliases, RetireGrant, RevokeGrant, DeleteAlias,
        // UpdateAlias (old target): every state.
        _ => Ok(()),
    }
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
}

impl KeyRecord {
    pub(crate) fn arn(&self) -> String {
        key_arn(&self.region, &self.account, &self.id)
    }

    pub(crate) fn current(&self) -> Option<&MaterialInfo> {
        self.materials.last()
    }
}

/// A key's grants in the engine's form, with an index by grantee principal so that a
/// request looks only at the grants that can name its caller (a key may hold 50,000).
#[derive(Debug, Default)]
pub(crate) struct GrantView {
    grants: Vec<Grant>,
    by_grantee: HashMap<String, Vec<usize>>,
}

/// Up to this many grants the engine scans them all; beyond it, the index is used.
const SCAN_ALL_GRANTS: usize = 16;

impl GrantView {
    pub(crate) fn new(grants: Vec<Grant>) -> GrantView {
        let mut by_grantee: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, g) in grants.iter().enumerate() {
            by_grantee
                .entry(g.grantee_principal.clone())
                .or_default()
                .push(i);
        }
        GrantView { grants, by_grantee }
    }

    /// The grants whose grantee can name `caller` (its user, role or session ARN, or its
    /// account as id or root ARN), in their stored order. Small sets are returned whole: the
    /// engine's per-grant check is cheaper than building the subset.
    pub(crate) fn for_caller(&self, caller: &Caller) -> Cow<'_, [Grant]> {
        if self.grants.len() <= SCAN_ALL_GRANTS {
            return Cow::Borrowed(&self.grants);
        }
        let account = caller.account();
        let names = [
            caller.arn(),
            caller.principal_arn(),
            account.to_string(),
            format!("arn:aws:iam::{account}:root"),
        ];
        let mut picked: Vec<usize> = names
            .iter()
            .filter_map(|n| self.by_grantee.get(n))
            .flatten()
            .copied()
            .collect();
        picked.sort_unstable();
        picked.dedup();
        Cow::Owned(
            picked
                .into_iter()
                .filter_map(|i| self.grants.get(i).cloned())
                .collect(),
        )
    }
}

impl std::ops::Deref for GrantView {
    type Target = [Grant];
    fn deref(&self) -> &[Grant] {
        &self.grants
    }
}

/// A key in memory: the record plus everything derived from it.
#[derive(Debug)]
pub(crate) struct KeyEntry {
    pub rec: KeyRecord,
    pub arn: String,
    /// Unwrapped material, by version (index = version - 1).
    pub materials: Vec<Arc<KeyMaterial>>,
    /// The key policy compiled once (recompiled on PutKeyPolicy).
    pub policy: SourcedPolicy,
    pub grants: BTreeMap<String, GrantRecord>,
    /// The grants as the decision engine sees them, indexed by grantee.
    pub grant_view: Arc<GrantView>,
    /// Alias names (`alias/...`) that point at this key.
    pub aliases: Vec<String>,
}

impl KeyEntry {
    /// Material for a version named in a ciphertext.
    pub(crate) fn material(&self, version: u32) -> Option<&Arc<KeyMaterial>> {
        let idx = usize::try_from(version).ok()?.checked_sub(1)?;
        self.materials.get(idx)
    }

    /// Rebuild the engine's view after a grant change.
    pub(crate) fn refresh_grants(&mut self) {
        self.grant_view = Arc::new(GrantView::new(
            self.grants.values().map(GrantRecord::to_policy).collect(),
        ));
    }

    /// `KeyMetadata` (§2.2).
    pub(crate) fn metadata(&self) -> Value {
        let r = &self.rec;
        let mut m = json!({
            "AWSAccountId": r.account,
            "KeyId": r.id,
            "Arn": self.arn,
            "CreationDate": ts(r.creation_millis),
            "Enabled": r.state == KeyState::Enabled,
            "Description": r.description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": r.state.as_str(),
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false,
        });
        if let Value::Object(o) = &mut m {
            if let Some(d) = r.deletion_millis {
                o.insert("DeletionDate".into(), ts(d));
            }
            if let Some(w) = r.pending_window_days {
                o.insert("PendingDeletionWindowInDays".into(), Value::from(w));
            }
            if let Some(c) = r.current() {
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
