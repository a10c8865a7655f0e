//! What the cryptographic operations share: the DryRun answer, the refusal of a
//! `Recipient` (attestation), and the response object built member by member.

use serde_json::Value;

use crate::error::{ApiError, KmsError};
use crate::kms::decode::input::Input;

pub(crate) fn dry_run() -> ApiError {
    ApiError::new(
        KmsError::DryRunOperationException,
        "The request would have succeeded, but the DryRun option is set.",
    )
}

pub(crate) fn no_recipient(i: &Input<'_>) -> Result<(), ApiError> {
    if i.has("Recipient") {
        return Err(ApiError::new(
            KmsError::UnsupportedOperationException,
            "Recipient attestation is not supported by this server.",
        ));
    }
    Ok(())
}

/// A JSON object of `members` in this order (as `json!` builds it, without serializing each
/// value through serde).
pub(crate) fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut m = serde_json::Map::with_capacity(N + 1);
    for (k, v) in members {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::decode::input::b64;
    use serde_json::json;

    #[test]
    fn object_equals_json_macro_in_value_and_text() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k".to_string();
        let built = object([
            ("CiphertextBlob", b64(b"\x01\x02")),
            ("KeyId", Value::String(arn.clone())),
            ("EncryptionAlgorithm", Value::from("SYMMETRIC_DEFAULT")),
        ]);
        let reference = json!({
            "CiphertextBlob": b64(b"\x01\x02"),
            "KeyId": arn,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        });
        assert_eq!(built, reference);
        assert_eq!(built.to_string(), reference.to_string());
    }
}
