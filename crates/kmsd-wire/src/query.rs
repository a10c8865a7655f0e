//! awsQuery (IAM and STS): form pairs in, XML out.
//!
//! [`handle`] hands the parsed form pairs of one call to the IAM/STS domain
//! ([`kmsd_core::iam::Iam::call`], which decodes them, decides and runs the operation) and
//! renders its typed [`Reply`](kmsd_core::iam::Reply) as AWS's XML:
//! `<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata>…`, `member` lists,
//! URL-encoded policy documents, ISO-8601 dates — or an `<ErrorResponse>` with AWS's wire
//! error code and HTTP status. Submodules: `xml` (writer, envelope), `render` (result
//! shapes). No decision is made here.

pub mod render;
pub mod xml;

use kmsd_core::audit::AuditFacts;
use kmsd_core::iam::{QueryApi, Reply};
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_core::service::Service;

use crate::error::{xml_error_body, QueryService, WireError};
use xml::{envelope, Xml};

pub use kmsd_core::iam::call::{IAM_VERSION, STS_VERSION};

/// The result of one IAM or STS call.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub status: u16,
    /// XML body.
    pub body: String,
    pub action: String,
    pub error_code: Option<kmsd_core::error::ErrorCode>,
    pub error_message: Option<String>,
    /// The decision and request parameters (without secrets) for the audit event.
    pub audit: AuditFacts,
}

/// One IAM (`service_name == "iam"`) or STS (`"sts"`) call.
pub fn handle(
    service: &Service,
    principal: &Principal,
    meta: &RequestMeta,
    service_name: &str,
    pairs: &[(String, String)],
) -> QueryOutcome {
    let (wire_service, api) = if service_name == "sts" {
        (QueryService::Sts, QueryApi::Sts)
    } else {
        (QueryService::Iam, QueryApi::Iam)
    };
    let action = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let out = service
        .iam
        .call(Some(&service.kms), principal, meta, api, pairs);
    match out.result {
        Ok(reply) => {
            let body = render_reply(&reply);
            QueryOutcome {
                status: 200,
                body: envelope(
                    &action,
                    wire_service.xml_namespace(),
                    body.as_deref(),
                    &meta.request_id,
                ),
                action,
                error_code: None,
                error_message: None,
                audit: out.audit,
            }
        }
        Err(e) => {
            let err = WireError::from_api(&e);
            let body =
                String::from_utf8_lossy(&xml_error_body(&err, wire_service, &meta.request_id))
                    .into_owned();
            QueryOutcome {
                status: err.status,
                body,
                action,
                error_code: Some(err.code),
                error_message: err.message,
                audit: out.audit,
            }
        }
    }
}

/// The `Result` element's content, `None` for an operation without output.
fn render_reply(reply: &Reply) -> Option<String> {
    if matches!(reply, Reply::Empty) {
        return None;
    }
    let mut x = Xml::new();
    render::reply(&mut x, reply);
    Some(x.finish())
}

#[cfg(test)]
mod tests;
