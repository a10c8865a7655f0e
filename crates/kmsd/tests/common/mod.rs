//! Helpers shared by the reliability tests (`crash_consistency`, `limits`): start the real
//! `kmsd` binary on a data directory, send SigV4-signed KMS calls over plain HTTP/1.1, and a
//! small deterministic random generator.
//!
//! Unlike the helpers in `serve.rs`, every network step returns an error instead of
//! panicking, because the crash test kills the server under its clients.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test support shared by several test binaries, each using part of it; test code panics on failure and signs requests with the wall clock"
)]

pub mod ops;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use kmsd_sigv4::{HttpRequest, Payload, SigningParams, SigningSettings};
use serde_json::Value;

pub const ACCOUNT: &str = "111122223333";
pub const ROOT_KEY: &str = "AKIA111122223333ROOT";
pub const ROOT_SECRET: &str = "seed-root-secret-111122223333";
pub const REGION: &str = "us-west-2";

/// The example world every test server is bootstrapped with.
pub fn world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-world.json")
}

/// A running `kmsd serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr_path: PathBuf,
}

impl Server {
    /// Start `kmsd serve` on a free port with the example world and `extra` flags; the
    /// server's stderr goes to `stderr_path`. Panics if it does not come up.
    pub fn start(data_dir: &Path, stderr_path: &Path, extra: &[&str]) -> Server {
        let stderr = std::fs::File::create(stderr_path).expect("stderr file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--bootstrap")
            .arg(world())
            .args(extra)
            .env_remove("KMSD_ROOT_KEY")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("start kmsd");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let addr = match line.trim().strip_prefix("kmsd listening on http://") {
            Some(a) => a.parse().expect("address"),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let err = std::fs::read_to_string(stderr_path).unwrap_or_default();
                panic!("kmsd did not start: stdout {line:?}, stderr:\n{err}");
            }
        };
        Server {
            child,
            addr,
            stderr_path: stderr_path.to_path_buf(),
        }
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (up to 20 s) for a clean exit; returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.success();
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a fresh connection: (status, body).
pub fn exchange(
    addr: SocketAddr,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = String::from("POST / HTTP/1.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    s.write_all(body).map_err(|e| format!("write body: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {} bytes", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, raw[split + 4..].to_vec()))
}

/// Signed headers for a KMS call by the account root.
pub fn signed_headers(addr: SocketAddr, op: &str, body: &[u8]) -> Vec<(String, String)> {
    signed_headers_in(addr, REGION, op, body)
}

/// [`signed_headers`] for a request signed in `region`.
pub fn signed_headers_in(
    addr: SocketAddr,
    region: &str,
    op: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Host".to_string(), addr.to_string()),
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        ("X-Amz-Target".to_string(), format!("TrentService.{op}")),
    ];
    let view: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let signed = kmsd_sigv4::sign(
        &HttpRequest {
            method: "POST",
            uri: "/",
            headers: &view,
            payload: Payload::Bytes(body),
        },
        &SigningParams {
            access_key_id: ROOT_KEY,
            secret_access_key: ROOT_SECRET,
            session_token: None,
            region,
            service: "kms",
            time: now,
            settings: SigningSettings::default(),
        },
    )
    .expect("sign");
    for (n, v) in signed.headers {
        headers.push((n.to_string(), v));
    }
    headers
}

/// A signed KMS call by the account root: (status, JSON body). Errors on transport failure
/// or a body that is not JSON.
pub fn try_kms(addr: SocketAddr, op: &str, input: &Value) -> Result<(u16, Value), String> {
    let body = input.to_string().into_bytes();
    let headers = signed_headers(addr, op, &body);
    let (status, body) = exchange(addr, &headers, &body)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{op}: HTTP {status}, body not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    Ok((status, v))
}

/// [`try_kms`] for a request signed in `region`.
pub fn try_kms_in(
    addr: SocketAddr,
    region: &str,
    op: &str,
    input: &Value,
) -> Result<(u16, Value), String> {
    let body = input.to_string().into_bytes();
    let headers = signed_headers_in(addr, region, op, &body);
    let (status, body) = exchange(addr, &headers, &body)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{op}: HTTP {status}, body not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    Ok((status, v))
}

/// [`try_kms`] that panics on a transport failure.
pub fn kms(addr: SocketAddr, op: &str, input: &Value) -> (u16, Value) {
    try_kms(addr, op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// [`kms`] that expects HTTP 200.
pub fn kms_ok(addr: SocketAddr, op: &str, input: &Value) -> Value {
    let (status, v) = kms(addr, op, input);
    assert_eq!(status, 200, "{op} {input}: {v}");
    v
}

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// xorshift64*: small, deterministic, good enough to pick operations and delays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// A seed from the environment variable `var` or the clock (printed so a failure can be
/// replayed).
pub fn seed(var: &str) -> u64 {
    let s = std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{var}={s}");
    s
}
