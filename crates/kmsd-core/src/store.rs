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
    #[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
    pub fn run_all(store: &dyn Store) {
        assert!(store.load("t1").unwrap().is_empty());
        store
            .commit(&[
                Mutation::Put {
                    table: "t1",
                    key: "b".into(),
                    value: b"2".to_vec(),
                },
                Mutation::Put {
                    table: "t1",
                    key: "a".into(),
                    value: b"1".to_vec(),
                },
                Mutation::Put {
                    table: "t2",
                    key: "a".into(),
                    value: b"x".to_vec(),
                },
            ])
            .unwrap();
        assert_eq!(
            store.load("t1").unwrap(),
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
        );
        store
            .commit(&[
                Mutation::Put {
                    table: "t1",
                    key: "a".into(),
                    value: b"3".to_vec(),
                },
                Mutation::Delete {
                    table: "t1",
                    key: "b".into(),
                },
                Mutation::Delete {
                    table: "t1",
                    key: "missing".into(),
                },
            ])
            .unwrap();
        assert_eq!(store.load("t1").unwrap(), vec![("a".into(), b"3".to_vec())]);
        assert_eq!(store.load("t2").unwrap(), vec![("a".into(), b"x".to_vec())]);
        store.commit(&[]).unwrap();
        let big = vec![7u8; 1 << 20];
        store
            .commit(&[Mutation::Put {
                table: "t3",
                key: "big".into(),
                value: big.clone(),
            }])
            .unwrap();
        assert_eq!(store.load("t3").unwrap(), vec![("big".into(), big)]);
        run_ordering_and_overwrites(store);
    }

    /// Mutations inside one commit apply in order; keys sort bytewise; empty
    /// values and non-ASCII keys round-trip; a fully deleted table loads empty.
    #[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
    fn run_ordering_and_overwrites(store: &dyn Store) {
        let put = |t: &'static str, k: &str, v: &[u8]| Mutation::Put {
            table: t,
            key: k.into(),
            value: v.to_vec(),
        };
        let del = |t: &'static str, k: &str| Mutation::Delete {
            table: t,
            key: k.into(),
        };
        store
            .commit(&[
                put("t4", "gone", b"1"),
                del("t4", "gone"),
                del("t4", "back"),
                put("t4", "back", b"2"),
                put("t4", "twice", b"first"),
                put("t4", "twice", b"second"),
                put("t4", "empty", b""),
                put("t4", "\u{e9}t\u{e9}", b"u"),
                put("t4", "B", b"upper"),
            ])
            .unwrap();
        assert_eq!(
            store.load("t4").unwrap(),
            vec![
                ("B".into(), b"upper".to_vec()),
                ("back".into(), b"2".to_vec()),
                ("empty".into(), Vec::new()),
                ("twice".into(), b"second".to_vec()),
                ("\u{e9}t\u{e9}".into(), b"u".to_vec()),
            ]
        );
        let keys: Vec<String> = (0..1000).map(|i| format!("k{:04}", 999 - i)).collect();
        let many: Vec<Mutation> = keys.iter().map(|k| put("t5", k, k.as_bytes())).collect();
        store.commit(&many).unwrap();
        let loaded = store.load("t5").unwrap();
        assert_eq!(loaded.len(), 1000);
        assert!(loaded.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(loaded.iter().all(|(k, v)| k.as_bytes() == v.as_slice()));
        let all_gone: Vec<Mutation> = keys.iter().map(|k| del("t5", k)).collect();
        store.commit(&all_gone).unwrap();
        assert!(store.load("t5").unwrap().is_empty());
        assert!(store.load("never-written").unwrap().is_empty());
    }

    /// Durable backends: what one instance commits, the next instance opened on
    /// the same location loads. `open` must return a new handle on the same data
    /// each time (the previous handle is dropped first). Panics on failure.
    #[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
    pub fn run_persistence(open: &dyn Fn() -> Box<dyn Store>) {
        {
            let s = open();
            assert!(s.load("p1").unwrap().is_empty());
            s.commit(&[
                Mutation::Put {
                    table: "p1",
                    key: "a".into(),
                    value: b"1".to_vec(),
                },
                Mutation::Put {
                    table: "p1",
                    key: "b".into(),
                    value: b"2".to_vec(),
                },
                Mutation::Put {
                    table: "p2",
                    key: "x".into(),
                    value: vec![0u8; 100_000],
                },
            ])
            .unwrap();
        }
        {
            let s = open();
            assert_eq!(
                s.load("p1").unwrap(),
                vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
            );
            assert_eq!(
                s.load("p2").unwrap(),
                vec![("x".into(), vec![0u8; 100_000])]
            );
            s.commit(&[
                Mutation::Delete {
                    table: "p1",
                    key: "a".into(),
                },
                Mutation::Put {
                    table: "p2",
                    key: "x".into(),
                    value: b"small".to_vec(),
                },
            ])
            .unwrap();
        }
        let s = open();
        assert_eq!(s.load("p1").unwrap(), vec![("b".into(), b"2".to_vec())]);
        assert_eq!(s.load("p2").unwrap(), vec![("x".into(), b"small".to_vec())]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mem_store_conforms() {
        super::conformance::run_all(&super::MemStore::new());
    }
}
