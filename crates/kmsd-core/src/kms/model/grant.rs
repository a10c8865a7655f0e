//! The grant record as stored, and the grant operations of the model.

use std::collections::BTreeMap;

use kmsd_policy::Grant;
use kmsd_policy::GrantConstraints;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::kms::model::ts::ts;

/// Every grant operation of the model.
pub(crate) const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// Grant operations a symmetric encryption key does not support.
pub(crate) const NOT_FOR_SYMMETRIC: &[&str] = &[
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];

/// Encryption-context constraints as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub(crate) struct ConstraintsRecord {
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
}

/// One grant as stored (table `kms_grants`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GrantRecord {
    pub grant_id: String,
    pub key_id: String,
    pub name: Option<String>,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: Option<ConstraintsRecord>,
    pub issuing_account: String,
    pub creation_millis: i64,
}

impl GrantRecord {
    /// The grant as the decision engine sees it.
    pub(crate) fn to_policy(&self) -> Grant {
        Grant {
            grant_id: self.grant_id.clone(),
            name: self.name.clone(),
            grantee_principal: self.grantee_principal.clone(),
            operations: self.operations.clone(),
            constraints: self.constraints.as_ref().map(|c| GrantConstraints {
                encryption_context_equals: c.encryption_context_equals.clone(),
                encryption_context_subset: c.encryption_context_subset.clone(),
            }),
        }
    }

    /// A `GrantListEntry`.
    pub(crate) fn entry(&self, key_arn: &str) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("KeyId".into(), Value::from(key_arn));
        m.insert("GrantId".into(), Value::from(self.grant_id.clone()));
        if let Some(n) = &self.name {
            m.insert("Name".into(), Value::from(n.clone()));
        }
        m.insert("CreationDate".into(), ts(self.creation_millis));
        m.insert(
            "GranteePrincipal".into(),
            Value::from(self.grantee_principal.clone()),
        );
        if let Some(r) = &self.retiring_principal {
            m.insert("RetiringPrincipal".into(), Value::from(r.clone()));
        }
        m.insert(
            "IssuingAccount".into(),
            Value::from(format!("arn:aws:iam::{}:root", self.issuing_account)),
        );
        m.insert("Operations".into(), json!(self.operations));
        if let Some(c) = &self.constraints {
            let mut cm = serde_json::Map::new();
            if let Some(e) = &c.encryption_context_equals {
                cm.insert("EncryptionContextEquals".into(), json!(e));
            }
            if let Some(s) = &c.encryption_context_subset {
                cm.insert("EncryptionContextSubset".into(), json!(s));
            }
            m.insert("Constraints".into(), Value::Object(cm));
        }
        Value::Object(m)
    }

    pub(crate) fn same_parameters(&self, other: &GrantRecord) -> bool {
        let mut a = self.operations.clone();
        let mut b = other.operations.clone();
        a.sort();
        b.sort();
        a == b
            && self.grantee_principal == other.grantee_principal
            && self.retiring_principal == other.retiring_principal
            && self.constraints == other.constraints
    }
}
