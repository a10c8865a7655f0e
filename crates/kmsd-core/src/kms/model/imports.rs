//! Outstanding GetParametersForImport parameters, as stored.

use serde::{Deserialize, Serialize};

/// One GetParametersForImport's parameters, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportParams {
    pub key_id: String,
    /// 32 lower-hex characters.
    pub token_id: String,
    pub algorithm: String,
    pub wrapping_key_spec: String,
    pub valid_to_millis: i64,
    /// The wrapping private key (PKCS#8), wrapped under the root key; base64.
    pub wrapped_private_key: String,
}
