//! The operations: one handler per `KmsOp` (each in the module of its family), `Kms::dispatch`,
//! the shared paging of the List* operations (`paging`) and the opening key operations share
//! (`gate`). Imports the layers below (model, persist, authz, decode), never `kms.rs`'s callers.

mod aliases;
mod asymmetric;
mod aws_managed;
mod crypto;
mod crypto_shared;
mod custom_key_stores;
mod data_key_pair;
pub(crate) mod declared;
mod gate;
mod grant_token;
pub(crate) mod grants;
mod import;
pub(crate) mod last_usage;
mod lifecycle;
mod mac;
mod maintain;
pub(crate) mod multi_region;
mod paging;
mod policy_ops;
mod rotation;
mod tags;

use serde_json::Value;

use crate::error::{ApiError, KmsError};
use crate::kms::authz::Req;
use crate::kms::decode::{check as shape, input as api};
use crate::kms::model::grant_token::{parse_token, request_tokens};
use crate::kms::model::key;
use crate::kms::model::last_use::Used;
use crate::kms::model::op::KmsOp;
use crate::kms::model::quota::QuotaConfig;
use crate::kms::{Kms, KmsCall};
use crate::outcome::AuditFacts;
use crate::principal::{Principal, RequestMeta};

impl Kms {
    /// One KMS API call by wire name (`X-Amz-Target` operation); a name outside the model
    /// is `UnknownOperationException`.
    pub fn call(
        &self,
        op: &str,
        principal: &Principal,
        meta: &RequestMeta,
        input: &Value,
    ) -> KmsCall {
        match KmsOp::from_name(op) {
            Some(op) => self.call_op(op, principal, meta, input),
            None => KmsCall::refused(
                ApiError::new(
                    KmsError::UnknownOperationException,
                    format!("Unknown operation {op}"),
                ),
                api::sanitize(input),
            ),
        }
    }

    /// One KMS API call. `input` = decoded JSON body.
    pub fn call_op(
        &self,
        op: KmsOp,
        principal: &Principal,
        meta: &RequestMeta,
        input: &Value,
    ) -> KmsCall {
        let deferred = self.quotas.defers(op).then_some(op);
        let admitted = self
            .quotas
            .admit(op, principal.caller.account(), &meta.region, self.now())
            .and_then(|()| shape::check_input(op, input))
            .and_then(|()| self.maintain_if_due())
            .and_then(|()| self.token_grants(input));
        let token_grants = match admitted {
            Ok(g) => g,
            Err(e) => return KmsCall::refused(e, api::sanitize(input)),
        };
        let fresh_req = || Req {
            p: principal,
            meta,
            audit: AuditFacts {
                request_parameters: api::sanitize(input),
                ..AuditFacts::default()
            },
            quota_pending: deferred,
            token_grants: &token_grants,
            used: Used::default(),
        };
        // A grant its verified token carries needs no catch-up, except for RetireGrant,
        // which deletes the row.
        let honoured: Vec<&str> = match op {
            KmsOp::RetireGrant => Vec::new(),
            _ => token_grants.iter().map(|c| c.grant_id.as_str()).collect(),
        };
        if self.store.is_shared() && self.names_unknown_grant(input, &honoured) {
            // A grant token from another node may name a grant not yet here: catch up
            // first (only then; a store failure leaves the request to decide without it).
            let _ = self.store.sync();
        }
        // On a shared store a commit may meet another node's change to the same record:
        // catch up and decide again, as if this request had come after that change.
        let mut attempts = 0;
        let (mut result, audit, used, unadmitted) = loop {
            crate::store::take_conflict();
            let mut req = fresh_req();
            let result = self.dispatch(op, &mut req, input);
            if crate::store::take_conflict() && attempts < 8 && self.store.sync().is_ok() {
                attempts += 1;
                continue;
            }
            break (result, req.audit, req.used, req.quota_pending);
        };
        // A request whose key was never found (no such key, bad identifier) still counts,
        // as in AWS, where throttling comes before everything else: against the symmetric
        // quota, and a throttled one answers ThrottlingException.
        if let Some(op) = unadmitted {
            let account = principal.caller.account();
            if let Err(e) = self.quotas.admit_key(
                op,
                key::KeySpec::SymmetricDefault,
                account,
                &meta.region,
                self.now(),
            ) {
                result = Err(e);
            }
        }
        let mut audit = audit;
        if let Ok(v) = &result {
            if op.spec().cryptographic {
                audit.event_id = last_usage::stamp(op, used, meta.time_millis, &meta.request_id);
            } else {
                audit.response_elements = Some(api::sanitize(v));
            }
        }
        KmsCall::new(result, audit)
    }

    /// Every operation's handler: exhaustive, so a new [`KmsOp`] must be given one.
    pub(crate) fn dispatch(
        &self,
        op: KmsOp,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        use KmsOp::*;
        match op {
            CreateKey => self.create_key(req, input),
            DescribeKey => self.describe_key(req, input),
            ListKeys => self.list_keys(req, input),
            EnableKey => self.set_enabled(req, input, true),
            DisableKey => self.set_enabled(req, input, false),
            ScheduleKeyDeletion => self.schedule_key_deletion(req, input),
            CancelKeyDeletion => self.cancel_key_deletion(req, input),
            UpdateKeyDescription => self.update_key_description(req, input),
            CreateAlias => self.create_alias(req, input),
            UpdateAlias => self.update_alias(req, input),
            DeleteAlias => self.delete_alias(req, input),
            ListAliases => self.list_aliases(req, input),
            GetKeyPolicy => self.get_key_policy(req, input),
            PutKeyPolicy => self.put_key_policy(req, input),
            ListKeyPolicies => self.list_key_policies(req, input),
            Encrypt => self.encrypt(req, input),
            Decrypt => self.decrypt(req, input),
            ReEncrypt => self.re_encrypt(req, input),
            GenerateDataKey => self.generate_data_key(req, input, true),
            GenerateDataKeyWithoutPlaintext => self.generate_data_key(req, input, false),
            GenerateDataKeyPair => self.generate_data_key_pair(req, input, true),
            GenerateDataKeyPairWithoutPlaintext => self.generate_data_key_pair(req, input, false),
            GenerateRandom => self.generate_random(req, input),
            GenerateMac => self.generate_mac(req, input),
            VerifyMac => self.verify_mac(req, input),
            CreateGrant => self.create_grant(req, input),
            ListGrants => self.list_grants(req, input),
            ListRetirableGrants => self.list_retirable_grants(req, input),
            RetireGrant => self.retire_grant(req, input),
            RevokeGrant => self.revoke_grant(req, input),
            TagResource => self.tag_resource(req, input),
            UntagResource => self.untag_resource(req, input),
            ListResourceTags => self.list_resource_tags(req, input),
            EnableKeyRotation => self.enable_key_rotation(req, input),
            DisableKeyRotation => self.disable_key_rotation(req, input),
            GetKeyRotationStatus => self.get_key_rotation_status(req, input),
            RotateKeyOnDemand => self.rotate_key_on_demand(req, input),
            ListKeyRotations => self.list_key_rotations(req, input),
            GetParametersForImport => self.get_parameters_for_import(req, input),
            ImportKeyMaterial => self.import_key_material(req, input),
            DeleteImportedKeyMaterial => self.delete_imported_key_material(req, input),
            DescribeCustomKeyStores => self.describe_custom_key_stores(req, input),
            CreateCustomKeyStore => self.create_custom_key_store(req, input),
            UpdateCustomKeyStore => self.update_custom_key_store(req, input),
            ConnectCustomKeyStore | DisconnectCustomKeyStore | DeleteCustomKeyStore => {
                self.custom_key_store_by_id(req, op, input)
            }
            GetPublicKey => self.get_public_key(req, input),
            Sign => self.sign(req, input),
            Verify => self.verify(req, input),
            DeriveSharedSecret => self.derive_shared_secret(req, input),
            Encapsulate => self.encapsulate(req, input),
            Decapsulate => self.decapsulate(req, input),
            GetKeyLastUsage => self.get_key_last_usage(req, input),
            ReplicateKey => self.replicate_key(req, input),
            UpdatePrimaryRegion => self.update_primary_region(req, input),
        }
    }

    /// Delete every key whose deletion window has ended (and run automatic rotations that
    /// fell due). Returns the number of keys deleted.
    pub fn run_due_deletions(&self) -> Result<usize, ApiError> {
        self.maintain_retrying()
    }

    /// Every key ARN on this server.
    pub fn list_key_arns(&self) -> Vec<String> {
        let st = self.state.read();
        let mut v: Vec<String> = st.keys.values().map(|k| k.arn.clone()).collect();
        v.sort();
        v
    }

    /// How many keys are in each key state, by the state's wire name (for metrics).
    pub fn key_state_counts(&self) -> Vec<(&'static str, u64)> {
        let st = self.state.read();
        let mut counts: Vec<(&'static str, u64)> = Vec::new();
        for k in st.keys.values() {
            let name = k.rec.state.as_str();
            match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => *c += 1,
                None => counts.push((name, 1)),
            }
        }
        counts
    }

    /// Whether the request carries a grant token (`GrantTokens`, `GrantToken`) naming a
    /// grant this node does not hold.
    pub(crate) fn names_unknown_grant(&self, input: &Value, honoured: &[&str]) -> bool {
        let tokens = request_tokens(input);
        if tokens.is_empty() {
            return false;
        }
        let st = self.state.read();
        tokens.into_iter().any(|t| match parse_token(t) {
            Ok((key_id, grant_id)) => {
                !honoured.contains(&grant_id.as_str())
                    && st
                        .keys
                        .get(&key_id)
                        .is_none_or(|k| !k.grants.contains_key(&grant_id))
            }
            Err(_) => false,
        })
    }

    /// Turn request quotas on ([`QuotaConfig::aws_defaults`], possibly scaled) or off
    /// ([`QuotaConfig::off`]). Buckets start full.
    pub fn set_quotas(&self, config: QuotaConfig) {
        self.quotas.set(config);
    }
}
