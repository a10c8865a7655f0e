//! The authorization of kmsd's own read-only APIs: the access review of a key, online explain
//! and the simulator (who may ask what), and the IAM rule for GetSessionToken credentials.
//! Every authorization decision lives in the domain; the wire layer only asks.

use kmsd_policy::Decision;

use crate::error::{ApiError, KmsError};
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
        let explanation =
            self.kms
                .explain(caller, "kms:GetKeyPolicy", key, region, &extra, None)?;
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

/// IAM's rule for the simulator: the caller needs `iam:SimulatePrincipalPolicy` on the
/// principal it simulates (`*` for a question about no principal in particular).
pub fn authorize_simulate(
    caller: &Principal,
    meta: &RequestMeta,
    principal_arn: &str,
) -> Result<(), ApiError> {
    let mut ctx = kmsd_policy::RequestContext::new();
    caller.add_to_context(&mut ctx);
    meta.add_to_context(&mut ctx);
    let action = "iam:SimulatePrincipalPolicy";
    let outcome = kmsd_policy::decide_identity(&kmsd_policy::IdentityRequest {
        caller: &caller.caller,
        caller_policies: &caller.policies,
        action,
        resource: principal_arn,
        context: &ctx,
    });
    if outcome.decision == Decision::Allow {
        return Ok(());
    }
    let message = outcome
        .message(&caller.caller.arn(), action, principal_arn)
        .unwrap_or_else(|| {
            format!(
                "User: {} is not authorized to perform: {action}",
                caller.caller.arn()
            )
        });
    Err(ApiError::new(KmsError::AccessDeniedException, message))
}

/// A user or the account root calling with GetSessionToken credentials (role sessions are
/// `AssumedRole` callers): such credentials cannot call IAM API operations (without MFA,
/// which kmsd does not have).
pub fn is_session_token_caller(principal: &Principal) -> bool {
    principal.token_issue_time.is_some()
        && matches!(
            principal.caller,
            kmsd_policy::Caller::User { .. } | kmsd_policy::Caller::Root { .. }
        )
}
