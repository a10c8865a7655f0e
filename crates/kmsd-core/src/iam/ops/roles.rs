//! Roles: CreateRole, GetRole, UpdateRole, DeleteRole, UpdateAssumeRolePolicy, ListRoles, and
//! the checks of a role's settings.

use super::{
    check_document, check_name, check_path, check_tags, check_trust_principals, entity, no_extra,
    no_such, random_unique_id, request_tags, resource_tags, role_arn, validation_error, Actor,
    ApiError, Change, CreateRoleInput, Entity, EntityKind, Iam, IamError, PolicyKind, RoleRec,
    State,
};

impl Iam {
    /// A copy of role `name` of the caller's account, to change and commit, once `action` on
    /// it is authorized (NoSuchEntity when there is no such role).
    fn role_to_change(
        &self,
        st: &State,
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        let bindings =
            crate::iam::binding::bind(&st, &input.assume_role_policy, &Default::default());
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
    pub fn get_role(&self, actor: &mut Actor<'_>, name: &str) -> Result<RoleRec, ApiError> {
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
        r.trust =
            crate::iam::binding::effective_trust(&st, &r.trust, &r.trust_bindings).into_owned();
        Ok(r)
    }

    /// DeleteRole (fails with DeleteConflict while it has policies).
    pub fn delete_role(&self, actor: &mut Actor<'_>, name: &str) -> Result<(), ApiError> {
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
        actor: &mut Actor<'_>,
        name: &str,
        document: &str,
    ) -> Result<(), ApiError> {
        let mut st = self.write();
        let mut r = self.role_to_change(&st, actor, name, "iam:UpdateAssumeRolePolicy")?;
        check_document(document, PolicyKind::Trust)?;
        check_trust_principals(&st, document)?;
        r.trust = document.to_string();
        r.trust_bindings = crate::iam::binding::bind(&st, document, &Default::default());
        self.commit(&mut st, vec![Change::Role(r)])
    }

    /// ListRoles.
    pub fn list_roles(
        &self,
        actor: &mut Actor<'_>,
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
