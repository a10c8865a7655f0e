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

mod aliases;
mod api;
mod asymmetric_ops;
mod authz;
mod crypto_ops;
mod custom_key_stores;
mod data_key_pair;
mod declared;
mod feed;
mod grant_token;
mod grants;
mod ids;
mod import;
pub mod key;
mod last_usage;
mod lifecycle;
mod mac_ops;
mod multi_region;
pub mod op;
mod persist;
mod policy_ops;
pub mod quota;
mod regions;
pub mod root_rotation;
mod rotation;
mod shape;
mod shapes;
mod tags;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use kmsd_crypto::RootKey;
use kmsd_policy::SourcedPolicy;
use parking_lot::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard};
use serde_json::Value;

use crate::audit::AuditFacts;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::error::KmsError;
use crate::principal::{Principal, PrincipalDirectory, RequestMeta};
use crate::store::{Mutation, Store};

pub use declared::{DeclaredGrant, DeclaredKey, KeyAuthzView};

use aliases::AliasRecord;
use key::KeyEntry;
pub use op::KmsOp;

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

/// (account, region, alias name).
pub(crate) type AliasKey = (String, String, String);

#[derive(Debug, Default)]
pub(crate) struct State {
    /// By slot (`ids::slot`): the key id, or `<key id>@<region>` for a multi-Region key.
    keys: HashMap<String, KeyEntry>,
    aliases: BTreeMap<AliasKey, AliasRecord>,
    /// Outstanding GetParametersForImport parameters, by key id.
    imports: HashMap<String, Vec<import::ImportParams>>,
    /// Grants this node retired or revoked: their self-verifying tokens are never honoured
    /// again here, whatever their age.
    removed_grants: std::collections::HashSet<String>,
}

/// The answer to one KMS call (the decoded response body), with its audit facts.
pub type KmsCall = crate::audit::Outcome<Value>;

/// One request in flight: who, the transport facts, and the audit record being filled.
pub(crate) struct Req<'a> {
    pub p: &'a Principal,
    pub meta: &'a RequestMeta,
    pub audit: AuditFacts,
    /// An admission waiting for the request's key (`quota::Limiter::defers`): taken by the
    /// first key authorization.
    pub quota_pending: Option<KmsOp>,
    /// Grants carried by verified format-2 grant tokens of the request that this node does
    /// not hold yet (`grant_token`): the decision counts them with the key's grants.
    pub token_grants: &'a [grant_token::Claims],
    /// The keys the request authorized (their last use, stamped if the call succeeds).
    pub used: last_usage::Used,
}

impl Req<'_> {
    pub(crate) fn account(&self) -> &str {
        self.p.caller.account()
    }
    pub(crate) fn region(&self) -> &str {
        &self.meta.region
    }
}

impl Kms {
    /// Load every key, material version, grant and alias from the store.
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        root_key: Arc<RootKey>,
        directory: Arc<dyn PrincipalDirectory>,
    ) -> Result<Kms, ApiError> {
        let state = persist::load(store.as_ref(), &root_key)?;
        let kms = Kms {
            store,
            clock,
            root_key,
            directory,
            state: RwLock::new(state),
            next_due: AtomicI64::new(i64::MAX),
            quotas: quota::Limiter::default(),
            default_policies: parking_lot::Mutex::new(HashMap::new()),
        };
        kms.recompute_due(&kms.state.read());
        let now = kms.now();
        for k in kms.state.read().keys.values() {
            k.last_use.start_if_unset(now);
        }
        Ok(kms)
    }

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
        KmsCall::new(result, audit)
    }

    /// Every operation's handler: exhaustive, so a new [`KmsOp`] must be given one.
    fn dispatch(&self, op: KmsOp, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
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

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Commit mutations. Nothing was written when this fails: a store that cannot be
    /// reached (the shared database down) answers `DependencyTimeoutException` (HTTP 503,
    /// which AWS's SDKs retry); any other store failure `KMSInternalException` (a conflict
    /// with another node's write is noted for [`Kms::call`] to retry).
    fn commit(&self, muts: &[Mutation]) -> Result<(), ApiError> {
        self.store.commit(muts).map_err(|e| match e {
            crate::store::StoreError::Unavailable(_) => ids::dependency_timeout(),
            crate::store::StoreError::Conflict => {
                crate::store::note_conflict();
                ids::internal()
            }
            crate::store::StoreError::Backend(_) => ids::internal(),
        })
    }

    /// Whether the request carries a grant token (`GrantTokens`, `GrantToken`) naming a
    /// grant this node does not hold.
    fn names_unknown_grant(&self, input: &Value, honoured: &[&str]) -> bool {
        let tokens = grant_token::request_tokens(input);
        if tokens.is_empty() {
            return false;
        }
        let st = self.state.read();
        tokens.into_iter().any(|t| match grants::parse_token(t) {
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

    /// Apply other nodes' changes (a shared store's change feed): see `feed`.
    pub fn apply_feed(&self, changes: &[crate::store::Changed]) -> Result<(), String> {
        self.apply_changes(changes)
    }

    /// Change key `id`'s record durably without stopping readers: the changed copy is
    /// committed while the caller holds the upgradable read lock (other mutations wait;
    /// Encrypt, Decrypt and every other reader go on during the store's fsync), then
    /// installed under the write lock, which is returned. `change` answers whether it
    /// changed anything (nothing is committed when it did not); a failed commit changes
    /// nothing. The caller authorizes and checks the key's state under the same `st`, so
    /// nothing can change in between.
    fn update_key<'a>(
        &self,
        st: RwLockUpgradableReadGuard<'a, State>,
        id: &str,
        change: impl FnOnce(&mut key::KeyRecord) -> Result<bool, ApiError>,
    ) -> Result<RwLockWriteGuard<'a, State>, ApiError> {
        let entry = st.keys.get(id).ok_or_else(ids::internal)?;
        let mut rec = entry.rec.clone();
        if change(&mut rec)? {
            // The last use rides along with the metadata commit (see `last_usage`).
            rec.usage = entry.last_use.snapshot();
            self.commit(&[persist::put_key(&rec)?])?;
        }
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.get_mut(id).ok_or_else(ids::internal)?.rec = rec;
        Ok(st)
    }

    fn maintain_if_due(&self) -> Result<(), ApiError> {
        if self.now() >= self.next_due.load(Ordering::Acquire) {
            self.maintain_retrying()?;
        }
        Ok(())
    }

    /// [`Kms::maintain`]; on a shared store another node may have done the same work first
    /// (its commit conflicts with ours): catch up and look again.
    fn maintain_retrying(&self) -> Result<usize, ApiError> {
        let mut attempts = 0;
        loop {
            crate::store::take_conflict();
            let r = self.maintain();
            if r.is_err()
                && crate::store::take_conflict()
                && attempts < 4
                && self.store.sync().is_ok()
            {
                attempts += 1;
                continue;
            }
            return r;
        }
    }

    /// Deletions and automatic rotations whose time has come.
    fn maintain(&self) -> Result<usize, ApiError> {
        let now = self.now();
        let mut st = self.state.write();
        let due_delete: Vec<String> = st
            .keys
            .values()
            .filter(|k| {
                k.rec.state == key::KeyState::PendingDeletion
                    && k.rec.deletion_millis.is_some_and(|d| d <= now)
            })
            .map(|k| k.rec.slot())
            .collect();
        let mut deleted = 0;
        for id in due_delete {
            self.delete_key_now(&mut st, &id)?;
            deleted += 1;
        }
        let due_rotate: Vec<String> = st
            .keys
            .values()
            .filter(|k| {
                // A multi-Region replica rotates with its primary.
                k.rec.rotation_enabled
                    && !k.rec.is_replica()
                    && k.rec.state == key::KeyState::Enabled
                    && k.rec.next_rotation_millis.is_some_and(|d| d <= now)
            })
            .map(|k| k.rec.slot())
            .collect();
        for id in due_rotate {
            self.rotate_now(&mut st, &id, key::MaterialOrigin::Automatic)?;
        }
        self.expire_imported(&mut st, now)?;
        self.recompute_due(&st);
        Ok(deleted)
    }

    fn recompute_due(&self, st: &State) {
        let mut due = i64::MAX;
        for k in st.keys.values() {
            if k.rec.state == key::KeyState::PendingDeletion {
                if let Some(d) = k.rec.deletion_millis {
                    due = due.min(d);
                }
            } else if k.rec.rotation_enabled
                && !k.rec.is_replica()
                && k.rec.state == key::KeyState::Enabled
            {
                if let Some(d) = k.rec.next_rotation_millis {
                    due = due.min(d);
                }
            }
        }
        if let Some(d) = import::next_expiry(st) {
            due = due.min(d);
        }
        self.next_due.store(due, Ordering::Release);
    }

    /// Remove a key with its material, grants and aliases (one commit).
    fn delete_key_now(&self, st: &mut State, id: &str) -> Result<(), ApiError> {
        let Some(k) = st.keys.get(id) else {
            return Ok(());
        };
        let mut muts = vec![persist::delete_key(id)];
        for m in &k.rec.materials {
            muts.push(persist::delete_material(id, m.version));
        }
        for g in k.grants.keys() {
            muts.push(persist::delete_grant(id, g));
        }
        muts.extend(import::delete_all_params(st, id));
        let alias_keys: Vec<AliasKey> = st
            .aliases
            .iter()
            .filter(|(_, a)| a.target_key_id == id)
            .map(|(k, _)| k.clone())
            .collect();
        for ak in &alias_keys {
            muts.push(persist::delete_alias(ak));
        }
        // The last replica of a primary key waiting in PendingReplicaDeletion: the primary's
        // waiting period begins.
        let mut primary_due: Option<key::KeyRecord> = None;
        if k.rec.is_replica() {
            let others = multi_region::related(st, &k.rec);
            let primary = others
                .iter()
                .find(|o| !o.rec.is_replica())
                .filter(|p| p.rec.state == key::KeyState::PendingReplicaDeletion);
            let last = others.iter().filter(|o| o.rec.is_replica()).count() == 1;
            if let (Some(p), true) = (primary, last) {
                let mut rec = p.rec.clone();
                let days = i64::from(rec.pending_window_days.unwrap_or(30));
                rec.state = key::KeyState::PendingDeletion;
                rec.deletion_millis = Some(self.now() + days * 86_400_000);
                rec.usage = p.last_use.snapshot();
                muts.push(persist::put_key(&rec)?);
                primary_due = Some(rec);
            }
        }
        self.commit(&muts)?;
        if let Some(rec) = primary_due {
            if let Some(p) = st.keys.get_mut(&rec.slot()) {
                p.rec = rec;
            }
        }
        st.keys.remove(id);
        st.imports.remove(id);
        for ak in alias_keys {
            st.aliases.remove(&ak);
        }
        Ok(())
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
