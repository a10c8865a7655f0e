//! The input of `KmsdService.AccessDiff` (what a proposed key policy or grant changes on a
//! key; the diff is [`crate::access_diff`]) and who may ask: the access review's rule,
//! `kms:GetKeyPolicy` on the key ([`Service::authorize_access_review`]).

use serde_json::Value;

use super::json::diff_json;
use crate::access_diff::{access_diff, Proposal};
use crate::error::ApiError;
use crate::principal::{Principal, RequestMeta};
use crate::service::Service;

/// `KmsdService.AccessDiff`: decode the input, authorize the caller for the key, diff, and
/// encode the diff with the checks asked for.
pub fn access_diff_for(
    service: &Service,
    caller: &Principal,
    meta: &RequestMeta,
    input: &Value,
) -> Result<Value, ApiError> {
    let (key, proposal, not_granted) = proposal_from(input)?;
    service.authorize_access_review(caller, meta, &key)?;
    let diff = access_diff(service, &key, &proposal)?;
    Ok(diff_json(&diff, &not_granted))
}

/// Parse the operation's input: `KeyId`, and `Policy` (a key policy, JSON text) or
/// `Grant` (`{"GranteePrincipal": ARN, "Operations": [..]}`); optional `AccessNotGranted`
/// (action names).
pub fn proposal_from(input: &Value) -> Result<(String, Proposal, Vec<String>), ApiError> {
    let key = input
        .get("KeyId")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("KeyId is required and must be a string"))?;
    let proposal = match (input.get("Policy"), input.get("Grant")) {
        (Some(Value::String(p)), None) => Proposal::KeyPolicy(p.clone()),
        (None, Some(g)) => {
            let grantee = g
                .get("GranteePrincipal")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::validation("Grant.GranteePrincipal must be a string"))?;
            let ops = g
                .get("Operations")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::validation("Grant.Operations must be a list"))?
                .iter()
                .map(|o| o.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::validation("Grant.Operations must be strings"))?;
            Proposal::Grant {
                grantee_principal: grantee.to_string(),
                operations: ops,
            }
        }
        _ => {
            return Err(ApiError::validation(
                "exactly one of Policy (a key policy document) or Grant is required",
            ))
        }
    };
    let mut not_granted = Vec::new();
    if let Some(list) = input.get("AccessNotGranted") {
        for a in list.as_array().into_iter().flatten() {
            let a = a
                .as_str()
                .ok_or_else(|| ApiError::validation("AccessNotGranted must be strings"))?;
            kmsd_policy::validate::catalog::check_request_action(a)
                .map_err(ApiError::validation)?;
            not_granted.push(a.to_string());
        }
    }
    Ok((key.to_string(), proposal, not_granted))
}
