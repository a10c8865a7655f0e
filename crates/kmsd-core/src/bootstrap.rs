//! The bootstrap (world) file: parse, validate completely, then apply idempotently.
