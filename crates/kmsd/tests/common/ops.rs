//! Helpers for the data-directory operation tests (`pkcs11_root_key`, `root_key_rotation`,
//! `backup_restore`): run a `kmsd` subcommand, expect a start to fail, a SoftHSM2 token in a
//! temporary directory, and KMS round trips.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "test support shared by several test binaries, each using part of it; test code panics on failure"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use super::{b64, kms_ok, world};

/// Run `kmsd ARGS` with extra environment variables; KMSD_ROOT_KEY is never inherited.
pub fn kmsd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kmsd"));
    c.args(args)
        .env_remove("KMSD_ROOT_KEY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// `kmsd ARGS` must succeed; returns stdout.
pub fn kmsd_ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = kmsd(args, env);
    assert!(
        o.status.success(),
        "kmsd {args:?}: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `kmsd serve` on `data_dir` with `extra` must fail to start; returns its stderr.
pub fn serve_fails(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--bootstrap",
    ];
    let w = world();
    args.push(w.to_str().unwrap());
    args.extend_from_slice(extra);
    let o = kmsd(&args, env);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && !stdout.contains("listening"),
        "kmsd serve {extra:?} started: {stdout}"
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Create a symmetric key; returns its id.
pub fn create_key(addr: SocketAddr) -> String {
    kms_ok(addr, "CreateKey", &json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Encrypt `pt` under `key`; returns the blob (base64).
pub fn encrypt(addr: SocketAddr, key: &str, pt: &[u8]) -> String {
    kms_ok(
        addr,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": b64(pt)}),
    )["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Decrypt a blob; returns the plaintext (base64).
pub fn decrypt(addr: SocketAddr, blob: &str) -> String {
    let v: Value = kms_ok(addr, "Decrypt", &json!({"CiphertextBlob": blob}));
    v["Plaintext"].as_str().unwrap().to_string()
}

/// A SoftHSM2 token in a temporary directory.
pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub module: PathBuf,
    pub token: String,
    pub pin: String,
}

/// The SoftHSM2 module, if installed (`KMSD_TEST_PKCS11_MODULE` overrides).
pub fn softhsm_module() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KMSD_TEST_PKCS11_MODULE") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

impl SoftHsm {
    /// Initialise a token labelled `token` in a fresh temporary directory. `None` (with a
    /// printed reason) when SoftHSM2 is missing outside CI; under CI (`CI` set) a missing
    /// SoftHSM2 fails the test.
    pub fn init(token: &str) -> Option<SoftHsm> {
        let Some(module) = softhsm_module() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "SoftHSM2 is not installed (apt-get install softhsm2)"
            );
            eprintln!("SKIPPED: SoftHSM2 is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let pin = "4711-kmsd".to_string();
        let o = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", token])
            .args(["--pin", &pin, "--so-pin", "so-secret-1"])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .unwrap();
        assert!(o.status.success(), "softhsm2-util: {o:?}");
        Some(SoftHsm {
            dir,
            conf,
            module,
            token: token.into(),
            pin,
        })
    }

    /// Environment for a kmsd process using this token.
    pub fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("SOFTHSM2_CONF", self.conf.to_str().unwrap()),
            ("KMSD_PKCS11_PIN", self.pin.as_str()),
        ]
    }

    /// The `--root-key-pkcs11 ... --pkcs11-token ... --pkcs11-key LABEL` flags.
    pub fn flags<'a>(&'a self, key: &'a str) -> Vec<&'a str> {
        vec![
            "--root-key-pkcs11",
            self.module.to_str().unwrap(),
            "--pkcs11-token",
            &self.token,
            "--pkcs11-key",
            key,
        ]
    }

    /// `kmsd pkcs11-init` for a key labelled `key`.
    pub fn create_key(&self, key: &str) {
        kmsd_ok(
            &[
                "pkcs11-init",
                "--module",
                self.module.to_str().unwrap(),
                "--token",
                &self.token,
                "--key",
                key,
            ],
            &self.env(),
        );
    }
}
