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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kmsd_policy::{GrantConstraints, Policy, PolicyKind};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::iam::model::{
    self, check_name, check_path, check_tags, derived_unique_id, is_account_id, policy_arn,
    AccessKeyRec, AccountRec, GroupRec, KeyOwner, ParsedArn, PolicyRec, PolicyVersionRec, RoleRec,
    Tags, UserRec,
};
use crate::iam::{Change, Iam};
use crate::kms::{DeclaredGrant, DeclaredKey, Kms};
use crate::principal::PrincipalDirectory;

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

const EMPTY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

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

    /// Does the world declare this principal (account id, root, user, role, session of a role)?
    fn declares_principal(&self, arn: &str) -> bool {
        let find = |account: &str| self.accounts.iter().find(|a| a.id == account);
        match model::parse_arn(arn) {
            Some(ParsedArn::Root { account }) => find(&account).is_some(),
            Some(ParsedArn::User {
                account,
                path,
                name,
            }) => find(&account).is_some_and(|a| {
                a.users
                    .iter()
                    .any(|u| u.name == name && u.path.as_deref().unwrap_or("/") == path)
            }),
            Some(ParsedArn::Role {
                account,
                path,
                name,
            }) => find(&account).is_some_and(|a| {
                a.roles
                    .iter()
                    .any(|r| r.name == name && r.path.as_deref().unwrap_or("/") == path)
            }),
            Some(ParsedArn::AssumedRole { account, role, .. }) => {
                find(&account).is_some_and(|a| a.roles.iter().any(|r| r.name == role))
            }
            _ => false,
        }
    }

    fn check_doc(
        &self,
        entity: &str,
        what: &str,
        doc: &Document,
        kind: PolicyKind,
    ) -> Result<String, BootstrapError> {
        let text = doc.text();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(_)) => {}
            _ => return Err(self.err(entity, format!("{what}: not a JSON object"))),
        }
        Policy::parse(&text, kind)
            .map_err(|e| self.err(entity, format!("{what}: malformed policy: {e}")))?;
        Ok(text)
    }

    /// Check everything before anything is applied. Principals named by key policies and
    /// grants must be declared by the world itself.
    pub fn validate(&self, kms: &Kms) -> Result<(), BootstrapError> {
        self.validate_inner(kms, None)
    }

    fn validate_inner(&self, kms: &Kms, iam: Option<&Iam>) -> Result<(), BootstrapError> {
        let mut accounts = BTreeSet::new();
        let mut key_ids: BTreeMap<String, String> = BTreeMap::new();
        let mut kms_key_ids = BTreeSet::new();
        for acct in &self.accounts {
            let a = format!("account {}", acct.id);
            if !is_account_id(&acct.id) {
                return Err(self.err(&a, "account id must be 12 digits"));
            }
            if !accounts.insert(acct.id.clone()) {
                return Err(self.err(&a, "account declared twice"));
            }
            let mut claim = |entity: &str, k: &AccessKeyDecl| -> Result<(), BootstrapError> {
                let id = &k.access_key_id;
                let ok = (16..=128).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && !id.starts_with("ASIA");
                if !ok {
                    return Err(self.err(
                        entity,
                        format!("access key id {id:?} must be 16..128 upper-case letters or digits and must not start with ASIA"),
                    ));
                }
                if k.secret_access_key.is_empty() {
                    return Err(
                        self.err(entity, format!("access key {id}: empty secret_access_key"))
                    );
                }
                if let Some(other) = key_ids.insert(id.clone(), entity.to_string()) {
                    return Err(self.err(
                        entity,
                        format!("access key id {id} is also declared by {other}"),
                    ));
                }
                Ok(())
            };
            if let Some(k) = &acct.root_access_key {
                claim(&format!("{a}, root"), k)?;
            }

            // Managed policies.
            let mut policy_arns = BTreeSet::new();
            let mut names = BTreeSet::new();
            for p in &acct.policies {
                let e = format!("{a}, policy {}", p.name);
                check_name(&p.name, "policyName", 128).map_err(|x| self.err(&e, api_msg(&x)))?;
                let path =
                    check_path(p.path.as_deref(), "path").map_err(|x| self.err(&e, api_msg(&x)))?;
                if !names.insert(p.name.to_ascii_lowercase()) {
                    return Err(self.err(&e, "policy declared twice"));
                }
                if let Some(d) = &p.document {
                    let text = self.check_doc(&e, "document", d, PolicyKind::Identity)?;
                    if model::policy_size(&text) > 6144 {
                        return Err(self.err(&e, "document larger than 6144 characters"));
                    }
                }
                policy_arns.insert(policy_arn(&acct.id, &path, &p.name));
            }
            let check_managed = |e: &str, list: &[String]| -> Result<(), BootstrapError> {
                if list.len() > 10 {
                    return Err(self.err(e, "more than 10 managed policies"));
                }
                for arn in list {
                    if !policy_arns.contains(arn) && crate::iam::aws_managed::by_arn(arn).is_none()
                    {
                        return Err(self.err(
                            e,
                            format!("managed policy {arn} is not declared in this account"),
                        ));
                    }
                }
                Ok(())
            };
            let check_boundary = |e: &str, b: &Option<String>| -> Result<(), BootstrapError> {
                match b {
                    Some(arn)
                        if !policy_arns.contains(arn)
                            && crate::iam::aws_managed::by_arn(arn).is_none() =>
                    {
                        Err(self.err(
                            e,
                            format!(
                                "permissions boundary {arn} is not a policy declared in this account"
                            ),
                        ))
                    }
                    _ => Ok(()),
                }
            };
            let check_inline = |e: &str,
                                inline: &BTreeMap<String, Document>,
                                quota: usize|
             -> Result<(), BootstrapError> {
                let mut total = 0;
                for (n, d) in inline {
                    check_name(n, "policyName", 128).map_err(|x| self.err(e, api_msg(&x)))?;
                    total += model::policy_size(&self.check_doc(
                        e,
                        &format!("inline policy {n}"),
                        d,
                        PolicyKind::Identity,
                    )?);
                }
                if total > quota {
                    return Err(self.err(e, format!("inline policies exceed {quota} characters")));
                }
                Ok(())
            };

            // Groups.
            let mut groups = BTreeSet::new();
            for g in &acct.groups {
                let e = format!("{a}, group {}", g.name);
                check_name(&g.name, "groupName", 128).map_err(|x| self.err(&e, api_msg(&x)))?;
                check_path(g.path.as_deref(), "path").map_err(|x| self.err(&e, api_msg(&x)))?;
                if !groups.insert(g.name.to_ascii_lowercase()) {
                    return Err(self.err(&e, "group declared twice"));
                }
                check_inline(&e, &g.inline_policies, 5120)?;
                check_managed(&e, &g.managed_policies)?;
            }

            // Users.
            let mut users = BTreeSet::new();
            for u in &acct.users {
                let e = format!("{a}, user {}", u.name);
                check_name(&u.name, "userName", 64).map_err(|x| self.err(&e, api_msg(&x)))?;
                check_path(u.path.as_deref(), "path").map_err(|x| self.err(&e, api_msg(&x)))?;
                if !users.insert(u.name.to_ascii_lowercase()) {
                    return Err(self.err(&e, "user declared twice"));
                }
                check_tags(&tag_list(&u.tags)).map_err(|x| self.err(&e, api_msg(&x)))?;
                for g in &u.groups {
                    if !groups.contains(&g.to_ascii_lowercase()) {
                        return Err(
                            self.err(&e, format!("group {g} is not declared in this account"))
                        );
                    }
                }
                if u.groups.len() > 10 {
                    return Err(self.err(&e, "member of more than 10 groups"));
                }
                check_inline(&e, &u.inline_policies, 2048)?;
                check_managed(&e, &u.managed_policies)?;
                check_boundary(&e, &u.permissions_boundary)?;
                if u.access_keys.len() > 2 {
                    return Err(self.err(&e, "more than 2 access keys"));
                }
                for k in &u.access_keys {
                    claim(&e, k)?;
                }
            }

            // Roles.
            let mut roles = BTreeSet::new();
            for r in &acct.roles {
                let e = format!("{a}, role {}", r.name);
                check_name(&r.name, "roleName", 64).map_err(|x| self.err(&e, api_msg(&x)))?;
                check_path(r.path.as_deref(), "path").map_err(|x| self.err(&e, api_msg(&x)))?;
                if !roles.insert(r.name.to_ascii_lowercase()) {
                    return Err(self.err(&e, "role declared twice"));
                }
                check_tags(&tag_list(&r.tags)).map_err(|x| self.err(&e, api_msg(&x)))?;
                if let Some(d) = &r.assume_role_policy {
                    let text = self.check_doc(&e, "assume_role_policy", d, PolicyKind::Trust)?;
                    if let Ok(p) = Policy::parse(&text, PolicyKind::Trust) {
                        for arn in p.aws_principals() {
                            let known = arn == "*"
                                || self.declares_principal(&arn)
                                || iam.is_some_and(|i| i.principal_exists(&arn));
                            if !known {
                                return Err(self.err(&e, format!("assume_role_policy names principal {arn}, which is not declared")));
                            }
                        }
                    }
                }
                if let Some(m) = r.max_session_duration {
                    if !(3600..=43200).contains(&m) {
                        return Err(self.err(&e, "max_session_duration must be 3600..43200"));
                    }
                }
                if r.description
                    .as_ref()
                    .is_some_and(|d| d.chars().count() > 1000)
                {
                    return Err(self.err(&e, "description longer than 1000 characters"));
                }
                check_inline(&e, &r.inline_policies, 10240)?;
                check_managed(&e, &r.managed_policies)?;
                check_boundary(&e, &r.permissions_boundary)?;
            }

            // Keys.
            for (decl, dk) in acct.keys.iter().zip(self.declared_keys(acct)) {
                let e = format!("{a}, key {}", dk.id);
                if !kms_key_ids.insert(dk.id.clone()) {
                    return Err(self.err(&e, "key declared twice"));
                }
                if let Some(p) = &decl.policy {
                    self.check_doc(&e, "policy", p, PolicyKind::Key)?;
                }
                kms.validate_declared_key(&acct.id, &dk)
                    .map_err(|m| self.err(&e, m))?;
                let exists = |arn: &str| {
                    arn == "*"
                        || self.declares_principal(arn)
                        || iam.is_some_and(|i| i.principal_exists(arn))
                };
                let text = dk.policy.clone().unwrap_or_else(|| {
                    format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#, acct.id)
                });
                if let Ok(p) = Policy::parse(&text, PolicyKind::Key) {
                    for arn in p.aws_principals() {
                        if !exists(&arn) {
                            return Err(self.err(
                                &e,
                                format!("policy names principal {arn}, which is not declared"),
                            ));
                        }
                    }
                }
                for g in &dk.grants {
                    if g.grantee_principal.is_empty() {
                        return Err(self.err(&e, "a grant has no grantee_principal"));
                    }
                    for arn in
                        std::iter::once(&g.grantee_principal).chain(g.retiring_principal.iter())
                    {
                        if !exists(arn) {
                            return Err(
                                self.err(&e, format!("grant principal {arn} is not declared"))
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Validate completely, then apply: all IAM entities in one store commit, then each key.
    /// Idempotent.
    pub fn apply(&self, iam: &Iam, kms: &Kms) -> Result<(), BootstrapError> {
        self.validate_inner(kms, Some(iam))?;
        let now = iam.clock().now_secs();
        {
            let mut st = iam.write();
            let mut changes = Vec::new();
            let ids = self.declared_ids(&st);
            for acct in &self.accounts {
                self.account_changes(&st, acct, now, &ids, &mut changes)?;
            }
            iam.commit(&mut st, changes)
                .map_err(|e| self.err("IAM entities", api_msg(&e)))?;
        }
        for acct in &self.accounts {
            for dk in self.declared_keys(acct) {
                kms.ensure_declared_key(&acct.id, &dk).map_err(|e| {
                    self.err(format!("account {}, key {}", acct.id, dk.id), api_msg(&e))
                })?;
            }
        }
        Ok(())
    }

    /// The unique ids every declared user and role will have (kept if it exists, else derived
    /// from account and name), by ARN.
    fn declared_ids(&self, st: &crate::iam::State) -> BTreeMap<String, String> {
        let mut ids = BTreeMap::new();
        for acct in &self.accounts {
            let id = &acct.id;
            for u in &acct.users {
                let path = u.path.clone().unwrap_or_else(|| "/".into());
                let uid = st
                    .user(id, &u.name)
                    .map(|o| o.user_id.clone())
                    .unwrap_or_else(|| {
                        derived_unique_id(
                            "AIDA",
                            &format!("user:{id}:{}", u.name.to_ascii_lowercase()),
                        )
                    });
                ids.insert(model::user_arn(id, &path, &u.name), uid);
            }
            for r in &acct.roles {
                let path = r.path.clone().unwrap_or_else(|| "/".into());
                let rid = st
                    .role(id, &r.name)
                    .map(|o| o.role_id.clone())
                    .unwrap_or_else(|| {
                        derived_unique_id(
                            "AROA",
                            &format!("role:{id}:{}", r.name.to_ascii_lowercase()),
                        )
                    });
                ids.insert(model::role_arn(id, &path, &r.name), rid);
            }
        }
        ids
    }

    fn account_changes(
        &self,
        st: &crate::iam::State,
        acct: &AccountDecl,
        now: i64,
        ids: &BTreeMap<String, String>,
        out: &mut Vec<Change>,
    ) -> Result<(), BootstrapError> {
        let id = &acct.id;
        let a = format!("account {id}");
        if !st.accounts.contains_key(id) {
            out.push(Change::Account(AccountRec {
                id: id.clone(),
                created: now,
            }));
        }
        let mut want_key =
            |entity: &str, owner: KeyOwner, k: &AccessKeyDecl| -> Result<(), BootstrapError> {
                let rec = match st.keys.get(&k.access_key_id) {
                    Some(old) if old.account != *id || old.owner != owner => {
                        return Err(self.err(
                            entity,
                            format!(
                                "access key id {} already belongs to another principal",
                                k.access_key_id
                            ),
                        ));
                    }
                    Some(old) => AccessKeyRec {
                        secret: k.secret_access_key.clone(),
                        status: "Active".into(),
                        ..old.clone()
                    },
                    None => AccessKeyRec {
                        id: k.access_key_id.clone(),
                        secret: k.secret_access_key.clone(),
                        account: id.clone(),
                        owner,
                        status: "Active".into(),
                        created: now,
                    },
                };
                if st.keys.get(&rec.id) != Some(&rec) {
                    out.push(Change::Key(rec));
                }
                Ok(())
            };
        if let Some(k) = &acct.root_access_key {
            want_key(&format!("{a}, root"), KeyOwner::Root, k)?;
        }
        for u in &acct.users {
            for k in &u.access_keys {
                want_key(
                    &format!("{a}, user {}", u.name),
                    KeyOwner::User(u.name.clone()),
                    k,
                )?;
            }
        }

        for p in &acct.policies {
            let path = p.path.clone().unwrap_or_else(|| "/".into());
            let doc = p
                .document
                .as_ref()
                .map(Document::text)
                .unwrap_or_else(|| EMPTY_POLICY.to_string());
            let rec = match st.policies.get(&crate::iam::key(id, &p.name)) {
                Some(old) => {
                    let mut rec = old.clone();
                    rec.name = p.name.clone();
                    rec.path = path;
                    rec.description = p.description.clone();
                    if old.default_document() != Some(doc.as_str()) {
                        if rec.versions.len() >= 5 {
                            if let Some(i) = rec
                                .versions
                                .iter()
                                .position(|v| v.id != rec.default_version)
                            {
                                rec.versions.remove(i);
                            }
                        }
                        let vid = format!("v{}", rec.next_version);
                        rec.next_version += 1;
                        rec.versions.push(PolicyVersionRec {
                            id: vid.clone(),
                            document: doc,
                            created: now,
                        });
                        rec.default_version = vid;
                        rec.updated = now;
                    }
                    rec
                }
                None => PolicyRec {
                    account: id.clone(),
                    name: p.name.clone(),
                    policy_id: derived_unique_id(
                        "ANPA",
                        &format!("policy:{id}:{}", p.name.to_ascii_lowercase()),
                    ),
                    path,
                    created: now,
                    updated: now,
                    description: p.description.clone(),
                    default_version: "v1".into(),
                    versions: vec![PolicyVersionRec {
                        id: "v1".into(),
                        document: doc,
                        created: now,
                    }],
                    next_version: 2,
                    tags: Vec::new(),
                },
            };
            if st.policies.get(&crate::iam::key(id, &p.name)) != Some(&rec) {
                out.push(Change::Policy(rec));
            }
        }
        let texts = |m: &BTreeMap<String, Document>| -> BTreeMap<String, String> {
            m.iter().map(|(k, v)| (k.clone(), v.text())).collect()
        };
        for g in &acct.groups {
            let old = st.group(id, &g.name);
            let rec = GroupRec {
                account: id.clone(),
                name: g.name.clone(),
                path: g.path.clone().unwrap_or_else(|| "/".into()),
                group_id: old.map(|o| o.group_id.clone()).unwrap_or_else(|| {
                    derived_unique_id(
                        "AGPA",
                        &format!("group:{id}:{}", g.name.to_ascii_lowercase()),
                    )
                }),
                created: old.map(|o| o.created).unwrap_or(now),
                inline: texts(&g.inline_policies),
                managed: g.managed_policies.clone(),
            };
            if old != Some(&rec) {
                out.push(Change::Group(rec));
            }
        }
        for u in &acct.users {
            let old = st.user(id, &u.name);
            let groups = u
                .groups
                .iter()
                .map(|g| {
                    acct.groups
                        .iter()
                        .find(|d| d.name.eq_ignore_ascii_case(g))
                        .map(|d| d.name.clone())
                        .unwrap_or_else(|| g.clone())
                })
                .collect();
            let rec = UserRec {
                account: id.clone(),
                name: u.name.clone(),
                path: u.path.clone().unwrap_or_else(|| "/".into()),
                user_id: old.map(|o| o.user_id.clone()).unwrap_or_else(|| {
                    derived_unique_id(
                        "AIDA",
                        &format!("user:{id}:{}", u.name.to_ascii_lowercase()),
                    )
                }),
                created: old.map(|o| o.created).unwrap_or(now),
                tags: tag_list(&u.tags),
                groups,
                inline: texts(&u.inline_policies),
                managed: u.managed_policies.clone(),
                boundary: u.permissions_boundary.clone(),
            };
            if old != Some(&rec) {
                out.push(Change::User(rec));
            }
        }
        for r in &acct.roles {
            let old = st.role(id, &r.name);
            let rec = RoleRec {
                account: id.clone(),
                name: r.name.clone(),
                path: r.path.clone().unwrap_or_else(|| "/".into()),
                role_id: old.map(|o| o.role_id.clone()).unwrap_or_else(|| {
                    derived_unique_id(
                        "AROA",
                        &format!("role:{id}:{}", r.name.to_ascii_lowercase()),
                    )
                }),
                created: old.map(|o| o.created).unwrap_or(now),
                trust: r
                    .assume_role_policy
                    .as_ref()
                    .map(Document::text)
                    .unwrap_or_else(|| EMPTY_POLICY.to_string()),
                description: r.description.clone(),
                max_session: r.max_session_duration.unwrap_or(3600),
                tags: tag_list(&r.tags),
                inline: texts(&r.inline_policies),
                managed: r.managed_policies.clone(),
                boundary: r.permissions_boundary.clone(),
                trust_bindings: BTreeMap::new(),
            };
            let rec = RoleRec {
                trust_bindings: crate::iam::binding::bind(st, &rec.trust, ids),
                ..rec
            };
            if old != Some(&rec) {
                out.push(Change::Role(rec));
            }
        }
        Ok(())
    }
}

fn api_msg(e: &crate::error::ApiError) -> String {
    e.message.clone().unwrap_or_else(|| e.code.to_string())
}
