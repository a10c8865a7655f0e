//! KMS: keys, aliases, key policies, grants, tags, rotation and the cryptographic operations,
//! each authorized through the decision engine.
//!
//! All state lives in memory behind one `parking_lot::RwLock` (keys with their material
//! unwrapped, compiled key policies, grants, aliases, tags), so a hot `Encrypt` takes a read
//! lock and never touches the store. Every mutation is written with one atomic
//! [`Store::commit`] while the write lock is held, *before* memory changes; if the commit
//! fails the operation fails with `KMSInternalException` and nothing changes.
//! [`Kms::open`] reloads everything from the store.
//!
//! Submodules: `ids` (identifier forms), `api` (request decoding, validation wording),
//! `key` (records, state table, metadata), `persist` (tables, load), `authz` (request
//! contexts and decisions), `lifecycle`, `aliases`, `policy_ops`, `crypto_ops`, `mac_ops`,
//! `asymmetric_ops`, `data_key_pair`, `last_usage`, `grants`, `tags`, `rotation`, `import`,
//! `custom_key_stores`, `multi_region` (the operations), `regions` (the Regions a key may be
//! replicated to), `declared` (bootstrap keys, explain, access views).
//!
//! `State::keys` is indexed by slot (`ids::slot`): the key id, or `<key id>@<region>` for a
//! multi-Region key, whose related keys in other Regions share its id.

mod authz;
mod decode;
mod model;
mod ops;
mod persist;

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use kmsd_crypto::RootKey;
use kmsd_policy::SourcedPolicy;
use parking_lot::RwLock;
use serde_json::Value;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::error::KmsError;
use crate::principal::{Principal, PrincipalDirectory, RequestMeta};
use crate::store::Store;

pub use model::op::KmsOp;
pub use model::{key, op, quota, states};
pub use ops::declared::{DeclaredGrant, DeclaredKey, KeyAuthzView};
pub use persist::root_rotation;

// The names `call` and `call_op` use.
use authz::Req;
use decode::check as shape;
use decode::input as api;
use model::state::State;
use ops::last_usage;

/// The KMS service state and operations.
pub struct Kms {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    root_key: Arc<RootKey>,
    directory: Arc<dyn PrincipalDirectory>,
    state: RwLock<State>,
    /// Earliest instant (epoch ms) at which a deletion or automatic rotation falls due.
    next_due: AtomicI64,
    /// Request quotas (off unless [`Kms::set_quotas`] turns them on).
    quotas: quota::Limiter,
    /// Each account's default key policy, compiled once and shared by the keys created
    /// with it (most keys: one compiled copy per key would cost kilobytes per key).
    default_policies: parking_lot::Mutex<HashMap<String, SourcedPolicy>>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.read();
        f.debug_struct("Kms")
            .field("keys", &st.keys.len())
            .field("aliases", &st.aliases.len())
            .finish_non_exhaustive()
    }
}

/// The answer to one KMS call, with what the audit log records about it.
#[derive(Debug, Clone)]
pub struct KmsCall {
    pub result: Result<Value, ApiError>,
    pub audit: KmsAudit,
}

/// What a KMS call contributes to its audit event. Never holds plaintext or key material.
#[derive(Debug, Clone, Default)]
pub struct KmsAudit {
    /// Resource of the request when known (key ARN).
    pub key_arn: Option<String>,
    /// `None` when no authorization ran (e.g. a validation error came first).
    pub decision: Option<kmsd_policy::Decision>,
    /// Statements/grants behind the decision.
    pub deciding: Vec<kmsd_policy::Because>,
    /// The flowchart node the decision's path ended at, when known (metrics).
    pub end_node: Option<kmsd_policy::Node>,
    /// The input without `Plaintext` or any secret (camelCase, CloudTrail style).
    pub request_parameters: Value,
    /// Non-secret outputs; `None` for cryptographic operations and failures.
    pub response_elements: Option<Value>,
    /// The CloudTrail event id, when the call fixed it (a successful cryptographic call
    /// records it as the key's last use).
    pub event_id: Option<String>,
}

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
            None => KmsCall {
                result: Err(ApiError::new(
                    KmsError::UnknownOperationException,
                    format!("Unknown operation {op}"),
                )),
                audit: KmsAudit {
                    request_parameters: api::sanitize(input),
                    ..KmsAudit::default()
                },
            },
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
            Err(e) => {
                return KmsCall {
                    result: Err(e),
                    audit: KmsAudit {
                        request_parameters: api::sanitize(input),
                        ..KmsAudit::default()
                    },
                }
            }
        };
        let fresh_req = || Req {
            p: principal,
            meta,
            audit: KmsAudit {
                request_parameters: api::sanitize(input),
                ..KmsAudit::default()
            },
            quota_pending: deferred,
            token_grants: &token_grants,
            used: last_usage::Used::default(),
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
        KmsCall { result, audit }
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kms_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Kms>();
        assert_send_sync::<super::KmsCall>();
    }
}
