//! `kmsd backup` and `kmsd restore`, the backup archive format, and the admin socket through
//! which a running server hands out a consistent snapshot.
//!
//! A running `kmsd serve` holds redb's exclusive lock on `DATA_DIR/kmsd.redb`, so a second
//! process cannot open the store. The server therefore listens on a Unix socket,
//! `DATA_DIR/admin.sock` (mode 0600, in the 0700 data directory; a peer must run as the
//! server's user or as root, checked with `SO_PEERCRED`). `kmsd backup` sends `backup\n` and
//! receives the archive, written by the server from one redb read transaction beside the
//! running writer. With no server on the directory, `kmsd backup` opens the store itself.
//!
//! Archive (all integers big-endian):
//! ```text
//! "KMSDBAK1" | u32 schema version
//! { 0x01 | u32 len | table | u32 len | key | u32 len | value }*   one per record
//! 0x00 | u64 record count | SHA-256 of every byte before it
//! ```
//! The archive holds the store's records as they are: key material only wrapped under the
//! root key, which is never in it.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kmsd_store::RedbStore;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"KMSDBAK1";
const TAG_RECORD: u8 = 1;
const TAG_END: u8 = 0;
/// Name of the admin socket inside the data directory.
pub const ADMIN_SOCKET: &str = "admin.sock";
/// The one admin request.
const BACKUP_REQUEST: &[u8] = b"backup\n";
/// Longest table name, key or value accepted when reading an archive.
const MAX_FIELD: u32 = 64 * 1024 * 1024;

/// Flags of `kmsd backup`.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// Data directory of the (running or stopped) server to back up.
    #[arg(long, default_value = "./kmsd-data")]
    pub data_dir: PathBuf,
    /// Archive file to write (mode 0600; replaced atomically when complete).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

/// Flags of `kmsd restore`.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// Archive written by `kmsd backup`.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Data directory to restore into: must not exist or be empty.
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// Writes the archive framing and hashes every byte written.
struct ArchiveWriter<W: Write> {
    out: W,
    hash: Sha256,
    count: u64,
}

impl<W: Write> ArchiveWriter<W> {
    fn new(out: W, schema: u32) -> std::io::Result<Self> {
        let mut w = ArchiveWriter {
            out,
            hash: Sha256::new(),
            count: 0,
        };
        w.put(MAGIC)?;
        w.put(&schema.to_be_bytes())?;
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.hash.update(b);
        self.out.write_all(b)
    }

    fn field(&mut self, b: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(b.len())
            .map_err(|_| std::io::Error::other("record field longer than 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(b)
    }

    fn record(&mut self, table: &str, key: &str, value: &[u8]) -> std::io::Result<()> {
        self.put(&[TAG_RECORD])?;
        self.field(table.as_bytes())?;
        self.field(key.as_bytes())?;
        self.field(value)?;
        self.count += 1;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.put(&[TAG_END])?;
        let count = self.count;
        self.put(&count.to_be_bytes())?;
        let digest = self.hash.clone().finalize();
        self.out.write_all(&digest)?;
        self.out.flush()?;
        Ok((self.out, count))
    }
}

/// Write a complete archive of `store` to `out` (one read transaction). Returns `out` and
/// the number of records.
pub fn write_archive<W: Write>(store: &RedbStore, out: W) -> Result<(W, u64), String> {
    let mut w = ArchiveWriter::new(out, kmsd_store::schema::SCHEMA_VERSION)
        .map_err(|e| format!("cannot write the archive: {e}"))?;
    store
        .export(&mut |table, key, value| {
            w.record(table, key, value)
                .map_err(|e| format!("cannot write the archive: {e}"))
        })
        .map_err(|e| e.to_string())?;
    w.finish()
        .map_err(|e| format!("cannot write the archive: {e}"))
}

/// Read and verify a whole archive: magic, schema version, framing, record count and
/// checksum. Nothing is returned unless all of it is valid.
pub fn read_archive(mut input: impl Read) -> Result<Vec<(String, String, Vec<u8>)>, String> {
    let mut hash = Sha256::new();
    let mut take = |n: usize, hash: &mut Sha256| -> Result<Vec<u8>, String> {
        let mut b = vec![0u8; n];
        input
            .read_exact(&mut b)
            .map_err(|_| "the archive is truncated".to_string())?;
        hash.update(&b);
        Ok(b)
    };
    if take(8, &mut hash)?.as_slice() != MAGIC {
        return Err("not a kmsd backup archive".into());
    }
    let schema = u32::from_be_bytes(arr4(&take(4, &mut hash)?)?);
    if schema != kmsd_store::schema::SCHEMA_VERSION {
        return Err(format!(
            "the archive has store schema version {schema}; this kmsd restores version {}",
            kmsd_store::schema::SCHEMA_VERSION
        ));
    }
    let mut records = Vec::new();
    loop {
        let tag = take(1, &mut hash)?;
        match tag.first().copied() {
            Some(TAG_RECORD) => {
                let mut field = |hash: &mut Sha256| -> Result<Vec<u8>, String> {
                    let len = u32::from_be_bytes(arr4(&take(4, hash)?)?);
                    if len > MAX_FIELD {
                        return Err("the archive is damaged (field too long)".into());
                    }
                    take(len as usize, hash)
                };
                let table = String::from_utf8(field(&mut hash)?)
                    .map_err(|_| "the archive is damaged (table name)".to_string())?;
                let key = String::from_utf8(field(&mut hash)?)
                    .map_err(|_| "the archive is damaged (record key)".to_string())?;
                let value = field(&mut hash)?;
                records.push((table, key, value));
            }
            Some(TAG_END) => {
                let count_bytes = take(8, &mut hash)?;
                let mut c = [0u8; 8];
                c.copy_from_slice(&count_bytes);
                let digest = hash.clone().finalize();
                let mut stored = [0u8; 32];
                input
                    .read_exact(&mut stored)
                    .map_err(|_| "the archive is truncated".to_string())?;
                if !kmsd_crypto::constant_time_eq(&stored, &digest) {
                    return Err("the archive is damaged (checksum mismatch)".into());
                }
                if u64::from_be_bytes(c) != records.len() as u64 {
                    return Err("the archive is damaged (record count)".into());
                }
                let mut extra = [0u8; 1];
                if matches!(input.read(&mut extra), Ok(n) if n > 0) {
                    return Err("the archive is damaged (data after the end)".into());
                }
                return Ok(records);
            }
            _ => return Err("the archive is damaged (unknown record tag)".into()),
        }
    }
}

fn arr4(b: &[u8]) -> Result<[u8; 4], String> {
    b.try_into()
        .map_err(|_| "the archive is truncated".to_string())
}

/// Run `kmsd backup`; returns the exit status.
pub fn run_backup(args: BackupArgs) -> i32 {
    match backup(&args) {
        Ok((records, how)) => {
            out!(
                "backup of {} written to {} ({records} records, {how})",
                args.data_dir.display(),
                args.to.display()
            );
            0
        }
        Err(e) => {
            eprintln!("kmsd: backup failed: {e}");
            1
        }
    }
}

fn backup(args: &BackupArgs) -> Result<(usize, &'static str), String> {
    let tmp = tmp_path(&args.to);
    let result = backup_to(args, &tmp);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn backup_to(args: &BackupArgs, tmp: &Path) -> Result<(usize, &'static str), String> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts
        .open(tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let how = match from_server(&args.data_dir, &file)? {
        true => "from the running server",
        false => {
            // No server on this directory: read the store directly (it must exist).
            if !args.data_dir.join(kmsd_store::schema::DB_FILE).is_file() {
                return Err(format!("{} holds no kmsd store", args.data_dir.display()));
            }
            let store = RedbStore::open(&args.data_dir).map_err(|e| e.to_string())?;
            write_archive(&store, BufWriter::new(&file))?;
            "offline"
        }
    };
    file.sync_all()
        .map_err(|e| format!("cannot fsync {}: {e}", tmp.display()))?;
    // Verify what reached the disk before it takes the archive's name.
    let records = read_archive(BufReader::new(
        File::open(tmp).map_err(|e| format!("cannot reopen {}: {e}", tmp.display()))?,
    ))
    .map_err(|e| format!("the archive written is invalid: {e}"))?;
    fs::rename(tmp, &args.to).map_err(|e| format!("cannot move the archive into place: {e}"))?;
    if let Some(dir) = args.to.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok((records.len(), how))
}

/// Ask a server running on `data_dir` for the archive; `Ok(false)` when none listens.
#[cfg(unix)]
fn from_server(data_dir: &Path, file: &File) -> Result<bool, String> {
    use std::os::unix::net::UnixStream;
    let path = data_dir.join(ADMIN_SOCKET);
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(false)
        }
        Err(e) => return Err(format!("cannot connect to {}: {e}", path.display())),
    };
    stream
        .write_all(BACKUP_REQUEST)
        .map_err(|e| format!("cannot talk to the server: {e}"))?;
    let mut w = BufWriter::new(file);
    std::io::copy(&mut stream, &mut w).map_err(|e| format!("cannot receive the archive: {e}"))?;
    w.flush()
        .map_err(|e| format!("cannot write the archive: {e}"))?;
    Ok(true)
}

#[cfg(not(unix))]
fn from_server(_data_dir: &Path, _file: &File) -> Result<bool, String> {
    Ok(false)
}

fn tmp_path(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    to.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Run `kmsd restore`; returns the exit status.
pub fn run_restore(args: RestoreArgs) -> i32 {
    match restore(&args) {
        Ok(n) => {
            out!(
                "restored {n} records into {}; start kmsd serve on it with the same root key",
                args.data_dir.display()
            );
            0
        }
        Err((code, e)) => {
            eprintln!("kmsd: restore failed: {e}");
            code
        }
    }
}

fn restore(args: &RestoreArgs) -> Result<usize, (i32, String)> {
    let f = File::open(&args.from)
        .map_err(|e| (1, format!("cannot open {}: {e}", args.from.display())))?;
    let records = read_archive(BufReader::new(f)).map_err(|e| (1, e))?;
    match fs::read_dir(&args.data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err((
                    2,
                    format!(
                        "{} is not empty: restore only into an empty data directory",
                        args.data_dir.display()
                    ),
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::serve::create_private_dir(&args.data_dir)
                .map_err(|e| (1, format!("cannot create {}: {e}", args.data_dir.display())))?;
        }
        Err(e) => return Err((1, format!("cannot read {}: {e}", args.data_dir.display()))),
    }
    let store = RedbStore::open(&args.data_dir).map_err(|e| (1, e.to_string()))?;
    store.import(records).map_err(|e| (1, e.to_string()))
}

/// The bound admin socket of a running server.
#[cfg(unix)]
pub struct AdminSocket {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    owner: u32,
}

/// Bind `DATA_DIR/admin.sock` (mode 0600). A stale socket (from a killed server) is
/// replaced: the store's lock, held by this process, shows no other server uses the
/// directory. `None` (with a warning) when it cannot be bound: online backup is then
/// unavailable, the server runs on.
#[cfg(unix)]
pub fn bind_admin_socket(data_dir: &Path) -> Option<AdminSocket> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = data_dir.join(ADMIN_SOCKET);
    let _ = fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "cannot open the admin socket; online backup is unavailable");
            return None;
        }
    };
    let owner = fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
        .and_then(|()| fs::metadata(&path))
        .map(|m| m.uid());
    match owner {
        Ok(owner) => Some(AdminSocket {
            listener,
            path,
            owner,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "cannot restrict the admin socket; online backup is unavailable");
            let _ = fs::remove_file(&path);
            None
        }
    }
}

/// Serve backups on the admin socket until `shutdown` changes, then remove the socket.
/// Only peers running as the socket's owner or as root are served (`SO_PEERCRED`).
#[cfg(unix)]
pub async fn admin_socket(
    admin: AdminSocket,
    store: Arc<RedbStore>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = admin.listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let allowed = match stream.peer_cred() {
                    Ok(c) => c.uid() == admin.owner || c.uid() == 0,
                    Err(_) => false,
                };
                if !allowed {
                    tracing::warn!("admin socket: connection from another user refused");
                    continue;
                }
                let store = store.clone();
                tokio::spawn(async move {
                    let Ok(std_stream) = stream.into_std() else { return };
                    let r = tokio::task::spawn_blocking(move || serve_backup(std_stream, &store)).await;
                    match r {
                        Ok(Ok(n)) => tracing::info!(records = n, "backup snapshot sent"),
                        Ok(Err(e)) => tracing::warn!(error = %e, "backup snapshot failed"),
                        Err(e) => tracing::warn!(error = %e, "backup task failed"),
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    let _ = fs::remove_file(&admin.path);
}

#[cfg(unix)]
fn serve_backup(
    mut stream: std::os::unix::net::UnixStream,
    store: &RedbStore,
) -> Result<u64, String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    // A peer that stops reading must not hold a read transaction (and a thread) forever.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .and_then(|()| stream.set_write_timeout(Some(std::time::Duration::from_secs(60))))
        .map_err(|e| e.to_string())?;
    let mut req = [0u8; BACKUP_REQUEST.len()];
    stream
        .read_exact(&mut req)
        .map_err(|e| format!("reading the request: {e}"))?;
    if req != BACKUP_REQUEST {
        return Err("unknown admin request".into());
    }
    let (_, n) = write_archive(store, BufWriter::new(&mut stream))?;
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn archive_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        use kmsd_core::store::{Mutation, Store};
        store
            .commit(&[
                Mutation::Put {
                    table: "a",
                    key: "k1".into(),
                    value: vec![1, 2, 3],
                },
                Mutation::Put {
                    table: "b",
                    key: "k2".into(),
                    value: vec![],
                },
            ])
            .unwrap();
        let (buf, n) = write_archive(&store, Vec::new()).unwrap();
        assert_eq!(n, 2);
        let recs = read_archive(buf.as_slice()).unwrap();
        assert_eq!(
            recs,
            vec![
                ("a".into(), "k1".into(), vec![1, 2, 3]),
                ("b".into(), "k2".into(), vec![])
            ]
        );
        // Every single-byte change and every truncation is refused.
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert!(read_archive(bad.as_slice()).is_err(), "flip at {i}");
            assert!(read_archive(&buf[..i]).is_err(), "cut at {i}");
        }
        let mut longer = buf.clone();
        longer.push(0);
        assert!(read_archive(longer.as_slice()).is_err());
        // Import into an empty store, then refuse a second import.
        let dir2 = tempfile::tempdir().unwrap();
        let s2 = RedbStore::open(dir2.path()).unwrap();
        assert_eq!(s2.import(recs.clone()).unwrap(), 2);
        assert_eq!(
            s2.load("a").unwrap(),
            vec![("k1".to_string(), vec![1, 2, 3])]
        );
        assert!(s2.import(recs).is_err());
    }
}
