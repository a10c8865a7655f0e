//! Everything a client sees on the wire, without sockets: routing by protocol, the SigV4
//! gate, awsJson1_1 (KMS), awsQuery (IAM, STS) and restJson1 (IAM Access Analyzer's policy
//! checks) codecs and AWS-shaped error rendering.
//!
//! [`handle`] takes one buffered HTTP request and returns the response to send plus the
//! audit event to record. It never panics on client input and never answers a client
//! mistake with a 5xx.

pub mod access_analyzer;
pub mod auth;
pub mod backend;
pub mod error;
pub mod kms;
pub mod query;
pub mod route;

use std::net::IpAddr;

use kmsd_core::audit::{AuditEvent, Outcome, UserIdentity};
use kmsd_core::error::{ApiError, ErrorCode, IamError, KmsError, StsError};
use kmsd_core::kms::KmsOp;
use kmsd_core::principal::RequestMeta;
use kmsd_core::review::KmsdOp;
use kmsd_core::service::Service;

pub use backend::{Backend, Credential};
use error::{Protocol, QueryService, WireError, JSON_CONTENT_TYPE, XML_CONTENT_TYPE};
use route::Route;

/// One buffered HTTP request.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
    pub source_ip: Option<IpAddr>,
    /// True when the request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
    /// Server time when the request arrived, epoch milliseconds.
    pub now_millis: i64,
}

/// The response to send and the audit event of the request.
#[derive(Debug, Clone)]
pub struct WireResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Sent as `x-amzn-RequestId`.
    pub request_id: String,
    pub audit: AuditEvent,
}

/// Route, authenticate and dispatch one request against the service.
pub fn handle(service: &Service, req: WireRequest) -> WireResponse {
    handle_with(service, req)
}

/// [`handle`] over any [`Backend`] (tests use a fake one).
pub fn handle_with<B: Backend + ?Sized>(backend: &B, req: WireRequest) -> WireResponse {
    let request_id = kmsd_core::audit::new_id();
    let user_agent = req
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    let mut audit = AuditEvent::new(
        req.now_millis,
        "kms.amazonaws.com",
        "Unknown",
        backend.default_region(),
        &request_id,
    );
    audit.source_ip_address = req.source_ip.map(ip_text);
    audit.user_agent = user_agent.clone();

    // 1. Size, then protocol.
    if req.body.len() > route::MAX_BODY_BYTES {
        let protocol = guess_protocol(&req);
        let err = WireError::new(
            protocol.code(
                KmsError::RequestEntityTooLarge,
                IamError::RequestEntityTooLarge,
                StsError::RequestEntityTooLarge,
            ),
            format!(
                "Request body of {} bytes exceeds the limit of {} bytes",
                req.body.len(),
                route::MAX_BODY_BYTES
            ),
        );
        set_source(&mut audit, protocol);
        audit.event_name = err.code.as_str().to_string();
        return error_response(protocol, &err, request_id, audit);
    }
    if access_analyzer::is_request(&req) {
        return access_analyzer::handle(backend, &req, request_id, audit, user_agent);
    }
    let route = match route::classify(&req) {
        Ok(r) => r,
        Err(u) => {
            set_source(&mut audit, u.protocol);
            audit.event_name = u.event_name;
            return error_response(u.protocol, &u.error, request_id, audit);
        }
    };

    // 2. Who is calling.
    let (protocol, event_name) = match &route {
        Route::Kms { operation } => (Protocol::Json, operation.clone()),
        Route::Kmsd { operation } => (
            Protocol::Json,
            format!("{}{operation}", kmsd_core::review::KMSD_TARGET_PREFIX),
        ),
        Route::Query {
            action, guessed, ..
        } => (Protocol::Query(*guessed), action.clone()),
    };
    set_source(&mut audit, protocol);
    // `readOnly` follows the operation, known only now (the event was made as "Unknown").
    audit.read_only = kmsd_core::audit::is_read_only(&event_name);
    audit.event_name = event_name;

    let authed = match auth::authenticate(backend, &req, protocol) {
        Ok(a) => a,
        Err(fail) => {
            if let Some(region) = &fail.region {
                audit.aws_region = region.clone();
            }
            audit.user_identity = UserIdentity::unknown(fail.access_key_id.as_deref());
            let protocol = match (protocol, fail.service) {
                (Protocol::Query(_), Some(s)) => Protocol::Query(s),
                (p, _) => p,
            };
            set_source(&mut audit, protocol);
            return error_response(protocol, &fail.error, request_id, audit);
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

    // 3. Dispatch.
    match route {
        Route::Kms { operation } => {
            let Some(op) = KmsOp::from_name(&operation) else {
                let err = WireError::bare(KmsError::UnknownOperationException);
                return error_response(Protocol::Json, &err, request_id, audit);
            };
            let input = match kms::decode_body(&req.body) {
                Ok(v) => v,
                Err(err) => return error_response(Protocol::Json, &err, request_id, audit),
            };
            let out = backend.kms_call(op, &authed.principal, &meta, &input);
            let denied = out.audit.denied();
            out.audit.record_in(&mut audit);
            match out.result {
                Ok(value) => WireResponse {
                    status: 200,
                    content_type: JSON_CONTENT_TYPE,
                    body: kms::encode_success(&value),
                    request_id,
                    audit,
                },
                Err(api) => {
                    let resp = error_response(
                        Protocol::Json,
                        &WireError::from_api(&api),
                        request_id,
                        audit,
                    );
                    if denied {
                        backend.record_denial(&resp.audit);
                    }
                    resp
                }
            }
        }
        Route::Kmsd { operation } => {
            let input = match kms::decode_body(&req.body) {
                Ok(v) => v,
                Err(err) => return error_response(Protocol::Json, &err, request_id, audit),
            };
            let op = KmsdOp::from_name(&operation);
            audit.read_only = op.is_none_or(KmsdOp::read_only);
            let out = match op {
                Some(op) => backend.kmsd_call(op, &authed.principal, &meta, &input),
                None => {
                    Outcome::refused(ApiError::bare(KmsError::UnknownOperationException), input)
                }
            };
            out.audit.record_in(&mut audit);
            match out.result {
                Ok(value) => WireResponse {
                    status: 200,
                    content_type: JSON_CONTENT_TYPE,
                    body: kms::encode_success(&value),
                    request_id,
                    audit,
                },
                Err(api) => error_response(
                    Protocol::Json,
                    &WireError::from_api(&api),
                    request_id,
                    audit,
                ),
            }
        }
        Route::Query { params, .. } => {
            let service = authed.service.unwrap_or(QueryService::Iam);
            set_source(&mut audit, Protocol::Query(service));
            let out = backend.query(&authed.principal, &meta, service.name(), &params);
            audit.event_name = out.action.clone();
            out.audit.record_in(&mut audit);
            if let Some(code) = &out.error_code {
                audit.set_error(code.as_str(), out.error_message.as_deref());
            }
            WireResponse {
                status: out.status,
                content_type: XML_CONTENT_TYPE,
                body: out.body.into_bytes(),
                request_id,
                audit,
            }
        }
    }
}

fn set_source(audit: &mut AuditEvent, protocol: Protocol) {
    let source = match protocol {
        Protocol::Json => "kms.amazonaws.com",
        Protocol::Query(s) => s.event_source(),
    };
    if audit.event_source != source {
        audit.event_source = source.to_string();
    }
}

/// `ip.to_string()`, IPv4 written directly (the usual case; no `fmt`).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut s = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                if octet >= 100 {
                    s.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    s.push(char::from(b'0' + octet / 10 % 10));
                }
                s.push(char::from(b'0' + octet % 10));
            }
            s
        }
        IpAddr::V6(_) => ip.to_string(),
    }
}

/// Best guess at the protocol of a request that is rejected before routing.
fn guess_protocol(req: &WireRequest) -> Protocol {
    if req.headers.contains_key("x-amz-target") {
        return Protocol::Json;
    }
    let ct = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if kms::is_json_content_type(ct) {
        Protocol::Json
    } else {
        Protocol::Query(QueryService::Iam)
    }
}

/// Render an error in the protocol's shape and record it in the audit event.
pub(crate) fn error_response(
    protocol: Protocol,
    err: &WireError,
    request_id: String,
    mut audit: AuditEvent,
) -> WireResponse {
    audit.set_error(err.code.as_str(), err.message.as_deref());
    let (content_type, body) = match protocol {
        Protocol::Json => (JSON_CONTENT_TYPE, error::json_error_body(err)),
        Protocol::Query(s) => (XML_CONTENT_TYPE, error::xml_error_body(err, s, &request_id)),
    };
    WireResponse {
        status: err.status,
        content_type,
        body,
        request_id,
        audit,
    }
}

/// The response for a request whose audit record could not be written: the operation's
/// own answer is withheld and the client gets the service's internal-failure error.
pub fn audit_failure_response(resp: &WireResponse) -> WireResponse {
    let (code, content_type, body) = if resp.content_type == XML_CONTENT_TYPE {
        let service = if resp.audit.event_source == "sts.amazonaws.com" {
            QueryService::Sts
        } else {
            QueryService::Iam
        };
        let err = WireError::new(
            match service {
                QueryService::Iam => ErrorCode::from(IamError::ServiceFailure),
                QueryService::Sts => ErrorCode::from(StsError::ServiceFailure),
            },
            "The request was rejected because of an internal failure.",
        );
        (
            err.code,
            XML_CONTENT_TYPE,
            error::xml_error_body(&err, service, &resp.request_id),
        )
    } else {
        let err = WireError::new(
            KmsError::KMSInternalException,
            "The request was rejected because an internal exception occurred.",
        );
        (err.code, JSON_CONTENT_TYPE, error::json_error_body(&err))
    };
    let mut audit = resp.audit.clone();
    audit.set_error(code.as_str(), Some("audit log write failed"));
    WireResponse {
        status: 500,
        content_type,
        body,
        request_id: resp.request_id.clone(),
        audit,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod ip_text_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ip_text_is_display(bits in any::<u32>(), v6 in any::<u128>()) {
            let v4 = IpAddr::V4(std::net::Ipv4Addr::from(bits));
            prop_assert_eq!(ip_text(v4), v4.to_string());
            let v6 = IpAddr::V6(std::net::Ipv6Addr::from(v6));
            prop_assert_eq!(ip_text(v6), v6.to_string());
        }
    }

    #[test]
    fn ip_text_edges() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "127.0.0.1",
            "::1",
        ] {
            let parsed: IpAddr = ip
                .parse()
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            assert_eq!(ip_text(parsed), ip);
        }
    }
}
