//! Errors of parsing and verification, and their mapping onto AWS error codes.
//!
//! The `Display` text of each variant is the message AWS returns (or our closest
//! rendering of it); the wire crate puts it in the error body unchanged.

use thiserror::Error;

/// The standard AWS message for a signature that does not match.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Why a request's SigV4 authentication was rejected.
///
/// The wire layer (`kmsd-wire`'s `auth` module) renders it with each service's typed error
/// code, following this mapping:
///
/// | variant | KMS (awsJson, HTTP 400) | IAM/STS (awsQuery) |
/// |---|---|---|
/// | `MissingAuthenticationToken` | `MissingAuthenticationTokenException` | `MissingAuthenticationToken` (403) |
/// | `IncompleteSignature` | `IncompleteSignatureException` | `IncompleteSignature` (400) |
/// | `SignatureDoesNotMatch`, `ScopeDateMismatch`, `WrongRegion`, `WrongService`, `ContentSha256Mismatch`, `UnsignedPayloadNotAllowed` | `InvalidSignatureException` | `SignatureDoesNotMatch` (403) |
/// | `SignatureExpired`, `SignatureNotYetCurrent` | `InvalidSignatureException` | `SignatureDoesNotMatch` (403) |
/// | `PresignedExpired` | `InvalidSignatureException` | `RequestExpired` (400) |
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// No `Authorization` header and no presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The authorization data is present but malformed or incomplete.
    #[error("{message}")]
    IncompleteSignature {
        /// AWS-like explanation.
        message: String,
    },
    /// The recomputed signature differs from the one provided.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    SignatureDoesNotMatch,
    /// The credential scope date is not the date of the request timestamp.
    #[error("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{request_date}', from '{amz_date}'.")]
    ScopeDateMismatch {
        /// `YYYYMMDD` from the credential scope.
        scope_date: String,
        /// `YYYYMMDD` of the request timestamp.
        request_date: String,
        /// The full request timestamp `YYYYMMDDTHHMMSSZ`.
        amz_date: String,
    },
    /// The credential scope names a region this endpoint does not serve.
    #[error("Credential should be scoped to a valid region, not '{region}'. ")]
    WrongRegion {
        /// Region found in the scope.
        region: String,
    },
    /// The credential scope names a service this endpoint does not serve.
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService {
        /// The service the endpoint expects.
        expected: String,
    },
    /// Request time more than 5 minutes before server time.
    #[error(
        "Signature expired: {request_time} is now earlier than {earliest} ({server_time} - 5 min.)"
    )]
    SignatureExpired {
        /// Request timestamp.
        request_time: String,
        /// Server time minus 5 minutes.
        earliest: String,
        /// Server time.
        server_time: String,
    },
    /// Request time more than 5 minutes after server time.
    #[error("Signature not yet current: {request_time} is still later than {latest} ({server_time} + 5 min.)")]
    SignatureNotYetCurrent {
        /// Request timestamp.
        request_time: String,
        /// Server time plus 5 minutes.
        latest: String,
        /// Server time.
        server_time: String,
    },
    /// A presigned request used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired.")]
    PresignedExpired {
        /// When the presigned request stopped being valid.
        expired_at: String,
        /// Server time.
        server_time: String,
    },
    /// `X-Amz-Content-Sha256` does not match the hash of the received body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// `UNSIGNED-PAYLOAD` was used but the verifier does not accept it.
    #[error("UNSIGNED-PAYLOAD is not accepted by this endpoint.")]
    UnsignedPayloadNotAllowed,
}

impl SigV4Error {
    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        SigV4Error::IncompleteSignature {
            message: message.into(),
        }
    }

    /// Message for KMS responses: the `Display` text, except
    /// `MissingAuthenticationToken`, which KMS words `Missing Authentication
    /// Token`.
    pub fn kms_message(&self) -> String {
        match self {
            SigV4Error::MissingAuthenticationToken => "Missing Authentication Token".to_owned(),
            e => e.to_string(),
        }
    }

    /// Message for awsQuery (IAM/STS) responses: the `Display` text.
    pub fn query_message(&self) -> String {
        self.to_string()
    }
}
