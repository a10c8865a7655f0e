//! The SigV4 gate: parse the `Authorization` header (or presigned query), look up the access
//! key, check the session token of temporary credentials, the clock skew and the signature,
//! and answer each failure with the code, message and status AWS uses for the protocol.
//!
//! Order (kms-api.md §1.3): parse → access key → session token (presence, constant-time
//! equality, expiry) → scope service → scope date, signed headers, skew → signature.
//! Signing keys are cached per access key, date, region and service.

use std::sync::OnceLock;

use kmsd_core::error::{IamError, KmsError, StsError};
use kmsd_core::principal::Principal;
use kmsd_sigv4::{HttpRequest, Payload, RequestAuth, SigV4Error, Verifier, VerifyOptions};

use crate::backend::Backend;
use crate::error::{Protocol, QueryService, WireError};
use crate::WireRequest;

/// Message of an unknown access key or session token.
pub const INVALID_TOKEN_MESSAGE: &str = "The security token included in the request is invalid.";
/// Message of an expired session.
pub const EXPIRED_TOKEN_MESSAGE: &str = "The security token included in the request is expired";

/// Signing keys cached across requests (bounded).
const SIGNING_KEY_CACHE_CAPACITY: usize = 4096;

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(VerifyOptions::default(), SIGNING_KEY_CACHE_CAPACITY))
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub access_key_id: String,
    /// Region of the credential scope.
    pub region: String,
    /// For awsQuery requests: the service of the credential scope.
    pub service: Option<QueryService>,
}

/// Why authentication failed, with what is known of the caller for the audit record.
#[derive(Debug, Clone)]
pub struct AuthFailure {
    pub error: WireError,
    pub access_key_id: Option<String>,
    pub region: Option<String>,
    /// For awsQuery requests, the scope's service when it was a valid one.
    pub service: Option<QueryService>,
}

fn sigv4_error(protocol: Protocol, e: &SigV4Error) -> WireError {
    match protocol {
        Protocol::Json => WireError::new(sigv4_kms_code(e), e.to_string()),
        Protocol::Query(QueryService::Iam) => WireError::new(sigv4_iam_code(e), e.to_string()),
        Protocol::Query(QueryService::Sts) => WireError::new(sigv4_sts_code(e), e.to_string()),
    }
}

/// The KMS code of a SigV4 failure.
fn sigv4_kms_code(e: &SigV4Error) -> KmsError {
    match e {
        SigV4Error::MissingAuthenticationToken => KmsError::MissingAuthenticationTokenException,
        SigV4Error::IncompleteSignature { .. } => KmsError::IncompleteSignatureException,
        _ => KmsError::InvalidSignatureException,
    }
}

/// The IAM code of a SigV4 failure.
fn sigv4_iam_code(e: &SigV4Error) -> IamError {
    match e {
        SigV4Error::MissingAuthenticationToken => IamError::MissingAuthenticationToken,
        SigV4Error::IncompleteSignature { .. } => IamError::IncompleteSignature,
        SigV4Error::PresignedExpired { .. } => IamError::RequestExpired,
        _ => IamError::SignatureDoesNotMatch,
    }
}

/// The STS code of a SigV4 failure.
fn sigv4_sts_code(e: &SigV4Error) -> StsError {
    match e {
        SigV4Error::MissingAuthenticationToken => StsError::MissingAuthenticationToken,
        SigV4Error::IncompleteSignature { .. } => StsError::IncompleteSignature,
        SigV4Error::PresignedExpired { .. } => StsError::RequestExpired,
        _ => StsError::SignatureDoesNotMatch,
    }
}

fn invalid_token(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::Json => {
            WireError::new(KmsError::UnrecognizedClientException, INVALID_TOKEN_MESSAGE)
        }
        Protocol::Query(QueryService::Iam) => {
            WireError::new(IamError::InvalidClientTokenId, INVALID_TOKEN_MESSAGE)
        }
        Protocol::Query(QueryService::Sts) => {
            WireError::new(StsError::InvalidClientTokenId, INVALID_TOKEN_MESSAGE)
        }
    }
}

fn expired_token(protocol: Protocol) -> WireError {
    match protocol {
        Protocol::Json => WireError::new(KmsError::ExpiredTokenException, EXPIRED_TOKEN_MESSAGE),
        Protocol::Query(QueryService::Iam) => {
            WireError::new(IamError::ExpiredToken, EXPIRED_TOKEN_MESSAGE)
        }
        Protocol::Query(QueryService::Sts) => {
            WireError::new(StsError::ExpiredToken, EXPIRED_TOKEN_MESSAGE)
        }
    }
}

/// Authenticate a request routed to `protocol`.
pub fn authenticate<B: Backend + ?Sized>(
    backend: &B,
    req: &WireRequest,
    protocol: Protocol,
) -> Result<Authenticated, AuthFailure> {
    let uri = req
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(req.headers.len());
    headers.extend(
        req.headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))),
    );
    let http_req = HttpRequest {
        method: req.method.as_str(),
        uri,
        headers: &headers,
        payload: Payload::Bytes(&req.body),
    };
    let fail =
        |error: WireError, auth: Option<&RequestAuth>, service: Option<QueryService>| AuthFailure {
            error,
            access_key_id: auth.map(|a| a.credential.access_key_id.clone()),
            region: auth.map(|a| a.credential.region.clone()),
            service,
        };

    let auth = RequestAuth::from_request(&http_req)
        .map_err(|e| fail(sigv4_error(protocol, &e), None, None))?;

    // Which service the scope names (awsQuery: decides IAM vs STS).
    let scope_service = match auth.credential.service.as_str() {
        "iam" => Some(QueryService::Iam),
        "sts" => Some(QueryService::Sts),
        _ => None,
    };
    let protocol = match (protocol, scope_service) {
        (Protocol::Query(_), Some(s)) => Protocol::Query(s),
        (p, _) => p,
    };

    let Some(cred) = backend.lookup_access_key(&auth.credential.access_key_id) else {
        return Err(fail(invalid_token(protocol), Some(&auth), scope_service));
    };
    let now_secs = req.now_millis.div_euclid(1000);
    // Temporary keys need their own token; a token next to a long-term key is invalid too.
    if !cred.session_token_matches(auth.security_token.as_deref()) {
        return Err(fail(invalid_token(protocol), Some(&auth), scope_service));
    }
    if cred.is_expired(now_secs) {
        return Err(fail(expired_token(protocol), Some(&auth), scope_service));
    }

    // The scope must name the service of the protocol.
    let service_ok = match protocol {
        Protocol::Json => auth.credential.service == "kms",
        Protocol::Query(_) => scope_service.is_some(),
    };
    if !service_ok {
        let expected = match protocol {
            Protocol::Json => "kms",
            Protocol::Query(s) => s.name(),
        };
        let e = SigV4Error::WrongService {
            expected: expected.to_string(),
        };
        return Err(fail(sigv4_error(protocol, &e), Some(&auth), scope_service));
    }

    verifier()
        .verify(&http_req, &auth, cred.secret.as_str(), now_secs)
        .map_err(|e| fail(sigv4_error(protocol, &e), Some(&auth), scope_service))?;

    Ok(Authenticated {
        principal: cred.principal,
        access_key_id: auth.credential.access_key_id.clone(),
        region: auth.credential.region.clone(),
        service: scope_service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_failures_get_each_protocols_code_and_status() {
        let cases = [
            (
                SigV4Error::MissingAuthenticationToken,
                ("MissingAuthenticationTokenException", 400),
                ("MissingAuthenticationToken", 403),
            ),
            (
                SigV4Error::IncompleteSignature {
                    message: "m".into(),
                },
                ("IncompleteSignatureException", 400),
                ("IncompleteSignature", 400),
            ),
            (
                SigV4Error::SignatureDoesNotMatch,
                ("InvalidSignatureException", 400),
                ("SignatureDoesNotMatch", 403),
            ),
            (
                SigV4Error::ContentSha256Mismatch,
                ("InvalidSignatureException", 400),
                ("SignatureDoesNotMatch", 403),
            ),
        ];
        for (e, kms, query) in cases {
            let k = sigv4_error(Protocol::Json, &e);
            assert_eq!((k.code.as_str(), k.status), kms, "{e:?}");
            for s in [QueryService::Iam, QueryService::Sts] {
                let q = sigv4_error(Protocol::Query(s), &e);
                assert_eq!((q.code.as_str(), q.status), query, "{e:?}");
            }
        }
    }
}
