//! `kmsd rotate-root-key` under SIGKILL: a data directory with symmetric and HMAC keys is
//! rotated from its file root key to a new file key, and the rotation is killed at random
//! moments again and again (`KMSD_ROTATE_KILLS`, default 12; `KMSD_ROTATE_SEED` replays).
//! After every kill each material record must open under the old or the new root key
//! (checked on the store itself), and while the rotation is unfinished `serve` refuses to
//! start with a message saying so. A final run finishes the job; then the server runs on the
//! new key, every ciphertext decrypts and every MAC verifies, and the old key opens nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ops::{create_key, decrypt, encrypt, kmsd_ok, serve_fails};
use common::{b64, kms_ok, Rng, Server};
use kmsd_core::store::Store;
use kmsd_crypto::{wrap_aad, RootKey};
use serde_json::json;

const KEYS: usize = 100;

/// (under the old key, under the new key); panics on a record under neither.
fn census(data: &Path, old: &RootKey, new: Option<&RootKey>) -> (usize, usize) {
    let store = kmsd_store::RedbStore::open(data).unwrap();
    let mut counts = (0, 0);
    for (k, v) in store.load("kms_material").unwrap() {
        let (id, ver) = k.rsplit_once('#').unwrap();
        let aad = wrap_aad(id, ver.parse().unwrap());
        let opens = |r: &RootKey| r.unwrap(&v, &aad).is_ok() || r.unwrap_mac(&v, &aad).is_ok();
        if opens(old) {
            counts.0 += 1;
        } else if new.is_some_and(opens) {
            counts.1 += 1;
        } else {
            panic!("material {k} opens under neither root key");
        }
    }
    counts
}

fn rotate_cmd(data: &Path, new_key: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kmsd"));
    c.args(["rotate-root-key", "--batch-size", "1", "--data-dir"])
        .arg(data)
        .arg("--new-root-key-file")
        .arg(new_key)
        .env_remove("KMSD_ROOT_KEY")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null());
    c
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn sigkill_during_rotation_leaves_every_key_readable_and_a_rerun_finishes() {
    let kills: usize = std::env::var("KMSD_ROTATE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut rng = Rng::new(common::seed("KMSD_ROTATE_SEED"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");

    let s = Server::start(&data, &log, &[]);
    let mut blobs = Vec::new();
    for i in 0..KEYS {
        let k = create_key(s.addr);
        let pt = format!("secret {i}");
        blobs.push((encrypt(s.addr, &k, pt.as_bytes()), b64(pt.as_bytes())));
    }
    let mac_key = kms_ok(
        s.addr,
        "CreateKey",
        &json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    )["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let mac = kms_ok(
        s.addr,
        "GenerateMac",
        &json!({"KeyId": mac_key, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
    )["Mac"]
        .as_str()
        .unwrap()
        .to_string();
    // Not beside a running server: the store's lock refuses, and nothing changes.
    let o = common::ops::kmsd(
        &[
            "rotate-root-key",
            "--data-dir",
            data.to_str().unwrap(),
            "--new-root-key-file",
            tmp.path().join("early.key").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("stop the server"),
        "{o:?}"
    );
    assert!(s.terminate());

    let old = RootKey::load(&data.join("root.key")).unwrap();
    let new_key = tmp.path().join("new.key");
    // The world's own keys are there too.
    let total = census(&data, &old, None).0;
    assert!(total > KEYS);

    // How long one whole rotation takes here (on a copy), to spread the kills over it.
    let trial = tmp.path().join("trial");
    copy_dir(&data, &trial);
    let started = Instant::now();
    let st = rotate_cmd(&trial, &tmp.path().join("trial.key"))
        .status()
        .unwrap();
    assert!(st.success());
    let full = started.elapsed();
    eprintln!("one rotation of {total} records: {full:?}");

    let mut mixed = 0;
    let mut refused_unfinished = 0;
    for round in 0..kills {
        let mut child = rotate_cmd(&data, &new_key).spawn().unwrap();
        let delay = rng.range(0, (full.as_micros() as u64).max(1000) * 6 / 5);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let new = RootKey::load(&new_key).ok();
        let (under_old, under_new) = census(&data, &old, new.as_ref());
        eprintln!(
            "round {round}: killed after {delay} us ({status}): {under_old} old, {under_new} new"
        );
        assert_eq!(under_old + under_new, total);
        if under_old > 0 && under_new > 0 {
            mixed += 1;
            // A half-rotated store: serve refuses, saying why, with either key.
            let err = serve_fails(&data, &[], &[]);
            assert!(
                err.contains("rotation of this data directory is unfinished"),
                "{err}"
            );
            refused_unfinished += 1;
        }
        if status.success() {
            // The run finished before the kill: start again from the old key next round by
            // rotating back, so that later kills land in a rotation again.
            let back = Command::new(env!("CARGO_BIN_EXE_kmsd"))
                .args(["rotate-root-key", "--data-dir"])
                .arg(&data)
                .arg("--root-key-file")
                .arg(&new_key)
                .arg("--new-root-key-file")
                .arg(data.join("root.key"))
                .env_remove("KMSD_ROOT_KEY")
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(back.success());
            assert_eq!(census(&data, &old, None).0, total);
        }
    }
    eprintln!("{mixed} of {kills} kills left a half-rotated store");
    assert!(
        mixed > 0 || kills < 4,
        "no kill landed inside a rotation (one takes {full:?})"
    );
    assert_eq!(mixed, refused_unfinished);

    // The rerun finishes.
    let out = kmsd_ok(
        &[
            "rotate-root-key",
            "--data-dir",
            data.to_str().unwrap(),
            "--new-root-key-file",
            new_key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("root key rotated"), "{out}");
    let new = RootKey::load(&new_key).unwrap();
    assert_eq!(census(&data, &new, None).0, total);
    // Rotating onto the same key again is refused.
    let o = common::ops::kmsd(
        &[
            "rotate-root-key",
            "--data-dir",
            data.to_str().unwrap(),
            "--root-key-file",
            new_key.to_str().unwrap(),
            "--new-root-key-file",
            new_key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());

    // The old key opens nothing; the new one everything.
    let err = serve_fails(&data, &[], &[]);
    assert!(err.contains("does not unwrap"), "{err}");
    let s = Server::start(&data, &log, &["--root-key-file", new_key.to_str().unwrap()]);
    for (blob, pt) in &blobs {
        assert_eq!(&decrypt(s.addr, blob), pt);
    }
    let v = kms_ok(
        s.addr,
        "VerifyMac",
        &json!({"KeyId": mac_key, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256", "Mac": mac}),
    );
    assert_eq!(v["MacValid"], json!(true));
    assert!(s.terminate());
}
