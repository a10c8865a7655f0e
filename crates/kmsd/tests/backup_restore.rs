//! `kmsd backup` of a running server under load and `kmsd restore`: two client threads
//! create keys without pause while the backup is taken through the server's admin socket;
//! every key acknowledged before the backup started must be in the restored data directory,
//! nothing there may be a key no client created, and the restored server decrypts what the
//! original encrypted. The archive holds no root key; restore refuses a non-empty directory
//! and a damaged archive; a stopped server's directory is backed up offline.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::ops::{create_key, decrypt, encrypt, kmsd, kmsd_ok};
use common::{b64, kms_ok, try_kms, Server};
use serde_json::json;

fn list_keys(addr: std::net::SocketAddr) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = json!({"Limit": 1000});
        if let Some(m) = &marker {
            req["Marker"] = json!(m);
        }
        let v = kms_ok(addr, "ListKeys", &req);
        for k in v["Keys"].as_array().unwrap() {
            out.insert(k["KeyId"].as_str().unwrap().to_string());
        }
        match v["NextMarker"].as_str() {
            Some(m) if v["Truncated"] == json!(true) => marker = Some(m.to_string()),
            _ => return out,
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn backup_under_load_restores_every_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let s = Server::start(&data, &log, &[]);
    let addr = s.addr;
    let world_keys = list_keys(addr);
    let first = create_key(addr);
    let blob = encrypt(addr, &first, b"before the backup");

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((200, v)) = try_kms(addr, "CreateKey", &json!({})) {
                        let id = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
                        acked.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(600));

    let archive = tmp.path().join("kmsd.backup");
    let before: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let out = kmsd_ok(
        &[
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--to",
            archive.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("from the running server"), "{out}");
    let after_backup = acked.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let all: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    // The server kept serving during and after the backup.
    assert!(
        all.len() > after_backup,
        "no write was acknowledged after the backup"
    );
    assert!(!before.is_empty());
    s.kill();

    // The archive: mode 0600, no root key in it (raw or hex).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let bytes = std::fs::read(&archive).unwrap();
    let root = std::fs::read(data.join("root.key")).unwrap();
    assert_eq!(root.len(), 32);
    assert!(!contains(&bytes, &root));
    let hex: String = root.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!contains(&bytes, hex.as_bytes()));

    // A damaged archive is refused and leaves nothing behind.
    let damaged = tmp.path().join("damaged.backup");
    let mut d = bytes.clone();
    let mid = d.len() / 2;
    d[mid] ^= 0x01;
    std::fs::write(&damaged, &d).unwrap();
    let bad_dir = tmp.path().join("bad");
    let o = kmsd(
        &[
            "restore",
            "--from",
            damaged.to_str().unwrap(),
            "--data-dir",
            bad_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("damaged"));
    assert!(!bad_dir.join("kmsd.redb").exists());

    // Restore into an empty directory; a second restore into it is refused.
    let restored = tmp.path().join("restored");
    let restore_args = [
        "restore",
        "--from",
        archive.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ];
    kmsd_ok(&restore_args, &[]);
    let o = kmsd(&restore_args, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");

    // The restored server (same root key) has every key acknowledged before the backup and
    // nothing that no client created.
    let root_file = data.join("root.key");
    let s = Server::start(
        &restored,
        &log,
        &["--root-key-file", root_file.to_str().unwrap()],
    );
    let keys = list_keys(s.addr);
    let missing: Vec<_> = before.difference(&keys).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, missing: {missing:?}"
    );
    assert!(keys.contains(&first));
    for k in &keys {
        assert!(
            all.contains(k) || world_keys.contains(k) || *k == first,
            "restored key {k} was never created"
        );
    }
    eprintln!(
        "{} keys acknowledged before the backup, {} in the archive, {} acknowledged in all",
        before.len(),
        keys.len(),
        all.len()
    );
    assert_eq!(decrypt(s.addr, &blob), b64(b"before the backup"));
    let k = before.iter().next().unwrap();
    let b = encrypt(s.addr, k, b"after restore");
    assert_eq!(decrypt(s.addr, &b), b64(b"after restore"));
    assert!(s.terminate());
    // A clean stop removes the admin socket.
    assert!(!restored.join("admin.sock").exists());

    // Offline: the killed server's directory (its stale admin socket refuses connections).
    assert!(Path::new(&data).join("admin.sock").exists());
    let offline = tmp.path().join("offline.backup");
    let out = kmsd_ok(
        &[
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--to",
            offline.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("offline"), "{out}");
}
