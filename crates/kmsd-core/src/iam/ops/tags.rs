//! Tags of users and roles: Tag*/Untag*/List*Tags.

use super::{
    check_tags, entity, entity_tags, merge_tags, request_tags, resource_tags, validation_error,
    Actor, ApiError, EntityKind, Iam, IamError, Tags,
};

impl Iam {
    /// Tag{User,Role} (merge; same key replaces) / Untag{User,Role}.
    pub fn tag_entity(
        &self,
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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

    /// List{User,Role}Tags.
    pub fn list_entity_tags(
        &self,
        actor: &mut Actor<'_>,
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
}
