//! The import parameters' table (`kms_import`, `<key id>#<token id>` → `ImportParams`).

use std::collections::HashMap;

use crate::error::{ApiError, KmsError};
use crate::kms::model::ids::internal;
use crate::kms::model::imports::ImportParams;
use crate::kms::model::state::State;
use crate::store::{Mutation, Store};

/// The import parameters table.
pub(crate) const IMPORTS: &str = "kms_import";

fn params_key(key_id: &str, token_id: &str) -> String {
    format!("{key_id}#{token_id}")
}

pub(crate) fn params_aad(key_id: &str, token_id: &str) -> Vec<u8> {
    let mut v = b"kmsd-import-wrapping-key\0".to_vec();
    v.extend_from_slice(key_id.as_bytes());
    v.push(b'#');
    v.extend_from_slice(token_id.as_bytes());
    v
}

pub(crate) fn put_params(p: &ImportParams) -> Result<Mutation, ApiError> {
    Ok(Mutation::Put {
        table: IMPORTS,
        key: params_key(&p.key_id, &p.token_id),
        value: serde_json::to_vec(p).map_err(|_| internal())?,
    })
}

pub(crate) fn delete_params(p: &ImportParams) -> Mutation {
    Mutation::Delete {
        table: IMPORTS,
        key: params_key(&p.key_id, &p.token_id),
    }
}

/// The mutations that remove every import parameter of key `id` (with the key).
pub(crate) fn delete_all_params(st: &State, id: &str) -> Vec<Mutation> {
    st.imports
        .get(id)
        .map(|v| v.iter().map(delete_params).collect())
        .unwrap_or_default()
}

/// Load the import parameters (still wrapped) by key id.
pub(crate) fn load(store: &dyn Store) -> Result<HashMap<String, Vec<ImportParams>>, ApiError> {
    let mut out: HashMap<String, Vec<ImportParams>> = HashMap::new();
    let rows = store.load(IMPORTS).map_err(|e| {
        ApiError::new(
            KmsError::KMSInternalException,
            format!("cannot load KMS state: {e}"),
        )
    })?;
    for (k, bytes) in rows {
        let p: ImportParams = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                KmsError::KMSInternalException,
                format!("cannot load KMS state: import parameters {k}: {e}"),
            )
        })?;
        out.entry(p.key_id.clone()).or_default().push(p);
    }
    for v in out.values_mut() {
        v.sort_by_key(|p| p.valid_to_millis);
    }
    Ok(out)
}
