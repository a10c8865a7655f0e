//! The real `kmsd` binary on a free port with the example world: signed KMS calls round-trip,
//! SIGTERM exits 0, state survives a restart, every request is in the audit log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test code: a failed expectation panics"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kmsd_sigv4::{HttpRequest, Payload, SigningParams, SigningSettings};
use serde_json::{json, Value};

const ROOT_KEY: &str = "AKIA111122223333ROOT";
const ROOT_SECRET: &str = "seed-root-secret-111122223333";
const REGION: &str = "us-west-2";

fn world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-world.json")
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--bootstrap")
            .arg(world())
            .env_remove("KMSD_ROOT_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kmsd");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("kmsd listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Server { child, addr }
    }

    fn terminate(self) -> std::process::ExitStatus {
        self.signal("-TERM")
    }

    fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "kmsd did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a fresh connection; returns (status, body).
fn exchange(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut req = String::from("POST / HTTP/1.1\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    assert!(
        head.to_ascii_lowercase().contains("x-amzn-requestid:"),
        "{head}"
    );
    (status, raw[split + 4..].to_vec())
}

/// Headers of a KMS call, SigV4-signed as the seed world's root of 111122223333 if `sign`.
fn kms_headers(addr: SocketAddr, op: &str, body: &[u8], sign: bool) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Host".to_string(), addr.to_string()),
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        ("X-Amz-Target".to_string(), format!("TrentService.{op}")),
    ];
    if sign {
        let view_headers: Vec<(&str, &str)> = headers
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
                headers: &view_headers,
                payload: Payload::Bytes(body),
            },
            &SigningParams {
                access_key_id: ROOT_KEY,
                secret_access_key: ROOT_SECRET,
                session_token: None,
                region: REGION,
                service: "kms",
                time: now,
                settings: SigningSettings::default(),
            },
        )
        .expect("sign");
        for (n, v) in signed.headers {
            headers.push((n.to_string(), v));
        }
    }
    headers
}

fn kms(addr: SocketAddr, op: &str, input: &Value, sign: bool) -> (u16, Value) {
    let body = input.to_string().into_bytes();
    let headers = kms_headers(addr, op, &body, sign);
    let (status, body) = exchange(addr, &headers, &body);
    let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{op}: body not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, v)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn serve_round_trip_sigterm_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let secret = b"attack at dawn";

    let server = Server::start(&data);
    let addr = server.addr;

    // Unsigned: AWS's missing-token error, not a 5xx.
    let (status, v) = kms(addr, "ListKeys", &json!({}), false);
    assert_eq!(status, 400);
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");

    let (status, v) = kms(
        addr,
        "CreateKey",
        &json!({"Description": "restart test"}),
        true,
    );
    assert_eq!(status, 200, "{v}");
    let key_id = v["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_string();
    let key_arn = v["KeyMetadata"]["Arn"].as_str().expect("Arn").to_string();
    assert!(
        key_arn.starts_with("arn:aws:kms:us-west-2:111122223333:key/"),
        "{key_arn}"
    );

    let (status, v) = kms(
        addr,
        "Encrypt",
        &json!({"KeyId": key_id, "Plaintext": b64(secret), "EncryptionContext": {"app": "t"}}),
        true,
    );
    assert_eq!(status, 200, "{v}");
    let blob = v["CiphertextBlob"].as_str().expect("blob").to_string();
    assert_eq!(v["KeyId"], key_arn.as_str());

    let (status, v) = kms(
        addr,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": {"app": "t"}}),
        true,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Plaintext"], b64(secret).as_str());

    // Wrong encryption context: AWS's bare InvalidCiphertextException.
    let (status, v) = kms(
        addr,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": {"app": "other"}}),
        true,
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["__type"], "InvalidCiphertextException");

    let exit = server.terminate();
    assert!(exit.success(), "exit status {exit:?}");

    // Audit: every request has a line; no plaintext anywhere.
    let log = std::fs::read_to_string(data.join("audit/audit.log")).expect("audit log");
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect();
    assert_eq!(events.len(), 5, "{log}");
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e["eventName"].as_str())
        .collect();
    assert_eq!(
        names,
        ["ListKeys", "CreateKey", "Encrypt", "Decrypt", "Decrypt"]
    );
    assert_eq!(
        events[0]["errorCode"],
        "MissingAuthenticationTokenException"
    );
    assert_eq!(events[2]["userIdentity"]["type"], "Root");
    assert_eq!(events[2]["resources"][0]["ARN"], key_arn.as_str());
    assert_eq!(events[2]["awsRegion"], REGION);
    assert_eq!(events[3]["decision"], "Allow");
    assert!(!log.contains(&b64(secret)), "plaintext in audit log");
    assert!(!log.contains(&blob), "ciphertext in audit log");

    // `kmsd audit` finds the Encrypt by key and action.
    let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args([
            "audit",
            "--format",
            "json",
            "--action",
            "kms:Encrypt",
            "--key",
            &key_id,
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .expect("kmsd audit");
    assert!(out.status.success());
    let found: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["eventName"], "Encrypt");

    // Restart on the same data directory: the key and its material are still there.
    let server = Server::start(&data);
    let (status, v) = kms(server.addr, "DescribeKey", &json!({"KeyId": key_id}), true);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["KeyMetadata"]["Description"], "restart test");
    let (status, v) = kms(
        server.addr,
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": {"app": "t"}}),
        true,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Plaintext"], b64(secret).as_str());
    let exit = server.terminate();
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn bad_bootstrap_exits_2_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world.json");
    std::fs::write(
        &world,
        r#"{"accounts": [{"id": "111122223333", "bogus": 1}]}"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--bootstrap")
        .arg(&world)
        .output()
        .expect("run kmsd");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("world.json"), "{err}");
    assert!(err.contains("bogus"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn root_key_from_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    // KMSD_ROOT_KEY takes precedence: no root.key file is created.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("KMSD_ROOT_KEY", hex_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("kmsd listening on http://127.0.0.1:"),
        "{line:?}"
    );
    let server = Server {
        child,
        addr: line.trim()["kmsd listening on http://".len()..]
            .parse()
            .unwrap(),
    };
    assert!(!data.join("root.key").exists());
    assert!(server.terminate().success());

    // A malformed key: exit 2, a message that does not echo the value.
    let bad = "zz".repeat(32);
    let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("KMSD_ROOT_KEY", &bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("KMSD_ROOT_KEY"), "{err}");
    assert!(!err.contains(&bad), "{err}");
}

#[test]
fn sigterm_finishes_a_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let body = b"{}";
    let headers = kms_headers(server.addr, "ListKeys", body, true);

    // Send the headers now and the body only after SIGTERM.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = String::from("POST / HTTP/1.1\r\n");
    for (n, v) in &headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "kmsd exited with a request in flight"
    );
    // New connections are refused once the listener is closed.
    assert!(TcpStream::connect(server.addr).is_err());

    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"Keys\""), "{text}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "kmsd did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn signal_right_after_the_listening_line_exits_0() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(&dir.path().join("data"));
        let status = server.signal(signal);
        assert!(status.success(), "{signal}: {status:?}");
    }
}
