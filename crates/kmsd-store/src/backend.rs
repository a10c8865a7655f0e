//! [`DurableGrowth`]: a redb storage backend wrapper that makes every file
//! extension durable before redb can write a header describing it.
//!
//! redb 2.x stores the database layout (its length) in header fields shared by
//! both commit slots and extends the file with `set_len` during a commit, with
//! only the commit's final fsync ordering the extension against the header
//! write. A power cut inside that fsync can persist the header but not the
//! extension; redb 2.6 then panics on every later open
//! (`assert!(raw_file_len >= layout.len())`), losing the whole store. Upstream
//! fixed this after 4.1 (cberner/redb#1276) by syncing inside `grow()`; this
//! wrapper applies the same rule at the backend boundary: when `set_len`
//! grows the file, it fsyncs before returning. Growth is rare (redb allocates
//! in regions), so the extra fsync is off the common commit path.

use std::io;

use redb::StorageBackend;

/// Wraps a backend; `set_len` that grows the file is followed by a data sync.
#[derive(Debug)]
pub(crate) struct DurableGrowth<B>(pub(crate) B);

impl<B: StorageBackend> StorageBackend for DurableGrowth<B> {
    fn len(&self) -> Result<u64, io::Error> {
        self.0.len()
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, io::Error> {
        self.0.read(offset, len)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let before = self.0.len()?;
        self.0.set_len(len)?;
        if len > before {
            self.0.sync_data(false)?;
        }
        Ok(())
    }

    fn sync_data(&self, eventual: bool) -> Result<(), io::Error> {
        self.0.sync_data(eventual)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.0.write(offset, data)
    }
}
