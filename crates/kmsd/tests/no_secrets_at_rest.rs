//! Key material and plaintext never reach the data directory in the clear.
//!
//! The server runs with a root key file kept outside the data directory. After a workload of
//! key creation, rotation, encryption and data-key generation, the test stops the server,
//! opens the store itself, unwraps every stored key material version with the root key (so it
//! knows the exact raw bytes to look for), and scans every file under the data directory —
//! store, audit log and anything else — for the raw key material, the root key, the plaintexts
//! and the plaintext data keys, raw and base64-encoded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::{b64, kms_ok, Server};
use kmsd_core::store::Store as _;
use serde_json::json;

const ROOT_KEY_HEX: &str = "8f3c2a1b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a";

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_key_material_root_key_or_plaintext_in_the_data_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let secrets = tmp.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    let root_key_file = secrets.join("root.key");
    std::fs::write(&root_key_file, ROOT_KEY_HEX).expect("write root key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&root_key_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let stderr = tmp.path().join("stderr.log");
    let server = Server::start(
        &data,
        &stderr,
        &[
            "--root-key-file",
            root_key_file.to_str().expect("utf-8 path"),
        ],
    );
    let addr = server.addr;

    let plaintext = b"kmsd-at-rest-marker-7f41c2 the plaintext that must never be stored";
    let key = kms_ok(addr, "CreateKey", &json!({"Description": "at rest"}));
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("key id")
        .to_string();
    kms_ok(addr, "EnableKeyRotation", &json!({"KeyId": key_id}));
    kms_ok(addr, "RotateKeyOnDemand", &json!({"KeyId": key_id}));
    let mut data_keys = Vec::new();
    for _ in 0..3 {
        kms_ok(
            addr,
            "Encrypt",
            &json!({"KeyId": key_id, "Plaintext": b64(plaintext), "EncryptionContext": {"app": "at-rest"}}),
        );
        let dk = kms_ok(
            addr,
            "GenerateDataKey",
            &json!({"KeyId": key_id, "KeySpec": "AES_256"}),
        );
        let raw = base64::engine::general_purpose::STANDARD
            .decode(dk["Plaintext"].as_str().expect("data key"))
            .expect("base64");
        data_keys.push(raw);
    }
    assert!(server.terminate(), "kmsd did not exit 0 on SIGTERM");

    // Recover the raw key material the server stored, through the root key.
    let root = kmsd_crypto::RootKey::from_hex(ROOT_KEY_HEX).expect("root key");
    let store = kmsd_store::RedbStore::open(&data).expect("open store");
    let records = store.load("kms_material").expect("load material");
    let mut materials = Vec::new();
    for (record_key, wrapped) in &records {
        let (id, version) = record_key.split_once('#').expect("record key id#version");
        let version: u32 = version.parse().expect("version");
        let material = root
            .unwrap(&wrapped[..], &kmsd_crypto::wrap_aad(id, version))
            .expect("unwrap stored material");
        materials.push(material.as_bytes().to_vec());
    }
    drop(store);
    assert!(
        materials.len() >= 2 + 2,
        "expected the seed keys plus two versions of the new key, found {}",
        materials.len()
    );

    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, m) in materials.iter().enumerate() {
        needles.push((format!("key material #{i}"), m.clone()));
        needles.push((format!("key material #{i} (base64)"), b64(m).into_bytes()));
        needles.push((format!("key material #{i} (hex)"), hex_of(m).into_bytes()));
    }
    let root_raw = (0..32)
        .map(|i| u8::from_str_radix(&ROOT_KEY_HEX[2 * i..2 * i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>();
    needles.push(("root key".into(), root_raw.clone()));
    needles.push(("root key (hex)".into(), ROOT_KEY_HEX.as_bytes().to_vec()));
    needles.push(("plaintext".into(), plaintext.to_vec()));
    needles.push(("plaintext (base64)".into(), b64(plaintext).into_bytes()));
    for (i, dk) in data_keys.iter().enumerate() {
        needles.push((format!("data key #{i}"), dk.clone()));
        needles.push((format!("data key #{i} (base64)"), b64(dk).into_bytes()));
    }

    let mut files = Vec::new();
    all_files(&data, &mut files);
    files.push(stderr);
    assert!(files.len() >= 2, "store and audit log expected: {files:?}");
    for file in &files {
        let bytes = std::fs::read(file).expect("read file");
        for (what, needle) in &needles {
            assert!(
                !contains(&bytes, needle),
                "{what} found in {}",
                file.display()
            );
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
