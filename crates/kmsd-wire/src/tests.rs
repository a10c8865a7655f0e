//! Routing, the SigV4 gate and malformed-request handling against a fake backend, with
//! requests signed by kmsd-sigv4's signer.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use kmsd_core::error::ApiError;
use kmsd_core::error::KmsError;
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_policy::{Caller, Decision, PolicySet};
use kmsd_sigv4::{HttpRequest, Payload, SigningParams, SigningSettings};

use super::*;
use crate::query::QueryOutcome;

const NOW_SECS: i64 = 1_700_000_000;
const USER_KEY: &str = "AKIAALICEEXAMPLE0001";
const USER_SECRET: &str = "alice-secret-0123456789012345678901234567";
const SESSION_KEY: &str = "ASIASESSIONEXAMPLE01";
const SESSION_SECRET: &str = "session-secret-01234567890123456789012345";
const SESSION_TOKEN: &str = "FQoGZXIvYXdzEXAMPLETOKEN";
const EXPIRED_KEY: &str = "ASIAEXPIREDEXAMPLE01";

struct Fake;

fn alice() -> Principal {
    Principal {
        caller: Caller::User {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            name: "alice".into(),
            unique_id: "AIDAALICEEXAMPLE00001".into(),
        },
        policies: Arc::new(PolicySet::default()),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    }
}

fn session() -> Principal {
    Principal {
        caller: Caller::AssumedRole {
            account: "111122223333".into(),
            role_arn: "arn:aws:iam::111122223333:role/R".into(),
            role_name: "R".into(),
            role_unique_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
        },
        policies: Arc::new(PolicySet::default()),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: Some(NOW_SECS - 60),
        source_identity: None,
    }
}

impl Backend for Fake {
    fn default_region(&self) -> &str {
        "us-east-1"
    }

    fn lookup_access_key(&self, id: &str) -> Option<Credential> {
        let (secret, token, expires, principal) = match id {
            USER_KEY => (USER_SECRET, None, None, alice()),
            SESSION_KEY => (
                SESSION_SECRET,
                Some(SESSION_TOKEN),
                Some(NOW_SECS + 3600),
                session(),
            ),
            EXPIRED_KEY => (
                SESSION_SECRET,
                Some(SESSION_TOKEN),
                Some(NOW_SECS - 1),
                session(),
            ),
            _ => return None,
        };
        Some(Credential {
            access_key_id: id.to_string(),
            secret: Arc::new(zeroize::Zeroizing::new(secret.to_string())),
            session_token: token.map(str::to_string),
            expires_at: expires,
            principal,
        })
    }

    fn kms_call(
        &self,
        op: kmsd_core::kms::KmsOp,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> kmsd_core::audit::Outcome<serde_json::Value> {
        let key_arn = input
            .get("KeyId")
            .and_then(|v| v.as_str())
            .map(|k| format!("arn:aws:kms:{}:444455556666:key/{k}", meta.region));
        let result = if input.get("Fail").is_some() {
            Err(ApiError::new(
                KmsError::NotFoundException,
                "Key 'x' does not exist",
            ))
        } else {
            Ok(serde_json::json!({
                "Op": op.name(),
                "Caller": principal.caller.arn(),
                "Region": meta.region,
                "Input": input,
            }))
        };
        kmsd_core::audit::Outcome::new(
            result,
            kmsd_core::audit::AuditFacts {
                key_arn,
                decision: Some(Decision::Allow),
                request_parameters: serde_json::json!({"keyId": input.get("KeyId"), "Plaintext": "c2VjcmV0"}),
                ..Default::default()
            },
        )
    }

    fn kmsd_call(
        &self,
        op: kmsd_core::review::KmsdOp,
        principal: &Principal,
        _meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> kmsd_core::audit::Outcome<serde_json::Value> {
        let result = match op {
            kmsd_core::review::KmsdOp::Explain => Ok(serde_json::json!({
                "decision": "Allow",
                "asked_by": principal.caller.arn(),
                "input": input,
            })),
            _ => Err(ApiError::new(KmsError::AccessDeniedException, "no")),
        };
        let denied = result.is_err();
        kmsd_core::audit::Outcome::new(
            result,
            kmsd_core::audit::AuditFacts {
                decision: denied.then_some(Decision::ImplicitDeny),
                request_parameters: input.clone(),
                response_elements: (!denied).then(|| serde_json::json!({"decision": "Allow"})),
                ..Default::default()
            },
        )
    }

    fn query(
        &self,
        principal: &Principal,
        meta: &RequestMeta,
        service_name: &str,
        params: &[(String, String)],
    ) -> QueryOutcome {
        let action = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        QueryOutcome {
            status: 200,
            body: format!(
                "<{action}Response service=\"{service_name}\" caller=\"{}\" region=\"{}\"/>",
                principal.caller.arn(),
                meta.region
            ),
            action,
            error_code: None,
            error_message: None,
            audit: kmsd_core::audit::AuditFacts {
                decision: Some(Decision::Allow),
                request_parameters: serde_json::json!({}),
                ..Default::default()
            },
        }
    }
}

struct Req {
    method: &'static str,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn kms(op: &str, body: &str) -> Req {
        Req {
            method: "POST",
            uri: "/".into(),
            headers: vec![
                ("Host".into(), "localhost:4599".into()),
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("X-Amz-Target".into(), format!("TrentService.{op}")),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    fn form(body: &str) -> Req {
        Req {
            method: "POST",
            uri: "/".into(),
            headers: vec![
                ("Host".into(), "localhost:4599".into()),
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                ),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn sign_full(
        mut self,
        key: &str,
        secret: &str,
        token: Option<&str>,
        region: &str,
        service: &str,
        time: i64,
    ) -> Req {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let view = HttpRequest {
            method: self.method,
            uri: &self.uri,
            headers: &headers,
            payload: Payload::Bytes(&self.body),
        };
        let signed = kmsd_sigv4::sign(
            &view,
            &SigningParams {
                access_key_id: key,
                secret_access_key: secret,
                session_token: token,
                region,
                service,
                time,
                settings: SigningSettings::default(),
            },
        )
        .unwrap();
        for (n, v) in signed.headers {
            self.headers.push((n.to_string(), v));
        }
        self
    }

    fn sign(self, service: &str) -> Req {
        self.sign_full(USER_KEY, USER_SECRET, None, "eu-west-1", service, NOW_SECS)
    }

    fn build(self) -> WireRequest {
        let mut headers = http::HeaderMap::new();
        for (n, v) in &self.headers {
            headers.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        WireRequest {
            method: http::Method::from_bytes(self.method.as_bytes()).unwrap(),
            uri: self.uri.parse().unwrap(),
            headers,
            body: Bytes::from(self.body),
            source_ip: Some("192.0.2.10".parse().unwrap()),
            secure: false,
            now_millis: NOW_SECS * 1000,
        }
    }

    fn send(self) -> WireResponse {
        handle_with(&Fake, self.build())
    }
}

fn json(resp: &WireResponse) -> serde_json::Value {
    serde_json::from_slice(&resp.body).unwrap()
}

fn body(resp: &WireResponse) -> String {
    String::from_utf8(resp.body.clone()).unwrap()
}

fn assert_json_error(resp: &WireResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{}", body(resp));
    assert_eq!(resp.content_type, "application/x-amz-json-1.1");
    assert_eq!(json(resp)["__type"], code, "{}", body(resp));
    assert_eq!(resp.audit.error_code.as_deref(), Some(code));
}

fn assert_xml_error(resp: &WireResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{}", body(resp));
    assert_eq!(resp.content_type, "text/xml");
    assert!(
        body(resp).contains(&format!("<Code>{code}</Code>")),
        "{}",
        body(resp)
    );
    assert!(body(resp).contains(&format!("<RequestId>{}</RequestId>", resp.request_id)));
    assert_eq!(resp.audit.error_code.as_deref(), Some(code));
}

#[test]
fn signed_kms_request_reaches_kms_with_scope_region() {
    let resp = Req::kms("Encrypt", r#"{"KeyId":"k1","Plaintext":"c2VjcmV0"}"#)
        .sign("kms")
        .send();
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert_eq!(resp.content_type, "application/x-amz-json-1.1");
    let v = json(&resp);
    assert_eq!(v["Op"], "Encrypt");
    assert_eq!(v["Caller"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(v["Region"], "eu-west-1");
    assert_eq!(v["Input"]["KeyId"], "k1");
    // Audit record.
    let a = &resp.audit;
    assert_eq!(a.event_source, "kms.amazonaws.com");
    assert_eq!(a.event_name, "Encrypt");
    assert_eq!(a.aws_region, "eu-west-1");
    assert_eq!(a.request_id, resp.request_id);
    assert_eq!(a.user_identity.identity_type, "IAMUser");
    assert_eq!(a.user_identity.access_key_id.as_deref(), Some(USER_KEY));
    assert_eq!(a.source_ip_address.as_deref(), Some("192.0.2.10"));
    assert_eq!(a.decision, Some("Allow"));
    assert_eq!(
        a.resources[0].arn,
        "arn:aws:kms:eu-west-1:444455556666:key/k1"
    );
    assert_eq!(a.recipient_account_id.as_deref(), Some("444455556666"));
    assert!(a.error_code.is_none());
    let line = a.to_json_line();
    assert!(!line.contains("c2VjcmV0"), "{line}");
}

#[test]
fn kms_domain_error_is_rendered_with_status() {
    let resp = Req::kms("DescribeKey", r#"{"KeyId":"k1","Fail":true}"#)
        .sign("kms")
        .send();
    assert_json_error(&resp, 400, "NotFoundException");
    assert_eq!(json(&resp)["message"], "Key 'x' does not exist");
}

#[test]
fn query_routes_by_scope_service() {
    let resp = Req::form("Action=GetCallerIdentity&Version=2011-06-15")
        .sign("sts")
        .send();
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert!(body(&resp).contains("service=\"sts\""));
    assert_eq!(resp.audit.event_source, "sts.amazonaws.com");
    assert_eq!(resp.audit.event_name, "GetCallerIdentity");

    let resp = Req::form("Action=ListUsers&Version=2010-05-08")
        .sign("iam")
        .send();
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert!(body(&resp).contains("service=\"iam\""));
    assert!(body(&resp).contains("region=\"eu-west-1\""));
    assert_eq!(resp.audit.event_source, "iam.amazonaws.com");

    // An action that looks like STS, signed for IAM, goes to IAM (the scope decides).
    let resp = Req::form("Action=GetCallerIdentity&Version=2011-06-15")
        .sign("iam")
        .send();
    assert!(body(&resp).contains("service=\"iam\""));
}

#[test]
fn presigned_get_for_sts() {
    let uri = "/?Action=GetCallerIdentity&Version=2011-06-15";
    let headers = [("Host", "localhost:4599")];
    let view = HttpRequest {
        method: "GET",
        uri,
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let pre = kmsd_sigv4::presign(
        &view,
        &SigningParams {
            access_key_id: USER_KEY,
            secret_access_key: USER_SECRET,
            session_token: None,
            region: "us-east-1",
            service: "sts",
            time: NOW_SECS,
            settings: SigningSettings::default(),
        },
        60,
    )
    .unwrap();
    let req = Req {
        method: "GET",
        uri: pre.uri.clone(),
        headers: vec![("Host".into(), "localhost:4599".into())],
        body: vec![],
    };
    let resp = req.send();
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert!(body(&resp).contains("service=\"sts\""));

    // Tampered signature.
    let bad = pre.uri.replace("X-Amz-Signature=", "X-Amz-Signature=00");
    let resp = Req {
        method: "GET",
        uri: bad,
        headers: vec![("Host".into(), "localhost:4599".into())],
        body: vec![],
    }
    .send();
    assert_xml_error(&resp, 403, "SignatureDoesNotMatch");
}

#[test]
fn unknown_access_key() {
    let resp = Req::kms("Encrypt", "{}")
        .sign_full(
            "AKIANOSUCHKEY0000000",
            "x",
            None,
            "us-east-1",
            "kms",
            NOW_SECS,
        )
        .send();
    assert_json_error(&resp, 400, "UnrecognizedClientException");
    assert_eq!(
        json(&resp)["message"],
        "The security token included in the request is invalid."
    );
    assert_eq!(resp.audit.user_identity.identity_type, "Unknown");
    assert_eq!(
        resp.audit.user_identity.access_key_id.as_deref(),
        Some("AKIANOSUCHKEY0000000")
    );
    assert_eq!(resp.audit.decision, None);

    let resp = Req::form("Action=GetCallerIdentity&Version=2011-06-15")
        .sign_full(
            "AKIANOSUCHKEY0000000",
            "x",
            None,
            "us-east-1",
            "sts",
            NOW_SECS,
        )
        .send();
    assert_xml_error(&resp, 403, "InvalidClientTokenId");
    assert!(body(&resp).contains("https://sts.amazonaws.com/doc/2011-06-15/"));
}

#[test]
fn session_tokens() {
    let sign = |key: &str, token: Option<&str>, service: &str| {
        let r = if service == "kms" {
            Req::kms("Encrypt", "{}")
        } else {
            Req::form("Action=GetCallerIdentity&Version=2011-06-15")
        };
        r.sign_full(key, SESSION_SECRET, token, "us-east-1", service, NOW_SECS)
            .send()
    };
    // Valid session.
    let resp = sign(SESSION_KEY, Some(SESSION_TOKEN), "kms");
    assert_eq!(resp.status, 200, "{}", body(&resp));
    assert_eq!(resp.audit.user_identity.identity_type, "AssumedRole");
    // Missing or wrong token.
    assert_json_error(
        &sign(SESSION_KEY, None, "kms"),
        400,
        "UnrecognizedClientException",
    );
    assert_json_error(
        &sign(SESSION_KEY, Some("FQoGZXIvYXdzWRONG"), "kms"),
        400,
        "UnrecognizedClientException",
    );
    assert_xml_error(
        &sign(SESSION_KEY, Some("nope"), "sts"),
        403,
        "InvalidClientTokenId",
    );
    // A token next to a long-term key.
    let resp = Req::kms("Encrypt", "{}")
        .sign_full(
            USER_KEY,
            USER_SECRET,
            Some(SESSION_TOKEN),
            "us-east-1",
            "kms",
            NOW_SECS,
        )
        .send();
    assert_json_error(&resp, 400, "UnrecognizedClientException");
    // Expired session.
    let resp = sign(EXPIRED_KEY, Some(SESSION_TOKEN), "kms");
    assert_json_error(&resp, 400, "ExpiredTokenException");
    let resp = sign(EXPIRED_KEY, Some(SESSION_TOKEN), "sts");
    assert_xml_error(&resp, 403, "ExpiredToken");
}

#[test]
fn clock_skew() {
    let resp = Req::kms("Encrypt", "{}")
        .sign_full(
            USER_KEY,
            USER_SECRET,
            None,
            "us-east-1",
            "kms",
            NOW_SECS - 301,
        )
        .send();
    assert_json_error(&resp, 400, "InvalidSignatureException");
    let msg = json(&resp)["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("Signature expired: "), "{msg}");
    assert!(msg.ends_with(" - 5 min.)"), "{msg}");

    let resp = Req::kms("Encrypt", "{}")
        .sign_full(
            USER_KEY,
            USER_SECRET,
            None,
            "us-east-1",
            "kms",
            NOW_SECS + 301,
        )
        .send();
    assert_json_error(&resp, 400, "InvalidSignatureException");
    assert!(json(&resp)["message"]
        .as_str()
        .unwrap()
        .starts_with("Signature not yet current: "));

    let resp = Req::form("Action=ListUsers&Version=2010-05-08")
        .sign_full(
            USER_KEY,
            USER_SECRET,
            None,
            "us-east-1",
            "iam",
            NOW_SECS - 600,
        )
        .send();
    assert_xml_error(&resp, 403, "SignatureDoesNotMatch");
    assert!(body(&resp).contains("Signature expired: "));

    // Within the window is fine.
    let resp = Req::kms("Encrypt", "{}")
        .sign_full(
            USER_KEY,
            USER_SECRET,
            None,
            "us-east-1",
            "kms",
            NOW_SECS - 299,
        )
        .send();
    assert_eq!(resp.status, 200, "{}", body(&resp));
}

#[test]
fn bad_signature() {
    let resp = Req::kms("Encrypt", "{}")
        .sign_full(USER_KEY, "wrong-secret", None, "us-east-1", "kms", NOW_SECS)
        .send();
    assert_json_error(&resp, 400, "InvalidSignatureException");
    assert_eq!(
        json(&resp)["message"],
        kmsd_sigv4::SIGNATURE_MISMATCH_MESSAGE
    );

    // Body changed after signing.
    let mut req = Req::kms("Encrypt", r#"{"KeyId":"a"}"#).sign("kms");
    req.body = br#"{"KeyId":"b"}"#.to_vec();
    assert_json_error(&req.send(), 400, "InvalidSignatureException");

    let resp = Req::form("Action=ListUsers&Version=2010-05-08")
        .sign_full(USER_KEY, "wrong-secret", None, "us-east-1", "iam", NOW_SECS)
        .send();
    assert_xml_error(&resp, 403, "SignatureDoesNotMatch");
}

#[test]
fn wrong_scope_service() {
    let resp = Req::kms("Encrypt", "{}").sign("sts").send();
    assert_json_error(&resp, 400, "InvalidSignatureException");
    assert!(json(&resp)["message"]
        .as_str()
        .unwrap()
        .contains("Credential should be scoped to correct service: 'kms'"));
    let resp = Req::form("Action=ListUsers&Version=2010-05-08")
        .sign("kms")
        .send();
    assert_xml_error(&resp, 403, "SignatureDoesNotMatch");
}

#[test]
fn missing_authentication() {
    let resp = Req::kms("Encrypt", "{}").send();
    assert_json_error(&resp, 400, "MissingAuthenticationTokenException");
    let resp = Req::form("Action=GetCallerIdentity&Version=2011-06-15").send();
    assert_xml_error(&resp, 403, "MissingAuthenticationToken");
    assert!(body(&resp).contains("https://sts.amazonaws.com/doc/2011-06-15/"));
}

/// Every malformed request gets AWS's code and a 4xx status, never a 5xx or a panic.
#[test]
fn malformed_requests_table() {
    let big = format!(
        r#"{{"KeyId":"k","Pad":"{}"}}"#,
        "a".repeat(route::MAX_BODY_BYTES)
    );
    // (name, request, status, code, json?)
    let cases: Vec<(&str, Req, u16, &str, bool)> = vec![
        (
            "bad json",
            Req::kms("Encrypt", "{\"KeyId\": ").sign("kms"),
            400,
            "SerializationException",
            true,
        ),
        (
            "json not an object",
            Req::kms("Encrypt", "[1,2]").sign("kms"),
            400,
            "SerializationException",
            true,
        ),
        (
            "wrong content type",
            Req::kms("Encrypt", "{}")
                .header("Content-Type", "text/plain")
                .sign("kms"),
            400,
            "UnknownOperationException",
            true,
        ),
        (
            "missing target",
            Req::kms("Encrypt", "{}").without("X-Amz-Target").sign("kms"),
            400,
            "UnknownOperationException",
            true,
        ),
        (
            "foreign target prefix",
            Req::kms("Encrypt", "{}")
                .header("X-Amz-Target", "DynamoDB_20120810.ListTables")
                .sign("kms"),
            400,
            "UnknownOperationException",
            true,
        ),
        (
            "unknown operation",
            Req::kms("Frobnicate", "{}").sign("kms"),
            400,
            "UnknownOperationException",
            true,
        ),
        (
            "oversize body",
            Req::kms("Encrypt", &big).sign("kms"),
            413,
            "RequestEntityTooLarge",
            true,
        ),
        (
            "form without Action",
            Req::form("Version=2010-05-08&UserName=bob").sign("iam"),
            400,
            "MissingAction",
            false,
        ),
        (
            "garbage Authorization",
            Req::kms("Encrypt", "{}").header("Authorization", "Bearer abc"),
            400,
            "IncompleteSignatureException",
            true,
        ),
        (
            "Authorization without Signature",
            Req::kms("Encrypt", "{}")
                .header("X-Amz-Date", "20231114T221320Z")
                .header(
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIAALICEEXAMPLE0001/20231114/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date",
                ),
            400,
            "IncompleteSignatureException",
            true,
        ),
        (
            "query garbage Authorization",
            Req::form("Action=ListUsers").header("Authorization", "AWS4-HMAC-SHA256 nonsense"),
            400,
            "IncompleteSignature",
            false,
        ),
        (
            "stray GET",
            Req {
                method: "GET",
                uri: "/favicon.ico".into(),
                headers: vec![("Host".into(), "x".into())],
                body: vec![],
            },
            404,
            "UnknownOperationException",
            true,
        ),
        (
            "PUT with body",
            Req {
                method: "PUT",
                uri: "/".into(),
                headers: vec![("Host".into(), "x".into())],
                body: b"\xff\xfe".to_vec(),
            },
            404,
            "UnknownOperationException",
            true,
        ),
    ];
    for (name, req, status, code, is_json) in cases {
        let resp = req.send();
        assert!(resp.status < 500, "{name}: {}", resp.status);
        if is_json {
            assert_eq!(resp.status, status, "{name}: {}", body(&resp));
            assert_eq!(json(&resp)["__type"], code, "{name}: {}", body(&resp));
            assert_eq!(resp.audit.error_code.as_deref(), Some(code), "{name}");
        } else {
            assert_xml_error(&resp, status, code);
        }
    }
}

#[test]
fn audit_failure_withholds_response() {
    let ok = Req::kms("Encrypt", "{}").sign("kms").send();
    assert_eq!(ok.status, 200);
    let failed = audit_failure_response(&ok);
    assert_eq!(failed.status, 500);
    assert_eq!(json(&failed)["__type"], "KMSInternalException");
    assert_eq!(failed.request_id, ok.request_id);

    let ok = Req::form("Action=ListUsers&Version=2010-05-08")
        .sign("iam")
        .send();
    let failed = audit_failure_response(&ok);
    assert_eq!(failed.status, 500);
    assert!(body(&failed).contains("<Code>ServiceFailure</Code>"));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn content_type() -> impl Strategy<Value = Option<&'static str>> {
        prop_oneof![
            Just(None),
            Just(Some("application/x-amz-json-1.1")),
            Just(Some("application/x-www-form-urlencoded")),
            Just(Some("text/plain")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bodies, targets, content types and Authorization headers never
        /// produce a panic or a 5xx, and error bodies are in the protocol's shape.
        #[test]
        fn never_a_5xx(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            target in proptest::option::of("(TrentService\\.)?[A-Za-z]{0,12}"),
            ct in content_type(),
            auth in proptest::option::of("AWS4-HMAC-SHA256 [ -~]{0,80}"),
            post in any::<bool>(),
            sign in any::<bool>(),
            query in proptest::option::of("[A-Za-z=&%.0-9]{0,40}"),
        ) {
            let mut req = Req {
                method: if post { "POST" } else { "GET" },
                uri: match &query { Some(q) => format!("/?{q}"), None => "/".into() },
                headers: vec![("Host".into(), "localhost".into())],
                body,
            };
            if let Some(t) = &target {
                req = req.header("X-Amz-Target", t);
            }
            if let Some(c) = ct {
                req = req.header("Content-Type", c);
            }
            if sign {
                req = req.sign("kms");
            }
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            let resp = req.send();
            prop_assert!(resp.status < 500, "status {}", resp.status);
            if resp.status >= 400 {
                if resp.content_type == "text/xml" {
                    let text = String::from_utf8_lossy(&resp.body).to_string();
                    prop_assert!(text.starts_with("<ErrorResponse"), "{}", text);
                } else {
                    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
                    prop_assert!(v["__type"].is_string());
                }
                prop_assert!(resp.audit.error_code.is_some());
            }
        }
    }
}

mod analyzer;
mod kmsd;
