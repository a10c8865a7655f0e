//! awsJson1_1 for KMS: operation names, request body decoding and response encoding.

use kmsd_core::error::KmsError;

use crate::error::WireError;

/// `TrentService.` — the `X-Amz-Target` prefix of KMS.
pub const TARGET_PREFIX: &str = "TrentService.";

/// True for the content types an awsJson1_1 request may carry (parameters such as
/// `charset` are ignored).
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let media = ct.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/x-amz-json-1.1")
        || media.eq_ignore_ascii_case("application/x-amz-json-1.0")
}

/// Decode a request body: a JSON object (an empty body counts as `{}`).
/// Anything else is `SerializationException` (400), as AWS answers.
pub fn decode_body(body: &[u8]) -> Result<serde_json::Value, WireError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(WireError::new(
            KmsError::SerializationException,
            "Start of structure or map found where not expected.",
        )),
        Err(_) => Err(WireError::bare(KmsError::SerializationException)),
    }
}

/// Encode a success body (`{}` for operations without output): compact JSON, the bytes
/// serde_json writes, by the audit line's writer (no `fmt` machinery).
pub fn encode_success(value: &serde_json::Value) -> Vec<u8> {
    match value {
        serde_json::Value::Null => b"{}".to_vec(),
        v => {
            let mut out = Vec::with_capacity(256);
            kmsd_core::audit::write_json_value(&mut out, v);
            out
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;
    use kmsd_core::kms::KmsOp;

    #[test]
    fn content_types() {
        assert!(is_json_content_type(Some("application/x-amz-json-1.1")));
        assert!(is_json_content_type(Some(
            "application/x-amz-json-1.1; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("application/json")));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn bodies() {
        assert_eq!(decode_body(b"").unwrap(), serde_json::json!({}));
        assert_eq!(
            decode_body(br#"{"KeyId":"k"}"#).unwrap(),
            serde_json::json!({"KeyId":"k"})
        );
        assert_eq!(
            decode_body(b"{not json").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            decode_body(b"[1]").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(decode_body(&[0xff, 0xfe]).unwrap_err().status, 400);
        assert_eq!(encode_success(&serde_json::Value::Null), b"{}");
        let v = serde_json::json!({"KeyId": "k\"1", "n": [1, -2, 0.5, null, true], "e": {}});
        assert_eq!(encode_success(&v), v.to_string().into_bytes());
    }

    #[test]
    fn operations() {
        assert_eq!(KmsOp::ALL.len(), 56);
        assert!(KmsOp::from_name("Encrypt").is_some());
        assert!(KmsOp::from_name("encrypt").is_none());
        assert!(KmsOp::from_name("Frobnicate").is_none());
    }
}
