//! `KmsdService.AccessDiff`: what a proposed key policy or grant changes on a key (see
//! `kmsd_core::access_diff`), as JSON — shared by the endpoint and `kmsd access --diff`.

use kmsd_core::access_diff::{access_diff, AccessDiff, Proposal};
use kmsd_core::error::ApiError;
use kmsd_core::service::Service;
use serde_json::{json, Value};

use crate::explain::explanation_json;

/// `PASS` or `FAIL`.
pub fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The diff as JSON: checks, then each changed (principal, action, resource) with both
/// explanations.
pub fn diff_json(diff: &AccessDiff, not_granted: &[String]) -> Value {
    let changes: Vec<Value> = diff
        .changes
        .iter()
        .map(|c| {
            let mut v = json!({
                "principal": c.principal,
                "class": c.class.as_str(),
                "action": c.action,
                "resource": c.resource,
                "change": if c.after.allowed { "granted" } else { "revoked" },
                "context": c.context,
                "before": explanation_json(&c.before.explanation),
                "after": explanation_json(&c.after.explanation),
            });
            if !c.via_role.is_empty() {
                v["viaRole"] = c
                    .via_role
                    .iter()
                    .map(|(a, k)| json!({"action": a, "key": k}))
                    .collect();
            }
            v
        })
        .collect();
    let mut doc = json!({
        "subject": diff.subject,
        "account": diff.account,
        "checkNoNewAccess": pass(diff.no_new_access()),
        "changes": changes,
        "principalsEvaluated": diff.principals.iter().map(|(p, c)| json!({"principal": p, "class": c.as_str()})).collect::<Vec<_>>(),
        "actionsEvaluated": diff.actions,
        "keysEvaluated": diff.keys,
        "witnessesComplete": diff.witnesses_complete,
        "note": "Request-specific condition keys (encryption context, request parameters, network, request tags) may hold: a decision is made under each value the policies compare them with, a value they do not name, and none; 'context' names one under which the decision changes. Principals of accounts the world does not hold are evaluated with an identity policy that allows everything; 'anonymous' is a caller whose own policies allow nothing.",
    });
    if !diff.key_arn.is_empty() {
        doc["key"] = json!(diff.key_arn);
    }
    if !not_granted.is_empty() {
        let granted: Vec<Value> = diff
            .allowed_after
            .iter()
            .filter(|(_, a, _)| not_granted.iter().any(|n| n.eq_ignore_ascii_case(a)))
            .map(|(p, a, r)| json!({"principal": p, "action": a, "resource": r}))
            .collect();
        doc["checkAccessNotGranted"] = json!(pass(granted.is_empty()));
        doc["granted"] = Value::Array(granted);
    }
    doc
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

/// Answer `KmsdService.AccessDiff` (the caller has been authorized for the key).
pub fn handle(service: &Service, input: &Value) -> Result<Value, ApiError> {
    let (key, proposal, not_granted) = proposal_from(input)?;
    let diff: AccessDiff = access_diff(service, &key, &proposal)?;
    Ok(diff_json(&diff, &not_granted))
}
