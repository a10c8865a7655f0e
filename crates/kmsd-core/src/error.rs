//! Errors the domain returns, carrying AWS's error code and message.
//!
//! The wire layer maps the code to an HTTP status and a protocol shape.

/// An error in AWS's terms: the wire error code (`NotFoundException`,
/// `NoSuchEntity`, ...) and the message clients see (`None` where AWS sends none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {}", message.as_deref().unwrap_or(""))]
pub struct ApiError {
    pub code: &'static str,
    pub message: Option<String>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: Some(message.into()),
        }
    }

    /// An error AWS sends without a message (e.g. `InvalidCiphertextException`).
    pub fn bare(code: &'static str) -> Self {
        Self {
            code,
            message: None,
        }
    }

    /// KMS `ValidationException` in AWS's one-constraint form.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }
}
