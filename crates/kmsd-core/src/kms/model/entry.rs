//! A key in memory (`KeyEntry`): its record, unwrapped material, compiled policy, grants and
//! last use; its `KeyMetadata`; the default key policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_crypto::asymmetric::PrivateKey;
use kmsd_crypto::{KeyMaterial, MacKey};
use kmsd_policy::SourcedPolicy;
use serde_json::{json, Value};

use super::grant::GrantRecord;
use super::grant_view::GrantView;
use super::ts::ts;
use crate::error::{ApiError, KmsError};
use crate::kms::model::key::{wrong_usage, KeyRecord, KeyState};
use crate::kms::model::op::{KmsOp, Usages};

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
    pub last_use: Arc<crate::kms::model::last_use::LastUse>,
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
                    for (k, v) in crate::kms::model::key::algorithm_fields(a, r.key_usage) {
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

/// An operation that no asymmetric key supports (GenerateDataKey*, GenerateDataKeyPair*):
/// `InvalidKeyUsageException`.
pub(crate) fn refuse_asymmetric(key: &KeyEntry, op: &str) -> Result<(), ApiError> {
    if key.rec.key_spec.asymmetric().is_some() {
        return Err(ApiError::new(
            KmsError::InvalidKeyUsageException,
            format!(
                "{} key spec is {} which is not valid for {op}.",
                key.arn,
                key.rec.key_spec.as_str()
            ),
        ));
    }
    Ok(())
}
