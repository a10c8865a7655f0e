//! Access keys: CreateAccessKey, DeleteAccessKey, UpdateAccessKey, ListAccessKeys.

use super::{
    check_name, no_extra, no_such, random_access_key_id, random_secret, user_arn, validation_error,
    AccessKeyRec, Actor, ApiError, Change, EntityKind, Iam, IamError, KeyOwner, State,
};

impl Iam {
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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

    /// UpdateAccessKey (`Active` / `Inactive`).
    pub fn update_access_key(
        &self,
        actor: &mut Actor<'_>,
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
