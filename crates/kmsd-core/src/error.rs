//! Errors the domain returns: one enum of AWS error codes per service ([`KmsError`],
//! [`IamError`], [`StsError`]) and [`ApiError`], a code with the message clients see.
//!
//! The codes are AWS's own wire names (the variant name *is* the `__type` / `<Code>`), so a
//! mistyped code does not compile. These enums are the only place an error code is spelled;
//! the wire layer maps each variant to an HTTP status with an exhaustive `match`.

/// Declares an enum of error codes whose variant names are the wire codes.
macro_rules! error_codes {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire code.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// The code of a wire name.
            pub fn from_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|c| c.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for ErrorCode {
            fn from(c: $name) -> ErrorCode {
                ErrorCode::$name(c)
            }
        }
    };
}

error_codes! {
    /// KMS error codes (awsJson1_1 `__type`): the exceptions of the KMS model and the
    /// protocol-level errors every awsJson service answers with.
    pub enum KmsError {
        AccessDeniedException,
        AlreadyExistsException,
        CloudHsmClusterInUseException,
        CloudHsmClusterInvalidConfigurationException,
        CloudHsmClusterNotActiveException,
        CloudHsmClusterNotFoundException,
        CloudHsmClusterNotRelatedException,
        ConflictException,
        CustomKeyStoreHasCMKsException,
        CustomKeyStoreInvalidStateException,
        CustomKeyStoreNameInUseException,
        CustomKeyStoreNotFoundException,
        DependencyTimeoutException,
        DisabledException,
        DryRunOperationException,
        ExpiredImportTokenException,
        ExpiredTokenException,
        IncompleteSignatureException,
        IncorrectKeyException,
        IncorrectKeyMaterialException,
        IncorrectTrustAnchorException,
        InternalFailure,
        InvalidAliasNameException,
        InvalidArnException,
        InvalidCiphertextException,
        InvalidGrantIdException,
        InvalidGrantTokenException,
        InvalidImportTokenException,
        InvalidKeyUsageException,
        InvalidMarkerException,
        InvalidSignatureException,
        KMSInternalException,
        KMSInvalidMacException,
        KMSInvalidSignatureException,
        KMSInvalidStateException,
        KeyUnavailableException,
        LimitExceededException,
        MalformedPolicyDocumentException,
        MissingAuthenticationTokenException,
        /// Not in the model, but what AWS answers for reserved `alias/aws/` names.
        NotAuthorizedException,
        NotFoundException,
        RequestEntityTooLarge,
        SerializationException,
        ServiceUnavailable,
        TagException,
        ThrottlingException,
        UnknownOperationException,
        UnrecognizedClientException,
        UnsupportedOperationException,
        ValidationException,
        XksKeyAlreadyInUseException,
        XksKeyInvalidConfigurationException,
        XksKeyNotFoundException,
        XksProxyIncorrectAuthenticationCredentialException,
        XksProxyInvalidConfigurationException,
        XksProxyInvalidResponseException,
        XksProxyUriEndpointInUseException,
        XksProxyUriInUseException,
        XksProxyUriUnreachableException,
        XksProxyVpcEndpointServiceInUseException,
        XksProxyVpcEndpointServiceInvalidConfigurationException,
        XksProxyVpcEndpointServiceNotFoundException,
    }
}

error_codes! {
    /// IAM error codes (awsQuery `<Code>`): the IAM model's errors kmsd answers with and the
    /// awsQuery common errors.
    pub enum IamError {
        AccessDenied,
        ConcurrentModification,
        DeleteConflict,
        EntityAlreadyExists,
        EntityTemporarilyUnmodifiable,
        ExpiredToken,
        IncompleteSignature,
        InternalFailure,
        InvalidAction,
        InvalidClientTokenId,
        InvalidInput,
        InvalidParameterValue,
        LimitExceeded,
        MalformedPolicyDocument,
        MissingAction,
        MissingAuthenticationToken,
        NoSuchEntity,
        OptInRequired,
        PolicyEvaluation,
        PolicyNotAttachable,
        RequestEntityTooLarge,
        RequestExpired,
        ServiceFailure,
        ServiceUnavailable,
        SignatureDoesNotMatch,
        UnmodifiableEntity,
        ValidationError,
    }
}

error_codes! {
    /// STS error codes (awsQuery `<Code>`): the STS model's errors kmsd answers with and the
    /// awsQuery common errors.
    pub enum StsError {
        AccessDenied,
        ExpiredToken,
        IDPRejectedClaim,
        IncompleteSignature,
        InternalFailure,
        InvalidAction,
        InvalidClientTokenId,
        InvalidParameterValue,
        MalformedPolicyDocument,
        MissingAction,
        MissingAuthenticationToken,
        PackedPolicyTooLarge,
        RegionDisabledException,
        RequestEntityTooLarge,
        RequestExpired,
        ServiceFailure,
        ServiceUnavailable,
        SignatureDoesNotMatch,
        ValidationError,
    }
}

/// An error code of one of the three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    KmsError(KmsError),
    IamError(IamError),
    StsError(StsError),
}

impl ErrorCode {
    /// The wire code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::KmsError(c) => c.as_str(),
            ErrorCode::IamError(c) => c.as_str(),
            ErrorCode::StsError(c) => c.as_str(),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and callers compare a code with AWS's spelling.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// An error in AWS's terms: the wire error code and the message clients see (`None` where
/// AWS sends none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {}", message.as_deref().unwrap_or(""))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: Some(message.into()),
        }
    }

    /// An error AWS sends without a message (e.g. `InvalidCiphertextException`).
    pub fn bare(code: impl Into<ErrorCode>) -> Self {
        Self {
            code: code.into(),
            message: None,
        }
    }

    /// KMS `ValidationException` in AWS's one-constraint form.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(KmsError::ValidationException, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_variant_names_and_round_trip() {
        assert_eq!(
            KmsError::KMSInternalException.as_str(),
            "KMSInternalException"
        );
        assert_eq!(IamError::NoSuchEntity.as_str(), "NoSuchEntity");
        for c in KmsError::ALL {
            assert_eq!(KmsError::from_name(c.as_str()), Some(*c));
        }
        for c in IamError::ALL {
            assert_eq!(IamError::from_name(c.as_str()), Some(*c));
        }
        for c in StsError::ALL {
            assert_eq!(StsError::from_name(c.as_str()), Some(*c));
        }
        assert_eq!(KmsError::from_name("NotAnError"), None);
    }

    #[test]
    fn api_error_compares_with_the_wire_spelling() {
        let e = ApiError::new(KmsError::NotFoundException, "x");
        assert_eq!(e.code, "NotFoundException");
        assert_ne!(e.code, "NoSuchEntity");
        assert_eq!(e.to_string(), "NotFoundException: x");
    }
}
