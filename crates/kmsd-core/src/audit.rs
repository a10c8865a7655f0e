//! The audit event value (CloudTrail-shaped). It has no field that could hold plaintext.
//!
//! One [`AuditEvent`] is recorded for every request, allowed or denied, including requests
//! that fail authentication. The shape follows a CloudTrail record of a KMS (or IAM/STS)
//! API call, plus two kmsd extensions: `decision` and `decidingStatements`.
//!
//! `requestParameters` and `responseElements` are free-form JSON copied from the request
//! and the response by the layer that knows the operation; as a second line of defence
//! every serialization of an event (serde, and the hand-written audit line of
//! [`AuditEvent::write_json_line`]) skips every member whose name denotes plaintext, key
//! material, a data-key blob or a credential secret, at any depth.
//!
//! The JSON line encoder is `audit::line`, the secret member names and the redacting
//! serializers `audit::redact`.

use serde::Serialize;

use crate::iam::op::{IamOp, StsOp};
use crate::kms::KmsOp;
use crate::principal::{format_iso8601, Principal};
use kmsd_policy::{Because, Caller, Decision, PolicySourceType};

mod line;
mod outcome;
mod redact;
pub use crate::outcome::{AuditFacts, Outcome};
pub use line::{push_json_str, write_json_value};
use redact::{serialize_redacted, serialize_redacted_opt};

/// The `errorCode` of an audit line whose event could not be serialized: kmsd's own code,
/// never an API answer (the one code outside the error enums of `crate::error`).
pub const AUDIT_SERIALIZATION_FAILURE: &str = "AuditSerializationFailure";

/// The CloudTrail `eventVersion` kmsd writes.
pub const EVENT_VERSION: &str = "1.08";

/// One audit record (one JSON line in the audit log).
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    #[serde(rename = "eventVersion")]
    pub event_version: &'static str,
    #[serde(rename = "userIdentity")]
    pub user_identity: UserIdentity,
    /// ISO-8601 UTC, seconds precision.
    #[serde(rename = "eventTime")]
    pub event_time: String,
    /// `kms.amazonaws.com`, `iam.amazonaws.com` or `sts.amazonaws.com`.
    #[serde(rename = "eventSource")]
    pub event_source: String,
    /// The operation name (`Decrypt`, `AssumeRole`, ...), or what the request asked for.
    #[serde(rename = "eventName")]
    pub event_name: String,
    #[serde(rename = "awsRegion")]
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    #[serde(rename = "userAgent")]
    pub user_agent: Option<String>,
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "errorMessage", skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Request members without secrets (redacted again on serialization).
    #[serde(rename = "requestParameters", serialize_with = "serialize_redacted")]
    pub request_parameters: serde_json::Value,
    /// Non-secret outputs (redacted again on serialization); `null` for crypto operations.
    #[serde(rename = "responseElements", serialize_with = "serialize_redacted_opt")]
    pub response_elements: Option<serde_json::Value>,
    /// Equals the `x-amzn-RequestId` response header.
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "readOnly")]
    pub read_only: bool,
    pub resources: Vec<AuditResource>,
    #[serde(rename = "eventType")]
    pub event_type: &'static str,
    #[serde(rename = "managementEvent")]
    pub management_event: bool,
    #[serde(rename = "eventCategory")]
    pub event_category: &'static str,
    /// The account the event belongs to (the key owner for KMS, else the caller's account).
    #[serde(rename = "recipientAccountId")]
    pub recipient_account_id: Option<String>,
    /// kmsd extension: `Allow`, `ExplicitDeny` or `ImplicitDeny`; absent when no
    /// authorization ran (authentication failure, malformed request, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'static str>,
    /// kmsd extension: the statements or grants behind the decision.
    #[serde(rename = "decidingStatements")]
    pub deciding_statements: Vec<DecidingStatement>,
    /// The flowchart node (`N0` … `T2`) the decision's path ended at, when known. Not part
    /// of the audit line: the server's metrics count decisions by it.
    #[serde(skip)]
    pub end_node: Option<&'static str>,
}

/// `userIdentity` of a CloudTrail record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, or `Unknown` when the caller was not authenticated.
    #[serde(rename = "type")]
    pub identity_type: String,
    #[serde(rename = "principalId", skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "accessKeyId", skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(rename = "userName", skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(rename = "sessionContext", skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
}

/// `userIdentity.sessionContext` for temporary credentials.
#[derive(Debug, Clone, Serialize)]
pub struct SessionContext {
    #[serde(rename = "sessionIssuer", skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<SessionIssuer>,
    pub attributes: SessionAttributes,
}

/// The role (or user) that issued a session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionIssuer {
    #[serde(rename = "type")]
    pub issuer_type: String,
    #[serde(rename = "principalId")]
    pub principal_id: String,
    pub arn: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    #[serde(rename = "userName")]
    pub user_name: String,
}

/// `sessionContext.attributes`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionAttributes {
    #[serde(rename = "creationDate", skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    /// `"true"` / `"false"` as CloudTrail writes it.
    #[serde(rename = "mfaAuthenticated")]
    pub mfa_authenticated: &'static str,
}

/// One entry of `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditResource {
    #[serde(rename = "accountId")]
    pub account_id: String,
    #[serde(rename = "type")]
    pub resource_type: &'static str,
    #[serde(rename = "ARN")]
    pub arn: String,
}

impl AuditResource {
    /// A KMS key resource from its ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
    pub fn kms_key(arn: &str) -> AuditResource {
        AuditResource {
            account_id: arn_account(arn).unwrap_or_default().to_string(),
            resource_type: "AWS::KMS::Key",
            arn: arn.to_string(),
        }
    }
}

/// One statement or grant behind a decision (kmsd extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum DecidingStatement {
    /// A policy statement.
    #[serde(rename = "statement")]
    Statement {
        policy: String,
        #[serde(rename = "policyType")]
        policy_type: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        sid: Option<String>,
        /// 0-based index of the statement in its policy.
        index: usize,
    },
    /// A grant.
    #[serde(rename = "grant")]
    Grant {
        #[serde(rename = "grantId")]
        grant_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A fact that is not a statement.
    #[serde(rename = "note")]
    Note { text: String },
}

/// The `policyType` of a deciding statement: the source type's name as its `Debug` prints
/// it (without going through `fmt`).
fn policy_type_name(t: PolicySourceType) -> &'static str {
    match t {
        PolicySourceType::User => "User",
        PolicySourceType::Group => "Group",
        PolicySourceType::Role => "Role",
        PolicySourceType::AwsManaged => "AwsManaged",
        PolicySourceType::UserManaged => "UserManaged",
        PolicySourceType::Resource => "Resource",
        PolicySourceType::PermissionsBoundary => "PermissionsBoundary",
        PolicySourceType::Session => "Session",
        PolicySourceType::ServiceControl => "ServiceControl",
        PolicySourceType::None => "None",
    }
}

impl From<&Because> for DecidingStatement {
    fn from(b: &Because) -> Self {
        DecidingStatement::from(b.clone())
    }
}

impl From<Because> for DecidingStatement {
    fn from(b: Because) -> Self {
        match b {
            Because::Statement {
                policy_id,
                source_type,
                sid,
                index,
            } => DecidingStatement::Statement {
                policy: policy_id,
                policy_type: policy_type_name(source_type).to_string(),
                sid,
                index,
            },
            Because::Grant { grant_id, name } => DecidingStatement::Grant { grant_id, name },
            Because::Note(text) => DecidingStatement::Note { text },
        }
    }
}

/// The wire name of a decision.
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "Allow",
        Decision::ExplicitDeny => "ExplicitDeny",
        Decision::ImplicitDeny => "ImplicitDeny",
    }
}

impl UserIdentity {
    /// The identity of a caller that did not authenticate (only the access key it claimed).
    pub fn unknown(access_key_id: Option<&str>) -> UserIdentity {
        UserIdentity {
            identity_type: "Unknown".to_string(),
            access_key_id: access_key_id.map(str::to_string),
            ..UserIdentity::default()
        }
    }

    /// The identity of an authenticated principal.
    pub fn from_principal(principal: &Principal, access_key_id: Option<&str>) -> UserIdentity {
        let caller = &principal.caller;
        let access_key_id = access_key_id.map(str::to_string);
        match caller {
            Caller::Root { account } => UserIdentity {
                identity_type: "Root".to_string(),
                principal_id: Some(account.clone()),
                arn: Some(caller.arn()),
                account_id: Some(account.clone()),
                access_key_id,
                user_name: None,
                session_context: None,
            },
            Caller::User {
                account,
                arn,
                name,
                unique_id,
            } => UserIdentity {
                identity_type: "IAMUser".to_string(),
                principal_id: Some(unique_id.clone()),
                arn: Some(arn.clone()),
                account_id: Some(account.clone()),
                access_key_id,
                user_name: Some(name.clone()),
                session_context: principal.token_issue_time.map(|t| SessionContext {
                    session_issuer: None,
                    attributes: SessionAttributes {
                        creation_date: Some(format_iso8601(t)),
                        mfa_authenticated: "false",
                    },
                }),
            },
            Caller::AssumedRole {
                account,
                role_arn,
                role_name,
                role_unique_id,
                ..
            } => UserIdentity {
                identity_type: "AssumedRole".to_string(),
                principal_id: Some(caller.userid()),
                arn: Some(caller.arn()),
                account_id: Some(account.clone()),
                access_key_id,
                user_name: None,
                session_context: Some(SessionContext {
                    session_issuer: Some(SessionIssuer {
                        issuer_type: "Role".to_string(),
                        principal_id: role_unique_id.clone(),
                        arn: role_arn.clone(),
                        account_id: account.clone(),
                        user_name: role_name.clone(),
                    }),
                    attributes: SessionAttributes {
                        creation_date: principal.token_issue_time.map(format_iso8601),
                        mfa_authenticated: "false",
                    },
                }),
            },
        }
    }
}

impl AuditEvent {
    /// A new event with the fixed CloudTrail fields filled in and everything else empty.
    /// `time_millis` is the request time; `event_source` e.g. `kms.amazonaws.com`.
    pub fn new(
        time_millis: i64,
        event_source: &str,
        event_name: &str,
        region: &str,
        request_id: &str,
    ) -> AuditEvent {
        AuditEvent {
            event_version: EVENT_VERSION,
            user_identity: UserIdentity::unknown(None),
            event_time: format_iso8601(time_millis.div_euclid(1000)),
            event_source: event_source.to_string(),
            event_name: event_name.to_string(),
            aws_region: region.to_string(),
            source_ip_address: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: serde_json::Value::Null,
            response_elements: None,
            request_id: request_id.to_string(),
            event_id: new_id(),
            read_only: is_read_only(event_name),
            resources: Vec::new(),
            event_type: "AwsApiCall",
            management_event: true,
            event_category: "Management",
            recipient_account_id: None,
            decision: None,
            deciding_statements: Vec::new(),
            end_node: None,
        }
    }

    /// Record the outcome of authorization.
    pub fn set_decision(&mut self, decision: Option<Decision>, because: &[Because]) {
        self.decision = decision.map(decision_name);
        self.deciding_statements = because.iter().map(DecidingStatement::from).collect();
    }

    /// [`AuditEvent::set_decision`] taking the reasons by value (no copies of their text).
    pub fn set_decision_owned(&mut self, decision: Option<Decision>, because: Vec<Because>) {
        self.decision = decision.map(decision_name);
        self.deciding_statements = because.into_iter().map(DecidingStatement::from).collect();
    }

    /// Record an error code and message.
    pub fn set_error(&mut self, code: &str, message: Option<&str>) {
        self.error_code = Some(code.to_string());
        self.error_message = message.map(str::to_string);
    }

    /// The event as one JSON line (no trailing newline), redacted.
    pub fn to_json_line(&self) -> String {
        match serde_json::to_string(self) {
            Ok(s) => s,
            // Serializing plain strings and JSON values cannot fail; keep a valid line anyway.
            Err(e) => format!(
                "{{\"eventVersion\":\"{EVENT_VERSION}\",\"requestID\":{},\"errorCode\":\"{AUDIT_SERIALIZATION_FAILURE}\",\"errorMessage\":{}}}",
                serde_json::Value::String(self.request_id.clone()),
                serde_json::Value::String(e.to_string())
            ),
        }
    }
}

/// A fresh request or event id (random UUID text) without a system call per id: see
/// [`kmsd_crypto::random_uuid`].
pub fn new_id() -> String {
    kmsd_crypto::random_uuid()
}

/// CloudTrail's `readOnly` of an event, from the operation tables ([`KmsOp`],
/// [`IamOp`], [`StsOp`]): KMS names first, then IAM's, then STS's (the three name sets are
/// disjoint but for STS's, which IAM lacks). Unknown names are not read-only.
pub fn is_read_only(event_name: &str) -> bool {
    if let Some(op) = KmsOp::from_name(event_name) {
        return op.spec().read_only;
    }
    if let Some(op) = IamOp::from_name(event_name) {
        return op.spec().read_only;
    }
    StsOp::from_name(event_name).is_some_and(|op| op.spec().read_only)
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
fn arn_account(arn: &str) -> Option<&str> {
    // The fifth `:`-separated part (the sixth part may hold more colons); one byte pass.
    let rest = arn.strip_prefix("arn:")?;
    let mut colons = 0;
    let mut start = 0;
    let bytes = rest.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b':' {
            colons += 1;
            if colons == 3 {
                start = i + 1;
            } else if colons == 4 {
                return rest.get(start..i).filter(|a| !a.is_empty());
            }
        }
    }
    // Exactly five parts: the account is the last one.
    if colons == 3 {
        rest.get(start..).filter(|a| !a.is_empty())
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests;
