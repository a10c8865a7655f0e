//! The PostgreSQL layout and its versioned migrations.
//!
//! - `kmsd_schema (version, applied_at)`: one row per applied migration.
//! - `kmsd_meta (id = 1, seq)`: the commit sequence; every commit increments it, which also
//!   orders all commits (they serialize on this row).
//! - `kmsd_records (tbl, key, value, seq)`: every record of every domain table; `key` sorts
//!   bytewise (`COLLATE "C"`), `value` NULL is a deletion kept so other nodes learn of it,
//!   `seq` the commit that last wrote the record (indexed for the change feed).
//!
//! [`migrate`] runs at every start: it creates `kmsd_schema` if needed, then, holding an
//! exclusive lock on it, applies the missing steps in one transaction. Nodes starting at once
//! either wait for the lock and find the steps applied, or lose the race to create
//! `kmsd_schema` itself and retry. A database migrated by a newer kmsd is refused.

use std::time::Duration;

use deadpool_postgres::Pool;
use kmsd_core::store::StoreError;
use tokio_postgres::error::SqlState;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 1;

/// Migration steps: step `i` brings the schema to version `i + 1`.
const STEPS: &[&str] = &["CREATE TABLE kmsd_meta (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL
     );
     INSERT INTO kmsd_meta (id, seq) VALUES (1, 0);
     CREATE TABLE kmsd_records (
        tbl text COLLATE \"C\" NOT NULL,
        key text COLLATE \"C\" NOT NULL,
        value bytea,
        seq bigint NOT NULL,
        PRIMARY KEY (tbl, key)
     );
     CREATE INDEX kmsd_records_seq ON kmsd_records (seq);"];

fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// Bring the schema to [`SCHEMA_VERSION`] (safe when several nodes run it at once).
pub async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut last = String::new();
    for attempt in 0..20u64 {
        match migrate_once(pool).await {
            Ok(()) => return Ok(()),
            Err(Attempt::Retry(m)) => {
                last = m;
                tokio::time::sleep(Duration::from_millis(20 + attempt * 10)).await;
            }
            Err(Attempt::Fail(e)) => return Err(e),
        }
    }
    Err(StoreError::Backend(format!(
        "schema migration kept failing: {last}"
    )))
}

enum Attempt {
    Retry(String),
    Fail(StoreError),
}

fn attempt_err(e: tokio_postgres::Error) -> Attempt {
    if retryable(&e) {
        return Attempt::Retry(e.to_string());
    }
    match e.as_db_error() {
        Some(db) => Attempt::Fail(StoreError::Backend(format!(
            "schema migration: {} ({})",
            db.message(),
            db.code().code()
        ))),
        None => Attempt::Fail(StoreError::Unavailable(format!("schema migration: {e}"))),
    }
}

async fn migrate_once(pool: &Pool) -> Result<(), Attempt> {
    let mut client = pool.get().await.map_err(|e| {
        Attempt::Fail(StoreError::Unavailable(format!(
            "cannot connect: {}",
            crate::with_causes(&e)
        )))
    })?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS kmsd_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(attempt_err)?;
    let txn = client.transaction().await.map_err(attempt_err)?;
    txn.batch_execute("LOCK TABLE kmsd_schema IN EXCLUSIVE MODE")
        .await
        .map_err(attempt_err)?;
    let current: i32 = txn
        .query_one("SELECT coalesce(max(version), 0) FROM kmsd_schema", &[])
        .await
        .map_err(attempt_err)?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(Attempt::Fail(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this kmsd's \
             {SCHEMA_VERSION}: upgrade kmsd"
        ))));
    }
    for (i, step) in STEPS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        txn.batch_execute(step).await.map_err(attempt_err)?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        txn.execute("INSERT INTO kmsd_schema (version) VALUES ($1)", &[&version])
            .await
            .map_err(attempt_err)?;
    }
    txn.commit().await.map_err(attempt_err)?;
    Ok(())
}
