//! What `kmsd serve` does differently on a store shared by several nodes (`--store
//! postgres://...`): open the store, refuse a root key that does not open what the
//! database holds, apply the bootstrap world once across nodes, and name the node in its
//! audit lines (`kmsdNodeId`).

use std::sync::Arc;

use kmsd_core::bootstrap::World;
use kmsd_core::service::Service;
use kmsd_core::store::{Mutation, Store, StoreError};
use kmsd_crypto::{KeyMaterial, RootKey};

/// Table and record of the root-key check: a random value wrapped under the root key by
/// the first node; every later node must unwrap it.
const CHECK_TABLE: &str = "kmsd_root_key_check";
const CHECK_KEY: &str = "check";
const CHECK_AAD: &[u8] = b"kmsd root key check v1";

/// The message of a server whose root key does not open the stored material (the embedded
/// store or the database several nodes share).
pub const WRONG_ROOT_KEY: &str =
    "the root key does not open the key material in the store: it does not unwrap (every \
     node must be given the same root key); nothing was changed";

/// Open the store named by `--store`.
pub fn open_store(url: &str) -> Result<Arc<dyn Store>, (i32, String)> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err((
            2,
            "--store must be a postgres:// URL (omit it for the embedded store)".into(),
        ));
    }
    let store =
        kmsd_store_pg::PgStore::open(url).map_err(|e| (1, format!("cannot open store: {e}")))?;
    Ok(Arc::new(store))
}

/// Check (or, on an empty database, record) that this node's root key is the cluster's.
/// Exit 2 without writing anything when it is not.
pub fn check_root_key(store: &dyn Store, root: &RootKey) -> Result<(), (i32, String)> {
    for _ in 0..5 {
        let rows = store
            .load(CHECK_TABLE)
            .map_err(|e| (1, format!("cannot read store: {e}")))?;
        if let Some((_, wrapped)) = rows.iter().find(|(k, _)| k == CHECK_KEY) {
            return match root.unwrap(wrapped, CHECK_AAD) {
                Ok(_) => Ok(()),
                Err(_) => Err((2, WRONG_ROOT_KEY.to_string())),
            };
        }
        let value = KeyMaterial::generate()
            .and_then(|m| root.wrap(&m, CHECK_AAD))
            .map_err(|e| (1, format!("root key check: {e}")))?;
        match store.commit(&[Mutation::Put {
            table: CHECK_TABLE,
            key: CHECK_KEY.into(),
            value,
        }]) {
            Ok(()) => return Ok(()),
            // Another node recorded its check first: read it and compare.
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err((1, format!("cannot write store: {e}"))),
        }
    }
    Err((1, "root key check kept conflicting".into()))
}

/// Apply the bootstrap world; when another node applies it at the same time, catch up and
/// apply again (it is idempotent: the second pass finds everything there).
pub fn apply_world_once(service: &Service, world: &World) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..40u64 {
        match world.apply(&service.iam, &service.kms) {
            Ok(()) => return Ok(()),
            Err(e) => {
                last = e.to_string();
                // Another node is applying the same world: let it get ahead, catch up with
                // what it wrote, and apply again (the world is idempotent). The pause grows
                // and differs per attempt so that nodes started together fall out of step.
                let pause = 10 + (attempt * 7 + u64::from(std::process::id() % 13)) % 90;
                std::thread::sleep(std::time::Duration::from_millis(pause));
                service.sync().map_err(|e| e.to_string())?;
            }
        }
    }
    Err(last)
}

/// `,"kmsdNodeId":"NAME"}`: what replaces the closing brace of each audit line.
pub fn audit_suffix(node_id: &str) -> Vec<u8> {
    let mut out = b",\"kmsdNodeId\":".to_vec();
    kmsd_core::audit::push_json_str(&mut out, node_id);
    out.push(b'}');
    out
}

/// The default node id: host name and listening port.
pub fn default_node_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{port}")
}
