//! `RedbStore` passes the shared `Store` conformance suite, including reopen persistence.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use kmsd_core::store::{conformance, Store};
use kmsd_store::RedbStore;

#[test]
fn redb_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap();
    conformance::run_all(&store);
}

#[test]
fn redb_store_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    conformance::run_persistence(&|| Box::new(RedbStore::open(&path).unwrap()) as Box<dyn Store>);
}
