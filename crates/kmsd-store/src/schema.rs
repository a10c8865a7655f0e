//! On-disk layout of the kmsd store (see `docs/store-format.md`).
//!
//! Every domain table named `T` by [`kmsd_core::store::Mutation`] is the redb
//! table `T` with `&str` keys and `&[u8]` values, stored verbatim. One reserved
//! table, [`META_TABLE`], holds the schema version.

use redb::TableDefinition;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "kmsd.redb";

/// Name of the reserved metadata table. Domain tables may not use it.
pub const META_TABLE: &str = "kmsd.meta";

/// Key of the schema-version record in [`META_TABLE`]; value is a `u32` big-endian.
pub const SCHEMA_VERSION_KEY: &str = "schema_version";

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = 1;

/// The redb definition of a domain (or the meta) table.
pub(crate) fn table(name: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(name)
}

/// Encode a schema version record.
pub fn encode_version(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// Decode a schema version record; `None` if it is not 4 bytes.
pub fn decode_version(b: &[u8]) -> Option<u32> {
    let arr: [u8; 4] = b.try_into().ok()?;
    Some(u32::from_be_bytes(arr))
}
