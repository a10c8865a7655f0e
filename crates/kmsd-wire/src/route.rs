//! Classifying a request by protocol: awsJson1_1 (`X-Amz-Target: TrentService.<Op>`) is KMS;
//! `X-Amz-Target: KmsdService.<Op>` is one of kmsd's own operations (`KmsdOp`); an
//! `Action=` form POST or GET query is IAM or STS. Anything else gets an AWS-shaped error.

use http::Method;
use kmsd_core::error::{IamError, KmsError};
use kmsd_core::iam::op::StsOp;

use crate::error::{Protocol, QueryService, WireError};
use crate::kms;
use crate::WireRequest;

/// Largest request body accepted (KMS's largest inputs — key policies of 32 KiB, 4 KiB
/// plaintexts, 6 KiB ciphertexts — and IAM policy documents fit with a wide margin).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A KMS call; `operation` is the part after `TrentService.` (not yet checked).
    Kms { operation: String },
    /// One of kmsd's own JSON operations (`KmsdService.Explain`, `KmsdService.AccessReview`),
    /// signed for the `kms` service like a KMS call.
    Kmsd { operation: String },
    /// An awsQuery call: decoded parameters (query string, then form body), the `Action`,
    /// and the service its action suggests (used only until the credential scope tells).
    Query {
        params: Vec<(String, String)>,
        action: String,
        guessed: QueryService,
    },
}

/// A request that cannot be routed: the error, the protocol to render it in, and the
/// event name for the audit record.
#[derive(Debug, Clone)]
pub struct Unroutable {
    pub protocol: Protocol,
    pub error: WireError,
    pub event_name: String,
}

/// The service an awsQuery action most likely belongs to: STS for a row of its table
/// ([`StsOp`]), else IAM (until the credential scope says otherwise).
pub fn guess_query_service(action: &str) -> QueryService {
    if StsOp::from_name(action).is_some() {
        QueryService::Sts
    } else {
        QueryService::Iam
    }
}

fn header<'a>(req: &'a WireRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_form_content_type(ct: Option<&str>) -> bool {
    ct.and_then(|c| c.split(';').next())
        .map(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false)
}

fn unknown_operation(message: Option<String>) -> Unroutable {
    Unroutable {
        protocol: Protocol::Json,
        error: WireError {
            code: KmsError::UnknownOperationException.into(),
            message,
            status: 400,
        },
        event_name: "UnknownOperation".to_string(),
    }
}

/// Classify a request. The body size has been checked already.
pub fn classify(req: &WireRequest) -> Result<Route, Unroutable> {
    let target = header(req, "x-amz-target");
    let content_type = header(req, "content-type");

    if let Some(target) = target {
        let route = if let Some(op) = target.strip_prefix(kms::TARGET_PREFIX) {
            Route::Kms {
                operation: op.to_string(),
            }
        } else if let Some(op) = target.strip_prefix(kmsd_core::review::KMSD_TARGET_PREFIX) {
            Route::Kmsd {
                operation: op.to_string(),
            }
        } else {
            return Err(unknown_operation(None));
        };
        if req.method != Method::POST || !kms::is_json_content_type(content_type) {
            return Err(unknown_operation(None));
        }
        return Ok(route);
    }
    if kms::is_json_content_type(content_type) {
        // JSON protocol without a target.
        return Err(unknown_operation(None));
    }

    let is_query_get = req.method == Method::GET && req.uri.query().is_some();
    let is_form_post = req.method == Method::POST && is_form_content_type(content_type);
    if !is_query_get && !is_form_post {
        return Err(Unroutable {
            protocol: Protocol::Json,
            error: WireError::bare(KmsError::UnknownOperationException).with_status(404),
            event_name: "UnknownOperation".to_string(),
        });
    }

    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(q) = req.uri.query() {
        params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    if is_form_post {
        params.extend(form_urlencoded::parse(&req.body).into_owned());
    }
    let action = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if action.is_empty() {
        return Err(Unroutable {
            protocol: Protocol::Query(QueryService::Iam),
            error: WireError::new(
                IamError::MissingAction,
                "Could not find operation Action for version NO_VERSION_SPECIFIED",
            ),
            event_name: IamError::MissingAction.as_str().to_string(),
        });
    }
    let guessed = guess_query_service(&action);
    Ok(Route::Query {
        params,
        action,
        guessed,
    })
}
