//! IAM Access Analyzer's policy checks over restJson1 on the same listener: `ValidatePolicy`
//! (`POST /policy/validation`), `CheckNoNewAccess` (`POST /policy/check-no-new-access`),
//! `CheckAccessNotGranted` (`POST /policy/check-access-not-granted`) and
//! `CheckNoPublicAccess` (`POST /policy/check-no-public-access`), signed for the
//! `access-analyzer` service, so `boto3.client("accessanalyzer", endpoint_url=...)` works.
//! Each is authorized like AWS: the caller's IAM policies must allow
//! `access-analyzer:<Operation>` on `*`.

use kmsd_core::audit::{AuditEvent, UserIdentity};
use kmsd_core::error::AccessAnalyzerError;
use kmsd_core::principal::RequestMeta;
use kmsd_policy::validate::custom::{
    check_access_not_granted, check_no_new_access, check_no_public_access, is_trust_document,
    CheckResult,
};
use kmsd_policy::validate::{findings_json, validate_policy, ValidateOptions};
use kmsd_policy::{Policy, PolicyKind};
use serde_json::{json, Value};

use crate::backend::Backend;
use crate::error::{Protocol, WireError, JSON_CONTENT_TYPE};
use crate::{error_response, WireRequest, WireResponse};

/// The operations, by path.
const OPERATIONS: &[(&str, &str)] = &[
    ("/policy/validation", "ValidatePolicy"),
    ("/policy/check-no-new-access", "CheckNoNewAccess"),
    ("/policy/check-access-not-granted", "CheckAccessNotGranted"),
    ("/policy/check-no-public-access", "CheckNoPublicAccess"),
];

fn operation(req: &WireRequest) -> Option<&'static str> {
    OPERATIONS
        .iter()
        .find(|(path, _)| req.uri.path() == *path)
        .map(|(_, op)| *op)
}

/// Whether a request is one of Access Analyzer's operations (a POST to one of its paths
/// without an `X-Amz-Target`).
pub fn is_request(req: &WireRequest) -> bool {
    req.method == http::Method::POST
        && !req.headers.contains_key("x-amz-target")
        && operation(req).is_some()
}

fn validation(message: impl Into<String>) -> WireError {
    WireError::new(AccessAnalyzerError::ValidationException, message)
}

/// Answer one Access Analyzer request.
pub fn handle<B: Backend + ?Sized>(
    backend: &B,
    req: &WireRequest,
    request_id: String,
    mut audit: AuditEvent,
    user_agent: Option<String>,
) -> WireResponse {
    let op = operation(req).unwrap_or("ValidatePolicy");
    audit.event_source = "access-analyzer.amazonaws.com".to_string();
    audit.event_name = op.to_string();
    audit.read_only = true;
    let authed =
        match crate::auth::authenticate_for(backend, req, Protocol::Json, "access-analyzer") {
            Ok(a) => a,
            Err(fail) => {
                if let Some(region) = &fail.region {
                    audit.aws_region = region.clone();
                }
                audit.user_identity = UserIdentity::unknown(fail.access_key_id.as_deref());
                return error_response(Protocol::Json, &fail.error, request_id, audit);
            }
        };
    audit.aws_region = authed.region.clone();
    audit.user_identity =
        UserIdentity::from_principal(&authed.principal, Some(&authed.access_key_id));
    audit.recipient_account_id = Some(authed.principal.caller.account().to_string());
    let meta = RequestMeta {
        source_ip: req.source_ip,
        secure_transport: req.secure,
        time_millis: req.now_millis,
        region: authed.region.clone(),
        user_agent,
        request_id: request_id.clone(),
    };

    // Authorization: access-analyzer:<Operation> on "*".
    let action = format!("access-analyzer:{op}");
    let (decision, denial) =
        kmsd_core::admin_authz::decide_identity_action(&authed.principal, &meta, &action, "*");
    audit.set_decision(Some(decision), &[]);
    if let Some(message) = denial {
        let err = WireError::new(AccessAnalyzerError::AccessDeniedException, message);
        return error_response(Protocol::Json, &err, request_id, audit);
    }

    let input: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let err = validation("The request body must be a JSON object.");
            return error_response(Protocol::Json, &err, request_id, audit);
        }
    };
    let account = authed.principal.caller.account().to_string();
    let result = match op {
        "ValidatePolicy" => validate(&input, &account),
        "CheckNoNewAccess" => no_new_access(&input, &account),
        "CheckNoPublicAccess" => no_public_access(&input),
        _ => access_not_granted(&input),
    };
    match result {
        Ok(value) => WireResponse {
            status: 200,
            content_type: JSON_CONTENT_TYPE,
            body: value.to_string().into_bytes(),
            request_id,
            audit,
        },
        Err(err) => error_response(Protocol::Json, &err, request_id, audit),
    }
}

fn string_field<'a>(input: &'a Value, name: &str) -> Result<&'a str, WireError> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(validation(format!("{name} must be a string."))),
        None => Err(validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))),
    }
}

fn policy_kind(input: &Value) -> Result<PolicyKind, WireError> {
    let ty = string_field(input, "policyType")?;
    let resource_type = input
        .get("validatePolicyResourceType")
        .and_then(Value::as_str);
    match (ty, resource_type) {
        ("IDENTITY_POLICY", _) => Ok(PolicyKind::Identity),
        ("SERVICE_CONTROL_POLICY", _) => Ok(PolicyKind::Scp),
        ("RESOURCE_POLICY", Some("AWS::IAM::AssumeRolePolicyDocument")) => Ok(PolicyKind::Trust),
        ("RESOURCE_POLICY", None) => Ok(PolicyKind::Key),
        ("RESOURCE_POLICY", Some(other)) => Err(validation(format!(
            "validatePolicyResourceType {other} is not supported here: kmsd validates KMS key policies (no resource type) and role trust policies (AWS::IAM::AssumeRolePolicyDocument)."
        ))),
        (other, _) => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'policyType' failed to satisfy constraint: Member must satisfy enum value set: [RESOURCE_POLICY, SERVICE_CONTROL_POLICY, IDENTITY_POLICY]"
        ))),
    }
}

fn validate(input: &Value, account: &str) -> Result<Value, WireError> {
    let document = string_field(input, "policyDocument")?;
    let kind = policy_kind(input)?;
    let options = ValidateOptions {
        account: Some(account.to_string()),
    };
    let findings =
        validate_policy(document, kind, &options).map_err(|e| validation(e.to_string()))?;
    Ok(json!({ "findings": findings_json(&findings) }))
}

fn parse_policy(text: &str, kind: PolicyKind, name: &str) -> Result<Policy, WireError> {
    Policy::parse(text, kind).map_err(|e| {
        WireError::new(
            AccessAnalyzerError::InvalidParameterException,
            format!("{name} is not a valid policy: {e}"),
        )
    })
}

/// The policy kind of a custom check: `IDENTITY_POLICY`, or `RESOURCE_POLICY` — a role trust
/// policy when every action `document` names is an `sts:` action, a KMS key policy otherwise.
fn check_kind(input: &Value, document: &str) -> Result<PolicyKind, WireError> {
    match string_field(input, "policyType")? {
        "IDENTITY_POLICY" => Ok(PolicyKind::Identity),
        "RESOURCE_POLICY" if is_trust_document(document) => Ok(PolicyKind::Trust),
        "RESOURCE_POLICY" => Ok(PolicyKind::Key),
        other => Err(validation(format!(
            "1 validation error detected: Value '{other}' at 'policyType' failed to satisfy constraint: Member must satisfy enum value set: [IDENTITY_POLICY, RESOURCE_POLICY]"
        ))),
    }
}

fn result_json(r: &CheckResult) -> Value {
    let reasons: Vec<Value> = r
        .reasons
        .iter()
        .map(|x| {
            let mut v =
                json!({ "description": x.description, "statementIndex": x.statement_index });
            if let Some(id) = &x.statement_id {
                v["statementId"] = json!(id);
            }
            v
        })
        .collect();
    json!({
        "result": if r.pass { "PASS" } else { "FAIL" },
        "message": r.message,
        "reasons": reasons,
    })
}

fn no_new_access(input: &Value, account: &str) -> Result<Value, WireError> {
    let new_text = string_field(input, "newPolicyDocument")?;
    let existing_text = string_field(input, "existingPolicyDocument")?;
    // Both documents are read as one kind: a trust policy only when both are.
    let kind = match check_kind(input, new_text)? {
        PolicyKind::Trust if !is_trust_document(existing_text) => PolicyKind::Key,
        k => k,
    };
    let new = parse_policy(new_text, kind, "newPolicyDocument")?;
    let existing = parse_policy(existing_text, kind, "existingPolicyDocument")?;
    Ok(result_json(&check_no_new_access(
        &existing,
        &new,
        Some(account),
    )))
}

fn no_public_access(input: &Value) -> Result<Value, WireError> {
    let text = string_field(input, "policyDocument")?;
    let kind = match string_field(input, "resourceType")? {
        "AWS::KMS::Key" => PolicyKind::Key,
        "AWS::IAM::AssumeRolePolicyDocument" => PolicyKind::Trust,
        other if RESOURCE_TYPES.contains(&other) => {
            return Err(validation(format!(
                "resourceType {other} is not supported here: kmsd checks AWS::KMS::Key and AWS::IAM::AssumeRolePolicyDocument."
            )))
        }
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                RESOURCE_TYPES.join(", ")
            )))
        }
    };
    let policy = parse_policy(text, kind, "policyDocument")?;
    Ok(result_json(&check_no_public_access(&policy)))
}

/// Access Analyzer's `AccessCheckResourceType` values.
const RESOURCE_TYPES: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::Stream",
    "AWS::EFS::FileSystem",
    "AWS::OpenSearchService::Domain",
    "AWS::Kinesis::Stream",
    "AWS::Kinesis::StreamConsumer",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::S3::Bucket",
    "AWS::S3::AccessPoint",
    "AWS::S3Express::DirectoryBucket",
    "AWS::S3::Glacier",
    "AWS::S3Outposts::Bucket",
    "AWS::S3Outposts::AccessPoint",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::IAM::AssumeRolePolicyDocument",
    "AWS::S3Tables::TableBucket",
    "AWS::ApiGateway::RestApi",
    "AWS::CodeArtifact::Domain",
    "AWS::Backup::BackupVault",
    "AWS::CloudTrail::Dashboard",
    "AWS::CloudTrail::EventDataStore",
    "AWS::S3Tables::Table",
    "AWS::S3Express::AccessPoint",
];

fn access_not_granted(input: &Value) -> Result<Value, WireError> {
    let text = string_field(input, "policyDocument")?;
    let kind = check_kind(input, text)?;
    let policy = parse_policy(text, kind, "policyDocument")?;
    let Some(Value::Array(access)) = input.get("access") else {
        return Err(validation(
            "1 validation error detected: Value null at 'access' failed to satisfy constraint: Member must not be null",
        ));
    };
    let mut actions = Vec::new();
    let mut resources = Vec::new();
    for a in access {
        for (field, out) in [("actions", &mut actions), ("resources", &mut resources)] {
            if let Some(list) = a.get(field) {
                let Some(list) = list.as_array() else {
                    return Err(validation(format!(
                        "access.{field} must be a list of strings."
                    )));
                };
                for v in list {
                    let Some(s) = v.as_str() else {
                        return Err(validation(format!(
                            "access.{field} must be a list of strings."
                        )));
                    };
                    out.push(s.to_string());
                }
            }
        }
    }
    if actions.is_empty() {
        return Err(validation("access must name at least one action."));
    }
    for a in &actions {
        kmsd_policy::validate::catalog::check_request_action(a)
            .or_else(|e| {
                if a.to_ascii_lowercase().starts_with("kms:") {
                    Err(e)
                } else {
                    Ok(())
                }
            })
            .map_err(validation)?;
    }
    Ok(result_json(&check_access_not_granted(
        &policy, &actions, &resources,
    )))
}
