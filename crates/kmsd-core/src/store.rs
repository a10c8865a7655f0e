//! The storage trait: a durable, transactional map of tables of records.
//!
//! The domain keeps its state in memory and writes every change through
//! [`Store::commit`] before acknowledging it. At start it reads everything back
//! with [`Store::load`]. The trait is deliberately narrow; [`conformance`] is the suite
//! every backend runs.
//!
//! A store shared by several writers (several `kmsd serve` processes on one PostgreSQL)
//! adds two things: a commit is *conditional* — it fails with [`StoreError::Conflict`] when
//! a record it writes was changed by another writer after this process last saw it (the
//! caller catches up with [`Store::sync`] and runs its operation again) — and other
//! writers' changes reach this process's memory through the [`ChangeSink`] given to
//! [`Store::set_sink`]. Single-writer stores (redb, memory) never conflict and have no feed.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Errors from a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, corruption, full disk, ...).
    #[error("store failure: {0}")]
    Backend(String),
    /// The store cannot be reached (yet): nothing was written.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A record the commit writes was changed by another writer since this process last
    /// saw it: nothing was written; catch up ([`Store::sync`]) and decide again.
    #[error("store conflict: a record was changed by another writer")]
    Conflict,
}

/// One record as another writer left it (`value: None` = deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub table: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// Receives other writers' changes, in commit order, to apply them to memory.
pub trait ChangeSink: Send + Sync {
    /// Apply a batch of changed records (each record at most once, its latest value).
    /// An error makes the store deliver the same records again later.
    fn apply(&self, changes: &[Changed]) -> Result<(), String>;
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

    /// Apply all mutations atomically; when this returns `Ok` they are durable. A shared
    /// store refuses ([`StoreError::Conflict`], nothing written) when another writer changed
    /// one of the records since this process loaded or was told of it.
    fn commit(&self, mutations: &[Mutation]) -> Result<(), StoreError>;

    /// Where other writers' changes go (a shared store keeps a weak reference). Default:
    /// a single-writer store has nothing to deliver.
    fn set_sink(&self, _sink: std::sync::Weak<dyn ChangeSink>) {}

    /// Deliver every change other writers committed up to now to the sink before returning.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// True when other processes may write to the same store.
    fn is_shared(&self) -> bool {
        false
    }
}

thread_local! {
    static CONFLICTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Remember, for the operation running on this thread, that a commit met a conflict
/// (the operation's error says only "internal error"; its runner retries).
pub(crate) fn note_conflict() {
    CONFLICTED.with(|c| c.set(true));
}

/// Whether a commit on this thread met a conflict since the last call (and forget it).
pub(crate) fn take_conflict() -> bool {
    CONFLICTED.with(|c| c.replace(false))
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
    #[expect(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
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
    #[expect(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
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
    #[expect(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
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

/// The conformance suite of stores shared by several writers: two handles on the same
/// data play two processes.
pub mod shared_conformance {
    use std::sync::{Arc, Weak};

    use parking_lot::Mutex;

    use super::{ChangeSink, Changed, Mutation, Store, StoreError};

    /// A sink that records what it is given.
    #[derive(Default)]
    pub struct Recorder(pub Mutex<Vec<Changed>>);

    impl ChangeSink for Recorder {
        fn apply(&self, changes: &[Changed]) -> Result<(), String> {
            self.0.lock().extend_from_slice(changes);
            Ok(())
        }
    }

    fn put(t: &'static str, k: &str, v: &[u8]) -> Mutation {
        Mutation::Put {
            table: t,
            key: k.into(),
            value: v.to_vec(),
        }
    }

    fn attach(s: &dyn Store) -> Arc<Recorder> {
        let r = Arc::new(Recorder::default());
        let sink: Arc<dyn ChangeSink> = r.clone();
        // The store holds a weak reference to the recorder's allocation.
        s.set_sink(Arc::downgrade(&sink) as Weak<dyn ChangeSink>);
        r
    }

    fn detach(s: &dyn Store) {
        s.set_sink(Weak::<Recorder>::new() as Weak<dyn ChangeSink>);
    }

    fn reattach(s: &dyn Store, r: &Arc<Recorder>) {
        let sink: Arc<dyn ChangeSink> = r.clone();
        s.set_sink(Arc::downgrade(&sink));
    }

    /// Conditional commits and the change feed. `open` returns a new handle on the same,
    /// initially empty data each time. Panics (test use only) on failure.
    #[expect(
        clippy::unwrap_used,
        clippy::panic,
        reason = "test code: a failed expectation panics"
    )]
    pub fn run_all(open: &dyn Fn() -> Box<dyn Store>) {
        let a = open();
        let b = open();
        assert!(a.is_shared() && b.is_shared());
        let ra = attach(a.as_ref());
        assert!(a.load("s1").unwrap().is_empty());
        assert!(b.load("s1").unwrap().is_empty());

        // Both believe "x" absent: the first commit wins, the second conflicts and writes
        // nothing (not even its other record). (b has no sink yet, so its feed cannot
        // catch up in between.)
        a.commit(&[put("s1", "x", b"from-a")]).unwrap();
        let e = b
            .commit(&[put("s1", "x", b"from-b"), put("s1", "other", b"1")])
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict), "{e}");
        assert_eq!(
            a.load("s1").unwrap(),
            vec![("x".into(), b"from-a".to_vec())]
        );

        // After catching up, b sees a's record and may overwrite it.
        let rb = attach(b.as_ref());
        b.sync().unwrap();
        assert_eq!(
            rb.0.lock().as_slice(),
            &[Changed {
                table: "s1".into(),
                key: "x".into(),
                value: Some(b"from-a".to_vec()),
            }]
        );
        b.commit(&[put("s1", "x", b"from-b")]).unwrap();
        // a's own commit is not fed back to it; b's change is.
        a.sync().unwrap();
        assert_eq!(
            ra.0.lock().as_slice(),
            &[Changed {
                table: "s1".into(),
                key: "x".into(),
                value: Some(b"from-b".to_vec()),
            }]
        );
        // A writer that is up to date commits again without conflict, deletes included.
        detach(b.as_ref());
        a.commit(&[Mutation::Delete {
            table: "s1",
            key: "x".into(),
        }])
        .unwrap();
        let e = b.commit(&[put("s1", "x", b"stale")]).unwrap_err();
        assert!(matches!(e, StoreError::Conflict), "{e}");
        reattach(b.as_ref(), &rb);
        b.sync().unwrap();
        assert_eq!(
            rb.0.lock().last().unwrap(),
            &Changed {
                table: "s1".into(),
                key: "x".into(),
                value: None,
            }
        );
        assert!(b.load("s1").unwrap().is_empty());
        b.commit(&[put("s1", "x", b"again")]).unwrap();

        // Writes to different records never conflict.
        a.sync().unwrap();
        a.commit(&[put("s2", "a", b"1")]).unwrap();
        b.commit(&[put("s2", "b", b"2")]).unwrap();
        assert_eq!(a.load("s2").unwrap().len(), 2);

        // A third handle opened now loads everything and is up to date at once.
        let c = open();
        let rc = attach(c.as_ref());
        assert_eq!(c.load("s1").unwrap(), vec![("x".into(), b"again".to_vec())]);
        c.sync().unwrap();
        assert!(rc.0.lock().is_empty());
        c.commit(&[put("s1", "x", b"from-c")]).unwrap();

        // Many racing writers on one record: exactly one wins.
        let handles: Vec<Box<dyn Store>> = (0..4).map(|_| open()).collect();
        for h in &handles {
            h.load("s3").unwrap();
        }
        let wins = std::thread::scope(|s| {
            let joins: Vec<_> = handles
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    s.spawn(move || h.commit(&[put("s3", "race", format!("{i}").as_bytes())]))
                })
                .collect();
            joins
                .into_iter()
                .map(|j| j.join().unwrap())
                .filter(|r| match r {
                    Ok(()) => true,
                    Err(StoreError::Conflict) => false,
                    Err(e) => panic!("unexpected error {e}"),
                })
                .count()
        });
        assert_eq!(wins, 1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mem_store_conforms() {
        super::conformance::run_all(&super::MemStore::new());
    }
}
