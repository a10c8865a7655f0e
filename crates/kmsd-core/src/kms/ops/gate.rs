//! The opening every key operation shares: resolve the key the request names, authorize,
//! check the key state.

use kmsd_policy::RequestContext;

use crate::error::ApiError;
use crate::kms::authz::{key_context, Req, Resolved};
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::internal;
use crate::kms::model::op::KmsOp;
use crate::kms::model::state::State;
use crate::kms::model::states::check_state;
use crate::kms::Kms;

impl Kms {
    /// Resolve the key `raw` names in the forms `op`'s row accepts, authorize `op`'s action
    /// with `extra` context, check the key state by `op`'s rule: the standard opening of a
    /// key operation. Returns the key found (and how the request named it).
    pub(crate) fn gate<'s>(
        &self,
        st: &'s State,
        req: &mut Req<'_>,
        raw: &str,
        op: KmsOp,
        extra: impl FnOnce(&mut RequestContext),
    ) -> Result<(Resolved, &'s KeyEntry), ApiError> {
        self.gate_checked(st, req, raw, op, extra, |_| Ok(()))
    }

    /// [`Kms::gate`] with one more refusal, `before_state`, checked after authorization and
    /// before the key state (import operations refuse keys that are not `EXTERNAL` there).
    pub(crate) fn gate_checked<'s>(
        &self,
        st: &'s State,
        req: &mut Req<'_>,
        raw: &str,
        op: KmsOp,
        extra: impl FnOnce(&mut RequestContext),
        before_state: impl FnOnce(&KeyEntry) -> Result<(), ApiError>,
    ) -> Result<(Resolved, &'s KeyEntry), ApiError> {
        let r = self.resolve(st, req, raw, op)?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        req.audit.key_arn = Some(key.arn.clone());
        let mut ctx = key_context(req, key, r.alias.as_deref());
        extra(&mut ctx);
        self.authorize(req, key, op.spec().action(), &ctx, None)?;
        before_state(key)?;
        check_state(op, key.rec.state, &key.arn)?;
        Ok((r, key))
    }
}
