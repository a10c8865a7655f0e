//! Validation of a world file: everything is checked before anything is written (policy grammar
//! per kind, references to groups and managed policies, access key id uniqueness, principals
//! named by key policies and grants, keys through `Kms::validate_declared_key`).

use super::{api_msg, tag_list, AccessKeyDecl, BootstrapError, Document, World};
use crate::iam::model::{check_name, check_path, check_tags, is_account_id, policy_arn, ParsedArn};
use crate::iam::{model, Iam};
use crate::kms::Kms;
use crate::principal::PrincipalDirectory;
use kmsd_policy::{Policy, PolicyKind};
use std::collections::{BTreeMap, BTreeSet};

impl World {
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

    pub(super) fn validate_inner(
        &self,
        kms: &Kms,
        iam: Option<&Iam>,
    ) -> Result<(), BootstrapError> {
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
}
