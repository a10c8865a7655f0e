//! Online explain (`KmsdService.Explain`, the server side of `kmsd explain --endpoint`) and
//! the list of recent denials the explain page opens (`KmsdService.RecentDenials`). Both need
//! what IAM's simulator needs: `iam:SimulatePrincipalPolicy` on the principal asked about.

use std::collections::BTreeMap;

use kmsd_policy::validate::catalog::{check_request_action, check_request_condition_key};
use kmsd_policy::{Explanation, RequestContext};
use serde_json::Value;

use super::input::required_text;
use crate::admin_authz::authorize_simulate;
use crate::audit::AuditEvent;
use crate::error::{ApiError, KmsError};
use crate::principal::{Principal, RequestMeta};
use crate::service::Service;

/// `KmsdService.Explain`: the traced decision of `Action` by `PrincipalArn` on `KeyId`.
///
/// Input: `{"PrincipalArn", "Action", "KeyId", "Region"?, "Context"?: {key: [values]},
/// "EncryptionContext"?: {k: v}, "SessionPolicy"?: "json"}`. The caller is authorized once
/// the principal is known, before the action and condition keys are checked.
pub fn explain(
    service: &Service,
    caller: &Principal,
    meta: &RequestMeta,
    input: &Value,
) -> Result<Explanation, ApiError> {
    let principal_arn = required_text(input, "PrincipalArn")?;
    let action = required_text(input, "Action")?;
    let key = required_text(input, "KeyId")?;
    let region = input
        .get("Region")
        .and_then(Value::as_str)
        .unwrap_or(&meta.region)
        .to_string();
    authorize_simulate(caller, meta, &principal_arn)?;
    // A misspelt action or condition key is an error naming the nearest valid one, not a
    // question answered with an implicit deny.
    check_request_action(&action).map_err(ApiError::validation)?;
    let extra = request_context(input.get("Context"))?;
    let encryption_context = encryption_context(input.get("EncryptionContext"))?;
    let session_policy = input.get("SessionPolicy").and_then(Value::as_str);
    let principal = service
        .iam
        .principal_for_arn(&principal_arn, session_policy)
        .map_err(|e| ApiError {
            code: KmsError::NotFoundException.into(),
            message: e.message,
        })?;
    service.kms.explain(
        &principal,
        &action,
        &key,
        &region,
        &extra,
        encryption_context.as_ref(),
    )
}

/// `Context`: condition keys (each checked against the catalog) to a string or strings.
fn request_context(context: Option<&Value>) -> Result<RequestContext, ApiError> {
    let mut extra = RequestContext::new();
    let Some(ctx) = context else {
        return Ok(extra);
    };
    let map = ctx
        .as_object()
        .ok_or_else(|| ApiError::validation("Context must be an object of key to values"))?;
    for (k, v) in map {
        check_request_condition_key(k).map_err(ApiError::validation)?;
        match v {
            Value::String(s) => extra.set(k, s.clone()),
            Value::Array(items) => {
                let values: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect();
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
    Ok(extra)
}

/// `EncryptionContext`: absent, null, or an object of strings.
fn encryption_context(value: Option<&Value>) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => {
            let mut ec = BTreeMap::new();
            for (k, v) in map {
                let v = v.as_str().ok_or_else(|| {
                    ApiError::validation("EncryptionContext values must be strings")
                })?;
                ec.insert(k.clone(), v.to_string());
            }
            Ok(Some(ec))
        }
        Some(_) => Err(ApiError::validation("EncryptionContext must be an object")),
    }
}

/// `KmsdService.RecentDenials`: the recent denied KMS requests of the caller's account
/// (newest first), so the explain page can open one. Needs what explain needs:
/// `iam:SimulatePrincipalPolicy` (on `*`).
pub fn recent_denials(
    service: &Service,
    caller: &Principal,
    meta: &RequestMeta,
) -> Result<Vec<AuditEvent>, ApiError> {
    authorize_simulate(caller, meta, "*")?;
    Ok(service.recent_denials.for_account(caller.caller.account()))
}
