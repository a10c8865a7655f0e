//! Aliases (§4.2): CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Alias operations are
//! authorized twice, as AWS documents: on the alias ARN (IAM policies) and on the key
//! (key policy), for UpdateAlias on both the old and the new key.

use parking_lot::RwLockUpgradableReadGuard;
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{base_context, Req};
use crate::kms::decode::input::Input;
use crate::kms::model::alias::{alias_name_rules, AliasRecord, MAX_ALIASES_PER_KEY};
use crate::kms::model::ids::{alias_arn, internal};
use crate::kms::model::op::KmsOp;
use crate::kms::ops::paging::{limit_marker, page, paginate};
use crate::kms::{persist, Kms};

/// `LimitExceededException` when the key already has [`MAX_ALIASES_PER_KEY`] aliases.
fn check_alias_quota(st: &crate::kms::model::state::State, key_id: &str) -> Result<(), ApiError> {
    let n = st.keys.get(key_id).map_or(0, |k| k.aliases.len());
    if n >= MAX_ALIASES_PER_KEY {
        return Err(ApiError::new(
            KmsError::LimitExceededException,
            format!(
                "The request was rejected because the alias quota for this KMS key ({MAX_ALIASES_PER_KEY}) was exceeded."
            ),
        ));
    }
    Ok(())
}

/// Validate an alias name as AWS does (model pattern, `alias/` prefix, reserved `alias/aws/`).
pub(crate) fn check_alias_name(i: &mut Input<'_>, name: &str) -> Result<(), ApiError> {
    if !name.is_empty() {
        let ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c));
        i.pattern_check("AliasName", Some(name), ok, "^[a-zA-Z0-9:/_-]+$");
    }
    i.finish()?;
    alias_name_rules(name)
}

fn target_is_alias(t: &str) -> bool {
    t.starts_with("alias/") || (t.starts_with("arn:") && t.contains(":alias/"))
}

impl Kms {
    fn authorize_alias_arn(
        &self,
        req: &mut Req<'_>,
        action: &str,
        name: &str,
    ) -> Result<String, ApiError> {
        let arn = alias_arn(req.region(), req.account(), name);
        let ctx = base_context(req);
        self.authorize_identity(req, action, &arn, &ctx)?;
        Ok(arn)
    }

    pub(crate) fn create_alias(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let name = i.str_req("AliasName", 1, 256)?;
        let target = i.str_req("TargetKeyId", 1, 2048)?;
        check_alias_name(&mut i, name)?;
        if target_is_alias(target) {
            return Err(ApiError::validation(
                "Aliases must refer to keys. Not aliases",
            ));
        }
        let st = self.state.upgradable_read();
        let arn = alias_arn(req.region(), req.account(), name);
        let ak = (
            req.account().to_string(),
            req.region().to_string(),
            name.to_string(),
        );
        // `TargetKeyId` is the key identifier the row's `key_id` describes.
        let (r, _) = self.gate(&st, req, target, KmsOp::CreateAlias, |_| {})?;
        self.authorize_alias_arn(req, KmsOp::CreateAlias.spec().action(), name)?;
        if st.aliases.contains_key(&ak) {
            return Err(ApiError::new(
                KmsError::AlreadyExistsException,
                format!("An alias with the name {arn} already exists"),
            ));
        }
        check_alias_quota(&st, &r.id)?;
        let now = self.now();
        let rec = AliasRecord {
            account: ak.0.clone(),
            region: ak.1.clone(),
            name: name.to_string(),
            target_key_id: r.id.clone(),
            creation_millis: now,
            last_updated_millis: now,
        };
        self.commit(&[persist::put_alias(&rec)?])?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.aliases.insert(ak, rec);
        let key = st.keys.get_mut(&r.id).ok_or_else(internal)?;
        key.aliases.push(name.to_string());
        key.aliases.sort();
        Ok(json!({}))
    }

    pub(crate) fn update_alias(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let name = i.str_req("AliasName", 1, 256)?;
        let target = i.str_req("TargetKeyId", 1, 2048)?;
        check_alias_name(&mut i, name)?;
        if target_is_alias(target) {
            return Err(ApiError::validation(
                "Aliases must refer to keys. Not aliases",
            ));
        }
        let st = self.state.upgradable_read();
        let arn = alias_arn(req.region(), req.account(), name);
        let ak = (
            req.account().to_string(),
            req.region().to_string(),
            name.to_string(),
        );
        let old_id = match st.aliases.get(&ak) {
            Some(a) => a.target_key_id.clone(),
            None => {
                return Err(ApiError::new(
                    KmsError::NotFoundException,
                    format!("Alias {arn} is not found."),
                ))
            }
        };
        let op = KmsOp::UpdateAlias;
        let action = op.spec().action();
        let old = st.keys.get(&old_id).ok_or_else(internal)?;
        let ctx = crate::kms::authz::key_context(req, old, None);
        self.authorize(req, old, action, &ctx, None)?;
        // The new target (`TargetKeyId`, the identifier the row describes), by the row's
        // state rule (CreateAlias's).
        let (r, _) = self.gate(&st, req, target, op, |_| {})?;
        self.authorize_alias_arn(req, action, name)?;
        if r.id == old_id {
            return Ok(json!({}));
        }
        check_alias_quota(&st, &r.id)?;
        let mut rec = st.aliases.get(&ak).cloned().ok_or_else(internal)?;
        rec.target_key_id = r.id.clone();
        rec.last_updated_millis = self.now();
        self.commit(&[persist::put_alias(&rec)?])?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.aliases.insert(ak, rec);
        if let Some(k) = st.keys.get_mut(&old_id) {
            k.aliases.retain(|a| a != name);
        }
        let key = st.keys.get_mut(&r.id).ok_or_else(internal)?;
        key.aliases.push(name.to_string());
        key.aliases.sort();
        Ok(json!({}))
    }

    pub(crate) fn delete_alias(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let name = i.str_req("AliasName", 1, 256)?;
        check_alias_name(&mut i, name)?;
        let st = self.state.upgradable_read();
        let arn = alias_arn(req.region(), req.account(), name);
        let ak = (
            req.account().to_string(),
            req.region().to_string(),
            name.to_string(),
        );
        let target = match st.aliases.get(&ak) {
            Some(a) => a.target_key_id.clone(),
            None => {
                return Err(ApiError::new(
                    KmsError::NotFoundException,
                    format!("Alias {arn} is not found."),
                ))
            }
        };
        let key = st.keys.get(&target).ok_or_else(internal)?;
        let ctx = crate::kms::authz::key_context(req, key, None);
        let action = KmsOp::DeleteAlias.spec().action();
        self.authorize(req, key, action, &ctx, None)?;
        self.authorize_alias_arn(req, action, name)?;
        self.commit(&[persist::delete_alias(&ak)])?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.aliases.remove(&ak);
        if let Some(k) = st.keys.get_mut(&target) {
            k.aliases.retain(|a| a != name);
        }
        Ok(json!({}))
    }

    pub(crate) fn list_aliases(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_opt("KeyId", 1, 2048)?;
        let (limit, marker) = limit_marker(&mut i, 50, 100)?;
        i.finish()?;
        let ctx = base_context(req);
        self.authorize_identity(req, KmsOp::ListAliases.spec().action(), "*", &ctx)?;
        let st = self.state.read();
        let filter = match key_id {
            Some(k) => Some(self.resolve(&st, req, k, KmsOp::ListAliases)?.id),
            None => None,
        };
        let items: Vec<(String, Value)> = st
            .aliases
            .values()
            .filter(|a| a.account == req.account() && a.region == req.region())
            .filter(|a| filter.as_ref().is_none_or(|f| &a.target_key_id == f))
            .map(|a| (a.name.clone(), a.entry()))
            .collect();
        let (items, next) = paginate(items, marker, limit)?;
        Ok(page("Aliases", items, next))
    }
}
