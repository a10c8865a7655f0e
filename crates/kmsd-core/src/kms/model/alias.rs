//! The alias record as stored and the alias-name rules.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ts::ts;
use crate::error::{ApiError, KmsError};
use crate::kms::model::ids::alias_arn;

/// (account, region, alias name).
pub(crate) type AliasKey = (String, String, String);

/// AWS's resource quota "Aliases per KMS key".
pub(crate) const MAX_ALIASES_PER_KEY: usize = 50;

/// One alias (table `kms_aliases`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub account: String,
    pub region: String,
    /// `alias/NAME`.
    pub name: String,
    pub target_key_id: String,
    pub creation_millis: i64,
    pub last_updated_millis: i64,
}

impl AliasRecord {
    pub(crate) fn key(&self) -> AliasKey {
        (self.account.clone(), self.region.clone(), self.name.clone())
    }

    pub(crate) fn entry(&self) -> Value {
        json!({
            "AliasName": self.name,
            "AliasArn": alias_arn(&self.region, &self.account, &self.name),
            "TargetKeyId": crate::kms::model::ids::id_of_slot(&self.target_key_id),
            "CreationDate": ts(self.creation_millis),
            "LastUpdatedDate": ts(self.last_updated_millis),
        })
    }
}

/// The semantic alias-name rules (after the model pattern).
pub(crate) fn alias_name_rules(name: &str) -> Result<(), ApiError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(ApiError::validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    };
    if name.starts_with("alias/aws/") {
        return Err(ApiError::bare(KmsError::NotAuthorizedException));
    }
    if rest.is_empty() || rest.contains(':') {
        return Err(ApiError::validation(format!(
            "{name} contains invalid characters for an alias"
        )));
    }
    Ok(())
}
