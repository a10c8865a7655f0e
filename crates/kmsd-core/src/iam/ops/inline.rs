//! Inline policies of users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy.

use super::{
    check_document, check_policy_name, entity, entity_tags, policy_size, resource_tags, Actor,
    ApiError, EntityKind, Iam, IamError, PolicyKind,
};

impl Iam {
    /// Put{User,Group,Role}Policy: create or replace an inline policy.
    pub fn put_inline_policy(
        &self,
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
}
