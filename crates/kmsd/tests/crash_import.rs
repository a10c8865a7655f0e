//! Crash safety of ImportKeyMaterial: the real `kmsd` binary is SIGKILLed while
//! ImportKeyMaterial calls are in flight, again and again on the same data directory. After
//! each restart every key imported into in the killed cycle is either fully before the import
//! (`PendingImport`, its cryptographic operations refused, and the same import with the same
//! token then succeeds) or fully after it (`Enabled`, the imported material in use: a
//! symmetric key round-trips Encrypt/Decrypt, an HMAC key's GenerateMac equals HMAC over the
//! imported bytes, an ECC key's GetPublicKey is the imported key's and its signatures verify
//! with it). An import acknowledged with HTTP 200 must be after.
//!
//! `KMSD_IMPORT_CRASH_CYCLES` (default 8) cycles, three keys per cycle (one of each kind),
//! the kill 0–12 ms after the calls start; `KMSD_CRASH_SEED` replays a run. The counts of
//! keys found before and after are printed.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{b64, kms, kms_ok, try_kms, Rng, Server};
use kmsd_crypto::asymmetric::{KeySpec as Asym, MessageType, PrivateKey, SigningAlgorithm};
use kmsd_crypto::import::{wrap_for_import, WrappingAlgorithm};
use kmsd_crypto::mac::{hmac, MacAlgorithm};
use serde_json::{json, Value};

/// What was imported into one key, kept to check the outcome and to import again.
enum Material {
    Symmetric,
    Hmac(Vec<u8>),
    Ecc(Box<PrivateKey>),
}

struct Pending {
    key_id: String,
    material: Material,
    token: String,
    wrapped: String,
    acked: bool,
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

/// Create an `EXTERNAL` key of the material's kind, get import parameters and wrap the
/// material for them.
fn prepare(addr: SocketAddr, material: Material) -> Pending {
    let (create, bytes) = match &material {
        Material::Symmetric => (json!({"Origin": "EXTERNAL"}), vec![0x5a; 32]),
        Material::Hmac(b) => (
            json!({"Origin": "EXTERNAL", "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
            b.clone(),
        ),
        Material::Ecc(k) => (
            json!({"Origin": "EXTERNAL", "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
            k.pkcs8().to_vec(),
        ),
    };
    let key_id = kms_ok(addr, "CreateKey", &create)["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let p = kms_ok(
        addr,
        "GetParametersForImport",
        &json!({"KeyId": key_id, "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let wrapped = wrap_for_import(
        &unb64(&p["PublicKey"]),
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &bytes,
    )
    .unwrap();
    Pending {
        key_id,
        material,
        token: p["ImportToken"].as_str().unwrap().to_string(),
        wrapped: b64(&wrapped),
        acked: false,
    }
}

fn import_input(p: &Pending) -> Value {
    json!({
        "KeyId": p.key_id,
        "ImportToken": p.token,
        "EncryptedKeyMaterial": p.wrapped,
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    })
}

/// The material is in use: the key works, and with the imported material.
fn check_usable(addr: SocketAddr, p: &Pending) -> Result<(), String> {
    let id = &p.key_id;
    match &p.material {
        Material::Symmetric => {
            let ct = kms_ok(
                addr,
                "Encrypt",
                &json!({"KeyId": id, "Plaintext": b64(b"after import")}),
            );
            let pt = kms_ok(
                addr,
                "Decrypt",
                &json!({"CiphertextBlob": ct["CiphertextBlob"]}),
            );
            if unb64(&pt["Plaintext"]) != b"after import" {
                return Err(format!("{id}: Decrypt does not round-trip"));
            }
        }
        Material::Hmac(bytes) => {
            let v = kms_ok(
                addr,
                "GenerateMac",
                &json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
            );
            if unb64(&v["Mac"]) != hmac(MacAlgorithm::HmacSha256, bytes, b"m") {
                return Err(format!("{id}: the MAC is not HMAC over the imported bytes"));
            }
        }
        Material::Ecc(k) => {
            let public = kms_ok(addr, "GetPublicKey", &json!({"KeyId": id}));
            if unb64(&public["PublicKey"]) != k.public_key_spki() {
                return Err(format!("{id}: GetPublicKey is not the imported key's"));
            }
            let v = kms_ok(
                addr,
                "Sign",
                &json!({"KeyId": id, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"}),
            );
            k.verify(
                SigningAlgorithm::EcdsaSha256,
                MessageType::Raw,
                b"m",
                &unb64(&v["Signature"]),
            )
            .map_err(|_| format!("{id}: the signature does not verify with the imported key"))?;
        }
    }
    Ok(())
}

/// A cryptographic call of the key's kind, refused while the key waits for its material.
fn refused_while_pending(addr: SocketAddr, p: &Pending) -> Result<(), String> {
    let id = &p.key_id;
    let (op, input) = match &p.material {
        Material::Symmetric => ("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")})),
        Material::Hmac(_) => (
            "GenerateMac",
            json!({"KeyId": id, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"}),
        ),
        Material::Ecc(_) => ("GetPublicKey", json!({"KeyId": id})),
    };
    let (status, v) = kms(addr, op, &input);
    if status != 400 || v["__type"] != "KMSInvalidStateException" {
        return Err(format!(
            "{id}: {op} on a key pending import answered {status} {v}"
        ));
    }
    Ok(())
}

/// After a restart: fully before or fully after; returns whether it was after.
fn check_outcome(addr: SocketAddr, p: &Pending) -> Result<bool, String> {
    let m = kms_ok(addr, "DescribeKey", &json!({"KeyId": p.key_id}))["KeyMetadata"].clone();
    match m["KeyState"].as_str() {
        Some("Enabled") => {
            check_usable(addr, p)?;
            Ok(true)
        }
        Some("PendingImport") if p.acked => Err(format!(
            "{}: ImportKeyMaterial was acknowledged but the key is pending import",
            p.key_id
        )),
        Some("PendingImport") => {
            refused_while_pending(addr, p)?;
            // The parameters survived: the same import completes now.
            kms_ok(addr, "ImportKeyMaterial", &import_input(p));
            check_usable(addr, p)?;
            Ok(false)
        }
        other => Err(format!("{}: unexpected state {other:?}: {m}", p.key_id)),
    }
}

fn start(data: &Path, stderr: &Path) -> Server {
    let server = Server::start(data, stderr, &[]);
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
    server
}

#[test]
fn kill_during_import_key_material_leaves_the_key_before_or_after() {
    let cycles: usize = std::env::var("KMSD_IMPORT_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let mut rng = Rng::new(common::seed("KMSD_CRASH_SEED"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = dir.path().join("kmsd.stderr");
    let started = Instant::now();
    let (mut before, mut after, mut acked) = (0usize, 0usize, 0usize);
    let mut previous: Vec<Pending> = Vec::new();
    for cycle in 0..=cycles {
        let server = start(&data, &stderr);
        for p in &previous {
            match check_outcome(server.addr, p) {
                Ok(true) => after += 1,
                Ok(false) => before += 1,
                Err(e) => panic!("after kill #{cycle}: {e}"),
            }
        }
        if cycle == cycles {
            assert!(server.terminate(), "clean SIGTERM exit after the cycles");
            break;
        }
        let hmac_bytes: Vec<u8> = (0..32).map(|i| (rng.next_u64() as u8) ^ i).collect();
        let keys = vec![
            prepare(server.addr, Material::Symmetric),
            prepare(server.addr, Material::Hmac(hmac_bytes)),
            prepare(
                server.addr,
                Material::Ecc(Box::new(Asym::EccNistP256.generate().unwrap())),
            ),
        ];
        let addr = server.addr;
        let handles: Vec<_> = keys
            .iter()
            .map(|p| {
                let input = import_input(p);
                std::thread::spawn(move || try_kms(addr, "ImportKeyMaterial", &input))
            })
            .collect();
        std::thread::sleep(Duration::from_micros(rng.range(0, 12_000)));
        server.kill();
        previous = keys;
        for (p, h) in previous.iter_mut().zip(handles) {
            match h.join().unwrap() {
                Ok((200, _)) => {
                    p.acked = true;
                    acked += 1;
                }
                Ok((status, v)) => panic!("cycle {cycle}: ImportKeyMaterial answered {status} {v}"),
                Err(_) => {}
            }
        }
    }
    eprintln!(
        "{cycles} kill/restart cycles during ImportKeyMaterial in {:.1} s: {} keys fully after \
         ({acked} acknowledged), {before} fully before",
        started.elapsed().as_secs_f64(),
        after
    );
    assert_eq!(before + after, 3 * cycles);
}
