//! Type checking of a KMS request body against the model's input shape, before any
//! semantic check: a member of the wrong JSON type (a number where the model has a string,
//! a string where it has a structure, ...) is `SerializationException`, as AWS's awsJson1_1
//! deserializer answers, whatever the operation would have said about the value.
//!
//! The shapes themselves are the generated data table in `shapes.rs`. Members the model
//! does not know are ignored here (the operations report what they must), and `null`
//! counts as absent.

use serde_json::Value;

use crate::error::{ApiError, KmsError};
use crate::kms::decode::shape::Shape;
use crate::kms::model::op::KmsOp;

fn wrong_type(field: &str) -> ApiError {
    ApiError::new(
        KmsError::SerializationException,
        format!("Unexpected value type for field {field}"),
    )
}

/// Every member of `input` has the JSON type its operation's model gives it.
pub(crate) fn check_input(op: KmsOp, input: &Value) -> Result<(), ApiError> {
    match input {
        Value::Object(_) => check(crate::kms::decode::shapes::input(op), input, ""),
        // `Input::new` reports a body that is not an object in its own words.
        _ => Ok(()),
    }
}

fn check(shape: &Shape, v: &Value, field: &str) -> Result<(), ApiError> {
    let ok = match (shape, v) {
        (_, Value::Null) => true,
        (Shape::Str | Shape::Blob, Value::String(_)) => true,
        (Shape::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Shape::Bool, Value::Bool(_)) => true,
        (Shape::Timestamp, Value::Number(_) | Value::String(_)) => true,
        (Shape::List(item), Value::Array(items)) => {
            for x in items {
                check(item, x, field)?;
            }
            true
        }
        (Shape::Map(value), Value::Object(m)) => {
            for (k, x) in m {
                check(value, x, k)?;
            }
            true
        }
        (Shape::Struct(members), Value::Object(m)) => {
            for (name, x) in m {
                if let Some((_, s)) = members.iter().find(|(n, _)| n == name) {
                    check(s, x, name)?;
                }
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(wrong_type(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(op: KmsOp, v: Value) -> Option<String> {
        check_input(op, &v)
            .err()
            .map(|e| e.code.as_str().to_string())
    }

    #[test]
    fn members_of_the_wrong_type_are_serialization_errors() {
        let ser = Some("SerializationException".to_string());
        assert_eq!(
            code(KmsOp::Encrypt, json!({"KeyId": "k", "Plaintext": "AA=="})),
            None
        );
        assert_eq!(code(KmsOp::Encrypt, json!({"KeyId": 1})), ser);
        assert_eq!(
            code(KmsOp::Encrypt, json!({"KeyId": "k", "DryRun": "yes"})),
            ser
        );
        assert_eq!(
            code(KmsOp::Encrypt, json!({"EncryptionContext": {"a": 1}})),
            ser
        );
        assert_eq!(code(KmsOp::Encrypt, json!({"GrantTokens": "t"})), ser);
        assert_eq!(code(KmsOp::Encrypt, json!({"GrantTokens": [1]})), ser);
        for bad in [json!(1), json!("r"), json!([1])] {
            assert_eq!(code(KmsOp::Decrypt, json!({"Recipient": bad})), ser);
        }
        assert_eq!(
            code(
                KmsOp::Decrypt,
                json!({"Recipient": {"KeyEncryptionAlgorithm": 5}})
            ),
            ser
        );
        assert_eq!(
            code(KmsOp::GenerateRandom, json!({"NumberOfBytes": 1.5})),
            ser
        );
        assert_eq!(
            code(KmsOp::GenerateRandom, json!({"NumberOfBytes": 16})),
            None
        );
        assert_eq!(
            code(KmsOp::CreateKey, json!({"Tags": [{"TagKey": 1}]})),
            ser
        );
        // Unknown members and nulls are not the deserializer's business.
        assert_eq!(
            code(KmsOp::Encrypt, json!({"Unknown": 1, "KeyId": null})),
            None
        );
    }
}
