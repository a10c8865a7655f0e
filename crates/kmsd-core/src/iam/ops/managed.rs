//! Customer managed policies and their versions: CreatePolicy, GetPolicy, DeletePolicy,
//! ListPolicies, Create/Get/Delete/ListPolicyVersion(s), SetDefaultPolicyVersion.

use super::{
    check_document, check_path, check_policy_arn_syntax, check_policy_name, check_tags, key,
    no_extra, policy_arn, policy_size, random_unique_id, request_tags, usable_by, validation_error,
    Actor, ApiError, Change, Iam, IamError, PolicyKind, PolicyRec, PolicyVersionRec, PolicyView,
    State, Tags,
};

impl Iam {
    fn view(st: &State, p: &PolicyRec) -> PolicyView {
        let (attachment_count, boundary_usage_count) = Self::managed_count(st, &p.arn());
        PolicyView {
            policy: p.clone(),
            attachment_count,
            boundary_usage_count,
        }
    }

    /// GetPolicy / GetPolicyVersion / ListPolicyVersions: own or AWS managed policies.
    fn readable_policy(st: &State, account: &str, arn: &str) -> Result<PolicyRec, ApiError> {
        check_policy_arn_syntax(arn, "policyArn")?;
        match st.policy_by_arn(arn) {
            Some(p) if usable_by(p, account) => Ok(p.clone()),
            _ => Err(ApiError::new(
                IamError::NoSuchEntity,
                format!("Policy {arn} was not found."),
            )),
        }
    }

    fn own_policy(st: &State, account: &str, arn: &str) -> Result<PolicyRec, ApiError> {
        check_policy_arn_syntax(arn, "policyArn")?;
        match st.policy_by_arn(arn) {
            Some(p) if p.account == account => Ok(p.clone()),
            _ => Err(ApiError::new(
                IamError::NoSuchEntity,
                format!("Policy {arn} was not found."),
            )),
        }
    }

    /// CreatePolicy (version v1, default).
    pub fn create_policy(
        &self,
        actor: &mut Actor<'_>,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
        tags: Tags,
    ) -> Result<PolicyView, ApiError> {
        check_policy_name(name)?;
        let path = check_path(path, "path")?;
        check_tags(&tags)?;
        let account = actor.account().to_string();
        let arn = policy_arn(&account, &path, name);
        self.authorize(actor, "iam:CreatePolicy", &arn, &|ctx| {
            request_tags(ctx, &tags)
        })?;
        check_document(document, PolicyKind::Identity)?;
        check_managed_size(document)?;
        let mut st = self.write();
        if st.policies.contains_key(&key(&account, name)) {
            return Err(ApiError::new(
                IamError::EntityAlreadyExists,
                format!("A policy called {name} already exists. Duplicate names are not allowed."),
            ));
        }
        let now = self.now();
        let p = PolicyRec {
            account,
            name: name.to_string(),
            path,
            policy_id: random_unique_id("ANPA")?,
            created: now,
            updated: now,
            description: description.map(str::to_string),
            default_version: "v1".into(),
            versions: vec![PolicyVersionRec {
                id: "v1".into(),
                document: document.to_string(),
                created: now,
            }],
            next_version: 2,
            tags,
        };
        self.commit(&mut st, vec![Change::Policy(p.clone())])?;
        Ok(Self::view(&st, &p))
    }

    /// GetPolicy.
    pub fn get_policy(&self, actor: &mut Actor<'_>, arn: &str) -> Result<PolicyView, ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        self.authorize(actor, "iam:GetPolicy", arn, &no_extra)?;
        let st = self.read();
        let p = Self::readable_policy(&st, &account, arn)?;
        Ok(Self::view(&st, &p))
    }

    /// CreatePolicyVersion (at most five versions).
    pub fn create_policy_version(
        &self,
        actor: &mut Actor<'_>,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<(PolicyVersionRec, bool), ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        self.authorize(actor, "iam:CreatePolicyVersion", arn, &no_extra)?;
        let mut st = self.write();
        let mut p = Self::own_policy(&st, &account, arn)?;
        check_document(document, PolicyKind::Identity)?;
        check_managed_size(document)?;
        if p.versions.len() >= 5 {
            return Err(ApiError::new(
                IamError::LimitExceeded,
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
            ));
        }
        let now = self.now();
        let v = PolicyVersionRec {
            id: format!("v{}", p.next_version),
            document: document.to_string(),
            created: now,
        };
        p.next_version += 1;
        p.versions.push(v.clone());
        if set_as_default {
            p.default_version = v.id.clone();
        }
        p.updated = now;
        self.commit(&mut st, vec![Change::Policy(p)])?;
        Ok((v, set_as_default))
    }

    /// GetPolicyVersion: the version and whether it is the default.
    pub fn get_policy_version(
        &self,
        actor: &mut Actor<'_>,
        arn: &str,
        version_id: &str,
    ) -> Result<(PolicyVersionRec, bool), ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        let valid = version_id.strip_prefix('v').is_some_and(|n| {
            !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())
        });
        if !valid {
            return Err(validation_error(
                Some(version_id),
                "versionId",
                "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
            ));
        }
        self.authorize(actor, "iam:GetPolicyVersion", arn, &no_extra)?;
        let st = self.read();
        let p = Self::readable_policy(&st, &account, arn)?;
        let v =
            p.versions
                .iter()
                .find(|v| v.id == version_id)
                .cloned()
                .ok_or_else(|| {
                    ApiError::new(
                IamError::NoSuchEntity,
                format!("Policy {arn} version {version_id} does not exist or is not attachable."),
            )
                })?;
        let is_default = v.id == p.default_version;
        Ok((v, is_default))
    }

    /// DeletePolicy (fails while attached or while it has non-default versions).
    pub fn delete_policy(&self, actor: &mut Actor<'_>, arn: &str) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        self.authorize(actor, "iam:DeletePolicy", arn, &no_extra)?;
        let mut st = self.write();
        let p = Self::own_policy(&st, &account, arn)?;
        let (attached, boundary) = Self::managed_count(&st, &p.arn());
        if attached + boundary > 0 {
            return Err(ApiError::new(
                IamError::DeleteConflict,
                "Cannot delete a policy attached to entities.",
            ));
        }
        if p.versions.len() > 1 {
            return Err(ApiError::new(
                IamError::DeleteConflict,
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        self.commit(&mut st, vec![Change::DelPolicy(account, p.name)])
    }

    /// DeletePolicyVersion (not the default version).
    pub fn delete_policy_version(
        &self,
        actor: &mut Actor<'_>,
        arn: &str,
        version_id: &str,
    ) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        self.authorize(actor, "iam:DeletePolicyVersion", arn, &no_extra)?;
        let mut st = self.write();
        let mut p = Self::own_policy(&st, &account, arn)?;
        let Some(i) = p.versions.iter().position(|v| v.id == version_id) else {
            return Err(ApiError::new(
                IamError::NoSuchEntity,
                format!("Policy {arn} version {version_id} does not exist or is not attachable."),
            ));
        };
        if p.default_version == version_id {
            return Err(ApiError::new(
                IamError::DeleteConflict,
                "Cannot delete the default version of the policy.",
            ));
        }
        p.versions.remove(i);
        self.commit(&mut st, vec![Change::Policy(p)])
    }

    /// SetDefaultPolicyVersion.
    pub fn set_default_policy_version(
        &self,
        actor: &mut Actor<'_>,
        arn: &str,
        version_id: &str,
    ) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        self.authorize(actor, "iam:SetDefaultPolicyVersion", arn, &no_extra)?;
        let mut st = self.write();
        let mut p = Self::own_policy(&st, &account, arn)?;
        if !p.versions.iter().any(|v| v.id == version_id) {
            return Err(ApiError::new(
                IamError::NoSuchEntity,
                format!("Policy {arn} version {version_id} does not exist or is not attachable."),
            ));
        }
        p.default_version = version_id.to_string();
        p.updated = self.now();
        self.commit(&mut st, vec![Change::Policy(p)])
    }

    /// ListPolicyVersions: (version, is default), newest first.
    pub fn list_policy_versions(
        &self,
        actor: &mut Actor<'_>,
        arn: &str,
    ) -> Result<Vec<(PolicyVersionRec, bool)>, ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        self.authorize(actor, "iam:ListPolicyVersions", arn, &no_extra)?;
        let st = self.read();
        let p = Self::readable_policy(&st, &account, arn)?;
        Ok(p.versions
            .iter()
            .rev()
            .map(|v| (v.clone(), v.id == p.default_version))
            .collect())
    }

    /// ListPolicies (customer managed policies of the caller's account).
    pub fn list_policies(
        &self,
        actor: &mut Actor<'_>,
        path_prefix: Option<&str>,
    ) -> Result<Vec<PolicyView>, ApiError> {
        self.list_policies_in_scope(actor, path_prefix, Some("Local"))
    }

    /// ListPolicies with `Scope`: `Local` (the account's own), `AWS` (the AWS managed
    /// catalog) or `All` (both, the default).
    pub fn list_policies_in_scope(
        &self,
        actor: &mut Actor<'_>,
        path_prefix: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Vec<PolicyView>, ApiError> {
        let (local, aws) = match scope {
            None | Some("All") => (true, true),
            Some("Local") => (true, false),
            Some("AWS") => (false, true),
            Some(other) => {
                return Err(validation_error(
                    Some(other),
                    "scope",
                    "Member must satisfy enum value set: [All, AWS, Local]",
                ))
            }
        };
        let account = actor.account().to_string();
        self.authorize(
            actor,
            "iam:ListPolicies",
            &format!("arn:aws:iam::{account}:policy/"),
            &no_extra,
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let st = self.read();
        let own = st
            .policies
            .values()
            .filter(|p| local && p.account == account && p.path.starts_with(prefix));
        let managed = crate::iam::aws_managed::all()
            .iter()
            .filter(|p| aws && p.path.starts_with(prefix));
        Ok(managed.chain(own).map(|p| Self::view(&st, p)).collect())
    }
}

fn check_managed_size(document: &str) -> Result<(), ApiError> {
    if policy_size(document) > 6144 {
        return Err(ApiError::new(
            IamError::LimitExceeded,
            "Cannot exceed quota for PolicySize: 6144",
        ));
    }
    Ok(())
}
