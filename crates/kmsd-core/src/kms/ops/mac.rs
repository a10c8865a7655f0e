//! The HMAC operations (§4.8): GenerateMac and VerifyMac on HMAC keys.
//!
//! Order of checks, as for the other cryptographic operations: input validation → key
//! resolution → authorization (`kms:GenerateMac` / `kms:VerifyMac`, with the condition key
//! `kms:MacAlgorithm`; key policy, IAM policies and grants) → key state → key usage
//! (`InvalidKeyUsageException` on a symmetric encryption key) → the algorithm must be the key
//! spec's (`InvalidKeyUsageException`) → DryRun → the MAC. VerifyMac compares in constant time
//! and answers a wrong MAC with `KMSInvalidMacException`, never `MacValid: false`.
//!
//! These run under the state *read* lock with the material already unwrapped. The message
//! and the MAC are never copied into the audit record (`api::sanitize`).

use kmsd_crypto::MacAlgorithm;
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{key_context, Req};
use crate::kms::decode::input::{b64, Input};
use crate::kms::model::ids::internal;
use crate::kms::model::op::KmsOp;
use crate::kms::model::states::check_state;
use crate::kms::ops::crypto_shared::dry_run;
use crate::kms::ops::grants::grant_tokens;
use crate::kms::Kms;

/// The `MacAlgorithmSpec` enum of the model.
const MAC_ALGORITHMS: &[&str] = &[
    "HMAC_SHA_224",
    "HMAC_SHA_256",
    "HMAC_SHA_384",
    "HMAC_SHA_512",
];

/// Longest `Message` (bytes).
const MAX_MESSAGE: usize = 4096;
/// Longest `Mac` (bytes), as the model allows.
const MAX_MAC: usize = 6144;

impl Kms {
    pub(crate) fn generate_mac(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        self.mac_op(req, input, false)
    }

    pub(crate) fn verify_mac(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        self.mac_op(req, input, true)
    }

    /// GenerateMac (`verify` false) or VerifyMac (`verify` true).
    fn mac_op(&self, req: &mut Req<'_>, input: &Value, verify: bool) -> Result<Value, ApiError> {
        let op = if verify {
            KmsOp::VerifyMac
        } else {
            KmsOp::GenerateMac
        };
        let mut i = Input::new(input)?;
        let message = i.blob_opt("Message", 1, MAX_MESSAGE)?;
        if message.is_none() {
            i.null("Message");
        }
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let alg = i.enum_opt("MacAlgorithm", MAC_ALGORITHMS)?;
        if alg.is_none() {
            i.null("MacAlgorithm");
        }
        let mac = if verify {
            let m = i.blob_opt("Mac", 1, MAX_MAC)?;
            if m.is_none() {
                i.null("Mac");
            }
            m
        } else {
            None
        };
        grant_tokens(&mut i)?;
        let dry = i.bool_opt("DryRun")?.unwrap_or(false);
        i.finish()?;
        let (Some(message), Some(alg_name)) = (message, alg) else {
            return Err(internal());
        };
        let alg = MacAlgorithm::from_name(alg_name).ok_or_else(internal)?;
        let action = op.spec().action();
        let st = self.state.read();
        let r = self.resolve(&st, req, key_id, op)?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
        req.audit.key_arn = Some(key.arn.clone());
        let mut ctx = key_context(req, key, r.alias.as_deref());
        ctx.set("kms:MacAlgorithm", alg_name);
        self.authorize(req, key, action, &ctx, None)?;
        check_state(op, key.rec.state, &key.arn)?;
        key.require_usage(op)?;
        let spec = key.rec.key_spec;
        if spec.mac_algorithm() != Some(alg) {
            return Err(ApiError::new(
                KmsError::InvalidKeyUsageException,
                format!(
                    "Algorithm {alg_name} is incompatible with key spec {}.",
                    spec.as_str()
                ),
            ));
        }
        let mac_key = key.mac.as_ref().ok_or_else(internal)?;
        match mac {
            Some(given) => {
                // A wrong MAC fails even under DryRun: the request would not have succeeded.
                if !mac_key.verify(&message, &given) {
                    return Err(ApiError::bare(KmsError::KMSInvalidMacException));
                }
                if dry {
                    return Err(dry_run());
                }
                Ok(json!({
                    "KeyId": key.arn,
                    "MacValid": true,
                    "MacAlgorithm": alg_name,
                }))
            }
            None => {
                if dry {
                    return Err(dry_run());
                }
                Ok(json!({
                    "Mac": b64(&mac_key.sign(&message)),
                    "MacAlgorithm": alg_name,
                    "KeyId": key.arn,
                }))
            }
        }
    }
}
