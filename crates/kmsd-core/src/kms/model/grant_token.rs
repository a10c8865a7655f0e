//! Self-verifying grant tokens (format 2): what CreateGrant returns, so that a node which has
//! not yet received a grant's row from the shared store can honour the grant from its token
//! alone, as AWS KMS's grant tokens do during eventual consistency.
//!
//! A token is `base64url(PREFIX || claims JSON || tag)`, where `tag` is HMAC-SHA256 over
//! `PREFIX || claims JSON` under a key derived from the root key
//! ([`kmsd_crypto::RootKey::derive_key`] with label [`TOKEN_KEY_LABEL`]; nothing new is
//! stored, and every node with the same root key derives the same key). The claims carry the
//! key ARN, grant id, name, grantee, retiring principal, operations, constraints, issuing
//! account, issue time and a random nonce (a fresh token on every CreateGrant).
//!
//! Verification: any format-2 token in a request (`GrantTokens`, `GrantToken`) whose tag does
//! not verify is `InvalidGrantTokenException`, before the operation runs. A verified token
//! whose grant this node does not hold is honoured — its grant joins the key's grants in the
//! decision — for [`HONOUR_WINDOW_MILLIS`] after its issue time, which bounds how long a
//! token can stand in for a row that was since retired or revoked. Tokens of format 1
//! (`kmsd-grant-token-1:`, unauthenticated, naming the grant only) keep working as before:
//! the grant must be in the store. After `kmsd rotate-root-key` format-2 tokens issued before
//! the rotation no longer verify.

use base64::Engine as _;
use kmsd_policy::Grant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{ApiError, KmsError};
use crate::kms::model::grant::{ConstraintsRecord, GrantRecord};
use crate::kms::model::ids::{hex, internal, is_grant_id};

/// Leading bytes of a decoded format-2 token.
pub(crate) const PREFIX: &[u8] = b"kmsd-grant-token-2:";
/// Label of the derived HMAC key.
pub(crate) const TOKEN_KEY_LABEL: &[u8] = b"kmsd grant token hmac-sha256 v2";
/// How long after its issue time a token stands in for a grant row not yet received.
pub(crate) const HONOUR_WINDOW_MILLIS: i64 = 60_000;
/// AWS's limit on a grant token's length; a longer format-2 token falls back to format 1.
pub(crate) const MAX_TOKEN_LEN: usize = 8192;
const TAG_LEN: usize = 32;

/// What a format-2 token says about its grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(rename = "k")]
    pub key_arn: String,
    #[serde(rename = "g")]
    pub grant_id: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "p")]
    pub grantee_principal: String,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    #[serde(rename = "o")]
    pub operations: Vec<String>,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<ConstraintsRecord>,
    #[serde(rename = "a")]
    pub issuing_account: String,
    #[serde(rename = "t")]
    pub issued_millis: i64,
    #[serde(rename = "x")]
    pub nonce: String,
}

impl Claims {
    /// The key id of the key ARN (`arn:...:key/<id>`).
    pub(crate) fn key_id(&self) -> Option<&str> {
        self.key_arn.rsplit_once(":key/").map(|(_, id)| id)
    }

    /// The slot (`ids::slot`) of the key ARN's key: its id, with the ARN's Region for a
    /// multi-Region key.
    pub(crate) fn slot(&self) -> Option<String> {
        let (head, id) = self.key_arn.rsplit_once(":key/")?;
        let region = head.split(':').nth(3)?;
        Some(crate::kms::model::ids::slot(id, region))
    }

    /// The grant as the decision engine sees it.
    pub(crate) fn to_policy(&self) -> Grant {
        GrantRecord {
            grant_id: self.grant_id.clone(),
            key_id: self.slot().unwrap_or_default(),
            name: self.name.clone(),
            grantee_principal: self.grantee_principal.clone(),
            retiring_principal: self.retiring_principal.clone(),
            operations: self.operations.clone(),
            constraints: self.constraints.clone(),
            issuing_account: self.issuing_account.clone(),
            creation_millis: self.issued_millis,
        }
        .to_policy()
    }
}

fn invalid_token() -> ApiError {
    ApiError::new(
        KmsError::InvalidGrantTokenException,
        "Grant token is invalid.",
    )
}

fn tag(key: &[u8; 32], message: &[u8]) -> Vec<u8> {
    kmsd_crypto::mac::hmac(kmsd_crypto::MacAlgorithm::HmacSha256, key, message)
}

/// The HMAC key of format-2 tokens.
pub(crate) fn token_key(root: &kmsd_crypto::RootKey) -> Result<Zeroizing<[u8; 32]>, ApiError> {
    root.derive_key(TOKEN_KEY_LABEL).map_err(|_| internal())
}

/// A format-2 token for `rec` on the key `key_arn`; `None` when it would exceed AWS's
/// length limit (very large constraints: the caller then issues format 1).
pub(crate) fn issue(
    key: &[u8; 32],
    rec: &GrantRecord,
    key_arn: &str,
) -> Result<Option<String>, ApiError> {
    let nonce = kmsd_crypto::random_bytes(16).map_err(|_| internal())?;
    let claims = Claims {
        key_arn: key_arn.to_string(),
        grant_id: rec.grant_id.clone(),
        name: rec.name.clone(),
        grantee_principal: rec.grantee_principal.clone(),
        retiring_principal: rec.retiring_principal.clone(),
        operations: rec.operations.clone(),
        constraints: rec.constraints.clone(),
        issuing_account: rec.issuing_account.clone(),
        issued_millis: rec.creation_millis,
        nonce: hex(&nonce),
    };
    let mut raw = PREFIX.to_vec();
    raw.extend_from_slice(&serde_json::to_vec(&claims).map_err(|_| internal())?);
    let t = tag(key, &raw);
    raw.extend_from_slice(&t);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
    Ok((token.len() <= MAX_TOKEN_LEN).then_some(token))
}

/// The claims of a format-2 token, unauthenticated: `None` when `token` is not one
/// (another format), `Err` when it is one but malformed. Only for finding which grant a
/// token names; honouring it needs [`verify`].
pub(crate) fn peek(token: &str) -> Result<Option<Claims>, ApiError> {
    let Some(raw) = decode(token) else {
        return Ok(None);
    };
    let body = claims_bytes(&raw).ok_or_else(invalid_token)?;
    let claims: Claims = serde_json::from_slice(body).map_err(|_| invalid_token())?;
    if claims
        .key_id()
        .is_none_or(|id| !crate::kms::model::ids::is_key_id(id))
        || !crate::kms::model::ids::is_grant_id(&claims.grant_id)
    {
        return Err(invalid_token());
    }
    Ok(Some(claims))
}

/// The claims of a format-2 token whose tag verifies under `key`; `None` for a token of
/// another format; `InvalidGrantTokenException` for a malformed, forged or altered one.
pub(crate) fn verify(key: &[u8; 32], token: &str) -> Result<Option<Claims>, ApiError> {
    let Some(raw) = decode(token) else {
        return Ok(None);
    };
    let split = raw.len().checked_sub(TAG_LEN).ok_or_else(invalid_token)?;
    let (signed, got) = raw.split_at_checked(split).ok_or_else(invalid_token)?;
    if !kmsd_crypto::constant_time_eq(&tag(key, signed), got) {
        return Err(invalid_token());
    }
    peek(token)
}

/// The decoded bytes of a format-2 token (`None`: not base64url or not format 2).
pub(crate) fn decode(token: &str) -> Option<Vec<u8>> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()?;
    raw.starts_with(PREFIX).then_some(raw)
}

fn claims_bytes(raw: &[u8]) -> Option<&[u8]> {
    raw.get(PREFIX.len()..raw.len().checked_sub(TAG_LEN)?)
}

/// Every grant token of a request (`GrantTokens` and `GrantToken`).
pub(crate) fn request_tokens(input: &Value) -> Vec<&str> {
    let mut tokens: Vec<&str> = Vec::new();
    if let Some(list) = input.get("GrantTokens").and_then(Value::as_array) {
        tokens.extend(list.iter().filter_map(Value::as_str));
    }
    if let Some(t) = input.get("GrantToken").and_then(Value::as_str) {
        tokens.push(t);
    }
    tokens
}

const TOKEN_PREFIX: &str = "kmsd-grant-token-1:";

/// A new token for a grant.
pub(crate) fn make_token(key_id: &str, grant_id: &str) -> Result<String, ApiError> {
    let nonce = kmsd_crypto::random_bytes(16).map_err(|_| internal())?;
    let raw = format!("{TOKEN_PREFIX}{key_id}:{grant_id}:{}", hex(&nonce));
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes()))
}

/// (key id, grant id) named by a token of either format (a format-2 token's tag is checked
/// by `Kms::token_grants` before the operation runs).
pub(crate) fn parse_token(token: &str) -> Result<(String, String), ApiError> {
    if let Some(c) = crate::kms::model::grant_token::peek(token)? {
        let key_id = c.slot().ok_or_else(invalid_token)?;
        return Ok((key_id, c.grant_id));
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| invalid_token())?;
    let s = String::from_utf8(raw).map_err(|_| invalid_token())?;
    let rest = s.strip_prefix(TOKEN_PREFIX).ok_or_else(invalid_token)?;
    let parts: Vec<&str> = rest.split(':').collect();
    let [key_id, grant_id, _nonce] = parts.as_slice() else {
        return Err(invalid_token());
    };
    if !crate::kms::model::ids::is_slot(key_id) || !is_grant_id(grant_id) {
        return Err(invalid_token());
    }
    Ok(((*key_id).to_string(), (*grant_id).to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

    use super::*;

    fn record() -> GrantRecord {
        GrantRecord {
            grant_id: "a".repeat(64),
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            name: Some("n".into()),
            grantee_principal: "arn:aws:iam::111122223333:user/alice".into(),
            retiring_principal: None,
            operations: vec!["Encrypt".into(), "Decrypt".into()],
            constraints: Some(ConstraintsRecord {
                encryption_context_equals: None,
                encryption_context_subset: Some([("app".to_string(), "x".to_string())].into()),
            }),
            issuing_account: "111122223333".into(),
            creation_millis: 1_700_000_000_000,
        }
    }

    const ARN: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn tokens_verify_carry_the_grant_and_reject_tampering() {
        let root = kmsd_crypto::RootKey::from_bytes([3; 32]);
        let key = token_key(&root).unwrap();
        let rec = record();
        let t = issue(&key, &rec, ARN).unwrap().unwrap();
        assert!(t.len() <= MAX_TOKEN_LEN);
        let c = verify(&key, &t).unwrap().unwrap();
        assert_eq!(c.key_arn, ARN);
        assert_eq!(c.key_id(), Some(rec.key_id.as_str()));
        assert_eq!(c.grant_id, rec.grant_id);
        assert_eq!(c.grantee_principal, rec.grantee_principal);
        assert_eq!(c.operations, rec.operations);
        assert_eq!(c.constraints, rec.constraints);
        assert_eq!(c.issued_millis, rec.creation_millis);
        assert_eq!(c.to_policy(), rec.to_policy());
        // Each issue is a new token for the same grant.
        assert_ne!(issue(&key, &rec, ARN).unwrap().unwrap(), t);
        // Another root key (another deployment) does not accept it.
        let other = token_key(&kmsd_crypto::RootKey::from_bytes([4; 32])).unwrap();
        assert_eq!(
            verify(&other, &t).unwrap_err().code,
            "InvalidGrantTokenException"
        );
        // Any altered byte of the claims or the tag is refused.
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.as_bytes())
            .unwrap();
        for i in [PREFIX.len() + 3, raw.len() / 2, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[i] ^= 1;
            let bad = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bad);
            assert_eq!(
                verify(&key, &bad).unwrap_err().code,
                "InvalidGrantTokenException",
                "byte {i}"
            );
        }
        // Claims re-signed by someone without the key: widened operations, refused.
        let forged_claims = serde_json::to_vec(&Claims {
            operations: vec!["Encrypt".into(), "Decrypt".into(), "CreateGrant".into()],
            ..c.clone()
        })
        .unwrap();
        let mut forged = PREFIX.to_vec();
        forged.extend_from_slice(&forged_claims);
        forged.extend_from_slice(&[0u8; TAG_LEN]);
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&forged);
        assert!(peek(&forged).unwrap().is_some(), "well-formed");
        assert_eq!(
            verify(&key, &forged).unwrap_err().code,
            "InvalidGrantTokenException"
        );
        // Truncated: refused; format 1 and garbage: not format 2.
        let short = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(PREFIX);
        assert!(verify(&key, &short).is_err());
        let v1 = super::make_token(&rec.key_id, &rec.grant_id).unwrap();
        assert_eq!(verify(&key, &v1).unwrap(), None);
        assert_eq!(verify(&key, "not a token!").unwrap(), None);
    }

    mod on_a_node_without_the_row {
        #![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

        use std::collections::BTreeMap;
        use std::sync::Arc;

        use base64::Engine as _;
        use kmsd_policy::Caller;
        use serde_json::json;

        use crate::clock::ManualClock;
        use crate::kms::Kms;
        use crate::principal::{Principal, PrincipalDirectory, RequestMeta};
        use crate::store::MemStore;

        #[derive(Debug)]
        struct Everyone;
        impl PrincipalDirectory for Everyone {
            fn account_exists(&self, _account: &str) -> bool {
                true
            }
            fn principal_exists(&self, _arn: &str) -> bool {
                true
            }
        }

        fn principal(caller: Caller) -> Principal {
            Principal {
                caller,
                policies: Arc::default(),
                tags: Arc::new(BTreeMap::new()),
                token_issue_time: None,
                source_identity: None,
            }
        }

        fn meta() -> RequestMeta {
            RequestMeta {
                source_ip: None,
                secure_transport: true,
                time_millis: 0,
                region: "us-west-2".into(),
                user_agent: None,
                request_id: "r".into(),
            }
        }

        /// A store other nodes write to, as far as `Kms` can tell (the PostgreSQL store's
        /// `is_shared`): only there is a grant this node lacks possibly on its way.
        struct SharedMem(MemStore);

        impl crate::store::Store for SharedMem {
            fn load(
                &self,
                table: &'static str,
            ) -> Result<Vec<(String, Vec<u8>)>, crate::store::StoreError> {
                self.0.load(table)
            }
            fn commit(&self, m: &[crate::store::Mutation]) -> Result<(), crate::store::StoreError> {
                self.0.commit(m)
            }
            fn is_shared(&self) -> bool {
                true
            }
        }

        #[test]
        fn a_node_honours_a_verified_token_before_the_grant_row_arrives() {
            let store = Arc::new(SharedMem(MemStore::new()));
            let clock = Arc::new(ManualClock::new(1_700_000_000_000));
            let root = Arc::new(kmsd_crypto::RootKey::from_bytes([9; 32]));
            let open = || {
                Kms::open(
                    store.clone(),
                    clock.clone(),
                    root.clone(),
                    Arc::new(Everyone),
                )
                .unwrap()
            };
            let a = open();
            let m = meta();
            let admin = principal(Caller::Root {
                account: "111122223333".into(),
            });
            let alice_arn = "arn:aws:iam::111122223333:user/alice";
            let alice = principal(Caller::User {
                account: "111122223333".into(),
                arn: alice_arn.into(),
                name: "alice".into(),
                unique_id: "AIDAALICE".into(),
            });
            let key = a.call("CreateKey", &admin, &m, &json!({})).result.unwrap()["KeyMetadata"]
                ["Arn"]
                .as_str()
                .unwrap()
                .to_string();
            // Node B loads the store now: it has the key, and will not see the grant.
            let b = open();
            let g = a
                .call(
                    "CreateGrant",
                    &admin,
                    &m,
                    &json!({"KeyId": key, "GranteePrincipal": alice_arn,
                            "Operations": ["Encrypt"]}),
                )
                .result
                .unwrap();
            let token = g["GrantToken"].as_str().unwrap().to_string();
            let grant_id = g["GrantId"].as_str().unwrap().to_string();
            let encrypt = |kms: &Kms, tokens: Vec<String>| {
                kms.call(
                    "Encrypt",
                    &alice,
                    &m,
                    &json!({"KeyId": key, "Plaintext": "AA==", "GrantTokens": tokens}),
                )
                .result
            };
            let code = |r: Result<serde_json::Value, crate::error::ApiError>| r.unwrap_err().code;
            // Without the token, B does not know the grant.
            assert_eq!(code(encrypt(&b, vec![])), "AccessDeniedException");
            // With it, B honours the grant without reading the store.
            assert!(encrypt(&b, vec![token.clone()]).is_ok());
            // Only for what the grant allows.
            let d = b.call(
                "GenerateDataKey",
                &alice,
                &m,
                &json!({"KeyId": key, "KeySpec": "AES_256", "GrantTokens": [token]}),
            );
            assert_eq!(code(d.result), "AccessDeniedException");
            // A format-1 token names the grant only: B cannot honour it, A can.
            let (key_id, _) = super::super::parse_token(&token).unwrap();
            let v1 = super::super::make_token(&key_id, &grant_id).unwrap();
            assert_eq!(code(encrypt(&b, vec![v1.clone()])), "AccessDeniedException");
            assert!(encrypt(&a, vec![v1]).is_ok());
            assert!(encrypt(&a, vec![token.clone()]).is_ok());
            // A token altered to name Bob, or to widen the operations, is refused on both.
            let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.as_bytes())
                .unwrap();
            let at = raw.windows(5).position(|w| w == b"alice").unwrap();
            raw[at..at + 5].copy_from_slice(b"mallo");
            let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
            for kms in [&a, &b] {
                let e = encrypt(kms, vec![altered.clone()]).unwrap_err();
                assert_eq!(e.code, "InvalidGrantTokenException");
                assert_eq!(e.message.as_deref(), Some("Grant token is invalid."));
            }
            // A token stands in for the row only for a while after it was issued.
            clock.advance_secs(61);
            assert_eq!(
                code(encrypt(&b, vec![token.clone()])),
                "AccessDeniedException"
            );
            assert!(encrypt(&a, vec![token]).is_ok(), "A holds the row");
        }
    }
}
