//! Error rendering for both protocols: awsJson1_1 `{"__type", "message"}` bodies for KMS and
//! awsQuery `<ErrorResponse>` XML for IAM and STS (restJson1 for Access Analyzer), with
//! AWS's HTTP statuses.

use kmsd_core::error::{AccessAnalyzerError, ApiError, ErrorCode, IamError, KmsError, StsError};

/// `application/x-amz-json-1.1`
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// `text/xml`
pub const XML_CONTENT_TYPE: &str = "text/xml";

/// The protocol a response is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// KMS, awsJson1_1.
    Json,
    /// IAM or STS, awsQuery; the value is the service (`iam` or `sts`).
    Query(QueryService),
}

impl Protocol {
    /// This protocol's code for a failure every service has under its own name.
    pub fn code(self, kms: KmsError, iam: IamError, sts: StsError) -> ErrorCode {
        match self {
            Protocol::Json => kms.into(),
            Protocol::Query(QueryService::Iam) => iam.into(),
            Protocol::Query(QueryService::Sts) => sts.into(),
        }
    }
}

/// The awsQuery services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryService {
    Iam,
    Sts,
}

impl QueryService {
    /// `iam` / `sts` (credential-scope service name).
    pub fn name(self) -> &'static str {
        match self {
            QueryService::Iam => "iam",
            QueryService::Sts => "sts",
        }
    }

    /// CloudTrail `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            QueryService::Iam => "iam.amazonaws.com",
            QueryService::Sts => "sts.amazonaws.com",
        }
    }

    /// XML namespace of responses.
    pub fn xml_namespace(self) -> &'static str {
        match self {
            QueryService::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            QueryService::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }
}

/// An error ready to render: code, message, HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: Option<String>,
    pub status: u16,
}

impl WireError {
    /// An error with a message and the HTTP status of its code.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> WireError {
        let code = code.into();
        WireError {
            code,
            message: Some(message.into()),
            status: status(code),
        }
    }

    /// An error without a message, with the HTTP status of its code.
    pub fn bare(code: impl Into<ErrorCode>) -> WireError {
        let code = code.into();
        WireError {
            code,
            message: None,
            status: status(code),
        }
    }

    /// The same error with another HTTP status (where AWS answers one code with several).
    pub fn with_status(mut self, status: u16) -> WireError {
        self.status = status;
        self
    }

    /// The wire form of a domain error.
    pub fn from_api(err: &ApiError) -> WireError {
        WireError {
            code: err.code,
            message: err.message.clone(),
            status: status(err.code),
        }
    }
}

/// The HTTP status of an error code: an exhaustive match per service, so a new code must
/// be given its status.
pub fn status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::KmsError(c) => kms_status(c),
        ErrorCode::IamError(c) => iam_status(c),
        ErrorCode::StsError(c) => sts_status(c),
        ErrorCode::AccessAnalyzerError(c) => access_analyzer_status(c),
    }
}

/// HTTP status of an IAM Access Analyzer error code.
pub fn access_analyzer_status(code: AccessAnalyzerError) -> u16 {
    match code {
        AccessAnalyzerError::AccessDeniedException => 403,
        AccessAnalyzerError::InternalServerException => 500,
        AccessAnalyzerError::InvalidParameterException
        | AccessAnalyzerError::UnprocessableEntityException
        | AccessAnalyzerError::ValidationException => 400,
    }
}

/// HTTP status of a KMS error code (kms-api.md §1.1): every client error is 400.
pub fn kms_status(code: KmsError) -> u16 {
    use KmsError::*;
    match code {
        KMSInternalException | KeyUnavailableException | InternalFailure => 500,
        DependencyTimeoutException | ServiceUnavailable => 503,
        ConflictException => 409,
        RequestEntityTooLarge => 413,
        AccessDeniedException
        | AlreadyExistsException
        | CloudHsmClusterInUseException
        | CloudHsmClusterInvalidConfigurationException
        | CloudHsmClusterNotActiveException
        | CloudHsmClusterNotFoundException
        | CloudHsmClusterNotRelatedException
        | CustomKeyStoreHasCMKsException
        | CustomKeyStoreInvalidStateException
        | CustomKeyStoreNameInUseException
        | CustomKeyStoreNotFoundException
        | DisabledException
        | DryRunOperationException
        | ExpiredImportTokenException
        | ExpiredTokenException
        | IncompleteSignatureException
        | IncorrectKeyException
        | IncorrectKeyMaterialException
        | IncorrectTrustAnchorException
        | InvalidAliasNameException
        | InvalidArnException
        | InvalidCiphertextException
        | InvalidGrantIdException
        | InvalidGrantTokenException
        | InvalidImportTokenException
        | InvalidKeyUsageException
        | InvalidMarkerException
        | InvalidSignatureException
        | KMSInvalidMacException
        | KMSInvalidSignatureException
        | KMSInvalidStateException
        | LimitExceededException
        | MalformedPolicyDocumentException
        | MissingAuthenticationTokenException
        | NotAuthorizedException
        | NotFoundException
        | SerializationException
        | TagException
        | ThrottlingException
        | UnknownOperationException
        | UnrecognizedClientException
        | UnsupportedOperationException
        | ValidationException
        | XksKeyAlreadyInUseException
        | XksKeyInvalidConfigurationException
        | XksKeyNotFoundException
        | XksProxyIncorrectAuthenticationCredentialException
        | XksProxyInvalidConfigurationException
        | XksProxyInvalidResponseException
        | XksProxyUriEndpointInUseException
        | XksProxyUriInUseException
        | XksProxyUriUnreachableException
        | XksProxyVpcEndpointServiceInUseException
        | XksProxyVpcEndpointServiceInvalidConfigurationException
        | XksProxyVpcEndpointServiceNotFoundException => 400,
    }
}

/// HTTP status of an IAM error code (the model's `httpStatusCode`, awsQuery's common errors).
pub fn iam_status(code: IamError) -> u16 {
    use IamError::*;
    match code {
        NoSuchEntity => 404,
        EntityAlreadyExists
        | LimitExceeded
        | DeleteConflict
        | ConcurrentModification
        | EntityTemporarilyUnmodifiable => 409,
        ServiceFailure | PolicyEvaluation | InternalFailure => 500,
        ServiceUnavailable => 503,
        AccessDenied
        | InvalidClientTokenId
        | SignatureDoesNotMatch
        | ExpiredToken
        | MissingAuthenticationToken
        | OptInRequired => 403,
        RequestEntityTooLarge => 413,
        IncompleteSignature
        | InvalidAction
        | InvalidInput
        | InvalidParameterValue
        | MalformedPolicyDocument
        | MissingAction
        | PolicyNotAttachable
        | RequestExpired
        | UnmodifiableEntity
        | ValidationError => 400,
    }
}

/// HTTP status of an STS error code (the model's `httpStatusCode`, awsQuery's common errors).
pub fn sts_status(code: StsError) -> u16 {
    use StsError::*;
    match code {
        InternalFailure | ServiceFailure => 500,
        ServiceUnavailable => 503,
        AccessDenied
        | InvalidClientTokenId
        | SignatureDoesNotMatch
        | ExpiredToken
        | MissingAuthenticationToken
        | RegionDisabledException
        | IDPRejectedClaim => 403,
        RequestEntityTooLarge => 413,
        IncompleteSignature
        | InvalidAction
        | InvalidParameterValue
        | MalformedPolicyDocument
        | MissingAction
        | PackedPolicyTooLarge
        | RequestExpired
        | ValidationError => 400,
    }
}

/// The awsJson1_1 error body `{"__type": code, "message": text}` (no `message` when `None`).
pub fn json_error_body(err: &WireError) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    obj.insert(
        "__type".to_string(),
        serde_json::Value::String(err.code.as_str().to_string()),
    );
    if let Some(m) = &err.message {
        obj.insert("message".to_string(), serde_json::Value::String(m.clone()));
    }
    serde_json::Value::Object(obj).to_string().into_bytes()
}

/// The awsQuery `<ErrorResponse>` body.
pub fn xml_error_body(err: &WireError, service: QueryService, request_id: &str) -> Vec<u8> {
    let fault = if err.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let mut out = String::with_capacity(256);
    out.push_str("<ErrorResponse xmlns=\"");
    out.push_str(service.xml_namespace());
    out.push_str("\">\n  <Error>\n    <Type>");
    out.push_str(fault);
    out.push_str("</Type>\n    <Code>");
    out.push_str(&xml_escape(err.code.as_str()));
    out.push_str("</Code>\n");
    if let Some(m) = &err.message {
        out.push_str("    <Message>");
        out.push_str(&xml_escape(m));
        out.push_str("</Message>\n");
    }
    out.push_str("  </Error>\n  <RequestId>");
    out.push_str(&xml_escape(request_id));
    out.push_str("</RequestId>\n</ErrorResponse>\n");
    out.into_bytes()
}

/// Escape text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn json_error_omits_missing_message() {
        let e = WireError::from_api(&ApiError::bare(KmsError::InvalidCiphertextException));
        assert_eq!(e.status, 400);
        assert_eq!(
            String::from_utf8(json_error_body(&e)).unwrap(),
            r#"{"__type":"InvalidCiphertextException"}"#
        );
        let e = WireError::from_api(&ApiError::new(KmsError::KMSInternalException, "x"));
        assert_eq!(e.status, 500);
        assert_eq!(
            String::from_utf8(json_error_body(&e)).unwrap(),
            r#"{"__type":"KMSInternalException","message":"x"}"#
        );
    }

    #[test]
    fn xml_error_shape() {
        let e = WireError::new(StsError::InvalidClientTokenId, "a < b");
        let body = String::from_utf8(xml_error_body(&e, QueryService::Sts, "rid")).unwrap();
        assert!(
            body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
        );
        assert!(body.contains("<Type>Sender</Type>"));
        assert!(body.contains("<Code>InvalidClientTokenId</Code>"));
        assert!(body.contains("<Message>a &lt; b</Message>"));
        assert!(body.contains("<RequestId>rid</RequestId>"));
        let e = WireError::new(IamError::ServiceFailure, "boom");
        let body = String::from_utf8(xml_error_body(&e, QueryService::Iam, "r")).unwrap();
        assert!(body.contains("<Type>Receiver</Type>"));
    }

    #[test]
    fn statuses() {
        assert_eq!(iam_status(IamError::NoSuchEntity), 404);
        assert_eq!(iam_status(IamError::EntityAlreadyExists), 409);
        assert_eq!(iam_status(IamError::AccessDenied), 403);
        assert_eq!(iam_status(IamError::ValidationError), 400);
        assert_eq!(sts_status(StsError::RegionDisabledException), 403);
        assert_eq!(kms_status(KmsError::AccessDeniedException), 400);
        assert_eq!(kms_status(KmsError::DependencyTimeoutException), 503);
        assert_eq!(status(KmsError::KMSInternalException.into()), 500);
    }
}
