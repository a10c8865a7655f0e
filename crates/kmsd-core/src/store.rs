//! The storage trait: a durable, transactional map of tables of records.
//!
//! The domain keeps its state in memory and writes every change through
//! [`Store::commit`] before acknowledging it. At start it reads everything back
//! with [`Store::load`]. The trait is deliberately narrow so that other backends
//! (PostgreSQL, ...) can follow; [`conformance`] is the suite every backend runs.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Errors from a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, corruption, full disk, ...).
    #[error("store failure: {0}")]
    Backend(String),
}

/// One change in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Insert or replace a record.
    Put {
        table: &'static str,
        key: String,
        value: Vec<u8>,
    },
    /// Delete a record (no error if absent).
    Delete { table: &'static str, key: String },
}

/// A durable record store.
pub trait Store: Send + Sync {
    /// Every record of one table, in key order.
    fn load(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Apply all mutations atomically; when this returns `Ok` they are durable.
    fn commit(&self, mutations: &[Mutation]) -> Result<(), StoreError>;
}

/// An in-memory store (offline explain, tests).
#[derive(Debug, Default)]
pub struct MemStore {
    tables: Mutex<BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemStore {
    fn load(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let tables = self.tables.lock();
        Ok(tables
            .get(table)
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn commit(&self, mutations: &[Mutation]) -> Result<(), StoreError> {
        let mut tables = self.tables.lock();
        for m in mutations {
            match m {
                Mutation::Put { table, key, value } => {
                    tables
                        .entry(table)
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                Mutation::Delete { table, key } => {
                    if let Some(t) = tables.get_mut(table) {
                        t.remove(key);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The conformance suite every [`Store`] implementation must pass.
pub mod conformance {
    use super::{Mutation, Store};

    /// Run every check against a fresh, empty store. Panics (test use only) on failure.
    #[allow(clippy::unwrap_used)]
    pub fn run_all(store: &dyn Store) {
        assert!(store.load("t1").unwrap().is_empty());
        store
            .commit(&[
                Mutation::Put { table: "t1", key: "b".into(), value: b"2".to_vec() },
                Mutation::Put { table: "t1", key: "a".into(), value: b"1".to_vec() },
                Mutation::Put { table: "t2", key: "a".into(), value: b"x".to_vec() },
            ])
            .unwrap();
        assert_eq!(
            store.load("t1").unwrap(),
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
        );
        store
            .commit(&[
                Mutation::Put { table: "t1", key: "a".into(), value: b"3".to_vec() },
                Mutation::Delete { table: "t1", key: "b".into() },
                Mutation::Delete { table: "t1", key: "missing".into() },
            ])
            .unwrap();
        assert_eq!(store.load("t1").unwrap(), vec![("a".into(), b"3".to_vec())]);
        assert_eq!(store.load("t2").unwrap(), vec![("a".into(), b"x".to_vec())]);
        store.commit(&[]).unwrap();
        let big = vec![7u8; 1 << 20];
        store
            .commit(&[Mutation::Put { table: "t3", key: "big".into(), value: big.clone() }])
            .unwrap();
        assert_eq!(store.load("t3").unwrap(), vec![("big".into(), big)]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mem_store_conforms() {
        super::conformance::run_all(&super::MemStore::new());
    }
}
