//! The authorization of kmsd's own read-only APIs: the access review of a key, online explain
//! and the simulator (who may ask what). Every authorization decision lives in the domain;
//! the wire layer only asks. (IAM's rule for GetSessionToken credentials is in `iam::call`.)

use kmsd_policy::Decision;

use crate::error::{ApiError, KmsError};
use crate::kms::KmsOp;
use crate::principal::{Principal, RequestMeta};
use crate::service::Service;

impl Service {
    /// May `caller` review who can use `key`? AWS's closest permission is reading the key's
    /// policy: `kms:GetKeyPolicy` on the key, decided as KMS decides it (key policy, IAM
    /// policies, cross-account rules) in the key's Region.
    pub fn authorize_access_review(
        &self,
        caller: &Principal,
        meta: &RequestMeta,
        key: &str,
    ) -> Result<(), ApiError> {
        let region = key
            .strip_prefix("arn:")
            .and_then(|rest| rest.split(':').nth(2))
            .filter(|r| !r.is_empty())
            .unwrap_or(&meta.region);
        let mut extra = kmsd_policy::RequestContext::new();
        meta.add_to_context(&mut extra);
        let explanation = self.kms.explain(
            caller,
            KmsOp::GetKeyPolicy.spec().action(),
            key,
            region,
            &extra,
            None,
        )?;
        if explanation.outcome.decision == Decision::Allow {
            return Ok(());
        }
        Err(ApiError::new(
            KmsError::AccessDeniedException,
            explanation.message.unwrap_or_else(|| {
                format!(
                    "User: {} is not authorized to perform: kms:GetKeyPolicy on resource: {key}",
                    caller.caller.arn()
                )
            }),
        ))
    }
}

/// A decision from the caller's identity policies alone, for a service without resource
/// policies (the IAM simulator, Access Analyzer): the decision, and AWS's AccessDenied
/// message when it is not `Allow`.
pub fn decide_identity_action(
    caller: &Principal,
    meta: &RequestMeta,
    action: &str,
    resource: &str,
) -> (Decision, Option<String>) {
    let mut ctx = kmsd_policy::RequestContext::new();
    caller.add_to_context(&mut ctx);
    meta.add_to_context(&mut ctx);
    let outcome = kmsd_policy::decide_identity(&kmsd_policy::IdentityRequest {
        caller: &caller.caller,
        caller_policies: &caller.policies,
        action,
        resource,
        context: &ctx,
    });
    if outcome.decision == Decision::Allow {
        return (Decision::Allow, None);
    }
    let arn = caller.caller.arn();
    let message = outcome
        .message(&arn, action, resource)
        .unwrap_or_else(|| format!("User: {arn} is not authorized to perform: {action}"));
    (outcome.decision, Some(message))
}

/// IAM's rule for the simulator: the caller needs `iam:SimulatePrincipalPolicy` on the
/// principal it simulates (`*` for a question about no principal in particular).
pub fn authorize_simulate(
    caller: &Principal,
    meta: &RequestMeta,
    principal_arn: &str,
) -> Result<(), ApiError> {
    match decide_identity_action(caller, meta, "iam:SimulatePrincipalPolicy", principal_arn) {
        (Decision::Allow, _) => Ok(()),
        (_, message) => Err(ApiError::new(
            KmsError::AccessDeniedException,
            message.unwrap_or_default(),
        )),
    }
}
