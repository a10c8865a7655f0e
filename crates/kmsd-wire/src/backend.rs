//! What the wire layer needs from the domain, as a trait: credentials by access key, one
//! KMS call, one IAM/STS call. [`Service`] implements it; tests plug in a fake.

use kmsd_core::error::ApiError;
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_core::service::Service;
use kmsd_policy::{Because, Decision};

pub use kmsd_core::iam::Credential;

use crate::query::QueryOutcome;

/// The result of one KMS call, with what the audit record needs.
#[derive(Debug, Clone)]
pub struct KmsOutcome {
    pub result: Result<serde_json::Value, ApiError>,
    /// The key the request was about, when known.
    pub key_arn: Option<String>,
    /// `None` when no authorization ran.
    pub decision: Option<Decision>,
    pub deciding: Vec<Because>,
    /// Request members without secrets.
    pub request_parameters: serde_json::Value,
    /// Non-secret outputs.
    pub response_elements: Option<serde_json::Value>,
}

/// The domain as the wire layer sees it.
pub trait Backend {
    /// Region for events of requests whose credential scope is unknown.
    fn default_region(&self) -> &str;
    /// Credentials by access key id (expired sessions included).
    fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential>;
    /// One KMS operation on a decoded JSON body.
    fn kms_call(
        &self,
        op: &str,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> KmsOutcome;
    /// One IAM or STS operation (`service_name` is `iam` or `sts`).
    fn query(
        &self,
        principal: &Principal,
        meta: &RequestMeta,
        service_name: &str,
        params: &[(String, String)],
    ) -> QueryOutcome;
}

impl Backend for Service {
    fn default_region(&self) -> &str {
        &self.region
    }

    fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        self.iam.lookup_access_key(access_key_id)
    }

    fn kms_call(
        &self,
        op: &str,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> KmsOutcome {
        let call = self.kms.call(op, principal, meta, input);
        KmsOutcome {
            result: call.result,
            key_arn: call.audit.key_arn,
            decision: call.audit.decision,
            deciding: call.audit.deciding,
            request_parameters: call.audit.request_parameters,
            response_elements: call.audit.response_elements,
        }
    }

    fn query(
        &self,
        principal: &Principal,
        meta: &RequestMeta,
        service_name: &str,
        params: &[(String, String)],
    ) -> QueryOutcome {
        crate::query::handle(self, principal, meta, service_name, params)
    }
}
