//! What the wire layer needs from the domain, as a trait: credentials by access key, one
//! KMS call, one of kmsd's own calls, one IAM/STS call. [`Service`] implements it; tests
//! plug in a fake.

use kmsd_core::audit::Outcome;
use kmsd_core::kms::KmsOp;
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_core::review::KmsdOp;
use kmsd_core::service::Service;

pub use kmsd_core::iam::Credential;

use crate::query::QueryOutcome;

/// The domain as the wire layer sees it.
pub trait Backend {
    /// Region for events of requests whose credential scope is unknown.
    fn default_region(&self) -> &str;
    /// Credentials by access key id (expired sessions included).
    fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential>;
    /// One KMS operation on a decoded JSON body.
    fn kms_call(
        &self,
        op: KmsOp,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> Outcome<serde_json::Value>;
    /// A KMS request was denied (its audit event), for the explain page's list of denials.
    fn record_denial(&self, _event: &kmsd_core::audit::AuditEvent) {}

    /// One of kmsd's own operations (`Explain`, `AccessReview`, ...) on a decoded JSON body,
    /// authorized inside.
    fn kmsd_call(
        &self,
        op: KmsdOp,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> Outcome<serde_json::Value>;
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
    fn record_denial(&self, event: &kmsd_core::audit::AuditEvent) {
        self.recent_denials.push(event.clone());
    }

    fn default_region(&self) -> &str {
        &self.region
    }

    fn lookup_access_key(&self, access_key_id: &str) -> Option<Credential> {
        self.iam.lookup_access_key(access_key_id)
    }

    fn kms_call(
        &self,
        op: KmsOp,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> Outcome<serde_json::Value> {
        self.kms.call_op(op, principal, meta, input)
    }

    fn kmsd_call(
        &self,
        op: KmsdOp,
        principal: &Principal,
        meta: &RequestMeta,
        input: &serde_json::Value,
    ) -> Outcome<serde_json::Value> {
        Service::kmsd_call(self, op, principal, meta, input)
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
