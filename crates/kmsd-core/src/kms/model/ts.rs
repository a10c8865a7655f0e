//! Time as AWS's JSON shows it.

use serde_json::Value;

/// Epoch milliseconds as the JSON number of seconds AWS sends.
pub(crate) fn ts(millis: i64) -> Value {
    if millis % 1000 == 0 {
        Value::from(millis / 1000)
    } else {
        serde_json::Number::from_f64(millis as f64 / 1000.0)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}
