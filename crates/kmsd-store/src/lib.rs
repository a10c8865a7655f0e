//! The durable [`kmsd_core::store::Store`] implementation on redb, and the only
//! crate that links redb.
//!
//! - [`RedbStore`]: one redb file `kmsd.redb` in the data directory; every
//!   commit is fsynced before it returns; concurrent commits share one fsync
//!   (group commit); file growth is fsynced before redb records it
//!   (`backend`, guarding against a redb 2.x power-loss bug).
//! - `snapshot`: [`RedbStore::export`] (every record as of one read transaction, beside a
//!   running writer) and [`RedbStore::import`] (into an empty store), for backup and restore.
//! - [`schema`]: the on-disk layout (table naming, encodings, schema version);
//!   described for operators in `docs/store-format.md`.

mod backend;
mod group;
mod redb_store;
pub mod schema;
mod snapshot;

pub use kmsd_core::store::StoreError;
pub use redb_store::{RedbStore, StoreStats};
