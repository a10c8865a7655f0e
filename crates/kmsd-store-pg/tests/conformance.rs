//! The store conformance suites against a throwaway PostgreSQL cluster
//! (`scripts/pg-throwaway.sh`: initdb in a temporary directory, a free port, never the
//! system cluster). Skipped, saying so, only when the PostgreSQL binaries are absent.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

mod common;

use common::Cluster;
use kmsd_core::store::{conformance, shared_conformance, Store};
use kmsd_store_pg::PgStore;

#[test]
fn postgres_store_conforms() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.database("conf_all");
    conformance::run_all(&PgStore::open(&url).unwrap());

    let url = cluster.database("conf_persist");
    conformance::run_persistence(&|| Box::new(PgStore::open(&url).unwrap()) as Box<dyn Store>);

    let url = cluster.database("conf_shared");
    shared_conformance::run_all(&|| Box::new(PgStore::open(&url).unwrap()) as Box<dyn Store>);

    // Several nodes migrating one empty database at once: all open, one schema.
    let url = cluster.database("conf_migrate");
    let opened = std::thread::scope(|s| {
        let joins: Vec<_> = (0..4)
            .map(|_| s.spawn(|| PgStore::open(&url).map(|_| ())))
            .collect();
        joins
            .into_iter()
            .map(|j| j.join().unwrap())
            .collect::<Vec<_>>()
    });
    for o in opened {
        o.unwrap();
    }
    let versions = PgStore::admin_query_i64(&url, "SELECT count(*) FROM kmsd_schema").unwrap();
    assert_eq!(versions, 1);

    // The database unreachable: commits fail as unavailable, then work again.
    let store = PgStore::open(&url).unwrap();
    cluster.stop();
    let put = kmsd_core::store::Mutation::Put {
        table: "u",
        key: "k".into(),
        value: b"v".to_vec(),
    };
    let e = store.commit(std::slice::from_ref(&put)).unwrap_err();
    assert!(
        matches!(e, kmsd_core::store::StoreError::Unavailable(_)),
        "{e}"
    );
    cluster.restart();
    store.commit(&[put]).unwrap();
    assert_eq!(store.load("u").unwrap(), vec![("k".into(), b"v".to_vec())]);
}

/// Tables loaded one after another come from one snapshot, also after this process has
/// committed (which drops the snapshot read at open): a node that loads key material and
/// then keys must never see a key committed, with its material, between the two loads.
#[test]
fn tables_loaded_in_turn_are_one_snapshot() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.database("snap_loads");
    let put = |table: &'static str, key: &str| kmsd_core::store::Mutation::Put {
        table,
        key: key.into(),
        value: b"v".to_vec(),
    };
    let other = PgStore::open(&url).unwrap();
    let node = PgStore::open(&url).unwrap();
    // This node writes first (as a bootstrap would), so its open-time snapshot is gone.
    node.commit(&[put("iam", "user")]).unwrap();
    let material = node.load("material").unwrap();
    assert!(material.is_empty());
    // Another node commits a key and its material together.
    other
        .commit(&[put("material", "k#1"), put("keys", "k")])
        .unwrap();
    // The keys this node loads next are as of the same snapshot as its material.
    assert!(
        node.load("keys").unwrap().is_empty(),
        "keys read after material must not show a key whose material was not read"
    );
    // A later load of a table already served reads a fresh snapshot: both are there.
    assert_eq!(node.load("material").unwrap().len(), 1);
    assert_eq!(node.load("keys").unwrap().len(), 1);
}
