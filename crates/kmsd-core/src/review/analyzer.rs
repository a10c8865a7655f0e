//! IAM Access Analyzer's policy checks: `ValidatePolicy`, `CheckNoNewAccess`,
//! `CheckAccessNotGranted` and `CheckNoPublicAccess`. Each is authorized like AWS — the
//! caller's IAM policies must allow `access-analyzer:<Operation>` on `*` — then its input is
//! decoded and the check of [`kmsd_policy::validate`] runs. The wire layer maps the restJson1
//! paths to an [`AnalyzerOp`] and encodes the [`Outcome`].

use kmsd_policy::validate::custom::{
    check_access_not_granted, check_no_new_access, check_no_public_access, is_trust_document,
    CheckResult,
};
use kmsd_policy::validate::{findings_json, validate_policy, ValidateOptions};
use kmsd_policy::{Policy, PolicyKind};
use serde_json::{json, Value};

use crate::admin_authz::decide_identity_action;
use crate::audit::{AuditFacts, Outcome};
use crate::error::{AccessAnalyzerError, ApiError};
use crate::principal::{Principal, RequestMeta};

/// One of Access Analyzer's policy checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalyzerOp {
    ValidatePolicy,
    CheckNoNewAccess,
    CheckAccessNotGranted,
    CheckNoPublicAccess,
}

impl AnalyzerOp {
    /// The operation's name (the event name; the action is `access-analyzer:<name>`).
    pub fn name(self) -> &'static str {
        match self {
            AnalyzerOp::ValidatePolicy => "ValidatePolicy",
            AnalyzerOp::CheckNoNewAccess => "CheckNoNewAccess",
            AnalyzerOp::CheckAccessNotGranted => "CheckAccessNotGranted",
            AnalyzerOp::CheckNoPublicAccess => "CheckNoPublicAccess",
        }
    }

    /// CloudTrail `readOnly`: the checks change nothing.
    pub fn read_only(self) -> bool {
        true
    }
}

/// Run one check for `caller`. `input` is the decoded request body; anything but a JSON
/// object (the wire layer passes `null` for a body that is not JSON) is refused with
/// `ValidationException` — after authorization, as the caller is checked first. The audit
/// facts carry the authorization's decision.
pub fn call(
    op: AnalyzerOp,
    caller: &Principal,
    meta: &RequestMeta,
    input: &Value,
) -> Outcome<Value> {
    let action = format!("access-analyzer:{}", op.name());
    let (decision, denial) = decide_identity_action(caller, meta, &action, "*");
    let facts = AuditFacts {
        decision: Some(decision),
        ..AuditFacts::default()
    };
    if let Some(message) = denial {
        let err = ApiError::new(AccessAnalyzerError::AccessDeniedException, message);
        return Outcome::new(Err(err), facts);
    }
    if !input.is_object() {
        let err = validation("The request body must be a JSON object.");
        return Outcome::new(Err(err), facts);
    }
    let account = caller.caller.account();
    let result = match op {
        AnalyzerOp::ValidatePolicy => validate(input, account),
        AnalyzerOp::CheckNoNewAccess => no_new_access(input, account),
        AnalyzerOp::CheckNoPublicAccess => no_public_access(input),
        AnalyzerOp::CheckAccessNotGranted => access_not_granted(input),
    };
    Outcome::new(result, facts)
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(AccessAnalyzerError::ValidationException, message)
}

fn string_field<'a>(input: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(validation(format!("{name} must be a string."))),
        None => Err(validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))),
    }
}

fn policy_kind(input: &Value) -> Result<PolicyKind, ApiError> {
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

fn validate(input: &Value, account: &str) -> Result<Value, ApiError> {
    let document = string_field(input, "policyDocument")?;
    let kind = policy_kind(input)?;
    let options = ValidateOptions {
        account: Some(account.to_string()),
    };
    let findings =
        validate_policy(document, kind, &options).map_err(|e| validation(e.to_string()))?;
    Ok(json!({ "findings": findings_json(&findings) }))
}

fn parse_policy(text: &str, kind: PolicyKind, name: &str) -> Result<Policy, ApiError> {
    Policy::parse(text, kind).map_err(|e| {
        ApiError::new(
            AccessAnalyzerError::InvalidParameterException,
            format!("{name} is not a valid policy: {e}"),
        )
    })
}

/// The policy kind of a custom check: `IDENTITY_POLICY`, or `RESOURCE_POLICY` — a role trust
/// policy when every action `document` names is an `sts:` action, a KMS key policy otherwise.
fn check_kind(input: &Value, document: &str) -> Result<PolicyKind, ApiError> {
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

fn no_new_access(input: &Value, account: &str) -> Result<Value, ApiError> {
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

fn no_public_access(input: &Value) -> Result<Value, ApiError> {
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

fn access_not_granted(input: &Value) -> Result<Value, ApiError> {
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
