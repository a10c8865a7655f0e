//! The durable audit log: one JSON line per request appended to `DATA_DIR/audit/audit.log`.
//!
//! Group commit: request tasks hand their line to one writer thread and wait. The writer
//! takes everything queued, writes it with one `write`, `fdatasync`s, and only then
//! releases the waiting requests, so a response is sent only after its audit record is
//! on disk. If writing or syncing fails, every request of the batch is told so and the
//! server answers it with an internal error instead of the operation's result (the
//! operation itself may already be committed: the response is withheld, not undone).
//!
//! Rotation by size: when the file would grow past the limit it is renamed
//! `audit.log.1` (older files shift to `.2`, `.3`, ...; none are deleted) and a new file
//! is started.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

/// Default rotation size.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Most lines written by one group commit.
const MAX_BATCH_LINES: usize = 4096;

struct Entry {
    line: String,
    done: oneshot::Sender<bool>,
}

/// Handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::UnboundedSender<Entry>,
}

/// The writer thread; join it after every [`AuditLog`] handle is dropped.
pub struct AuditWriter {
    thread: JoinHandle<()>,
}

impl AuditWriter {
    /// Wait for the writer to flush what is queued and stop.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("audit writer thread panicked");
        }
    }
}

impl AuditLog {
    /// Open (creating) `dir/file_name` for appending and start the writer thread.
    pub fn open(
        dir: &Path,
        file_name: &str,
        max_bytes: u64,
    ) -> io::Result<(AuditLog, AuditWriter)> {
        create_private_dir(dir)?;
        let path = dir.join(file_name);
        let mut file = open_append(&path)?;
        sync_dir(dir);
        let mut size = file.metadata().map(|m| m.len()).unwrap_or(0);
        // A crash can leave a torn last line: end it so new records start on their own line.
        if size > 0 && !ends_with_newline(&path) {
            file.write_all(b"\n")?;
            file.sync_data()?;
            size += 1;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let state = WriterState {
            dir: dir.to_path_buf(),
            path,
            file: Some(file),
            size,
            max_bytes,
        };
        let thread = std::thread::Builder::new()
            .name("kmsd-audit".into())
            .spawn(move || writer_loop(state, rx))?;
        Ok((AuditLog { tx }, AuditWriter { thread }))
    }

    /// Append one line (without newline) durably; true once it is on disk.
    pub async fn append(&self, line: String) -> bool {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Entry { line, done }).is_err() {
            return false;
        }
        wait.await.unwrap_or(false)
    }
}

struct WriterState {
    dir: PathBuf,
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_bytes: u64,
}

fn writer_loop(mut st: WriterState, mut rx: mpsc::UnboundedReceiver<Entry>) {
    let mut batch: Vec<Entry> = Vec::with_capacity(64);
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH_LINES {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        buf.clear();
        for e in &batch {
            buf.extend_from_slice(e.line.as_bytes());
            buf.push(b'\n');
        }
        let ok = match st.write(&buf) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, lines = batch.len(), "audit log write failed; failing the requests of this batch");
                false
            }
        };
        for e in batch.drain(..) {
            let _ = e.done.send(ok);
        }
    }
}

impl WriterState {
    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let mut lead = 0u64;
        if self.file.is_none() {
            let mut f = open_append(&self.path)?;
            self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
            // After a failed write the file may end in a torn line: end it, so the next
            // record starts on a line of its own.
            if self.size > 0 && !ends_with_newline(&self.path) {
                f.write_all(b"\n")?;
                lead = 1;
            }
            self.file = Some(f);
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("audit log not open"));
        };
        let res = file.write_all(buf).and_then(|()| file.sync_data());
        match res {
            Ok(()) => {
                self.size += lead + buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Reopen on the next batch; a partial line may remain (readers skip it).
                self.file = None;
                Err(e)
            }
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "audit.log".into());
        let mut highest = 0u32;
        while self.dir.join(format!("{name}.{}", highest + 1)).exists() {
            highest += 1;
        }
        for n in (1..=highest).rev() {
            std::fs::rename(
                self.dir.join(format!("{name}.{n}")),
                self.dir.join(format!("{name}.{}", n + 1)),
            )?;
        }
        std::fs::rename(&self.path, self.dir.join(format!("{name}.1")))?;
        let f = open_append(&self.path)?;
        sync_dir(&self.dir);
        self.file = Some(f);
        self.size = 0;
        tracing::info!(file = %self.path.display(), "audit log rotated");
        Ok(())
    }
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return true;
    };
    let mut last = [0u8; 1];
    match f.seek(SeekFrom::End(-1)) {
        Ok(_) => f
            .read_exact(&mut last)
            .map(|()| last[0] == b'\n')
            .unwrap_or(true),
        Err(_) => true,
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The audit files of a directory, oldest first (`audit.log.N` ... `audit.log.1`, `audit.log`).
pub fn files_oldest_first(dir: &Path, file_name: &str) -> Vec<PathBuf> {
    let mut rotated = Vec::new();
    let mut n = 1u32;
    loop {
        let p = dir.join(format!("{file_name}.{n}"));
        if !p.exists() {
            break;
        }
        rotated.push(p);
        n += 1;
    }
    rotated.reverse();
    let current = dir.join(file_name);
    if current.exists() {
        rotated.push(current);
    }
    rotated
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn appends_lines_durably_and_concurrently() {
        let dir = tempfile::tempdir().unwrap();
        let audit_dir = dir.path().join("audit");
        let (log, writer) = AuditLog::open(&audit_dir, "audit.log", DEFAULT_MAX_BYTES).unwrap();
        rt().block_on(async {
            let mut tasks = Vec::new();
            for i in 0..200 {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    log.append(format!("{{\"n\":{i}}}")).await
                }));
            }
            for t in tasks {
                assert!(t.await.unwrap());
            }
        });
        drop(log);
        writer.join();
        let text = std::fs::read_to_string(audit_dir.join("audit.log")).unwrap();
        let mut ns: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        ns.sort_unstable();
        assert_eq!(ns, (0..200).collect::<Vec<_>>());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(audit_dir.join("audit.log"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "audit log must not be group/other readable"
            );
        }
    }

    #[test]
    fn rotates_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let (log, writer) = AuditLog::open(dir.path(), "audit.log", 100).unwrap();
        rt().block_on(async {
            for i in 0..10 {
                assert!(
                    log.append(format!("{{\"line\":{i},\"pad\":\"{}\"}}", "x".repeat(30)))
                        .await
                );
            }
        });
        drop(log);
        writer.join();
        let files = files_oldest_first(dir.path(), "audit.log");
        assert!(files.len() >= 4, "{files:?}");
        assert_eq!(files.last().unwrap(), &dir.path().join("audit.log"));
        // Reading oldest first gives the lines in order; nothing lost.
        let mut all = Vec::new();
        for f in &files {
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size <= 100, "{f:?} has {size} bytes");
            for l in std::fs::read_to_string(f).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                all.push(v["line"].as_i64().unwrap());
            }
        }
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn torn_last_line_is_ended_before_new_records() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audit.log"), "{\"n\":1}\n{\"n\":2,\"tor").unwrap();
        let (log, writer) = AuditLog::open(dir.path(), "audit.log", DEFAULT_MAX_BYTES).unwrap();
        // As after a crash (or a failed write followed by a reopen).
        assert!(rt().block_on(log.append("{\"n\":3}".into())));
        drop(log);
        writer.join();
        let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
        let parsed: Vec<i64> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["n"].as_i64())
            .collect();
        assert_eq!(parsed, vec![1, 3], "{text:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn write_failure_is_reported() {
        // /dev/full fails every write with ENOSPC.
        let (log, writer) = AuditLog::open(Path::new("/dev"), "full", DEFAULT_MAX_BYTES).unwrap();
        let ok = rt().block_on(log.append("{}".into()));
        assert!(!ok);
        drop(log);
        writer.join();
    }
}
