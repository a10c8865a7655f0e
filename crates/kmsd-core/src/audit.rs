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

use serde::{Serialize, Serializer};

use crate::iam::op::{IamOp, StsOp};
use crate::kms::KmsOp;
use crate::principal::{format_iso8601, Principal};
use kmsd_policy::{Because, Caller, Decision, PolicySourceType};

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

    /// Append [`AuditEvent::to_json_line`]'s line (no newline) to `out`, without an
    /// intermediate string: the same bytes serde_json writes for the event (checked by a
    /// property test against it), written by hand — constant member names in one copy each,
    /// strings through [`push_json_str`], secret members of the free-form values skipped
    /// while writing (nothing redacted is ever copied).
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        line::event(self, out);
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

/// What a string byte becomes inside a JSON string, as serde_json writes it: 0 = itself,
/// `u` = `\u00XX` (lower-case hex), anything else = that letter after a backslash.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// True when one of the 8 bytes of `x` is a control character, `"` or `\`.
#[inline(always)]
fn word_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below n (n <= 0x80) sets its high bit in (x - n*ONES) & !x; exact as a
    // presence test. Equality with c is "below 1" after xor with c.
    let below_space = x.wrapping_sub(ONES * 0x20) & !x;
    let q = x ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = x ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (below_space | quote | backslash) & HIGH != 0
}

#[inline(always)]
fn push_escape(out: &mut Vec<u8>, byte: u8, esc: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if esc == b'u' {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0x0f)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', esc]);
    }
}

/// Append `s` as a quoted JSON string, escaped exactly as serde_json escapes it (`\"`, `\\`,
/// `\b \f \n \r \t`, other control characters as `\u00xx`; everything else, non-ASCII
/// included, as is). Runs without escapes are copied whole; clean 8-byte words are skipped
/// at once.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        let byte = bytes[at];
        out.extend_from_slice(&bytes[start..at]);
        push_escape(out, byte, ESCAPE[usize::from(byte)]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The index of the first byte at or after `from` that JSON must escape.
#[inline(always)]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut at = 0;
    for w in words.by_ref() {
        let Ok(word) = <[u8; 8]>::try_from(w) else {
            break;
        };
        if word_needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        at += 8;
    }
    rest.get(at..)?
        .iter()
        .position(|&b| ESCAPE[usize::from(b)] != 0)
        .map(|i| from + at + i)
}

/// Append `value` as compact JSON: the bytes `serde_json::to_writer` writes for it (member
/// order kept), without going through serde.
pub fn write_json_value(out: &mut Vec<u8>, value: &serde_json::Value) {
    line::value(out, value, false);
}

/// The hand-written audit line (see [`AuditEvent::write_json_line`]).
mod line {
    use super::{
        is_secret_member, push_json_str, AuditEvent, AuditResource, DecidingStatement,
        SessionContext, UserIdentity,
    };

    #[inline(always)]
    fn raw(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(s.as_bytes());
    }

    fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
        match v {
            Some(s) => push_json_str(out, s),
            None => raw(out, "null"),
        }
    }

    /// `,"key":"value"` when `v` is set (a `skip_serializing_if = "Option::is_none"` member;
    /// `key` is written with its leading comma and colon).
    fn skip_none(out: &mut Vec<u8>, key: &str, v: Option<&str>) {
        if let Some(s) = v {
            raw(out, key);
            push_json_str(out, s);
        }
    }

    fn number(out: &mut Vec<u8>, n: &serde_json::Number) {
        if let Some(u) = n.as_u64() {
            unsigned(out, u);
        } else if let Some(i) = n.as_i64() {
            // Negative (non-negative values are u64 above).
            out.push(b'-');
            unsigned(out, i.unsigned_abs());
        } else {
            // Floats: serde_json's own formatting (rare in audit values).
            let start = out.len();
            if serde_json::to_writer(&mut *out, n).is_err() {
                out.truncate(start);
                raw(out, "null");
            }
        }
    }

    fn unsigned(out: &mut Vec<u8>, mut u: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        out.extend_from_slice(&buf[i..]);
    }

    /// A JSON value; with `redact`, object members whose name denotes a secret are skipped
    /// at every depth (the streamed redaction of the module doc).
    pub(super) fn value(out: &mut Vec<u8>, v: &serde_json::Value, redact: bool) {
        match v {
            serde_json::Value::Null => raw(out, "null"),
            serde_json::Value::Bool(true) => raw(out, "true"),
            serde_json::Value::Bool(false) => raw(out, "false"),
            serde_json::Value::Number(n) => number(out, n),
            serde_json::Value::String(s) => push_json_str(out, s),
            serde_json::Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    value(out, item, redact);
                }
                out.push(b']');
            }
            serde_json::Value::Object(map) => {
                out.push(b'{');
                let mut first = true;
                for (k, item) in map {
                    if redact && is_secret_member(k) {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    push_json_str(out, k);
                    out.push(b':');
                    value(out, item, redact);
                }
                out.push(b'}');
            }
        }
    }

    fn identity(out: &mut Vec<u8>, id: &UserIdentity) {
        raw(out, "{\"type\":");
        push_json_str(out, &id.identity_type);
        skip_none(out, ",\"principalId\":", id.principal_id.as_deref());
        skip_none(out, ",\"arn\":", id.arn.as_deref());
        skip_none(out, ",\"accountId\":", id.account_id.as_deref());
        skip_none(out, ",\"accessKeyId\":", id.access_key_id.as_deref());
        skip_none(out, ",\"userName\":", id.user_name.as_deref());
        if let Some(sc) = &id.session_context {
            raw(out, ",\"sessionContext\":");
            session(out, sc);
        }
        out.push(b'}');
    }

    fn session(out: &mut Vec<u8>, sc: &SessionContext) {
        out.push(b'{');
        if let Some(si) = &sc.session_issuer {
            raw(out, "\"sessionIssuer\":{\"type\":");
            push_json_str(out, &si.issuer_type);
            raw(out, ",\"principalId\":");
            push_json_str(out, &si.principal_id);
            raw(out, ",\"arn\":");
            push_json_str(out, &si.arn);
            raw(out, ",\"accountId\":");
            push_json_str(out, &si.account_id);
            raw(out, ",\"userName\":");
            push_json_str(out, &si.user_name);
            raw(out, "},");
        }
        raw(out, "\"attributes\":{");
        if let Some(cd) = &sc.attributes.creation_date {
            raw(out, "\"creationDate\":");
            push_json_str(out, cd);
            out.push(b',');
        }
        raw(out, "\"mfaAuthenticated\":");
        push_json_str(out, sc.attributes.mfa_authenticated);
        raw(out, "}}");
    }

    fn resource(out: &mut Vec<u8>, r: &AuditResource) {
        raw(out, "{\"accountId\":");
        push_json_str(out, &r.account_id);
        raw(out, ",\"type\":");
        push_json_str(out, r.resource_type);
        raw(out, ",\"ARN\":");
        push_json_str(out, &r.arn);
        out.push(b'}');
    }

    fn deciding(out: &mut Vec<u8>, d: &DecidingStatement) {
        match d {
            DecidingStatement::Statement {
                policy,
                policy_type,
                sid,
                index,
            } => {
                raw(out, "{\"type\":\"statement\",\"policy\":");
                push_json_str(out, policy);
                raw(out, ",\"policyType\":");
                push_json_str(out, policy_type);
                skip_none(out, ",\"sid\":", sid.as_deref());
                raw(out, ",\"index\":");
                unsigned(out, *index as u64);
            }
            DecidingStatement::Grant { grant_id, name } => {
                raw(out, "{\"type\":\"grant\",\"grantId\":");
                push_json_str(out, grant_id);
                skip_none(out, ",\"name\":", name.as_deref());
            }
            DecidingStatement::Note { text } => {
                raw(out, "{\"type\":\"note\",\"text\":");
                push_json_str(out, text);
            }
        }
        out.push(b'}');
    }

    fn bool_(out: &mut Vec<u8>, b: bool) {
        raw(out, if b { "true" } else { "false" });
    }

    pub(super) fn event(ev: &AuditEvent, out: &mut Vec<u8>) {
        out.reserve(1024);
        raw(out, "{\"eventVersion\":");
        push_json_str(out, ev.event_version);
        raw(out, ",\"userIdentity\":");
        identity(out, &ev.user_identity);
        raw(out, ",\"eventTime\":");
        push_json_str(out, &ev.event_time);
        raw(out, ",\"eventSource\":");
        push_json_str(out, &ev.event_source);
        raw(out, ",\"eventName\":");
        push_json_str(out, &ev.event_name);
        raw(out, ",\"awsRegion\":");
        push_json_str(out, &ev.aws_region);
        raw(out, ",\"sourceIPAddress\":");
        opt_str(out, ev.source_ip_address.as_deref());
        raw(out, ",\"userAgent\":");
        opt_str(out, ev.user_agent.as_deref());
        skip_none(out, ",\"errorCode\":", ev.error_code.as_deref());
        skip_none(out, ",\"errorMessage\":", ev.error_message.as_deref());
        raw(out, ",\"requestParameters\":");
        value(out, &ev.request_parameters, true);
        raw(out, ",\"responseElements\":");
        match &ev.response_elements {
            Some(v) => value(out, v, true),
            None => raw(out, "null"),
        }
        raw(out, ",\"requestID\":");
        push_json_str(out, &ev.request_id);
        raw(out, ",\"eventID\":");
        push_json_str(out, &ev.event_id);
        raw(out, ",\"readOnly\":");
        bool_(out, ev.read_only);
        raw(out, ",\"resources\":[");
        for (i, r) in ev.resources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            resource(out, r);
        }
        raw(out, "],\"eventType\":");
        push_json_str(out, ev.event_type);
        raw(out, ",\"managementEvent\":");
        bool_(out, ev.management_event);
        raw(out, ",\"eventCategory\":");
        push_json_str(out, ev.event_category);
        raw(out, ",\"recipientAccountId\":");
        opt_str(out, ev.recipient_account_id.as_deref());
        skip_none(out, ",\"decision\":", ev.decision);
        raw(out, ",\"decidingStatements\":[");
        for (i, d) in ev.deciding_statements.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            deciding(out, d);
        }
        raw(out, "]}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
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
            source_identity: None,
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

    mod line_equals_serde {
        use super::super::*;
        use proptest::prelude::*;

        /// Strings heavy in what JSON must escape, plus any Unicode.
        fn text() -> impl Strategy<Value = String> {
            let ch = prop_oneof![
                3 => proptest::char::range('a', 'z'),
                2 => proptest::char::range('\u{0}', '\u{1f}'),
                1 => Just('"'),
                1 => Just('\\'),
                1 => Just('\u{7f}'),
                1 => Just('/'),
                2 => any::<char>(),
            ];
            prop_oneof![
                1 => proptest::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect()),
                1 => "[a-zA-Z0-9:/_.-]{0,64}",
            ]
        }

        fn member_name() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => text(),
                1 => prop::sample::select(vec![
                    "Plaintext", "KeyId", "CiphertextBlob", "secret_access-key", "Mac", "mac",
                    "EncryptionContext", "plain_text", "SessionToken", "GrantTokens",
                ])
                .prop_map(str::to_string),
            ]
        }

        fn json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::Bool),
                any::<u64>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
                text().prop_map(serde_json::Value::String),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6)
                        .prop_map(serde_json::Value::Array),
                    proptest::collection::vec((member_name(), inner), 0..6)
                        .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn opt_text() -> impl Strategy<Value = Option<String>> {
            proptest::option::of(text())
        }

        fn identity() -> impl Strategy<Value = UserIdentity> {
            let issuer = (text(), text(), text(), text(), text()).prop_map(|(t, p, a, c, u)| {
                SessionIssuer {
                    issuer_type: t,
                    principal_id: p,
                    arn: a,
                    account_id: c,
                    user_name: u,
                }
            });
            let session = (proptest::option::of(issuer), opt_text(), any::<bool>()).prop_map(
                |(session_issuer, creation_date, mfa)| SessionContext {
                    session_issuer,
                    attributes: SessionAttributes {
                        creation_date,
                        mfa_authenticated: if mfa { "true" } else { "false" },
                    },
                },
            );
            (
                text(),
                opt_text(),
                opt_text(),
                opt_text(),
                opt_text(),
                opt_text(),
                proptest::option::of(session),
            )
                .prop_map(|(t, p, a, c, k, u, s)| UserIdentity {
                    identity_type: t,
                    principal_id: p,
                    arn: a,
                    account_id: c,
                    access_key_id: k,
                    user_name: u,
                    session_context: s,
                })
        }

        fn deciding() -> impl Strategy<Value = DecidingStatement> {
            prop_oneof![
                (text(), text(), opt_text(), any::<usize>()).prop_map(|(p, t, s, i)| {
                    DecidingStatement::Statement {
                        policy: p,
                        policy_type: t,
                        sid: s,
                        index: i,
                    }
                }),
                (text(), opt_text()).prop_map(|(g, n)| DecidingStatement::Grant {
                    grant_id: g,
                    name: n
                }),
                text().prop_map(|t| DecidingStatement::Note { text: t }),
            ]
        }

        fn event() -> impl Strategy<Value = AuditEvent> {
            let a = (
                identity(),
                any::<i64>(),
                text(),
                text(),
                text(),
                opt_text(),
                opt_text(),
                opt_text(),
                opt_text(),
            );
            let b = (
                json(),
                proptest::option::of(json()),
                text(),
                any::<bool>(),
                proptest::collection::vec(
                    (text(), text()).prop_map(|(c, arn)| AuditResource {
                        account_id: c,
                        resource_type: "AWS::KMS::Key",
                        arn,
                    }),
                    0..3,
                ),
                opt_text(),
                proptest::option::of(prop::sample::select(vec![
                    "Allow",
                    "ExplicitDeny",
                    "ImplicitDeny",
                ])),
                proptest::collection::vec(deciding(), 0..4),
            );
            (a, b).prop_map(
                |(
                    (ui, t, src, name, region, ip, ua, code, msg),
                    (rp, re, rid, ro, resources, recipient, decision, ds),
                )| {
                    let mut ev = AuditEvent::new(t, &src, &name, &region, &rid);
                    ev.user_identity = ui;
                    ev.source_ip_address = ip;
                    ev.user_agent = ua;
                    ev.error_code = code;
                    ev.error_message = msg;
                    ev.request_parameters = rp;
                    ev.response_elements = re;
                    ev.read_only = ro;
                    ev.resources = resources;
                    ev.recipient_account_id = recipient;
                    ev.decision = decision;
                    ev.deciding_statements = ds;
                    ev
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// The hand-written line is byte for byte what serde_json writes for the event.
            #[test]
            fn audit_line_is_serde_json_byte_for_byte(ev in event()) {
                let mut line = b"prefix".to_vec();
                ev.write_json_line(&mut line);
                let reference = serde_json::to_string(&ev).unwrap();
                prop_assert_eq!(&line[..6], b"prefix");
                prop_assert_eq!(String::from_utf8(line[6..].to_vec()).unwrap(), reference);
            }

            /// Any value (no redaction) is written as serde_json writes it.
            #[test]
            fn value_is_serde_json_byte_for_byte(v in json()) {
                let mut out = Vec::new();
                write_json_value(&mut out, &v);
                prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
            }

            /// Every escape position: one special byte anywhere in a run of up to 20 bytes
            /// (inside or across the 8-byte words the escaper skips).
            #[test]
            fn escaper_at_every_offset(
                pre in 0usize..20,
                post in 0usize..20,
                special in prop_oneof![proptest::char::range('\u{0}', '\u{20}'), Just('"'), Just('\\'), Just('é')],
            ) {
                let s = format!("{}{special}{}", "a".repeat(pre), "b".repeat(post));
                let mut out = Vec::new();
                push_json_str(&mut out, &s);
                prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
            }
        }

        #[test]
        fn secret_members_never_written() {
            let mut ev = AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-east-1", "r");
            ev.request_parameters = serde_json::json!({
                "KeyId": "k",
                "Plaintext": "SECRET1",
                "deep": [{"session_token": "SECRET2", "x": {"Mac": "SECRET3"}}],
            });
            ev.response_elements = Some(serde_json::json!({"SecretAccessKey": "SECRET4"}));
            let mut line = Vec::new();
            ev.write_json_line(&mut line);
            let text = String::from_utf8(line).unwrap();
            for s in ["SECRET1", "SECRET2", "SECRET3", "SECRET4", "Plaintext"] {
                assert!(!text.contains(s), "{text}");
            }
            assert!(text.contains("\"KeyId\":\"k\""), "{text}");
            assert!(text.contains("\"deep\":[{\"x\":{}}]"), "{text}");
        }
    }

    #[test]
    fn policy_type_is_the_debug_name() {
        for t in [
            PolicySourceType::User,
            PolicySourceType::Group,
            PolicySourceType::Role,
            PolicySourceType::AwsManaged,
            PolicySourceType::UserManaged,
            PolicySourceType::Resource,
            PolicySourceType::PermissionsBoundary,
            PolicySourceType::Session,
            PolicySourceType::ServiceControl,
            PolicySourceType::None,
        ] {
            assert_eq!(policy_type_name(t), format!("{t:?}"));
        }
        let because = vec![
            Because::Statement {
                policy_id: "p".into(),
                source_type: PolicySourceType::PermissionsBoundary,
                sid: Some("s".into()),
                index: 3,
            },
            Because::Grant {
                grant_id: "g".into(),
                name: None,
            },
            Because::Note("n".into()),
        ];
        let mut a = AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-east-1", "r");
        let mut b = a.clone();
        a.set_decision(Some(Decision::Allow), &because);
        b.set_decision_owned(Some(Decision::Allow), because);
        assert_eq!(a.deciding_statements, b.deciding_statements);
        assert_eq!(a.decision, b.decision);
        assert!(matches!(
            &a.deciding_statements[0],
            DecidingStatement::Statement { policy_type, .. } if policy_type == "PermissionsBoundary"
        ));
    }

    proptest::proptest! {
        #[test]
        fn arn_account_equals_splitn(arn in "(arn:)?[a-z0-9:/]{0,30}") {
            let reference = {
                let mut parts = arn.splitn(6, ':');
                if parts.next() != Some("arn") {
                    None
                } else {
                    parts.nth(3).filter(|a| !a.is_empty())
                }
            };
            proptest::prop_assert_eq!(arn_account(&arn), reference);
        }
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
