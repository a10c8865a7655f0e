//! The durable audit log: one JSON line per request appended to `DATA_DIR/audit/audit.log`.
//!
//! Every request is audited, and if its line cannot be written the request fails closed
//! (the server answers with an internal error instead of the operation's result; the
//! operation itself may already be committed: the response is withheld, not undone).
//! Two durability modes ([`SyncMode`]):
//!
//! - `Always` (default): group commit. A response is sent only after its audit record is
//!   on disk (`fdatasync`ed). Two ways to form a batch, chosen by how long syncs take:
//!   - *Worker batches* (syncs under [`INLINE_SYNC_LIMIT`], e.g. tmpfs or a disk with a
//!     power-safe write cache): a server worker thread that called
//!     [`AuditLog::attach_thread`] collects the lines of its own requests in a thread-local
//!     buffer, and writes and syncs them itself when its runtime is about to park
//!     ([`AuditLog::flush_thread`], i.e. once every request it could make progress on is
//!     waiting), or as soon as the buffer passes [`WORKER_BATCH_BYTES`]. No other thread is
//!     woken: with a fast sync, the two thread hand-offs per batch of the flusher cost more
//!     CPU than the sync itself.
//!   - *Shared batches* (slow syncs, or threads without a worker batch): the request task
//!     appends its line to a shared buffer under a mutex and waits; one flusher thread takes
//!     the whole buffer, writes it with one `write`, `fdatasync`s, and only then releases
//!     every request of that batch. Lines that arrive while a sync is running form the next
//!     batch, so the number of syncs per second is bounded by the disk, not by the request
//!     rate, and the workers keep serving while the disk syncs.
//!
//!   Every sync's duration (including the wait for the file) is remembered; the next line
//!   goes the worker way when the last sync was fast, the shared way otherwise, so the
//!   choice follows the storage without configuration.
//! - `Interval(d)`: the line is `write(2)`n to the file (`O_APPEND`) before the response,
//!   so the record survives a crash of the process. No thread hand-off: on a worker thread
//!   the lines go into its worker batch, written (not synced) when the worker is about to
//!   park; elsewhere the first request task that finds no write in progress writes all
//!   pending lines itself, in rounds, while the others wait for their round without
//!   blocking a worker. The flusher `fdatasync`s the file at least every `d` while lines are
//!   pending, so a power loss or kernel crash can lose the last `d` of records. A failed
//!   write fails the request; a failed periodic sync makes the following requests sync
//!   their own line until a sync succeeds again (or fail).
//!
//! Rotation by size: when the file would grow past the limit it is synced and renamed
//! `audit.log.1` (older files shift to `.2`, `.3`, ...) and a new file is started. By default
//! no file is ever deleted; [`AuditLog::keep_rotated`] bounds how many rotated files are
//! kept (the oldest go first), so a long-running server cannot fill its disk with audit.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

/// Default rotation size.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// `Always`: worker threads sync their own batches while the last sync took at most this
/// long. Past it, blocking a worker for the sync costs its connections more than waking the
/// flusher thread does.
pub const INLINE_SYNC_LIMIT: Duration = Duration::from_micros(100);

/// `Always`: a worker batch this large is written by the request that fills it, without
/// waiting for the worker to go idle (bounds the wait of a batch on a worker that stays
/// busy).
pub const WORKER_BATCH_BYTES: usize = 64 * 1024;

/// Reused batch buffers larger than this are dropped instead (one burst must not pin memory).
const MAX_SPARE_BYTES: usize = 4 * 1024 * 1024;

/// When audit lines reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `fdatasync` before the response (group commit).
    Always,
    /// `write(2)` before the response; `fdatasync` by the flusher at least this often.
    Interval(Duration),
}

/// One group commit: its requests wait for its result.
struct Batch {
    /// 0 pending, 1 durable, 2 failed.
    result: AtomicU8,
    notify: Notify,
}

const PENDING: u8 = 0;
const DURABLE: u8 = 1;
const FAILED: u8 = 2;

impl Batch {
    fn new() -> Arc<Batch> {
        Arc::new(Batch {
            result: AtomicU8::new(PENDING),
            notify: Notify::new(),
        })
    }

    fn complete(&self, ok: bool) {
        self.result
            .store(if ok { DURABLE } else { FAILED }, Ordering::Release);
        self.notify.notify_waiters();
    }

    async fn wait(&self) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        loop {
            // Register before looking, so a completion in between is not missed.
            notified.as_mut().enable();
            match self.result.load(Ordering::Acquire) {
                DURABLE => return true,
                FAILED => return false,
                _ => {}
            }
            notified.as_mut().await;
            notified.set(self.notify.notified());
        }
    }
}

/// Lines waiting for the group commit (`Always`).
struct Queue {
    pending: Vec<u8>,
    batch: Arc<Batch>,
    /// The flusher sleeps on the condvar and must be woken.
    flusher_idle: bool,
    /// `Interval`: a request task is writing the pending lines.
    writing: bool,
    /// `Interval`: the buffer of the last write, reused.
    spare: Vec<u8>,
    closed: bool,
}

struct Shared {
    mode: SyncMode,
    queue: Mutex<Queue>,
    wake: Condvar,
    file: Mutex<WriterState>,
    /// `Always`: how long the last write + sync took, in nanoseconds (0 before the first).
    last_sync_nanos: AtomicU64,
    /// `Always`: [`INLINE_SYNC_LIMIT`] in nanoseconds (tests change it).
    inline_sync_limit_nanos: AtomicU64,
    /// Batches committed from the shared queue, not from a worker batch (tests look at it).
    #[cfg(test)]
    shared_batches: AtomicU64,
}

impl Shared {
    /// Write one batch as the mode promises (`Always`: and sync it, remembering how long
    /// that took; `Interval`: mark the file for the next periodic sync). True on success.
    fn commit(&self, buf: &[u8]) -> bool {
        let timed = Instant::now();
        let res = match self.mode {
            SyncMode::Always => {
                let started = Instant::now();
                let res = self.file.lock().write(buf, true);
                let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.last_sync_nanos.store(took, Ordering::Relaxed);
                res
            }
            SyncMode::Interval(_) => {
                let mut w = self.file.lock();
                // After a failed periodic sync, each batch syncs itself until one succeeds.
                let sync = w.sync_error;
                let res = w.write(buf, sync);
                if res.is_ok() {
                    if sync {
                        w.sync_error = false;
                    } else {
                        w.dirty = true;
                    }
                }
                res
            }
        };
        crate::metrics::AUDIT_WRITE.observe(timed.elapsed());
        crate::metrics::set_audit_healthy(res.is_ok());
        if let Err(e) = &res {
            tracing::error!(error = %e, bytes = buf.len(), "audit log write failed; failing the requests of this batch");
        }
        res.is_ok()
    }

    /// `Always`: whether syncs are fast enough for worker batches.
    fn syncs_are_fast(&self) -> bool {
        self.last_sync_nanos.load(Ordering::Relaxed)
            <= self.inline_sync_limit_nanos.load(Ordering::Relaxed)
    }
}

/// The lines of one worker thread's requests waiting for their sync (`Always`).
struct WorkerBatch {
    shared: Arc<Shared>,
    pending: Vec<u8>,
    spare: Vec<u8>,
    batch: Arc<Batch>,
}

thread_local! {
    /// Set by [`AuditLog::attach_thread`] on server worker threads.
    static WORKER_BATCH: RefCell<Option<WorkerBatch>> = const { RefCell::new(None) };
}

/// Write and sync this thread's pending worker batch, if any, and release its requests.
fn flush_worker_batch() {
    let taken = WORKER_BATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        let w = slot.as_mut()?;
        if w.pending.is_empty() {
            return None;
        }
        let spare = std::mem::take(&mut w.spare);
        let buf = std::mem::replace(&mut w.pending, spare);
        let batch = std::mem::replace(&mut w.batch, Batch::new());
        Some((w.shared.clone(), buf, batch))
    });
    // The thread-local is not borrowed while writing or waking: completing the batch only
    // schedules the waiting tasks.
    let Some((shared, mut buf, batch)) = taken else {
        return;
    };
    batch.complete(shared.commit(&buf));
    buf.clear();
    if buf.capacity() <= MAX_SPARE_BYTES {
        WORKER_BATCH.with(|cell| {
            if let Some(w) = cell.borrow_mut().as_mut() {
                w.spare = buf;
            }
        });
    }
}

/// Handle to the audit log; cheap to clone. When the last clone is dropped the flusher
/// writes what is queued, syncs and stops.
#[derive(Clone)]
pub struct AuditLog {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

/// The flusher thread; join it after every [`AuditLog`] handle is dropped.
pub struct AuditWriter {
    thread: JoinHandle<()>,
}

impl AuditWriter {
    /// Wait for the flusher to write and sync what is queued and stop.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("audit writer thread panicked");
        }
    }
}

impl AuditLog {
    /// Open (creating) `dir/file_name` for appending and start the flusher thread.
    pub fn open(
        dir: &Path,
        file_name: &str,
        max_bytes: u64,
        mode: SyncMode,
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
        let shared = Arc::new(Shared {
            mode,
            queue: Mutex::new(Queue {
                pending: Vec::with_capacity(64 * 1024),
                batch: Batch::new(),
                flusher_idle: false,
                writing: false,
                spare: Vec::new(),
                closed: false,
            }),
            wake: Condvar::new(),
            last_sync_nanos: AtomicU64::new(0),
            inline_sync_limit_nanos: AtomicU64::new(
                u64::try_from(INLINE_SYNC_LIMIT.as_nanos()).unwrap_or(u64::MAX),
            ),
            #[cfg(test)]
            shared_batches: AtomicU64::new(0),
            file: Mutex::new(WriterState {
                dir: dir.to_path_buf(),
                path,
                file: Some(Arc::new(file)),
                size,
                max_bytes,
                keep_rotated: None,
                dirty: false,
                sync_error: false,
            }),
        });
        let flusher = shared.clone();
        let thread = std::thread::Builder::new()
            .name("kmsd-audit".into())
            .spawn(move || match flusher.mode {
                SyncMode::Always => group_commit_loop(&flusher),
                SyncMode::Interval(d) => interval_sync_loop(&flusher, d),
            })?;
        Ok((
            AuditLog {
                handle: Arc::new(Handle { shared }),
            },
            AuditWriter { thread },
        ))
    }

    /// Keep at most `files` rotated files (at least one); older ones are deleted at
    /// rotation. Without this call every rotated file is kept.
    pub fn keep_rotated(&self, files: u32) {
        self.handle.shared.file.lock().keep_rotated = Some(files.max(1));
    }

    /// Bytes of audit lines waiting in the shared queue for their write (metrics).
    pub fn queued_bytes(&self) -> u64 {
        self.handle.shared.queue.lock().pending.len() as u64
    }

    /// Collect the lines of requests served on this thread in a batch of its own (see the
    /// module docs). The thread must then call [`AuditLog::flush_thread`] whenever it is
    /// about to go idle, and [`AuditLog::detach_thread`] before it ends.
    pub fn attach_thread(&self) {
        let shared = self.handle.shared.clone();
        WORKER_BATCH.with(|cell| {
            *cell.borrow_mut() = Some(WorkerBatch {
                shared,
                pending: Vec::with_capacity(WORKER_BATCH_BYTES + 4096),
                spare: Vec::with_capacity(WORKER_BATCH_BYTES + 4096),
                batch: Batch::new(),
            });
        });
    }

    /// Write (and in `Always` mode sync) the lines this thread collected, and release their
    /// requests.
    pub fn flush_thread(&self) {
        flush_worker_batch();
    }

    /// Flush this thread's batch and stop collecting one.
    pub fn detach_thread(&self) {
        flush_worker_batch();
        WORKER_BATCH.with(|cell| cell.borrow_mut().take());
    }

    /// Append one line (without newline); true once it is as durable as the mode promises
    /// (`Always`: synced; `Interval`: written to the file).
    #[cfg(test)]
    pub async fn append(&self, line: impl AsRef<[u8]>) -> bool {
        let line = line.as_ref();
        self.append_with(|buf| buf.extend_from_slice(line)).await
    }

    /// Like [`AuditLog::append`], with the line written by `write_line` straight into the
    /// log's buffer (no allocation per line). `write_line` must append exactly one line
    /// without a newline, and must not panic.
    pub async fn append_with(&self, write_line: impl FnOnce(&mut Vec<u8>)) -> bool {
        let shared = &self.handle.shared;
        let write_line = match append_to_worker_batch(shared, write_line) {
            Ok((batch, full)) => {
                if full {
                    flush_worker_batch();
                }
                return batch.wait().await;
            }
            Err(write_line) => write_line,
        };
        match shared.mode {
            SyncMode::Always => {
                let batch = {
                    let mut q = shared.queue.lock();
                    if q.closed {
                        return false;
                    }
                    write_line(&mut q.pending);
                    q.pending.push(b'\n');
                    if q.flusher_idle {
                        q.flusher_idle = false;
                        shared.wake.notify_one();
                    }
                    q.batch.clone()
                };
                batch.wait().await
            }
            SyncMode::Interval(_) => {
                let (batch, lead) = {
                    let mut q = shared.queue.lock();
                    if q.closed {
                        return false;
                    }
                    write_line(&mut q.pending);
                    q.pending.push(b'\n');
                    let lead = !q.writing;
                    q.writing = true;
                    (q.batch.clone(), lead)
                };
                if lead {
                    write_pending(shared);
                }
                batch.wait().await
            }
        }
    }
}

/// Append the line to this thread's worker batch when it has one (for this log) and, in
/// `Always` mode, syncs are fast; gives `write_line` back otherwise. Ok: the batch to wait for, and
/// whether it is full enough to be written now.
fn append_to_worker_batch<F: FnOnce(&mut Vec<u8>)>(
    shared: &Arc<Shared>,
    write_line: F,
) -> Result<(Arc<Batch>, bool), F> {
    if shared.mode == SyncMode::Always && !shared.syncs_are_fast() {
        return Err(write_line);
    }
    WORKER_BATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        match slot.as_mut() {
            Some(w) if Arc::ptr_eq(&w.shared, shared) => {
                write_line(&mut w.pending);
                w.pending.push(b'\n');
                Ok((w.batch.clone(), w.pending.len() >= WORKER_BATCH_BYTES))
            }
            _ => Err(write_line),
        }
    })
}

/// `Interval`: the task that found no write in progress writes everything pending (its own
/// line and the lines other tasks appended meanwhile) with one `write` per round, and
/// releases each round's batch, until nothing is pending. The other tasks wait without
/// blocking their worker thread.
fn write_pending(shared: &Shared) {
    let mut done: Option<Vec<u8>> = None;
    loop {
        let (buf, batch) = {
            let mut q = shared.queue.lock();
            if let Some(mut b) = done.take() {
                b.clear();
                if b.capacity() <= MAX_SPARE_BYTES {
                    q.spare = b;
                }
            }
            if q.pending.is_empty() {
                q.writing = false;
                return;
            }
            let spare = std::mem::take(&mut q.spare);
            let buf = std::mem::replace(&mut q.pending, spare);
            let batch = std::mem::replace(&mut q.batch, Batch::new());
            (buf, batch)
        };
        let ok = shared.commit(&buf);
        #[cfg(test)]
        shared.shared_batches.fetch_add(1, Ordering::Relaxed);
        batch.complete(ok);
        done = Some(buf);
    }
}

fn group_commit_loop(shared: &Shared) {
    let mut spare: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let (buf, batch) = {
            let mut q = shared.queue.lock();
            while q.pending.is_empty() {
                if q.closed {
                    return;
                }
                q.flusher_idle = true;
                shared.wake.wait(&mut q);
            }
            q.flusher_idle = false;
            let buf = std::mem::replace(&mut q.pending, std::mem::take(&mut spare));
            let batch = std::mem::replace(&mut q.batch, Batch::new());
            (buf, batch)
        };
        let ok = shared.commit(&buf);
        // Counted before the waiters are released, so a test that sees its append return
        // also sees the count.
        #[cfg(test)]
        shared.shared_batches.fetch_add(1, Ordering::Relaxed);
        batch.complete(ok);
        spare = buf;
        spare.clear();
        if spare.capacity() > MAX_SPARE_BYTES {
            spare = Vec::with_capacity(64 * 1024);
        }
    }
}

fn interval_sync_loop(shared: &Shared, every: Duration) {
    loop {
        let closed = {
            let mut q = shared.queue.lock();
            if !q.closed {
                let _ = shared.wake.wait_for(&mut q, every);
            }
            q.closed
        };
        // Take the file to sync without holding the lock during the sync, so request
        // tasks can keep writing.
        let file = {
            let mut w = shared.file.lock();
            if w.dirty {
                w.dirty = false;
                w.file.clone()
            } else {
                None
            }
        };
        if let Some(f) = file {
            let started = Instant::now();
            let synced = f.sync_data();
            crate::metrics::AUDIT_SYNC.observe(started.elapsed());
            crate::metrics::set_audit_healthy(synced.is_ok());
            if let Err(e) = synced {
                tracing::error!(error = %e, "audit log sync failed; requests sync their own line until a sync succeeds");
                let mut w = shared.file.lock();
                w.sync_error = true;
                if w.file.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &f)) {
                    w.file = None;
                }
            }
        }
        if closed {
            return;
        }
    }
}

struct WriterState {
    dir: PathBuf,
    path: PathBuf,
    file: Option<Arc<File>>,
    size: u64,
    max_bytes: u64,
    /// At most this many rotated files are kept (`None`: all).
    keep_rotated: Option<u32>,
    /// Written since the last sync (`Interval`).
    dirty: bool,
    /// The last periodic sync failed (`Interval`).
    sync_error: bool,
}

impl WriterState {
    fn write(&mut self, buf: &[u8], sync: bool) -> io::Result<()> {
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
            self.file = Some(Arc::new(f));
        }
        let Some(file) = self.file.as_ref() else {
            return Err(io::Error::other("audit log not open"));
        };
        let mut f: &File = file;
        let res = f
            .write_all(buf)
            .and_then(|()| if sync { f.sync_data() } else { Ok(()) });
        match res {
            Ok(()) => {
                self.size += lead + buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Reopen on the next write; a partial line may remain (readers skip it).
                self.file = None;
                Err(e)
            }
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        // What was written but not yet synced (`Interval`) must not be lost by the rename.
        if let Some(f) = self.file.take() {
            f.sync_data()?;
        }
        self.dirty = false;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "audit.log".into());
        let mut highest = 0u32;
        while self.dir.join(format!("{name}.{}", highest + 1)).exists() {
            highest += 1;
        }
        if let Some(keep) = self.keep_rotated {
            // After the shift below the files are .2 ..= .highest+1: drop those past `keep`.
            while highest >= keep {
                std::fs::remove_file(self.dir.join(format!("{name}.{highest}")))?;
                highest -= 1;
            }
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
        self.file = Some(Arc::new(f));
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
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests;
