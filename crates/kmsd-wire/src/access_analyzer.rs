//! IAM Access Analyzer's policy checks over restJson1 on the same listener: `ValidatePolicy`
//! (`POST /policy/validation`), `CheckNoNewAccess` (`POST /policy/check-no-new-access`),
//! `CheckAccessNotGranted` (`POST /policy/check-access-not-granted`) and
//! `CheckNoPublicAccess` (`POST /policy/check-no-public-access`), signed for the
//! `access-analyzer` service, so `boto3.client("accessanalyzer", endpoint_url=...)` works.
//! Here only the transport: the path names the operation, the SigV4 gate, the body decoded
//! to a JSON value, the answer encoded; who may ask and the checks themselves are
//! `kmsd_core::review::analyzer`'s.

use kmsd_core::audit::{AuditEvent, UserIdentity};
use kmsd_core::principal::RequestMeta;
use kmsd_core::review::analyzer::{self, AnalyzerOp};
use serde_json::Value;

use crate::backend::Backend;
use crate::error::{Protocol, WireError, JSON_CONTENT_TYPE};
use crate::{error_response, WireRequest, WireResponse};

/// The operations, by path.
const OPERATIONS: &[(&str, AnalyzerOp)] = &[
    ("/policy/validation", AnalyzerOp::ValidatePolicy),
    ("/policy/check-no-new-access", AnalyzerOp::CheckNoNewAccess),
    (
        "/policy/check-access-not-granted",
        AnalyzerOp::CheckAccessNotGranted,
    ),
    (
        "/policy/check-no-public-access",
        AnalyzerOp::CheckNoPublicAccess,
    ),
];

fn operation(req: &WireRequest) -> Option<AnalyzerOp> {
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

/// Answer one Access Analyzer request.
pub fn handle<B: Backend + ?Sized>(
    backend: &B,
    req: &WireRequest,
    request_id: String,
    mut audit: AuditEvent,
    user_agent: Option<String>,
) -> WireResponse {
    let op = operation(req).unwrap_or(AnalyzerOp::ValidatePolicy);
    audit.event_source = "access-analyzer.amazonaws.com".to_string();
    audit.event_name = op.name().to_string();
    audit.read_only = op.read_only();
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

    // A body that is not JSON is refused by the domain like any non-object, once the caller
    // is authorized.
    let input: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let out = analyzer::call(op, &authed.principal, &meta, &input);
    out.audit.record_in(&mut audit);
    match out.result {
        Ok(value) => WireResponse {
            status: 200,
            content_type: JSON_CONTENT_TYPE,
            body: value.to_string().into_bytes(),
            request_id,
            audit,
        },
        Err(err) => error_response(
            Protocol::Json,
            &WireError::from_api(&err),
            request_id,
            audit,
        ),
    }
}
