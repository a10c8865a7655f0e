//! The audit line encoder: [`AuditEvent`] as one compact JSON line, byte for byte what serde
//! would write for it (without going through serde), every secret member skipped at any depth;
//! and the JSON string and value writers it is built from.

use super::redact::is_secret_member;
use super::{AuditEvent, AuditResource, DecidingStatement, SessionContext, UserIdentity};

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
    self::value(out, value, false);
}

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

impl AuditEvent {
    /// Append [`AuditEvent::to_json_line`]'s line (no newline) to `out`, without an
    /// intermediate string: the same bytes serde_json writes for the event (checked by a
    /// property test against it), written by hand — constant member names in one copy each,
    /// strings through [`push_json_str`], secret members of the free-form values skipped
    /// while writing (nothing redacted is ever copied).
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        event(self, out);
    }
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
