//! Explanations on the wire: the JSON form of a traced decision (shared by `kmsd explain`
//! offline and online) and the server side of online explain.

use kmsd_policy::{Because, Decision, Explanation};
use serde_json::{json, Value};

/// The explanation as the JSON object of the contract: decision, path, message.
pub fn explanation_json(e: &Explanation) -> Value {
    let path: Vec<Value> = e
        .path
        .iter()
        .map(|step| {
            json!({
                "node": format!("{:?}", step.node),
                "question": step.question,
                "answer": if step.answer { "yes" } else { "no" },
                "because": step.because.iter().map(because_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({
        "decision": decision_name(e.outcome.decision),
        "path": path,
    });
    if let (Some(m), Some(obj)) = (&e.message, out.as_object_mut()) {
        obj.insert("message".into(), Value::String(m.clone()));
    }
    out
}

/// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "Allow",
        Decision::ExplicitDeny => "ExplicitDeny",
        Decision::ImplicitDeny => "ImplicitDeny",
    }
}

pub fn because_json(b: &Because) -> Value {
    match b {
        Because::Statement {
            policy_id,
            source_type,
            sid,
            index,
        } => json!({
            "type": "statement",
            "policy": policy_id,
            "source_type": format!("{source_type:?}"),
            "sid": sid,
            "index": index,
        }),
        Because::Grant { grant_id, name } => json!({
            "type": "grant",
            "grant_id": grant_id,
            "name": name,
        }),
        Because::Note(text) => json!({ "type": "note", "text": text }),
    }
}


/// `X-Amz-Target` prefix of kmsd's own JSON operations (online explain and access review).
pub const KMSD_TARGET_PREFIX: &str = "KmsdService.";

/// The server side of `kmsd explain --endpoint`: `KmsdService.Explain`.
///
/// Input: `{"PrincipalArn", "Action", "KeyId", "Region"?, "Context"?: {key: [values]},
/// "EncryptionContext"?: {k: v}, "SessionPolicy"?: "json"}`. The caller needs
/// `iam:SimulatePrincipalPolicy` on the principal it asks about, as for IAM's simulator.
pub fn handle_explain(
    service: &kmsd_core::service::Service,
    caller: &kmsd_core::principal::Principal,
    meta: &kmsd_core::principal::RequestMeta,
    input: &Value,
) -> Result<Value, kmsd_core::error::ApiError> {
    use kmsd_core::error::ApiError;
    let text = |name: &str| -> Result<String, ApiError> {
        input
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::validation(format!("{name} is required and must be a string")))
    };
    let principal_arn = text("PrincipalArn")?;
    let action = text("Action")?;
    let key = text("KeyId")?;
    let region = input
        .get("Region")
        .and_then(Value::as_str)
        .unwrap_or(&meta.region)
        .to_string();
    authorize_simulate(caller, meta, &principal_arn)?;
    let mut extra = kmsd_policy::RequestContext::new();
    if let Some(ctx) = input.get("Context") {
        let map = ctx
            .as_object()
            .ok_or_else(|| ApiError::validation("Context must be an object of key to values"))?;
        for (k, v) in map {
            match v {
                Value::String(s) => extra.set(k, s.clone()),
                Value::Array(items) => {
                    let values: Option<Vec<String>> =
                        items.iter().map(|i| i.as_str().map(str::to_string)).collect();
                    let values = values.ok_or_else(|| {
                        ApiError::validation(format!("Context value of {k} must be strings"))
                    })?;
                    extra.set_multi(k, values);
                }
                _ => {
                    return Err(ApiError::validation(format!(
                        "Context value of {k} must be a string or a list of strings"
                    )))
                }
            }
        }
    }
    let encryption_context = match input.get("EncryptionContext") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            let mut ec = std::collections::BTreeMap::new();
            for (k, v) in map {
                let v = v.as_str().ok_or_else(|| {
                    ApiError::validation("EncryptionContext values must be strings")
                })?;
                ec.insert(k.clone(), v.to_string());
            }
            Some(ec)
        }
        Some(_) => return Err(ApiError::validation("EncryptionContext must be an object")),
    };
    let session_policy = input.get("SessionPolicy").and_then(Value::as_str);
    let principal = service
        .iam
        .principal_for_arn(&principal_arn, session_policy)
        .map_err(|e| ApiError {
            code: "NotFoundException",
            message: e.message,
        })?;
    let explanation = service.kms.explain(
        &principal,
        &action,
        &key,
        &region,
        &extra,
        encryption_context.as_ref(),
    )?;
    Ok(explanation_json(&explanation))
}

/// IAM's rule for the simulator: the caller needs `iam:SimulatePrincipalPolicy` on the
/// principal it simulates (the root user of that account may always).
fn authorize_simulate(
    caller: &kmsd_core::principal::Principal,
    meta: &kmsd_core::principal::RequestMeta,
    principal_arn: &str,
) -> Result<(), kmsd_core::error::ApiError> {
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
        .unwrap_or_else(|| format!("User: {} is not authorized to perform: {action}", caller.caller.arn()));
    Err(kmsd_core::error::ApiError::new("AccessDeniedException", message))
}
