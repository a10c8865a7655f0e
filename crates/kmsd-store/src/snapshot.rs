//! Consistent snapshots of a [`RedbStore`] for backup and restore.
//!
//! [`RedbStore::export`] walks every domain table inside one redb read transaction: redb's
//! MVCC lets it run beside the writer (group commits go on), and what it sees is exactly the
//! state after one commit, never a partial one. [`RedbStore::import`] writes records into a
//! store that holds none yet, in one durable transaction.

use redb::{ReadableTable, ReadableTableMetadata, TableHandle};

use crate::redb_store::{err, RedbStore};
use crate::schema::{self, META_TABLE, SCHEMA_VERSION};
use crate::StoreError;

/// Receives each record of an export: (table, key, value); an error stops the export.
pub type ExportSink<'a> = dyn FnMut(&str, &str, &[u8]) -> Result<(), String> + 'a;

impl RedbStore {
    /// Call `sink(table, key, value)` for every record of every domain table, tables in
    /// name order and records in key order, all from one read transaction. Returns the
    /// schema version of the snapshot. A `sink` error stops the walk and is returned.
    pub fn export(&self, sink: &mut ExportSink<'_>) -> Result<u32, StoreError> {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| err("cannot read store", e))?;
        let mut names: Vec<String> = txn
            .list_tables()
            .map_err(|e| err("cannot list tables", e))?
            .map(|t| t.name().to_string())
            .filter(|n| n != META_TABLE)
            .collect();
        names.sort();
        for name in &names {
            let t = txn
                .open_table(schema::table(name))
                .map_err(|e| err(format_args!("cannot open table {name}"), e))?;
            for item in t
                .iter()
                .map_err(|e| err(format_args!("cannot read table {name}"), e))?
            {
                let (k, v) = item.map_err(|e| err(format_args!("cannot read table {name}"), e))?;
                sink(name, k.value(), v.value()).map_err(StoreError::Backend)?;
            }
        }
        Ok(SCHEMA_VERSION)
    }

    /// Write `records` (table, key, value) in one durable transaction. Refuses a store that
    /// already holds any domain record, and the reserved table name.
    pub fn import(
        &self,
        records: impl IntoIterator<Item = (String, String, Vec<u8>)>,
    ) -> Result<usize, StoreError> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| err("cannot write store", e))?;
        txn.set_durability(redb::Durability::Immediate);
        let existing: Vec<String> = txn
            .list_tables()
            .map_err(|e| err("cannot list tables", e))?
            .map(|t| t.name().to_string())
            .filter(|n| n != META_TABLE)
            .collect();
        for name in &existing {
            let t = txn
                .open_table(schema::table(name))
                .map_err(|e| err(format_args!("cannot open table {name}"), e))?;
            if !t
                .is_empty()
                .map_err(|e| err(format_args!("cannot read table {name}"), e))?
            {
                return Err(StoreError::Backend(
                    "the store is not empty: restore needs an empty data directory".into(),
                ));
            }
        }
        let mut n = 0usize;
        {
            let mut current: Option<(String, redb::Table<'_, &'static str, &'static [u8]>)> = None;
            for (table, key, value) in records {
                if table == META_TABLE {
                    return Err(StoreError::Backend(format!(
                        "table name {META_TABLE} is reserved for the store itself"
                    )));
                }
                if current
                    .as_ref()
                    .map(|(name, _)| name != &table)
                    .unwrap_or(true)
                {
                    let t = txn
                        .open_table(schema::table(&table))
                        .map_err(|e| err(format_args!("cannot open table {table}"), e))?;
                    current = Some((table.clone(), t));
                }
                if let Some((_, t)) = current.as_mut() {
                    t.insert(key.as_str(), value.as_slice())
                        .map_err(|e| err(format_args!("cannot write to table {table}"), e))?;
                }
                n += 1;
            }
        }
        txn.commit().map_err(|e| err("cannot commit restore", e))?;
        Ok(n)
    }
}
