//! [`RedbStore`]: `impl Store` on a single redb file with immediate durability.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use kmsd_core::store::{Mutation, Store, StoreError};
use redb::backends::FileBackend;
use redb::{Database, DatabaseError, Durability, ReadableTable, StorageBackend, TableError};

use crate::backend::DurableGrowth;
use crate::group::{Group, Pending};
use crate::schema::{self, META_TABLE, SCHEMA_VERSION, SCHEMA_VERSION_KEY};

/// Commit counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// `commit` calls that reached the disk (non-empty).
    pub commit_calls: u64,
    /// redb write transactions committed durably (each one fsync round).
    pub transactions: u64,
}

/// The durable store: one redb database file, `kmsd.redb`, in the data directory.
pub struct RedbStore {
    pub(crate) db: Database,
    path: Option<PathBuf>,
    group: Group,
    commit_calls: AtomicU64,
    transactions: AtomicU64,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

pub(crate) fn err(context: impl Display, e: impl Display) -> StoreError {
    StoreError::Backend(format!("{context}: {e}"))
}

impl RedbStore {
    /// Open (or create) the store in `dir`, creating `dir` if missing.
    ///
    /// Fails with a clear [`StoreError`] if the directory cannot be created or
    /// written, the file is locked by another process, is not a redb database,
    /// or carries a newer schema version than this build understands.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        let existed = dir.exists();
        fs::create_dir_all(dir).map_err(|e| {
            err(
                format_args!("cannot create data directory {}", dir.display()),
                e,
            )
        })?;
        if !dir.is_dir() {
            return Err(StoreError::Backend(format!(
                "data directory {} is not a directory",
                dir.display()
            )));
        }
        if !existed {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let path = dir.join(schema::DB_FILE);
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| err(format_args!("cannot open store {}", path.display()), e))?;
        let backend = FileBackend::new(file).map_err(|e| open_err(&path, e))?;
        let db = create(DurableGrowth(backend)).map_err(|e| open_err(&path, e))?;
        // Make the file's directory entry durable before any commit is acknowledged.
        sync_dir(dir)?;
        Self::init(db, Some(path))
    }

    /// Open a store on a custom redb storage backend (fault-injection tests).
    /// The backend is wrapped like the file backend of [`RedbStore::open`], so
    /// file growth is made durable before redb records it.
    pub fn open_with_backend(backend: impl StorageBackend) -> Result<RedbStore, StoreError> {
        let db = create(DurableGrowth(backend)).map_err(|e| err("cannot open store", e))?;
        Self::init(db, None)
    }

    fn init(db: Database, path: Option<PathBuf>) -> Result<RedbStore, StoreError> {
        let store = RedbStore {
            db,
            path,
            group: Group::default(),
            commit_calls: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Where the database file lives (`None` for a custom backend).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Commit counters since open.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            commit_calls: self.commit_calls.load(Ordering::Relaxed),
            transactions: self.transactions.load(Ordering::Relaxed),
        }
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.read_schema_version()?
            .ok_or_else(|| StoreError::Backend("store has no schema version record".into()))
    }

    fn read_schema_version(&self) -> Result<Option<u32>, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| err("cannot read store", e))?;
        let table = match txn.open_table(schema::table(META_TABLE)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err("cannot read store metadata", e)),
        };
        let Some(v) = table
            .get(SCHEMA_VERSION_KEY)
            .map_err(|e| err("cannot read store metadata", e))?
        else {
            return Ok(None);
        };
        schema::decode_version(v.value())
            .map(Some)
            .ok_or_else(|| StoreError::Backend("store schema version record is corrupt".into()))
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        match self.read_schema_version()? {
            Some(v) if v == SCHEMA_VERSION => Ok(()),
            Some(v) if v > SCHEMA_VERSION => Err(StoreError::Backend(format!(
                "store schema version {v} is newer than this kmsd supports ({SCHEMA_VERSION}); \
                 run a newer kmsd or restore a backup"
            ))),
            Some(v) => Err(StoreError::Backend(format!(
                "store schema version {v} is not supported (expected {SCHEMA_VERSION})"
            ))),
            None => {
                let mut txn = self
                    .db
                    .begin_write()
                    .map_err(|e| err("cannot write store", e))?;
                txn.set_durability(Durability::Immediate);
                {
                    let mut t = txn
                        .open_table(schema::table(META_TABLE))
                        .map_err(|e| err("cannot create store metadata", e))?;
                    t.insert(
                        SCHEMA_VERSION_KEY,
                        &schema::encode_version(SCHEMA_VERSION)[..],
                    )
                    .map_err(|e| err("cannot write store metadata", e))?;
                }
                txn.commit()
                    .map_err(|e| err("cannot commit store metadata", e))
            }
        }
    }

    fn write_batch(&self, batch: &[Pending]) -> Result<(), String> {
        let s = |what: &str, e: &dyn Display| format!("{what}: {e}");
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| s("cannot begin store transaction", &e))?;
        txn.set_durability(Durability::Immediate);
        {
            let mut tables = BTreeMap::new();
            for m in batch.iter().flat_map(|p| p.mutations.iter()) {
                let name = match m {
                    Mutation::Put { table, .. } | Mutation::Delete { table, .. } => *table,
                };
                if !tables.contains_key(name) {
                    let t = txn
                        .open_table(schema::table(name))
                        .map_err(|e| s(&format!("cannot open table {name}"), &e))?;
                    tables.insert(name, t);
                }
                let Some(t) = tables.get_mut(name) else {
                    return Err(format!("table {name} vanished"));
                };
                match m {
                    Mutation::Put { key, value, .. } => {
                        t.insert(key.as_str(), value.as_slice())
                            .map_err(|e| s(&format!("cannot write to table {name}"), &e))?;
                    }
                    Mutation::Delete { key, .. } => {
                        t.remove(key.as_str())
                            .map_err(|e| s(&format!("cannot delete from table {name}"), &e))?;
                    }
                }
            }
        }
        txn.commit()
            .map_err(|e| s("cannot commit store transaction", &e))?;
        self.transactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Store for RedbStore {
    fn load(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        if table == META_TABLE {
            return Err(reserved());
        }
        let txn = self
            .db
            .begin_read()
            .map_err(|e| err("cannot read store", e))?;
        let t = match txn.open_table(schema::table(table)) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(err(format_args!("cannot open table {table}"), e)),
        };
        let mut out = Vec::new();
        for item in t
            .iter()
            .map_err(|e| err(format_args!("cannot read table {table}"), e))?
        {
            let (k, v) = item.map_err(|e| err(format_args!("cannot read table {table}"), e))?;
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, mutations: &[Mutation]) -> Result<(), StoreError> {
        if mutations.is_empty() {
            return Ok(());
        }
        if mutations.iter().any(|m| match m {
            Mutation::Put { table, .. } | Mutation::Delete { table, .. } => *table == META_TABLE,
        }) {
            return Err(reserved());
        }
        self.commit_calls.fetch_add(1, Ordering::Relaxed);
        self.group
            .submit(mutations, &|batch| self.write_batch(batch))
            .map_err(StoreError::Backend)
    }
}

/// redb's page cache. kmsd reads the store once, at start-up, and then only writes (all
/// state is served from memory), so redb's default (1 GiB) would just keep the whole file
/// resident after the load: 168 MB of a 556 MB RSS with 100,000 keys (BENCHMARKS.md, scale).
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// redb settings shared by every open: new files use redb's v3 file format
/// (the format redb 3 reads without an upgrade step), and a small cache.
fn builder() -> redb::Builder {
    let mut b = Database::builder();
    b.create_with_file_format_v3(true);
    b.set_cache_size(CACHE_BYTES);
    b
}

fn reserved() -> StoreError {
    StoreError::Backend(format!(
        "table name {META_TABLE} is reserved for the store itself"
    ))
}

/// Open the database on `backend`. A panic inside redb (it asserts on some
/// damaged files) becomes an error instead of taking the process down.
fn create(backend: impl StorageBackend) -> Result<Database, DatabaseError> {
    catch_unwind(AssertUnwindSafe(|| builder().create_with_backend(backend))).unwrap_or_else(|_| {
        Err(DatabaseError::Storage(redb::StorageError::Corrupted(
            "the database file is damaged (redb failed an internal check while opening it)".into(),
        )))
    })
}

fn open_err(path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
            "store {} is already open (another kmsd process is using this data directory)",
            path.display()
        )),
        other => err(format_args!("cannot open store {}", path.display()), other),
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| err(format_args!("cannot fsync directory {}", dir.display()), e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}
