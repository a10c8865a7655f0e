//! Grant tokens of the request: issuing a token for a new grant, and verifying the
//! format-2 tokens a request carries (see `model::grant_token`).

use serde_json::Value;

use crate::error::ApiError;
use crate::kms::model::grant::GrantRecord;
use crate::kms::model::grant_token::{
    decode, issue, request_tokens, token_key, verify, Claims, HONOUR_WINDOW_MILLIS,
};

impl crate::kms::Kms {
    /// The token CreateGrant returns for `rec` on the key `key_arn`: format 2, or format 1
    /// when format 2 would be too long.
    pub(crate) fn grant_token(&self, rec: &GrantRecord, key_arn: &str) -> Result<String, ApiError> {
        let key = token_key(&self.root_key)?;
        match issue(&key, rec, key_arn)? {
            Some(t) => Ok(t),
            None => crate::kms::model::grant_token::make_token(&rec.key_id, &rec.grant_id),
        }
    }

    /// Check every format-2 token of the request (`InvalidGrantTokenException` for one that
    /// does not verify) and return the grants of those this node does not hold yet and may
    /// honour (issued within [`HONOUR_WINDOW_MILLIS`]). Requests without format-2 tokens
    /// derive no key and take no lock.
    pub(crate) fn token_grants(&self, input: &Value) -> Result<Vec<Claims>, ApiError> {
        let tokens = request_tokens(input);
        let shared = self.store.is_shared();
        if !tokens.iter().any(|t| decode(t).is_some()) {
            return Ok(Vec::new());
        }
        let key = token_key(&self.root_key)?;
        let mut verified = Vec::new();
        for t in tokens {
            if let Some(c) = verify(&key, t)? {
                verified.push(c);
            }
        }
        // On a store no other node writes, a grant this node does not hold was retired,
        // revoked or never made: its token grants nothing.
        if !shared {
            return Ok(Vec::new());
        }
        let now = self.now();
        let st = self.state.read();
        Ok(verified
            .into_iter()
            .filter(|c| (now - c.issued_millis).abs() <= HONOUR_WINDOW_MILLIS)
            .filter(|c| !st.removed_grants.contains(&c.grant_id))
            .filter(|c| {
                c.slot()
                    .and_then(|id| st.keys.get(&id))
                    .is_some_and(|k| k.arn == c.key_arn && !k.grants.contains_key(&c.grant_id))
            })
            .collect())
    }
}
