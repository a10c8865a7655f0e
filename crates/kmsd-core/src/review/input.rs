//! Reading the members of a kmsd operation's input (shared by the operations of `review`).

use serde_json::Value;

use crate::error::ApiError;

/// A required string member of a kmsd operation's input.
pub(crate) fn required_text(input: &Value, name: &str) -> Result<String, ApiError> {
    input
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::validation(format!("{name} is required and must be a string")))
}
