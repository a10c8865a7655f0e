//! The audit event value (CloudTrail-shaped). It has no field that could hold plaintext.
//!
//! One [`AuditEvent`] is recorded for every request, allowed or denied, including requests
//! that fail authentication. The shape follows a CloudTrail record of a KMS (or IAM/STS)
//! API call, plus two kmsd extensions: `decision` and `decidingStatements`.
//!
//! `requestParameters` and `responseElements` are free-form JSON copied from the request
//! and the response by the layer that knows the operation; as a second line of defence
//! they are passed through [`redact`] whenever an event is serialized, which drops every
//! member whose name denotes plaintext, key material, a data-key blob or a credential
//! secret, at any depth.

use serde::{Serialize, Serializer};

use crate::principal::{format_iso8601, Principal};
use kmsd_policy::{Because, Caller, Decision};

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

impl From<&Because> for DecidingStatement {
    fn from(b: &Because) -> Self {
        match b {
            Because::Statement {
                policy_id,
                source_type,
                sid,
                index,
            } => DecidingStatement::Statement {
                policy: policy_id.clone(),
                policy_type: format!("{source_type:?}"),
                sid: sid.clone(),
                index: *index,
            },
            Because::Grant { grant_id, name } => DecidingStatement::Grant {
                grant_id: grant_id.clone(),
                name: name.clone(),
            },
            Because::Note(text) => DecidingStatement::Note { text: text.clone() },
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
        }
    }

    /// Record the outcome of authorization.
    pub fn set_decision(&mut self, decision: Option<Decision>, because: &[Because]) {
        self.decision = decision.map(decision_name);
        self.deciding_statements = because.iter().map(DecidingStatement::from).collect();
    }

    /// Record an error code and message.
    pub fn set_error(&mut self, code: &str, message: Option<&str>) {
        self.error_code = Some(code.to_string());
        self.error_message = message.map(str::to_string);
    }

    /// Append [`AuditEvent::to_json_line`]'s line (no newline) to `out`, without an
    /// intermediate string.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.truncate(start);
            out.extend_from_slice(self.to_json_line().as_bytes());
        }
    }

    /// The event as one JSON line (no trailing newline), redacted.
    pub fn to_json_line(&self) -> String {
        match serde_json::to_string(self) {
            Ok(s) => s,
            // Serializing plain strings and JSON values cannot fail; keep a valid line anyway.
            Err(e) => format!(
                "{{\"eventVersion\":\"{EVENT_VERSION}\",\"requestID\":{},\"errorCode\":\"AuditSerializationFailure\",\"errorMessage\":{}}}",
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

/// CloudTrail's `readOnly`: true for Describe/Get/List and Decrypt (as AWS records it).
pub fn is_read_only(event_name: &str) -> bool {
    event_name.starts_with("Describe")
        || event_name.starts_with("Get")
        || event_name.starts_with("List")
        || event_name == "Decrypt"
        || event_name == "Verify"
        || event_name == "VerifyMac"
        || event_name.starts_with("Simulate")
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    let account = parts.nth(3)?;
    if account.is_empty() {
        None
    } else {
        Some(account)
    }
}

/// Member names (compared case-insensitively, ignoring `_` and `-`) that may carry
/// plaintext, key material, data-key blobs or credential secrets.
const SECRET_MEMBERS: &[&str] = &[
    "plaintext",
    "ciphertextblob",
    "sourceciphertextblob",
    "ciphertextforrecipient",
    "privatekeyplaintext",
    "privatekeyciphertextblob",
    "keymaterial",
    "encryptedkeymaterial",
    "importtoken",
    "sharedsecret",
    "secretaccesskey",
    "sessiontoken",
    "password",
    "message",
    "mac",
    "securitytoken",
];

fn is_secret_member(name: &str) -> bool {
    SECRET_MEMBERS
        .iter()
        .any(|secret| same_member_name(name, secret))
}

/// `name` equals `lower` (lower-case, no separators) ignoring ASCII case and `_`/`-`.
/// Non-ASCII names never equal a secret member name (all of which are ASCII).
fn same_member_name(name: &str, lower: &str) -> bool {
    let mut want = lower.bytes();
    for b in name.bytes().filter(|b| *b != b'_' && *b != b'-') {
        if want.next() != Some(b.to_ascii_lowercase()) {
            return false;
        }
    }
    want.next().is_none()
}

/// Serializes a JSON value without any member whose name denotes a secret (at any depth),
/// without building a redacted copy.
struct Redacted<'a>(&'a serde_json::Value);

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut m = s.serialize_map(None)?;
                for (k, v) in map.iter().filter(|(k, _)| !is_secret_member(k)) {
                    m.serialize_entry(k, &Redacted(v))?;
                }
                m.end()
            }
            serde_json::Value::Array(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(&Redacted(v))?;
                }
                q.end()
            }
            other => other.serialize(s),
        }
    }
}

fn serialize_redacted<S: Serializer>(v: &serde_json::Value, s: S) -> Result<S::Ok, S::Error> {
    Redacted(v).serialize(s)
}

fn serialize_redacted_opt<S: Serializer>(
    v: &Option<serde_json::Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => Redacted(v).serialize(s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn principal(caller: Caller, issued: Option<i64>) -> Principal {
        Principal {
            caller,
            policies: Arc::new(kmsd_policy::PolicySet::default()),
            tags: Arc::new(BTreeMap::new()),
            token_issue_time: issued,
        }
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut ev = AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-east-1", "rid");
        ev.request_parameters = serde_json::json!({
            "keyId": "alias/a",
            "Plaintext": "c2VjcmV0",
            "nested": [{"plaintext": "x", "CiphertextBlob": "y", "ok": 1}],
        });
        ev.response_elements = Some(serde_json::json!({
            "credentials": {"accessKeyId": "ASIA1", "secretAccessKey": "s", "sessionToken": "t"}
        }));
        let line = ev.to_json_line();
        assert!(!line.contains("c2VjcmV0"), "{line}");
        assert!(!line.to_lowercase().contains("plaintext"), "{line}");
        assert!(!line.contains("secretAccessKey"), "{line}");
        assert!(!line.contains("sessionToken"), "{line}");
        assert!(line.contains("\"keyId\":\"alias/a\""), "{line}");
        assert!(line.contains("\"accessKeyId\":\"ASIA1\""), "{line}");
        assert!(line.contains("\"ok\":1"), "{line}");
    }

    /// The redaction as a copy: the reference the streamed form is checked against.
    fn redact(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .filter(|(k, _)| !is_secret_member(k))
                    .map(|(k, v)| (k.clone(), redact(v)))
                    .collect(),
            ),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(redact).collect())
            }
            other => other.clone(),
        }
    }

    #[test]
    fn streamed_redaction_equals_the_redacted_copy() {
        let v = serde_json::json!({
            "KeyId": "k",
            "Private_Key-Plaintext": "p1",
            "SECRET_ACCESS_KEY": "p2",
            "plain_text_not": "kept",
            "Plaintextx": "kept too",
            "Schlüssel": "kept",
            "list": [{"Mac": "p3", "n": [1, 2, {"password": "p4"}]}, "s", null],
        });
        let streamed = serde_json::to_value(Redacted(&v)).unwrap();
        assert_eq!(streamed, redact(&v));
        let text = streamed.to_string();
        for secret in ["p1", "p2", "p3", "p4"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(streamed["Plaintextx"], "kept too");
        assert_eq!(streamed["Schlüssel"], "kept");
        assert!(is_secret_member("PlainText") && is_secret_member("cipher-text_blob"));
        assert!(!is_secret_member("plaintex") && !is_secret_member(""));
    }

    #[test]
    fn shape_follows_cloudtrail() {
        let mut ev = AuditEvent::new(
            1_700_000_000_123,
            "kms.amazonaws.com",
            "Decrypt",
            "us-west-2",
            "rid-1",
        );
        ev.resources.push(AuditResource::kms_key(
            "arn:aws:kms:us-west-2:111122223333:key/k1",
        ));
        ev.set_decision(
            Some(Decision::Allow),
            &[Because::Grant {
                grant_id: "g1".into(),
                name: None,
            }],
        );
        let v: serde_json::Value = serde_json::from_str(&ev.to_json_line()).unwrap();
        assert_eq!(v["eventVersion"], "1.08");
        assert_eq!(v["eventTime"], "2023-11-14T22:13:20Z");
        assert_eq!(v["eventSource"], "kms.amazonaws.com");
        assert_eq!(v["eventName"], "Decrypt");
        assert_eq!(v["awsRegion"], "us-west-2");
        assert_eq!(v["readOnly"], true);
        assert_eq!(v["eventType"], "AwsApiCall");
        assert_eq!(v["requestID"], "rid-1");
        assert_eq!(
            v["resources"][0]["ARN"],
            "arn:aws:kms:us-west-2:111122223333:key/k1"
        );
        assert_eq!(v["resources"][0]["accountId"], "111122223333");
        assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
        assert_eq!(v["decision"], "Allow");
        assert_eq!(v["decidingStatements"][0]["type"], "grant");
        assert_eq!(v["decidingStatements"][0]["grantId"], "g1");
        assert!(v.get("errorCode").is_none());
        assert!(uuid::Uuid::parse_str(v["eventID"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn identities() {
        let root = principal(
            Caller::Root {
                account: "111122223333".into(),
            },
            None,
        );
        let id = UserIdentity::from_principal(&root, Some("AKIAROOT"));
        assert_eq!(id.identity_type, "Root");
        assert_eq!(id.arn.as_deref(), Some("arn:aws:iam::111122223333:root"));

        let session = principal(
            Caller::AssumedRole {
                account: "111122223333".into(),
                role_arn: "arn:aws:iam::111122223333:role/R".into(),
                role_name: "R".into(),
                role_unique_id: "AROAEXAMPLE".into(),
                session_name: "s".into(),
            },
            Some(1_700_000_000),
        );
        let id = UserIdentity::from_principal(&session, Some("ASIAX"));
        let v = serde_json::to_value(&id).unwrap();
        assert_eq!(v["type"], "AssumedRole");
        assert_eq!(v["principalId"], "AROAEXAMPLE:s");
        assert_eq!(v["arn"], "arn:aws:sts::111122223333:assumed-role/R/s");
        assert_eq!(
            v["sessionContext"]["sessionIssuer"]["arn"],
            "arn:aws:iam::111122223333:role/R"
        );
        assert_eq!(
            v["sessionContext"]["attributes"]["creationDate"],
            "2023-11-14T22:13:20Z"
        );
        let unknown = serde_json::to_value(UserIdentity::unknown(Some("AKIAX"))).unwrap();
        assert_eq!(
            unknown,
            serde_json::json!({"type": "Unknown", "accessKeyId": "AKIAX"})
        );
    }

    #[test]
    fn read_only_classification() {
        assert!(is_read_only("Decrypt"));
        assert!(is_read_only("DescribeKey"));
        assert!(is_read_only("GetKeyPolicy"));
        assert!(!is_read_only("GenerateDataKey"));
        assert!(!is_read_only("Encrypt"));
        assert!(!is_read_only("CreateKey"));
    }
}
