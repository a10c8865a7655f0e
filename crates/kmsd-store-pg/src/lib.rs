//! The [`kmsd_core::store::Store`] shared by several `kmsd serve` processes: PostgreSQL
//! through tokio-postgres and a deadpool connection pool. The only crate that links a
//! PostgreSQL client.
//!
//! - Layout ([`schema`]): one table of records `kmsd_records (tbl, key, value, seq)`; a
//!   deleted record stays as a tombstone (`value` NULL) so that other nodes learn of the
//!   deletion; `kmsd_meta.seq` is the commit sequence. Migrations are versioned in
//!   `kmsd_schema` and safe when several nodes start at once.
//! - Commits are SERIALIZABLE transactions retried on SQLSTATE 40001/40P01. Each one bumps
//!   the sequence (so commits are totally ordered and a reader that sees sequence `n` sees
//!   every commit before it), checks that no record it writes was changed after what this
//!   process has seen (else [`StoreError::Conflict`]: the caller catches up and decides
//!   again), writes the records stamped with the new sequence, and sends
//!   `NOTIFY kmsd_changes` with it.
//! - The change feed: a LISTEN connection and a short poll wake a catch-up that reads every
//!   record with a sequence above the last one applied, in one snapshot, and hands other
//!   writers' records to the [`ChangeSink`]. After a reconnect it catches up from the
//!   sequence, so a missed notification only delays a change.
//! - The domain is synchronous: the store owns a small tokio runtime; a call from any thread
//!   (a server worker included) sends its work there and waits on a channel.
//! - TLS to the database when the URL's `sslmode` asks for it, the server always verified
//!   ([`tls`]).

pub mod schema;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use kmsd_core::store::{ChangeSink, Changed, Mutation, Store};
use parking_lot::Mutex;
use tls::{Settings, Tls};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls};

pub use kmsd_core::store::StoreError;

/// How long one database operation (a commit with its retries, a catch-up read) may take
/// before it fails as unavailable.
const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Serialization failures retried within one commit.
const MAX_RETRIES: u32 = 20;
/// The change feed polls this often besides listening (a lost notification, a dropped
/// LISTEN connection).
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The NOTIFY channel.
const CHANNEL: &str = "kmsd_changes";

/// A PostgreSQL-backed store. Dropping it stops its runtime (pool and change feed).
pub struct PgStore {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("applied", &self.shared.applied.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

type Row = (String, String, Option<Vec<u8>>, i64);
/// Records by table, as `Store::load` returns them.
type Tables = HashMap<String, Vec<(String, Vec<u8>)>>;

struct Shared {
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// Every commit up to this sequence is reflected in the sink's memory.
    applied: AtomicI64,
    /// Records this process wrote with a sequence above `applied`: (table, key) → sequence.
    own: Mutex<HashMap<(String, String), i64>>,
    sink: Mutex<Option<Weak<dyn ChangeSink>>>,
    /// One catch-up at a time.
    feed: Mutex<()>,
    /// The consistent snapshot read at open, served once per table by `load` until this
    /// process commits or applies a change (the start-up load reads one consistent state).
    snapshot: Mutex<Option<Tables>>,
    loaded: Mutex<HashSet<String>>,
}

enum Failure {
    Retry,
    Fail(StoreError),
}

fn classify(e: &tokio_postgres::Error) -> Failure {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return Failure::Retry;
        }
        if code.code().starts_with("08")
            || code.code().starts_with("57P")
            || *code == SqlState::CANNOT_CONNECT_NOW
        {
            return Failure::Fail(StoreError::Unavailable(db.message().to_string()));
        }
        return Failure::Fail(StoreError::Backend(format!(
            "{} ({})",
            db.message(),
            code.code()
        )));
    }
    Failure::Fail(StoreError::Unavailable(with_causes(e)))
}

/// An error and its chain of causes, `a: b: c` (a failed TLS handshake says why: an unknown
/// issuer, a name mismatch).
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match classify(&e) {
        Failure::Retry => StoreError::Unavailable(e.to_string()),
        Failure::Fail(s) => s,
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {}", with_causes(&e)))
}

/// The connection settings of a `postgres://` URL, with the password from `PGPASSWORD`
/// when the URL has none, and the TLS connector its `sslmode` asks for ([`tls`]).
pub fn parse_url(url: &str) -> Result<Settings, StoreError> {
    let mut settings = tls::settings(url)?;
    let cfg = &mut settings.config;
    if cfg.get_password().is_none() {
        if let Ok(p) = std::env::var("PGPASSWORD") {
            cfg.password(p);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(3));
    }
    cfg.keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .application_name("kmsd");
    Ok(settings)
}

/// One connection outside the pool, its driver spawned on the current runtime.
async fn connect(settings: &Settings) -> Result<tokio_postgres::Client, StoreError> {
    match &settings.tls {
        Tls::Off => {
            let (client, conn) = settings.config.connect(NoTls).await.map_err(pg_err)?;
            tokio::spawn(conn);
            Ok(client)
        }
        Tls::Verified(make) => {
            let (client, conn) = settings
                .config
                .connect(make.clone())
                .await
                .map_err(pg_err)?;
            tokio::spawn(conn);
            Ok(client)
        }
    }
}

impl PgStore {
    /// Connect, create or migrate the schema, read a consistent snapshot of every record and
    /// start the change feed.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let settings = parse_url(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kmsd-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot start runtime: {e}")))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &settings.tls {
            Tls::Off => Manager::from_config(settings.config.clone(), NoTls, manager_config),
            Tls::Verified(make) => {
                Manager::from_config(settings.config.clone(), make.clone(), manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(OP_TIMEOUT))
            .recycle_timeout(Some(OP_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot build pool: {e}")))?;
        let shared = Arc::new(Shared {
            handle: runtime.handle().clone(),
            pool,
            applied: AtomicI64::new(0),
            own: Mutex::new(HashMap::new()),
            sink: Mutex::new(None),
            feed: Mutex::new(()),
            snapshot: Mutex::new(Some(HashMap::new())),
            loaded: Mutex::new(HashSet::new()),
        });
        let pool = shared.pool.clone();
        shared.run(async move { schema::migrate(&pool).await })??;
        let pool = shared.pool.clone();
        let (seq, rows) = shared.run(async move { read_snapshot(&pool).await })??;
        {
            let mut snap = shared.snapshot.lock();
            let snap = snap.get_or_insert_with(HashMap::new);
            for (t, k, v) in rows {
                snap.entry(t).or_default().push((k, v));
            }
        }
        shared.applied.store(seq, Ordering::Release);
        runtime.spawn(feed(shared.clone(), settings));
        Ok(PgStore {
            runtime: Some(runtime),
            shared,
        })
    }

    /// Run one SQL statement on its own connection (tests and tools; not from a runtime).
    pub fn admin_execute(url: &str, sql: &str) -> Result<(), StoreError> {
        let settings = parse_url(url)?;
        let sql = sql.to_string();
        admin_runtime()?.block_on(async move {
            let client = connect(&settings).await?;
            client.batch_execute(&sql).await.map_err(pg_err)
        })
    }

    /// The first column of the first row of a query, as i64 (tests and tools).
    pub fn admin_query_i64(url: &str, sql: &str) -> Result<i64, StoreError> {
        let settings = parse_url(url)?;
        let sql = sql.to_string();
        admin_runtime()?.block_on(async move {
            let client = connect(&settings).await?;
            Ok(client.query_one(&sql, &[]).await.map_err(pg_err)?.get(0))
        })
    }

    /// The last commit sequence reflected in memory (tests, diagnostics).
    pub fn applied_sequence(&self) -> i64 {
        self.shared.applied.load(Ordering::Acquire)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn admin_runtime() -> Result<tokio::runtime::Runtime, StoreError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot start runtime: {e}")))
}

async fn read_snapshot(pool: &Pool) -> Result<(i64, Vec<(String, String, Vec<u8>)>), StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let txn = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_err)?;
    let seq: i64 = txn
        .query_one("SELECT seq FROM kmsd_meta WHERE id = 1", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let rows = txn
        .query(
            "SELECT tbl, key, value FROM kmsd_records WHERE value IS NOT NULL ORDER BY tbl, key",
            &[],
        )
        .await
        .map_err(pg_err)?;
    txn.commit().await.map_err(pg_err)?;
    Ok((
        seq,
        rows.into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
    ))
}

impl Shared {
    /// Run a future on the store's runtime and wait for it (callable from any thread).
    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let out = tokio::time::timeout(OP_TIMEOUT * 2, fut).await;
            let _ = tx.send(out);
        });
        match rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(StoreError::Unavailable(
                "database operation timed out".into(),
            )),
            Err(_) => Err(StoreError::Unavailable("store stopped".into())),
        }
    }

    /// Deliver every record other writers committed after `applied` to the sink.
    fn catch_up(&self) -> Result<(), StoreError> {
        let _one = self.feed.lock();
        let Some(sink) = self.sink.lock().as_ref().and_then(Weak::upgrade) else {
            // Nothing to apply changes to yet (the start-up load is still reading the
            // snapshot): they are delivered once a sink is there.
            return Ok(());
        };
        let from = self.applied.load(Ordering::Acquire);
        let pool = self.pool.clone();
        let (upto, rows) = self.run(async move { read_changes(&pool, from).await })??;
        if upto <= from {
            return Ok(());
        }
        let changes: Vec<Changed> = {
            let own = self.own.lock();
            rows.into_iter()
                // A record this process wrote at the same or a later sequence is already in
                // memory as new as it is (or newer: a copy read before our later commit
                // must not overwrite it).
                .filter(|(t, k, _, seq)| {
                    own.get(&(t.clone(), k.clone()))
                        .is_none_or(|mine| mine < seq)
                })
                .map(|(table, key, value, _)| Changed { table, key, value })
                .collect()
        };
        if !changes.is_empty() {
            sink.apply(&changes).map_err(StoreError::Backend)?;
        }
        *self.snapshot.lock() = None;
        self.applied.store(upto, Ordering::Release);
        self.own.lock().retain(|_, s| *s > upto);
        Ok(())
    }

    async fn commit(
        self: Arc<Self>,
        tables: Vec<String>,
        keys: Vec<String>,
        values: Vec<Option<Vec<u8>>>,
    ) -> Result<i64, StoreError> {
        let mut attempt = 0u32;
        loop {
            match self.try_commit(&tables, &keys, &values).await {
                Ok(Ok(seq)) => return Ok(seq),
                Ok(Err(e)) => return Err(e),
                Err(Failure::Fail(e)) => return Err(e),
                Err(Failure::Retry) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    let jitter = u64::from(std::process::id() % 7 + attempt * 3);
                    tokio::time::sleep(Duration::from_millis(jitter.min(50))).await;
                }
                Err(Failure::Retry) => {
                    return Err(StoreError::Unavailable(
                        "too many serialization failures".into(),
                    ))
                }
            }
        }
    }

    /// One attempt. `Err(Retry)`: serialization failure; `Ok(Err(Conflict))`: a record was
    /// changed by another writer since this process saw it.
    async fn try_commit(
        &self,
        tables: &[String],
        keys: &[String],
        values: &[Option<Vec<u8>>],
    ) -> Result<Result<i64, StoreError>, Failure> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| Failure::Fail(pool_err(e)))?;
        let fail = |e: tokio_postgres::Error| classify(&e);
        let txn = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .await
            .map_err(fail)?;
        let seq: i64 = txn
            .query_one(
                "UPDATE kmsd_meta SET seq = seq + 1 WHERE id = 1 RETURNING seq",
                &[],
            )
            .await
            .map_err(fail)?
            .get(0);
        let current = txn
            .query(
                "SELECT r.tbl, r.key, r.seq FROM kmsd_records r \
                 JOIN unnest($1::text[], $2::text[]) AS w(tbl, key) \
                 ON r.tbl = w.tbl AND r.key = w.key",
                &[&tables, &keys],
            )
            .await
            .map_err(fail)?;
        let applied = self.applied.load(Ordering::Acquire);
        let conflict = {
            let own = self.own.lock();
            current.iter().any(|r| {
                let (t, k, s): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
                s > applied && own.get(&(t, k)) != Some(&s)
            })
        };
        if conflict {
            let _ = txn.rollback().await;
            return Ok(Err(StoreError::Conflict));
        }
        txn.execute(
            "INSERT INTO kmsd_records (tbl, key, value, seq) \
             SELECT t, k, v, $4 FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(t, k, v) \
             ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value, seq = EXCLUDED.seq",
            &[&tables, &keys, &values, &seq],
        )
        .await
        .map_err(fail)?;
        txn.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()])
            .await
            .map_err(fail)?;
        // Marked as this process's own before anyone can read them, so the change feed
        // never hands them back (a late copy could overwrite a newer value in memory); a
        // commit that fails unmarks them, and if it did land after all, the feed delivers it.
        {
            let mut own = self.own.lock();
            for (t, k) in tables.iter().zip(keys) {
                own.insert((t.clone(), k.clone()), seq);
            }
        }
        if let Err(e) = txn.commit().await {
            let mut own = self.own.lock();
            for (t, k) in tables.iter().zip(keys) {
                if own.get(&(t.clone(), k.clone())) == Some(&seq) {
                    own.remove(&(t.clone(), k.clone()));
                }
            }
            return Err(fail(e));
        }
        Ok(Ok(seq))
    }
}

/// Records with a sequence above `from`, read in one snapshot, and the sequence they reach.
async fn read_changes(pool: &Pool, from: i64) -> Result<(i64, Vec<Row>), StoreError> {
    let client = pool.get().await.map_err(pool_err)?;
    let now: i64 = client
        .query_one("SELECT seq FROM kmsd_meta WHERE id = 1", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    if now <= from {
        return Ok((from, Vec::new()));
    }
    let mut client = client;
    let txn = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_err)?;
    let upto: i64 = txn
        .query_one("SELECT seq FROM kmsd_meta WHERE id = 1", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let rows = txn
        .query(
            "SELECT tbl, key, value, seq FROM kmsd_records WHERE seq > $1 ORDER BY seq, tbl, key",
            &[&from],
        )
        .await
        .map_err(pg_err)?;
    txn.commit().await.map_err(pg_err)?;
    Ok((
        upto,
        rows.into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect(),
    ))
}

/// The change feed: LISTEN for commit sequences (reconnecting when the connection drops)
/// and poll, each wake-up running a catch-up on the blocking pool.
async fn feed(shared: Arc<Shared>, settings: Settings) {
    let wake = Arc::new(tokio::sync::Notify::new());
    let catcher = {
        let shared = shared.clone();
        let wake = wake.clone();
        async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = wake.notified() => {}
                }
                let s = shared.clone();
                match tokio::task::spawn_blocking(move || s.catch_up()).await {
                    Ok(Ok(())) => {
                        if failing {
                            tracing::info!("change feed caught up with the database again");
                        }
                        failing = false;
                    }
                    Ok(Err(e)) => {
                        if !failing {
                            tracing::warn!(error = %e, "change feed cannot read the database; retrying");
                        }
                        failing = true;
                    }
                    Err(_) => failing = true,
                }
            }
        }
    };
    tokio::spawn(catcher);
    loop {
        let connected = match &settings.tls {
            Tls::Off => settings
                .config
                .connect(NoTls)
                .await
                .map(|(client, conn)| (client, tokio::spawn(notifications(conn, wake.clone())))),
            Tls::Verified(make) => settings
                .config
                .connect(make.clone())
                .await
                .map(|(client, conn)| (client, tokio::spawn(notifications(conn, wake.clone())))),
        };
        if let Ok((client, driver)) = connected {
            if client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .is_ok()
            {
                // Anything committed while not listening is caught up from the sequence.
                wake.notify_one();
                let _ = driver.await;
            } else {
                driver.abort();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Drives the LISTEN connection, waking the catch-up on every notification, until the
/// connection ends.
async fn notifications<S, T>(
    mut conn: tokio_postgres::Connection<S, T>,
    wake: Arc<tokio::sync::Notify>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
    use futures_util::StreamExt;
    while let Some(m) = messages.next().await {
        match m {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => wake.notify_one(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

impl Store for PgStore {
    /// A table as of one consistent snapshot of every table: a caller that loads several
    /// tables in turn (key material, then keys) sees them all as of one commit sequence. The
    /// snapshot read at open serves each table once; once it is gone (this process committed,
    /// or a table is loaded again) a fresh snapshot of every table is read and serves the
    /// tables loaded after it — never one table read live beside another read earlier, which
    /// let a node starting beside another see a key whose material it had read before the
    /// key's commit.
    fn load(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut snapshot = self.shared.snapshot.lock();
        if let Some(snap) = snapshot.as_mut() {
            if self.shared.loaded.lock().insert(table.to_string()) {
                return Ok(snap.remove(table).unwrap_or_default());
            }
        }
        let pool = self.shared.pool.clone();
        let (_, rows) = self
            .shared
            .run(async move { read_snapshot(&pool).await })??;
        let mut fresh: Tables = HashMap::new();
        for (t, k, v) in rows {
            fresh.entry(t).or_default().push((k, v));
        }
        let out = fresh.remove(table).unwrap_or_default();
        *snapshot = Some(fresh);
        let mut loaded = self.shared.loaded.lock();
        loaded.clear();
        loaded.insert(table.to_string());
        Ok(out)
    }

    fn commit(&self, mutations: &[Mutation]) -> Result<(), StoreError> {
        if mutations.is_empty() {
            return Ok(());
        }
        // The last mutation of each record wins; records in first-mention order.
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        let mut tables = Vec::new();
        let mut keys = Vec::new();
        let mut values: Vec<Option<Vec<u8>>> = Vec::new();
        for m in mutations {
            let (t, k, v) = match m {
                Mutation::Put { table, key, value } => (*table, key.as_str(), Some(value.clone())),
                Mutation::Delete { table, key } => (*table, key.as_str(), None),
            };
            match index.get(&(t, k)) {
                Some(&i) => values[i] = v,
                None => {
                    index.insert((t, k), tables.len());
                    tables.push(t.to_string());
                    keys.push(k.to_string());
                    values.push(v);
                }
            }
        }
        *self.shared.snapshot.lock() = None;
        let shared = self.shared.clone();
        let written: Vec<(String, String)> =
            tables.iter().cloned().zip(keys.iter().cloned()).collect();
        match self.shared.run(shared.commit(tables, keys, values)) {
            Ok(r) => r.map(|_| ()),
            Err(e) => {
                // Timed out: the outcome is unknown. Unmark the records so that, if the
                // commit landed, the change feed brings it into memory.
                let mut own = self.shared.own.lock();
                for w in &written {
                    own.remove(w);
                }
                Err(e)
            }
        }
    }

    fn set_sink(&self, sink: Weak<dyn ChangeSink>) {
        *self.shared.sink.lock() = Some(sink);
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.shared.catch_up()
    }

    fn is_shared(&self) -> bool {
        true
    }
}
