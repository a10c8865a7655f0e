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
