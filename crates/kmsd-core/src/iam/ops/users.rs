//! IAM users: CreateUser, GetUser, DeleteUser, ListUsers.

use super::{
    check_name, check_path, check_tags, entity, no_extra, no_such, random_unique_id, request_tags,
    resource_tags, user_arn, Actor, ApiError, Change, Entity, EntityKind, Iam, IamError, KeyOwner,
    Tags, UserRec,
};

impl Iam {
    /// CreateUser.
    pub fn create_user(
        &self,
        actor: &mut Actor<'_>,
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
    pub fn get_user(&self, actor: &mut Actor<'_>, name: Option<&str>) -> Result<UserRec, ApiError> {
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
    pub fn delete_user(&self, actor: &mut Actor<'_>, name: &str) -> Result<(), ApiError> {
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
        actor: &mut Actor<'_>,
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
}
