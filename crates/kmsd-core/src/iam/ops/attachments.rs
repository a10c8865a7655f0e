//! What is attached to an identity: managed policies (Attach/Detach/ListAttached*Policies) and
//! permissions boundaries (Put/Delete*PermissionsBoundary).

use super::{
    check_policy_arn_syntax, entity, entity_tags, not_attachable, resource_tags, usable_by, Actor,
    ApiError, EntityKind, Iam, IamError,
};

impl Iam {
    /// Attach{User,Group,Role}Policy / Detach… (`attach` false).
    pub fn set_attached_policy(
        &self,
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
        actor: &mut Actor<'_>,
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
}
