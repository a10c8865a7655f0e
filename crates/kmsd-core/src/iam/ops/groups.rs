//! Groups and their members: CreateGroup, AddUserToGroup / RemoveUserFromGroup, DeleteGroup,
//! GetGroup, ListGroups, ListGroupsForUser.

use super::{
    check_name, check_path, entity, group_arn, no_extra, no_such, random_unique_id, user_arn,
    Actor, ApiError, Change, Entity, EntityKind, GroupRec, Iam, IamError, UserRec,
};

impl Iam {
    /// CreateGroup.
    pub fn create_group(
        &self,
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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

    /// DeleteGroup (fails while it has members or policies).
    pub fn delete_group(&self, actor: &mut Actor<'_>, name: &str) -> Result<(), ApiError> {
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
}
