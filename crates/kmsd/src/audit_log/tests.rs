use super::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The `n` member of every line of `path`, sorted.
fn sorted_numbers(path: &Path) -> Vec<i64> {
    let mut ns: Vec<i64> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ns.sort_unstable();
    ns
}

const MODES: [SyncMode; 2] = [
    SyncMode::Always,
    SyncMode::Interval(Duration::from_millis(5)),
];

#[test]
fn appends_lines_durably_and_concurrently() {
    for mode in MODES {
        appends_lines_concurrently(mode);
    }
}

fn appends_lines_concurrently(mode: SyncMode) {
    let dir = tempfile::tempdir().unwrap();
    let audit_dir = dir.path().join("audit");
    let (log, writer) = AuditLog::open(&audit_dir, "audit.log", DEFAULT_MAX_BYTES, mode).unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(async {
            let mut tasks = Vec::new();
            for i in 0..2000 {
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
    assert_eq!(
        sorted_numbers(&audit_dir.join("audit.log")),
        (0..2000).collect::<Vec<_>>()
    );
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
    for mode in MODES {
        rotates_by_size_in(mode);
    }
}

/// Ten ~45-byte lines through a log that rotates at 100 bytes; the files oldest first.
fn rotate_ten_lines(mode: SyncMode, keep: Option<u32>) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(dir.path(), "audit.log", 100, mode).unwrap();
    if let Some(k) = keep {
        log.keep_rotated(k);
    }
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
    (dir, files)
}

/// The `line` numbers in `files`, in file order.
fn line_numbers(files: &[PathBuf]) -> Vec<i64> {
    let mut all = Vec::new();
    for f in files {
        for l in std::fs::read_to_string(f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            all.push(v["line"].as_i64().unwrap());
        }
    }
    all
}

fn rotates_by_size_in(mode: SyncMode) {
    let (dir, files) = rotate_ten_lines(mode, None);
    assert!(files.len() >= 4, "{files:?}");
    assert_eq!(files.last().unwrap(), &dir.path().join("audit.log"));
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 100, "{f:?} has {size} bytes");
    }
    // Reading oldest first gives the lines in order; nothing lost.
    assert_eq!(line_numbers(&files), (0..10).collect::<Vec<_>>());
}

#[test]
fn keeps_only_the_newest_rotated_files_when_bounded() {
    for mode in MODES {
        let (dir, files) = rotate_ten_lines(mode, Some(2));
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(!dir.path().join("audit.log.3").exists());
        let all = line_numbers(&files);
        // The newest lines, in order, up to the last one.
        assert!(!all.is_empty() && all.len() < 10, "{all:?}");
        assert_eq!(*all.last().unwrap(), 9);
        assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "{all:?}");
    }
}

#[test]
fn torn_last_line_is_ended_before_new_records() {
    for mode in MODES {
        torn_last_line_in(mode);
    }
}

fn torn_last_line_in(mode: SyncMode) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("audit.log"), "{\"n\":1}\n{\"n\":2,\"tor").unwrap();
    let (log, writer) = AuditLog::open(dir.path(), "audit.log", DEFAULT_MAX_BYTES, mode).unwrap();
    // As after a crash (or a failed write followed by a reopen).
    assert!(rt().block_on(log.append("{\"n\":3}")));
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
    for mode in MODES {
        let (log, writer) =
            AuditLog::open(Path::new("/dev"), "full", DEFAULT_MAX_BYTES, mode).unwrap();
        assert!(!rt().block_on(log.append("{}")), "{mode:?}");
        assert!(!rt().block_on(log.append("{}")), "{mode:?}");
        drop(log);
        writer.join();
    }
}

/// A runtime like a server worker's: this thread's audit batch is flushed whenever the
/// runtime is about to park.
fn worker_rt(log: &AuditLog) -> tokio::runtime::Runtime {
    let park = log.clone();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(move || park.flush_thread())
        .build()
        .unwrap()
}

#[test]
fn worker_batches_are_written_when_the_worker_goes_idle() {
    for mode in MODES {
        worker_batches_in(mode);
    }
}

fn worker_batches_in(mode: SyncMode) {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(dir.path(), "audit.log", DEFAULT_MAX_BYTES, mode).unwrap();
    // Whatever this machine's disk: worker batches.
    log.handle
        .shared
        .inline_sync_limit_nanos
        .store(u64::MAX, Ordering::Relaxed);
    log.attach_thread();
    let rt = worker_rt(&log);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..2000 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let ok = log.append(format!("{{\"n\":{i}}}")).await;
                // Durable (in the file) by the time the append returns.
                (ok, std::fs::read_to_string(log_path(&log)).unwrap())
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let (ok, text) = t.await.unwrap();
            assert!(ok);
            assert!(text.contains(&format!("{{\"n\":{i}}}\n")), "line {i}");
        }
    });
    // Only worker batches were used: none came from the shared queue.
    assert_eq!(log.handle.shared.shared_batches.load(Ordering::Relaxed), 0);
    log.detach_thread();
    drop(rt);
    drop(log);
    writer.join();
    assert_eq!(
        sorted_numbers(&dir.path().join("audit.log")),
        (0..2000).collect::<Vec<_>>()
    );
}

fn log_path(log: &AuditLog) -> PathBuf {
    log.handle.shared.file.lock().path.clone()
}

#[test]
fn a_full_worker_batch_is_written_without_waiting_for_the_worker_to_idle() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) =
        AuditLog::open(dir.path(), "audit.log", DEFAULT_MAX_BYTES, SyncMode::Always).unwrap();
    log.handle
        .shared
        .inline_sync_limit_nanos
        .store(u64::MAX, Ordering::Relaxed);
    log.attach_thread();
    // No park hook: only the size bound can release this line.
    let big = format!("{{\"n\":1,\"pad\":\"{}\"}}", "x".repeat(WORKER_BATCH_BYTES));
    assert!(rt().block_on(log.append(&big)));
    assert_eq!(sorted_numbers(&dir.path().join("audit.log")), vec![1]);
    log.detach_thread();
    drop(log);
    writer.join();
}

#[test]
fn slow_syncs_send_worker_lines_to_the_flusher() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) =
        AuditLog::open(dir.path(), "audit.log", DEFAULT_MAX_BYTES, SyncMode::Always).unwrap();
    log.attach_thread();
    // Syncs count as slow past 10 s here, and the last one took longer than that.
    let shared = &log.handle.shared;
    shared
        .inline_sync_limit_nanos
        .store(10_000_000_000, Ordering::Relaxed);
    shared
        .last_sync_nanos
        .store(20_000_000_000, Ordering::Relaxed);
    // No park hook: the worker batch would never be written, so this completes only if
    // the line went to the flusher thread.
    assert!(rt().block_on(log.append("{\"n\":7}")));
    assert_eq!(sorted_numbers(&dir.path().join("audit.log")), vec![7]);
    assert_eq!(shared.shared_batches.load(Ordering::Relaxed), 1);
    // The flusher measured its own (fast) sync: worker batches are used again.
    assert!(shared.syncs_are_fast());
    log.detach_thread();
    drop(log);
    writer.join();
}

#[cfg(target_os = "linux")]
#[test]
fn worker_batch_write_failure_fails_its_requests() {
    let (log, writer) = AuditLog::open(
        Path::new("/dev"),
        "full",
        DEFAULT_MAX_BYTES,
        SyncMode::Always,
    )
    .unwrap();
    log.handle
        .shared
        .inline_sync_limit_nanos
        .store(u64::MAX, Ordering::Relaxed);
    log.attach_thread();
    let rt = worker_rt(&log);
    assert!(!rt.block_on(log.append("{}")));
    assert!(!rt.block_on(log.append("{}")));
    log.detach_thread();
    drop(rt);
    drop(log);
    writer.join();
}

#[test]
fn interval_mode_writes_before_returning_and_syncs_later() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(
        dir.path(),
        "audit.log",
        DEFAULT_MAX_BYTES,
        SyncMode::Interval(Duration::from_millis(20)),
    )
    .unwrap();
    assert!(rt().block_on(log.append("{\"n\":1}")));
    // In the file (page cache) as soon as append returns, before any sync.
    let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert_eq!(text, "{\"n\":1}\n");
    std::thread::sleep(Duration::from_millis(60));
    assert!(!log.handle.shared.file.lock().dirty, "flusher synced");
    drop(log);
    writer.join();
}
