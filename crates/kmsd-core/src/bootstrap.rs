//! The bootstrap (world) file of `interface.md`: accounts with root credentials, and per
//! account managed policies, groups, users, roles and KMS keys.
//!
//! [`World::from_file`] / [`World::from_str`] parse it strictly (unknown fields are errors,
//! naming the entity); [`World::validate`] checks everything before anything is written
//! (policy grammar per kind, references to groups and managed policies, access key id
//! uniqueness, principals named by key policies and grants, keys through
//! `Kms::validate_declared_key`); [`World::apply`] then writes all IAM entities in one
//! store commit and ensures each key through `Kms::ensure_declared_key`. Applying the same
//! file again changes nothing: unique ids are derived from account and name (or kept when
//! the entity already exists), creation dates are kept, and records are only written when
//! they differ.
//!
//! This module holds the declaration (the file's types and parsing); `bootstrap::validate`
//! and `bootstrap::apply` the two other steps.

use std::collections::BTreeMap;
use std::path::Path;

use kmsd_policy::GrantConstraints;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::iam::model::Tags;
use crate::kms::{DeclaredGrant, DeclaredKey};

mod apply;
mod validate;

/// Region of a declared key that names none, unless [`World::with_default_region`] set one.
pub const DEFAULT_KEY_REGION: &str = "us-east-1";

/// A problem with a world file: which file, which entity, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapError {
    pub file: String,
    /// `account 111122223333, user alice`, ...; `None` for file-level problems.
    pub entity: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for BootstrapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.entity {
            Some(e) => write!(f, "{}: {}: {}", self.file, e, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for BootstrapError {}

/// A policy document given as a JSON object or as a JSON string.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Document {
    Text(String),
    Json(serde_json::Value),
}

impl Document {
    /// The document text.
    pub fn text(&self) -> String {
        match self {
            Document::Text(s) => s.clone(),
            Document::Json(v) => v.to_string(),
        }
    }
}

/// Long-term credentials (`Debug` does not show the secret).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyDecl {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for AccessKeyDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyDecl")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDecl {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub document: Option<Document>,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDecl {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, Document>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDecl {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, Document>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub access_keys: Vec<AccessKeyDecl>,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDecl {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub assume_role_policy: Option<Document>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, Document>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub max_session_duration: Option<i64>,
}

/// Grant constraints, with AWS's member names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintsDecl {
    #[serde(rename = "EncryptionContextSubset", default)]
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(rename = "EncryptionContextEquals", default)]
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// A grant on a declared key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantDecl {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub grantee_principal: Option<String>,
    #[serde(default)]
    pub retiring_principal: Option<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub constraints: Option<ConstraintsDecl>,
}

/// A KMS key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDecl {
    pub id: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `None`: the default key policy.
    #[serde(default)]
    pub policy: Option<Document>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub grants: Vec<GrantDecl>,
}

/// An account and what it holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDecl {
    pub id: String,
    #[serde(default)]
    pub root_access_key: Option<AccessKeyDecl>,
    #[serde(default)]
    pub policies: Vec<PolicyDecl>,
    #[serde(default)]
    pub groups: Vec<GroupDecl>,
    #[serde(default)]
    pub users: Vec<UserDecl>,
    #[serde(default)]
    pub roles: Vec<RoleDecl>,
    #[serde(default)]
    pub keys: Vec<KeyDecl>,
}

/// The whole world file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub accounts: Vec<AccountDecl>,
    /// Where the world came from (file name), for messages.
    #[serde(skip)]
    pub origin: String,
    /// Region of keys that name none (the server's `--region`); [`DEFAULT_KEY_REGION`] if unset.
    #[serde(skip)]
    pub default_region: Option<String>,
}

fn tag_list(tags: &BTreeMap<String, String>) -> Tags {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The entity a JSON value describes, from its `name` or `id`.
fn label(kind: &str, v: &serde_json::Value, index: usize) -> String {
    let name = v
        .get("name")
        .or_else(|| v.get("id"))
        .and_then(|n| n.as_str());
    match name {
        Some(n) => format!("{kind} {n}"),
        None => format!("{kind} #{}", index + 1),
    }
}

fn first_error<T: serde::de::DeserializeOwned>(
    items: Option<&serde_json::Value>,
    kind: &str,
) -> Option<(String, String)> {
    let list = items?.as_array()?;
    for (i, item) in list.iter().enumerate() {
        if let Err(e) = serde_json::from_value::<T>(item.clone()) {
            return Some((label(kind, item, i), e.to_string()));
        }
    }
    None
}

impl World {
    /// Read and parse a world file.
    pub fn from_file(path: &Path) -> Result<World, BootstrapError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| BootstrapError {
            file: origin.clone(),
            entity: None,
            problem: format!("cannot read the file: {e}"),
        })?;
        World::from_str(&text, &origin)
    }

    /// Parse a world from text; `origin` names it in messages.
    pub fn from_str(text: &str, origin: &str) -> Result<World, BootstrapError> {
        let err = |entity: Option<String>, problem: String| BootstrapError {
            file: origin.to_string(),
            entity,
            problem,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(None, format!("not valid JSON: {e}")))?;
        match serde_json::from_value::<World>(value.clone()) {
            Ok(mut w) => {
                w.origin = origin.to_string();
                Ok(w)
            }
            Err(e) => {
                // Find the entity at fault to name it.
                if let Some(accounts) = value.get("accounts").and_then(|a| a.as_array()) {
                    for (i, acct) in accounts.iter().enumerate() {
                        if serde_json::from_value::<AccountDecl>(acct.clone()).is_ok() {
                            continue;
                        }
                        let account = label("account", acct, i);
                        let inner = first_error::<PolicyDecl>(acct.get("policies"), "policy")
                            .or_else(|| first_error::<GroupDecl>(acct.get("groups"), "group"))
                            .or_else(|| first_error::<UserDecl>(acct.get("users"), "user"))
                            .or_else(|| first_error::<RoleDecl>(acct.get("roles"), "role"))
                            .or_else(|| first_error::<KeyDecl>(acct.get("keys"), "key"));
                        return Err(match inner {
                            Some((entity, problem)) => {
                                err(Some(format!("{account}, {entity}")), problem)
                            }
                            None => {
                                let problem = serde_json::from_value::<AccountDecl>(acct.clone())
                                    .err()
                                    .map(|e| e.to_string())
                                    .unwrap_or_else(|| e.to_string());
                                err(Some(account), problem)
                            }
                        });
                    }
                }
                Err(err(None, e.to_string()))
            }
        }
    }

    fn err(&self, entity: impl Into<String>, problem: impl Into<String>) -> BootstrapError {
        BootstrapError {
            file: if self.origin.is_empty() {
                "<world>".to_string()
            } else {
                self.origin.clone()
            },
            entity: Some(entity.into()),
            problem: problem.into(),
        }
    }

    /// The same world with keys that name no region placed in `region`.
    pub fn with_default_region(mut self, region: &str) -> World {
        self.default_region = Some(region.to_string());
        self
    }

    /// The keys of an account as the KMS module takes them.
    pub fn declared_keys(&self, acct: &AccountDecl) -> Vec<DeclaredKey> {
        acct.keys
            .iter()
            .map(|k| DeclaredKey {
                id: k.id.clone(),
                region: k
                    .region
                    .clone()
                    .or_else(|| self.default_region.clone())
                    .unwrap_or_else(|| DEFAULT_KEY_REGION.to_string()),
                description: k.description.clone().unwrap_or_default(),
                policy: k.policy.as_ref().map(Document::text),
                aliases: k.aliases.clone(),
                enabled: k.enabled.unwrap_or(true),
                tags: k.tags.clone(),
                grants: k
                    .grants
                    .iter()
                    .map(|g| DeclaredGrant {
                        name: g.name.clone(),
                        grantee_principal: g.grantee_principal.clone().unwrap_or_default(),
                        retiring_principal: g.retiring_principal.clone(),
                        operations: g.operations.clone(),
                        constraints: g.constraints.as_ref().map(|c| GrantConstraints {
                            encryption_context_equals: c.encryption_context_equals.clone(),
                            encryption_context_subset: c.encryption_context_subset.clone(),
                        }),
                    })
                    .collect(),
            })
            .collect()
    }
}

fn api_msg(e: &crate::error::ApiError) -> String {
    e.message.clone().unwrap_or_else(|| e.code.to_string())
}
