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
//! Layers, bottom first; each imports only those below it, and `kms.rs` (the `Kms` struct,
//! its `KmsCall` answer, the public re-exports) only the model (`tests/layering.rs` checks
//! both, and that no two modules import each other):
//! - `model`: the data and rules, no store, lock or request (ids, Regions, keys and the
//!   key-state table, grants, aliases, key policies, the operation table, quotas, last use,
//!   the state held in memory);
//! - `persist`: the store's tables and rows, loading, other nodes' changes (`feed`), root-key
//!   rotation of stored material; `Kms::open`, `Kms::commit`, `Kms::update_key`;
//! - `authz`: the request in flight (`Req`), resolving the key it names, the decision;
//! - `decode`: the request body's type check against the model's shapes and its typed
//!   reading (`Input`); imports only the model;
//! - `ops`: the operations, `Kms::call`/`dispatch`, the shared `paging` and `gate`, and what
//!   falls due with time (`maintain`).
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
use crate::principal::PrincipalDirectory;
use crate::store::Store;

pub use model::op::KmsOp;
pub use model::{key, op, quota, states};
pub use ops::declared::{DeclaredGrant, DeclaredKey, KeyAuthzView};
pub use persist::root_rotation;

use model::state::State;

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

/// The answer to one KMS call (the decoded response body), with its audit facts.
pub type KmsCall = crate::outcome::Outcome<Value>;

impl Kms {
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
