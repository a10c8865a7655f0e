//! IAM operations (users, access keys, groups, roles, inline and managed policies, policy
//! versions, permissions boundaries, tags): input checks, authorization, AWS's errors and
//! limits, and the write through the store.

use kmsd_policy::{Policy, PolicyKind, RequestContext};

use super::model::{
    check_name, check_path, check_tags, group_arn, merge_tags, policy_arn, policy_size,
    random_access_key_id, random_secret, random_unique_id, role_arn, user_arn, validation_error,
    AccessKeyRec, GroupRec, KeyOwner, ParsedArn, PolicyRec, PolicyVersionRec, RoleRec, Tags,
    UserRec,
};
use super::{key, Actor, Change, Iam, State};
use crate::error::ApiError;
use crate::error::IamError;

/// The kinds of IAM identities that carry policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    fn word(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
    fn field(self) -> &'static str {
        match self {
            EntityKind::User => "userName",
            EntityKind::Group => "groupName",
            EntityKind::Role => "roleName",
        }
    }
    fn capital(self) -> &'static str {
        match self {
            EntityKind::User => "User",
            EntityKind::Group => "Group",
            EntityKind::Role => "Role",
        }
    }
    /// Aggregate inline policy size quota (non-whitespace characters).
    fn inline_quota(self) -> usize {
        match self {
            EntityKind::User => 2048,
            EntityKind::Group => 5120,
            EntityKind::Role => 10240,
        }
    }
}

/// Input of CreateRole.
#[derive(Debug, Clone, Default)]
pub struct CreateRoleInput {
    pub name: String,
    pub path: Option<String>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub permissions_boundary: Option<String>,
    pub tags: Tags,
}

/// A managed policy and how many identities it is attached to.
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub policy: PolicyRec,
    pub attachment_count: usize,
    pub boundary_usage_count: usize,
}

/// An entity with policies, cloned for modification.
enum Entity {
    User(UserRec),
    Group(GroupRec),
    Role(RoleRec),
}

impl Entity {
    fn name(&self) -> &str {
        match self {
            Entity::User(u) => &u.name,
            Entity::Group(g) => &g.name,
            Entity::Role(r) => &r.name,
        }
    }
    fn arn(&self) -> String {
        match self {
            Entity::User(u) => user_arn(&u.account, &u.path, &u.name),
            Entity::Group(g) => group_arn(&g.account, &g.path, &g.name),
            Entity::Role(r) => role_arn(&r.account, &r.path, &r.name),
        }
    }
    fn inline(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        match self {
            Entity::User(u) => &mut u.inline,
            Entity::Group(g) => &mut g.inline,
            Entity::Role(r) => &mut r.inline,
        }
    }
    fn managed(&mut self) -> &mut Vec<String> {
        match self {
            Entity::User(u) => &mut u.managed,
            Entity::Group(g) => &mut g.managed,
            Entity::Role(r) => &mut r.managed,
        }
    }
    fn boundary(&mut self) -> Option<&mut Option<String>> {
        match self {
            Entity::User(u) => Some(&mut u.boundary),
            Entity::Group(_) => None,
            Entity::Role(r) => Some(&mut r.boundary),
        }
    }
    fn tags(&mut self) -> Option<&mut Tags> {
        match self {
            Entity::User(u) => Some(&mut u.tags),
            Entity::Group(_) => None,
            Entity::Role(r) => Some(&mut r.tags),
        }
    }
    fn change(self) -> Change {
        match self {
            Entity::User(u) => Change::User(u),
            Entity::Group(g) => Change::Group(g),
            Entity::Role(r) => Change::Role(r),
        }
    }
}

fn no_such(kind: EntityKind, name: &str) -> ApiError {
    ApiError::new(
        IamError::NoSuchEntity,
        format!("The {} with name {name} cannot be found.", kind.word()),
    )
}

fn entity(st: &State, account: &str, kind: EntityKind, name: &str) -> Result<Entity, ApiError> {
    check_name(
        name,
        kind.field(),
        if kind == EntityKind::Group { 128 } else { 64 },
    )?;
    let found = match kind {
        EntityKind::User => st.user(account, name).cloned().map(Entity::User),
        EntityKind::Group => st.group(account, name).cloned().map(Entity::Group),
        EntityKind::Role => st.role(account, name).cloned().map(Entity::Role),
    };
    found.ok_or_else(|| no_such(kind, name))
}

/// Check a policy document's syntax and grammar for its kind.
pub(crate) fn check_document(doc: &str, kind: PolicyKind) -> Result<(), ApiError> {
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(serde_json::Value::Object(_)) => {}
        _ => {
            return Err(ApiError::new(
                IamError::MalformedPolicyDocument,
                "Syntax errors in policy.",
            ))
        }
    }
    Policy::parse(doc, kind)
        .map(|_| ())
        .map_err(|e| ApiError::new(IamError::MalformedPolicyDocument, e.to_string()))
}

/// Every AWS principal a trust policy names must exist on this server (AWS answers
/// `Invalid principal in policy` otherwise).
pub(crate) fn check_trust_principals(st: &State, doc: &str) -> Result<(), ApiError> {
    let Ok(policy) = Policy::parse(doc, PolicyKind::Trust) else {
        return Ok(());
    };
    for arn in policy.aws_principals() {
        if arn != "*" && !st.principal_exists(&arn) {
            return Err(ApiError::new(
                IamError::MalformedPolicyDocument,
                format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
            ));
        }
    }
    Ok(())
}

fn check_policy_name(name: &str) -> Result<(), ApiError> {
    check_name(name, "policyName", 128)
}

fn check_policy_arn_syntax(arn: &str, field: &str) -> Result<(), ApiError> {
    if arn.len() < 20 || arn.len() > 2048 || !arn.starts_with("arn:") {
        return Err(validation_error(
            Some(arn),
            field,
            "Member must have length greater than or equal to 20",
        ));
    }
    if !super::aws_managed::is_aws_managed_arn(arn)
        && !matches!(super::model::parse_arn(arn), Some(ParsedArn::Policy { .. }))
    {
        return Err(ApiError::new(
            IamError::InvalidInput,
            format!("ARN {arn} is not valid."),
        ));
    }
    Ok(())
}

/// A policy this account may attach or read: its own, or an AWS managed one.
fn usable_by(p: &PolicyRec, account: &str) -> bool {
    p.account == account || p.account == super::aws_managed::AWS_ACCOUNT
}

fn not_attachable(arn: &str) -> ApiError {
    ApiError::new(
        IamError::NoSuchEntity,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

fn request_tags(ctx: &mut RequestContext, tags: &Tags) {
    for (k, v) in tags {
        ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
    }
    ctx.set_multi("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
}

fn resource_tags(ctx: &mut RequestContext, tags: &Tags) {
    for (k, v) in tags {
        ctx.set(&format!("aws:ResourceTag/{k}"), v.clone());
        ctx.set(&format!("iam:ResourceTag/{k}"), v.clone());
    }
}

fn no_extra(_: &mut RequestContext) {}

fn entity_tags(e: &mut Entity) -> Tags {
    e.tags().map(|t| t.clone()).unwrap_or_default()
}

impl Iam {
    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    fn managed_count(st: &State, arn: &str) -> (usize, usize) {
        let mut attached = 0;
        let mut boundary = 0;
        for u in st.users.values() {
            attached += u.managed.iter().filter(|a| *a == arn).count();
            boundary += usize::from(u.boundary.as_deref() == Some(arn));
        }
        for g in st.groups.values() {
            attached += g.managed.iter().filter(|a| *a == arn).count();
        }
        for r in st.roles.values() {
            attached += r.managed.iter().filter(|a| *a == arn).count();
            boundary += usize::from(r.boundary.as_deref() == Some(arn));
        }
        (attached, boundary)
    }

    fn boundary_arn(st: &State, account: &str, arn: &str) -> Result<(), ApiError> {
        check_policy_arn_syntax(arn, "permissionsBoundary")?;
        match st.policy_by_arn(arn) {
            Some(p) if usable_by(p, account) => Ok(()),
            _ => Err(ApiError::new(
                IamError::NoSuchEntity,
                format!("Scope ARN: {arn} does not exist or is not attachable."),
            )),
        }
    }

    // ---------------------------------------------------------------- users

    /// CreateUser.
    pub fn create_user(
        &self,
        actor: &Actor<'_>,
        name: &str,
        path: Option<&str>,
        permissions_boundary: Option<&str>,
        tags: Tags,
    ) -> Result<UserRec, ApiError> {
        check_name(name, "userName", 64)?;
        let path = check_path(path, "path")?;
        check_tags(&tags)?;
        let account = actor.account().to_string();
        let arn = user_arn(&account, &path, name);
        self.authorize(actor, "iam:CreateUser", &arn, &|ctx| {
            request_tags(ctx, &tags);
            if let Some(b) = permissions_boundary {
                ctx.set("iam:PermissionsBoundary", b);
            }
        })?;
        let mut st = self.write();
        if st.user(&account, name).is_some() {
            return Err(ApiError::new(
                IamError::EntityAlreadyExists,
                format!("User with name {name} already exists."),
            ));
        }
        if let Some(b) = permissions_boundary {
            Self::boundary_arn(&st, &account, b)?;
        }
        let user = UserRec {
            account,
            name: name.to_string(),
            path,
            user_id: random_unique_id("AIDA")?,
            created: self.now(),
            tags,
            groups: Vec::new(),
            inline: Default::default(),
            managed: Vec::new(),
            boundary: permissions_boundary.map(str::to_string),
        };
        self.commit(&mut st, vec![Change::User(user.clone())])?;
        Ok(user)
    }

    /// GetUser (no name: the caller; for the root user a record with its account id and no name).
    pub fn get_user(&self, actor: &Actor<'_>, name: Option<&str>) -> Result<UserRec, ApiError> {
        let account = actor.account().to_string();
        let name = match (name, &actor.principal.caller) {
            (Some(n), _) => n.to_string(),
            (None, kmsd_policy::Caller::User { name, .. }) => name.clone(),
            (None, kmsd_policy::Caller::Root { account }) => {
                let st = self.read();
                let created = st.accounts.get(account).map(|a| a.created).unwrap_or(0);
                actor.record(kmsd_policy::Decision::Allow);
                return Ok(UserRec {
                    account: account.clone(),
                    name: String::new(),
                    path: String::new(),
                    user_id: account.clone(),
                    created,
                    tags: Vec::new(),
                    groups: Vec::new(),
                    inline: Default::default(),
                    managed: Vec::new(),
                    boundary: None,
                });
            }
            (None, _) => {
                return Err(ApiError::new(
                    IamError::ValidationError,
                    "Must specify userName when calling with non-User credentials",
                ))
            }
        };
        check_name(&name, "userName", 64)?;
        let st = self.read();
        let arn = st
            .user(&account, &name)
            .map(|u| user_arn(&u.account, &u.path, &u.name))
            .unwrap_or_else(|| user_arn(&account, "/", &name));
        let tags = st
            .user(&account, &name)
            .map(|u| u.tags.clone())
            .unwrap_or_default();
        self.authorize(actor, "iam:GetUser", &arn, &|ctx| resource_tags(ctx, &tags))?;
        st.user(&account, &name)
            .cloned()
            .ok_or_else(|| no_such(EntityKind::User, &name))
    }

    /// DeleteUser (fails with DeleteConflict while it has keys, policies or groups).
    pub fn delete_user(&self, actor: &Actor<'_>, name: &str) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        let mut st = self.write();
        let Entity::User(u) = entity(&st, &account, EntityKind::User, name)? else {
            return Err(no_such(EntityKind::User, name));
        };
        let arn = user_arn(&u.account, &u.path, &u.name);
        self.authorize(actor, "iam:DeleteUser", &arn, &|ctx| {
            resource_tags(ctx, &u.tags)
        })?;
        let conflict = |m: &str| Err(ApiError::new(IamError::DeleteConflict, m.to_string()));
        if st
            .keys
            .values()
            .any(|k| k.account == account && k.owner == KeyOwner::User(u.name.clone()))
        {
            return conflict("Cannot delete entity, must delete access keys first.");
        }
        if !u.inline.is_empty() {
            return conflict("Cannot delete entity, must delete policies first.");
        }
        if !u.managed.is_empty() {
            return conflict("Cannot delete entity, must detach all policies first.");
        }
        if !u.groups.is_empty() {
            return conflict("Cannot delete entity, must remove users from group first.");
        }
        // GetSessionToken sessions of the user end with it.
        let mut changes: Vec<Change> = st
            .sessions
            .values()
            .filter(|s| s.account == account && s.owner == Some(KeyOwner::User(u.name.clone())))
            .map(|s| Change::DelSession(s.access_key_id.clone()))
            .collect();
        changes.push(Change::DelUser(account, u.name));
        self.commit(&mut st, changes)
    }

    /// ListUsers, optionally under a path prefix.
    pub fn list_users(
        &self,
        actor: &Actor<'_>,
        path_prefix: Option<&str>,
    ) -> Result<Vec<UserRec>, ApiError> {
        let account = actor.account().to_string();
        self.authorize(
            actor,
            "iam:ListUsers",
            &format!("arn:aws:iam::{account}:user/"),
            &no_extra,
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let st = self.read();
        let mut users: Vec<UserRec> = st
            .users
            .values()
            .filter(|u| u.account == account && u.path.starts_with(prefix))
            .cloned()
            .collect();
        users.sort_by(|a, b| {
            a.name
                .to_ascii_lowercase()
                .cmp(&b.name.to_ascii_lowercase())
        });
        Ok(users)
    }

    // ---------------------------------------------------------------- access keys

    fn key_owner(actor: &Actor<'_>, user: Option<&str>) -> Result<KeyOwner, ApiError> {
        match (user, &actor.principal.caller) {
            (Some(u), _) => Ok(KeyOwner::User(u.to_string())),
            (None, kmsd_policy::Caller::User { name, .. }) => Ok(KeyOwner::User(name.clone())),
            (None, kmsd_policy::Caller::Root { .. }) => Ok(KeyOwner::Root),
            (None, _) => Err(ApiError::new(
                IamError::ValidationError,
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    fn owner_arn(
        st: &State,
        account: &str,
        owner: &KeyOwner,
    ) -> Result<(String, KeyOwner), ApiError> {
        match owner {
            KeyOwner::Root => Ok((format!("arn:aws:iam::{account}:root"), KeyOwner::Root)),
            KeyOwner::User(n) => {
                check_name(n, "userName", 64)?;
                let u = st
                    .user(account, n)
                    .ok_or_else(|| no_such(EntityKind::User, n))?;
                Ok((
                    user_arn(account, &u.path, &u.name),
                    KeyOwner::User(u.name.clone()),
                ))
            }
        }
    }

    /// CreateAccessKey (at most two per user). The result carries the secret.
    pub fn create_access_key(
        &self,
        actor: &Actor<'_>,
        user: Option<&str>,
    ) -> Result<AccessKeyRec, ApiError> {
        let account = actor.account().to_string();
        let owner = Self::key_owner(actor, user)?;
        let mut st = self.write();
        let (arn, owner) = Self::owner_arn(&st, &account, &owner)?;
        self.authorize(actor, "iam:CreateAccessKey", &arn, &no_extra)?;
        let count = st
            .keys
            .values()
            .filter(|k| k.account == account && k.owner == owner)
            .count();
        if count >= 2 {
            return Err(ApiError::new(
                IamError::LimitExceeded,
                "Cannot exceed quota for AccessKeysPerUser: 2",
            ));
        }
        let mut id = random_access_key_id("AKIA")?;
        while st.keys.contains_key(&id) || st.sessions.contains_key(&id) {
            id = random_access_key_id("AKIA")?;
        }
        let rec = AccessKeyRec {
            id,
            secret: random_secret()?,
            account,
            owner,
            status: "Active".into(),
            created: self.now(),
        };
        self.commit(&mut st, vec![Change::Key(rec.clone())])?;
        Ok(rec)
    }

    /// DeleteAccessKey.
    pub fn delete_access_key(
        &self,
        actor: &Actor<'_>,
        user: Option<&str>,
        access_key_id: &str,
    ) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        let owner = Self::key_owner(actor, user)?;
        let mut st = self.write();
        let (arn, owner) = Self::owner_arn(&st, &account, &owner)?;
        self.authorize(actor, "iam:DeleteAccessKey", &arn, &no_extra)?;
        match st.keys.get(access_key_id) {
            Some(k) if k.account == account && k.owner == owner => {}
            _ => {
                return Err(ApiError::new(
                    IamError::NoSuchEntity,
                    format!("The Access Key with id {access_key_id} cannot be found."),
                ))
            }
        }
        self.commit(&mut st, vec![Change::DelKey(access_key_id.to_string())])
    }

    /// ListAccessKeys: the owner's user name (empty for root) and its keys (secrets not to be shown).
    pub fn list_access_keys(
        &self,
        actor: &Actor<'_>,
        user: Option<&str>,
    ) -> Result<(String, Vec<AccessKeyRec>), ApiError> {
        let account = actor.account().to_string();
        let owner = Self::key_owner(actor, user)?;
        let st = self.read();
        let (arn, owner) = Self::owner_arn(&st, &account, &owner)?;
        self.authorize(actor, "iam:ListAccessKeys", &arn, &no_extra)?;
        let keys = st
            .keys
            .values()
            .filter(|k| k.account == account && k.owner == owner)
            .cloned()
            .collect();
        let name = match owner {
            KeyOwner::User(n) => n,
            KeyOwner::Root => String::new(),
        };
        Ok((name, keys))
    }

    // ---------------------------------------------------------------- groups

    /// CreateGroup.
    pub fn create_group(
        &self,
        actor: &Actor<'_>,
        name: &str,
        path: Option<&str>,
    ) -> Result<GroupRec, ApiError> {
        check_name(name, "groupName", 128)?;
        let path = check_path(path, "path")?;
        let account = actor.account().to_string();
        self.authorize(
            actor,
            "iam:CreateGroup",
            &group_arn(&account, &path, name),
            &no_extra,
        )?;
        let mut st = self.write();
        if st.group(&account, name).is_some() {
            return Err(ApiError::new(
                IamError::EntityAlreadyExists,
                format!("Group with name {name} already exists."),
            ));
        }
        let g = GroupRec {
            account,
            name: name.to_string(),
            path,
            group_id: random_unique_id("AGPA")?,
            created: self.now(),
            inline: Default::default(),
            managed: Vec::new(),
        };
        self.commit(&mut st, vec![Change::Group(g.clone())])?;
        Ok(g)
    }

    /// AddUserToGroup / RemoveUserFromGroup.
    pub fn set_group_membership(
        &self,
        actor: &Actor<'_>,
        group: &str,
        user: &str,
        member: bool,
    ) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        let mut st = self.write();
        let Entity::Group(g) = entity(&st, &account, EntityKind::Group, group)? else {
            return Err(no_such(EntityKind::Group, group));
        };
        let action = if member {
            "iam:AddUserToGroup"
        } else {
            "iam:RemoveUserFromGroup"
        };
        self.authorize(
            actor,
            action,
            &group_arn(&account, &g.path, &g.name),
            &no_extra,
        )?;
        let Entity::User(mut u) = entity(&st, &account, EntityKind::User, user)? else {
            return Err(no_such(EntityKind::User, user));
        };
        let pos = u
            .groups
            .iter()
            .position(|x| x.eq_ignore_ascii_case(&g.name));
        match (member, pos) {
            (true, Some(_)) => return Ok(()),
            (true, None) => {
                if u.groups.len() >= 10 {
                    return Err(ApiError::new(
                        IamError::LimitExceeded,
                        "Cannot exceed quota for GroupsPerUser: 10",
                    ));
                }
                u.groups.push(g.name.clone());
            }
            (false, Some(i)) => {
                u.groups.remove(i);
            }
            (false, None) => {
                return Err(ApiError::new(
                    IamError::NoSuchEntity,
                    format!(
                        "The user with name {} cannot be found in group {}.",
                        u.name, g.name
                    ),
                ))
            }
        }
        self.commit(&mut st, vec![Change::User(u)])
    }

    // ---------------------------------------------------------------- roles

    /// A copy of role `name` of the caller's account, to change and commit, once `action` on
    /// it is authorized (NoSuchEntity when there is no such role).
    fn role_to_change(
        &self,
        st: &State,
        actor: &Actor<'_>,
        name: &str,
        action: &str,
    ) -> Result<RoleRec, ApiError> {
        let account = actor.account();
        let Entity::Role(r) = entity(st, account, EntityKind::Role, name)? else {
            return Err(no_such(EntityKind::Role, name));
        };
        self.authorize(
            actor,
            action,
            &role_arn(account, &r.path, &r.name),
            &|ctx| resource_tags(ctx, &r.tags),
        )?;
        Ok(r)
    }

    /// UpdateRole: the role's description and/or maximum session duration.
    pub fn update_role(
        &self,
        actor: &Actor<'_>,
        name: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<(), ApiError> {
        check_role_settings(description, max_session_duration)?;
        let mut st = self.write();
        let mut r = self.role_to_change(&st, actor, name, "iam:UpdateRole")?;
        if let Some(d) = description {
            r.description = Some(d.to_string());
        }
        if let Some(m) = max_session_duration {
            r.max_session = m;
        }
        self.commit(&mut st, vec![Change::Role(r)])
    }

    /// CreateRole.
    pub fn create_role(
        &self,
        actor: &Actor<'_>,
        input: CreateRoleInput,
    ) -> Result<RoleRec, ApiError> {
        check_name(&input.name, "roleName", 64)?;
        let path = check_path(input.path.as_deref(), "path")?;
        check_tags(&input.tags)?;
        check_role_settings(input.description.as_deref(), input.max_session_duration)?;
        let max_session = input.max_session_duration.unwrap_or(3600);
        let account = actor.account().to_string();
        let arn = role_arn(&account, &path, &input.name);
        self.authorize(actor, "iam:CreateRole", &arn, &|ctx| {
            request_tags(ctx, &input.tags);
            if let Some(b) = &input.permissions_boundary {
                ctx.set("iam:PermissionsBoundary", b.clone());
            }
        })?;
        check_document(&input.assume_role_policy, PolicyKind::Trust)?;
        let mut st = self.write();
        if st.role(&account, &input.name).is_some() {
            return Err(ApiError::new(
                IamError::EntityAlreadyExists,
                format!("Role with name {} already exists.", input.name),
            ));
        }
        if let Some(b) = &input.permissions_boundary {
            Self::boundary_arn(&st, &account, b)?;
        }
        check_trust_principals(&st, &input.assume_role_policy)?;
        let bindings = super::binding::bind(&st, &input.assume_role_policy, &Default::default());
        let role = RoleRec {
            account,
            name: input.name,
            path,
            role_id: random_unique_id("AROA")?,
            created: self.now(),
            trust: input.assume_role_policy,
            description: input.description,
            max_session,
            tags: input.tags,
            inline: Default::default(),
            managed: Vec::new(),
            boundary: input.permissions_boundary,
            trust_bindings: bindings,
        };
        self.commit(&mut st, vec![Change::Role(role.clone())])?;
        Ok(role)
    }

    /// GetRole.
    pub fn get_role(&self, actor: &Actor<'_>, name: &str) -> Result<RoleRec, ApiError> {
        let account = actor.account().to_string();
        let st = self.read();
        let Entity::Role(r) = entity(&st, &account, EntityKind::Role, name)? else {
            return Err(no_such(EntityKind::Role, name));
        };
        self.authorize(
            actor,
            "iam:GetRole",
            &role_arn(&account, &r.path, &r.name),
            &|ctx| resource_tags(ctx, &r.tags),
        )?;
        let mut r = r;
        r.trust = super::binding::effective_trust(&st, &r.trust, &r.trust_bindings).into_owned();
        Ok(r)
    }

    /// DeleteRole (fails with DeleteConflict while it has policies).
    pub fn delete_role(&self, actor: &Actor<'_>, name: &str) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        let mut st = self.write();
        let Entity::Role(r) = entity(&st, &account, EntityKind::Role, name)? else {
            return Err(no_such(EntityKind::Role, name));
        };
        self.authorize(
            actor,
            "iam:DeleteRole",
            &role_arn(&account, &r.path, &r.name),
            &|ctx| resource_tags(ctx, &r.tags),
        )?;
        if !r.inline.is_empty() {
            return Err(ApiError::new(
                IamError::DeleteConflict,
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !r.managed.is_empty() {
            return Err(ApiError::new(
                IamError::DeleteConflict,
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        // Sessions of the role end with it.
        let mut changes: Vec<Change> = st
            .sessions
            .values()
            .filter(|s| s.account == account && s.role_name.eq_ignore_ascii_case(&r.name))
            .map(|s| Change::DelSession(s.access_key_id.clone()))
            .collect();
        changes.push(Change::DelRole(account, r.name));
        self.commit(&mut st, changes)
    }

    /// UpdateAssumeRolePolicy.
    pub fn update_assume_role_policy(
        &self,
        actor: &Actor<'_>,
        name: &str,
        document: &str,
    ) -> Result<(), ApiError> {
        let mut st = self.write();
        let mut r = self.role_to_change(&st, actor, name, "iam:UpdateAssumeRolePolicy")?;
        check_document(document, PolicyKind::Trust)?;
        check_trust_principals(&st, document)?;
        r.trust = document.to_string();
        r.trust_bindings = super::binding::bind(&st, document, &Default::default());
        self.commit(&mut st, vec![Change::Role(r)])
    }

    // ---------------------------------------------------------------- inline policies

    /// Put{User,Group,Role}Policy: create or replace an inline policy.
    pub fn put_inline_policy(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), ApiError> {
        check_policy_name(policy_name)?;
        let account = actor.account().to_string();
        let mut st = self.write();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!("iam:Put{}Policy", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| resource_tags(ctx, &tags))?;
        check_document(document, PolicyKind::Identity)?;
        let inline = e.inline();
        inline.insert(policy_name.to_string(), document.to_string());
        let total: usize = inline.values().map(|d| policy_size(d)).sum();
        if total > kind.inline_quota() {
            return Err(ApiError::new(
                IamError::LimitExceeded,
                format!(
                    "Maximum policy size of {} bytes exceeded for {} {}",
                    kind.inline_quota(),
                    kind.word(),
                    entity_name
                ),
            ));
        }
        self.commit(&mut st, vec![e.change()])
    }

    /// Get{User,Group,Role}Policy: (entity name, policy name, document).
    pub fn get_inline_policy(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<(String, String, String), ApiError> {
        check_policy_name(policy_name)?;
        let account = actor.account().to_string();
        let st = self.read();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!("iam:Get{}Policy", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| resource_tags(ctx, &tags))?;
        let name = e.name().to_string();
        let doc = e.inline().get(policy_name).cloned().ok_or_else(|| {
            ApiError::new(
                IamError::NoSuchEntity,
                format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.word()
                ),
            )
        })?;
        Ok((name, policy_name.to_string(), doc))
    }

    /// Delete{User,Group,Role}Policy.
    pub fn delete_inline_policy(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<(), ApiError> {
        check_policy_name(policy_name)?;
        let account = actor.account().to_string();
        let mut st = self.write();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!("iam:Delete{}Policy", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| resource_tags(ctx, &tags))?;
        if e.inline().remove(policy_name).is_none() {
            return Err(ApiError::new(
                IamError::NoSuchEntity,
                format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.word()
                ),
            ));
        }
        self.commit(&mut st, vec![e.change()])
    }

    /// List{User,Group,Role}Policies: inline policy names.
    pub fn list_inline_policies(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
    ) -> Result<Vec<String>, ApiError> {
        let account = actor.account().to_string();
        let st = self.read();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!("iam:List{}Policies", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| resource_tags(ctx, &tags))?;
        Ok(e.inline().keys().cloned().collect())
    }

    // ---------------------------------------------------------------- managed policies

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
        actor: &Actor<'_>,
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
    pub fn get_policy(&self, actor: &Actor<'_>, arn: &str) -> Result<PolicyView, ApiError> {
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
        actor: &Actor<'_>,
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
        actor: &Actor<'_>,
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
    pub fn delete_policy(&self, actor: &Actor<'_>, arn: &str) -> Result<(), ApiError> {
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

    /// Attach{User,Group,Role}Policy / Detach… (`attach` false).
    pub fn set_attached_policy(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        arn: &str,
        attach: bool,
    ) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        check_policy_arn_syntax(arn, "policyArn")?;
        let mut st = self.write();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!(
            "iam:{}{}Policy",
            if attach { "Attach" } else { "Detach" },
            kind.capital()
        );
        self.authorize(actor, &action, &e.arn(), &|ctx| {
            resource_tags(ctx, &tags);
            ctx.set("iam:PolicyARN", arn);
        })?;
        let pos = e.managed().iter().position(|a| a == arn);
        if attach {
            match st.policy_by_arn(arn) {
                Some(p) if usable_by(p, &account) => {}
                _ => return Err(not_attachable(arn)),
            }
            if pos.is_some() {
                return Ok(());
            }
            if e.managed().len() >= 10 {
                return Err(ApiError::new(
                    IamError::LimitExceeded,
                    format!("Cannot exceed quota for PoliciesPer{}: 10", kind.capital()),
                ));
            }
            e.managed().push(arn.to_string());
        } else {
            let Some(i) = pos else {
                return Err(ApiError::new(
                    IamError::NoSuchEntity,
                    format!("Policy {arn} was not found."),
                ));
            };
            e.managed().remove(i);
        }
        self.commit(&mut st, vec![e.change()])
    }

    /// ListAttached{User,Group,Role}Policies: (policy name, policy ARN).
    pub fn list_attached_policies(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let account = actor.account().to_string();
        let st = self.read();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!("iam:ListAttached{}Policies", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| resource_tags(ctx, &tags))?;
        Ok(e.managed()
            .iter()
            .map(|arn| {
                let name = st
                    .policy_by_arn(arn)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_string());
                (name, arn.clone())
            })
            .collect())
    }

    /// Put{User,Role}PermissionsBoundary / Delete… (`arn` None).
    pub fn set_permissions_boundary(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        arn: Option<&str>,
    ) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        let mut st = self.write();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let tags = entity_tags(&mut e);
        let action = format!(
            "iam:{}{}PermissionsBoundary",
            if arn.is_some() { "Put" } else { "Delete" },
            kind.capital()
        );
        self.authorize(actor, &action, &e.arn(), &|ctx| {
            resource_tags(ctx, &tags);
            if let Some(a) = arn {
                ctx.set("iam:PermissionsBoundary", a);
            }
        })?;
        if let Some(a) = arn {
            Self::boundary_arn(&st, &account, a)?;
        }
        let Some(slot) = e.boundary() else {
            return Err(ApiError::new(
                IamError::InvalidInput,
                "Groups cannot have a permissions boundary.",
            ));
        };
        if arn.is_none() && slot.is_none() {
            return Err(ApiError::new(
                IamError::NoSuchEntity,
                format!(
                    "The {} with name {entity_name} has no permissions boundary.",
                    kind.word()
                ),
            ));
        }
        *slot = arn.map(str::to_string);
        self.commit(&mut st, vec![e.change()])
    }

    /// Tag{User,Role} (merge; same key replaces) / Untag{User,Role}.
    pub fn tag_entity(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        tags: Tags,
    ) -> Result<(), ApiError> {
        check_tags(&tags)?;
        let account = actor.account().to_string();
        let mut st = self.write();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let existing = entity_tags(&mut e);
        let action = format!("iam:Tag{}", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| {
            resource_tags(ctx, &existing);
            request_tags(ctx, &tags);
        })?;
        let merged = merge_tags(&existing, &tags);
        if merged.len() > 50 {
            return Err(ApiError::new(
                IamError::LimitExceeded,
                format!("Cannot exceed quota for TagsPer{}: 50", kind.capital()),
            ));
        }
        let Some(slot) = e.tags() else {
            return Err(ApiError::new(
                IamError::InvalidInput,
                "Groups cannot be tagged.",
            ));
        };
        *slot = merged;
        self.commit(&mut st, vec![e.change()])
    }

    /// Untag{User,Role}: remove tag keys (case-insensitive; absent keys are ignored).
    pub fn untag_entity(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        entity_name: &str,
        keys: &[String],
    ) -> Result<(), ApiError> {
        if keys.len() > 50 {
            return Err(validation_error(
                None,
                "tagKeys",
                "Member must have length less than or equal to 50",
            ));
        }
        let account = actor.account().to_string();
        let mut st = self.write();
        let mut e = entity(&st, &account, kind, entity_name)?;
        let existing = entity_tags(&mut e);
        let action = format!("iam:Untag{}", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| {
            resource_tags(ctx, &existing);
            ctx.set_multi("aws:TagKeys", keys.to_vec());
        })?;
        let Some(slot) = e.tags() else {
            return Err(ApiError::new(
                IamError::InvalidInput,
                "Groups cannot be tagged.",
            ));
        };
        slot.retain(|(k, _)| !keys.iter().any(|r| r.eq_ignore_ascii_case(k)));
        self.commit(&mut st, vec![e.change()])
    }

    // ---------------------------------------------------------------- more reads and housekeeping

    /// DeletePolicyVersion (not the default version).
    pub fn delete_policy_version(
        &self,
        actor: &Actor<'_>,
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
        actor: &Actor<'_>,
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
        actor: &Actor<'_>,
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
        actor: &Actor<'_>,
        path_prefix: Option<&str>,
    ) -> Result<Vec<PolicyView>, ApiError> {
        self.list_policies_in_scope(actor, path_prefix, Some("Local"))
    }

    /// ListPolicies with `Scope`: `Local` (the account's own), `AWS` (the AWS managed
    /// catalog) or `All` (both, the default).
    pub fn list_policies_in_scope(
        &self,
        actor: &Actor<'_>,
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
        let managed = super::aws_managed::all()
            .iter()
            .filter(|p| aws && p.path.starts_with(prefix));
        Ok(managed.chain(own).map(|p| Self::view(&st, p)).collect())
    }

    /// DeleteGroup (fails while it has members or policies).
    pub fn delete_group(&self, actor: &Actor<'_>, name: &str) -> Result<(), ApiError> {
        let account = actor.account().to_string();
        let mut st = self.write();
        let Entity::Group(g) = entity(&st, &account, EntityKind::Group, name)? else {
            return Err(no_such(EntityKind::Group, name));
        };
        self.authorize(
            actor,
            "iam:DeleteGroup",
            &group_arn(&account, &g.path, &g.name),
            &no_extra,
        )?;
        let conflict = |m: &str| Err(ApiError::new(IamError::DeleteConflict, m.to_string()));
        if st.users.values().any(|u| {
            u.account == account && u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name))
        }) {
            return conflict("Cannot delete entity, must remove users from group first.");
        }
        if !g.inline.is_empty() {
            return conflict("Cannot delete entity, must delete policies first.");
        }
        if !g.managed.is_empty() {
            return conflict("Cannot delete entity, must detach all policies first.");
        }
        self.commit(&mut st, vec![Change::DelGroup(account, g.name)])
    }

    /// GetGroup: the group and its members.
    pub fn get_group(
        &self,
        actor: &Actor<'_>,
        name: &str,
    ) -> Result<(GroupRec, Vec<UserRec>), ApiError> {
        let account = actor.account().to_string();
        let st = self.read();
        let Entity::Group(g) = entity(&st, &account, EntityKind::Group, name)? else {
            return Err(no_such(EntityKind::Group, name));
        };
        self.authorize(
            actor,
            "iam:GetGroup",
            &group_arn(&account, &g.path, &g.name),
            &no_extra,
        )?;
        let users = st
            .users
            .values()
            .filter(|u| {
                u.account == account && u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name))
            })
            .cloned()
            .collect();
        Ok((g, users))
    }

    /// ListGroups.
    pub fn list_groups(
        &self,
        actor: &Actor<'_>,
        path_prefix: Option<&str>,
    ) -> Result<Vec<GroupRec>, ApiError> {
        let account = actor.account().to_string();
        self.authorize(
            actor,
            "iam:ListGroups",
            &format!("arn:aws:iam::{account}:group/"),
            &no_extra,
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let st = self.read();
        Ok(st
            .groups
            .values()
            .filter(|g| g.account == account && g.path.starts_with(prefix))
            .cloned()
            .collect())
    }

    /// ListGroupsForUser.
    pub fn list_groups_for_user(
        &self,
        actor: &Actor<'_>,
        user: &str,
    ) -> Result<Vec<GroupRec>, ApiError> {
        let account = actor.account().to_string();
        let st = self.read();
        let Entity::User(u) = entity(&st, &account, EntityKind::User, user)? else {
            return Err(no_such(EntityKind::User, user));
        };
        self.authorize(
            actor,
            "iam:ListGroupsForUser",
            &user_arn(&account, &u.path, &u.name),
            &no_extra,
        )?;
        Ok(u.groups
            .iter()
            .filter_map(|g| st.group(&account, g).cloned())
            .collect())
    }

    /// ListRoles.
    pub fn list_roles(
        &self,
        actor: &Actor<'_>,
        path_prefix: Option<&str>,
    ) -> Result<Vec<RoleRec>, ApiError> {
        let account = actor.account().to_string();
        self.authorize(
            actor,
            "iam:ListRoles",
            &format!("arn:aws:iam::{account}:role/"),
            &no_extra,
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let st = self.read();
        Ok(st
            .roles
            .values()
            .filter(|r| r.account == account && r.path.starts_with(prefix))
            .cloned()
            .collect())
    }

    /// List{User,Role}Tags.
    pub fn list_entity_tags(
        &self,
        actor: &Actor<'_>,
        kind: EntityKind,
        name: &str,
    ) -> Result<Tags, ApiError> {
        let account = actor.account().to_string();
        let st = self.read();
        let mut e = entity(&st, &account, kind, name)?;
        let tags = entity_tags(&mut e);
        let action = format!("iam:List{}Tags", kind.capital());
        self.authorize(actor, &action, &e.arn(), &|ctx| resource_tags(ctx, &tags))?;
        Ok(tags)
    }

    /// UpdateAccessKey (`Active` / `Inactive`).
    pub fn update_access_key(
        &self,
        actor: &Actor<'_>,
        user: Option<&str>,
        access_key_id: &str,
        status: &str,
    ) -> Result<(), ApiError> {
        if status != "Active" && status != "Inactive" {
            return Err(validation_error(
                Some(status),
                "status",
                "Member must satisfy enum value set: [Active, Inactive]",
            ));
        }
        let account = actor.account().to_string();
        let owner = Self::key_owner(actor, user)?;
        let mut st = self.write();
        let (arn, owner) = Self::owner_arn(&st, &account, &owner)?;
        self.authorize(actor, "iam:UpdateAccessKey", &arn, &no_extra)?;
        let mut k = match st.keys.get(access_key_id) {
            Some(k) if k.account == account && k.owner == owner => k.clone(),
            _ => {
                return Err(ApiError::new(
                    IamError::NoSuchEntity,
                    format!("The Access Key with id {access_key_id} cannot be found."),
                ))
            }
        };
        k.status = status.to_string();
        self.commit(&mut st, vec![Change::Key(k)])
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

/// A role's Description (at most 1000 characters) and MaxSessionDuration (3600..=43200).
fn check_role_settings(
    description: Option<&str>,
    max_session_duration: Option<i64>,
) -> Result<(), ApiError> {
    if let Some(d) = description {
        if d.chars().count() > 1000 {
            return Err(validation_error(
                Some(d),
                "description",
                "Member must have length less than or equal to 1000",
            ));
        }
    }
    if let Some(m) = max_session_duration {
        if !(3600..=43200).contains(&m) {
            return Err(validation_error(
                Some(&m.to_string()),
                "maxSessionDuration",
                if m < 3600 {
                    "Member must have value greater than or equal to 3600"
                } else {
                    "Member must have value less than or equal to 43200"
                },
            ));
        }
    }
    Ok(())
}
