//! One whole KMS request in process, as `kmsd serve` runs it minus the socket: a
//! SigV4-signed awsJson1_1 Encrypt / Decrypt / GenerateDataKey through `kmsd_wire::handle`
//! (routing, signature verification, authorization, cryptography, JSON) and the audit line
//! serialized as the audit log writes it. Signing happens outside the measured part.
//!
//! The caller is the root user of 111122223333 from `examples/seed-world.json`; the key is
//! created through the API, so its policy is the default one (root delegation).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use kmsd_bench::request::{Endpoint, Op, RequestBuilder};
use kmsd_bench::sign::{Credentials, Signer};
use kmsd_core::bootstrap::World;
use kmsd_core::service::Service;
use kmsd_wire::{handle, WireRequest};

const ROOT_KEY_ID: &str = "AKIA111122223333ROOT";
const ROOT_SECRET: &str = "seed-root-secret-111122223333";

fn wire_request(builder: &mut RequestBuilder) -> WireRequest {
    let now = SystemTime::now();
    let req = builder.build(now).unwrap();
    let (parts, _) = req.into_parts();
    let now_millis = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    WireRequest {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body: builder.body().clone(),
        source_ip: Some("127.0.0.1".parse().unwrap()),
        secure: false,
        now_millis,
    }
}

fn bench(c: &mut Criterion) {
    let world_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/seed-world.json"
    );
    let world = World::from_file(std::path::Path::new(world_path)).unwrap();
    let service = Service::from_world_in_memory(&world, "us-east-1").unwrap();
    let endpoint = Endpoint::parse("http://127.0.0.1:4599").unwrap();
    let signer = Signer::new(
        Credentials::new(ROOT_KEY_ID, ROOT_SECRET, None),
        "us-east-1",
        "kms",
    );

    let mut create = RequestBuilder::new(
        signer.clone(),
        &endpoint,
        Op::CreateKey,
        kmsd_bench::request::create_key_body("bench"),
        false,
    );
    let created = handle(&service, wire_request(&mut create));
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let key_id = kmsd_bench::request::key_id_from_create_key(&created.body).unwrap();

    let pt = [0x5au8; 32];
    let mut enc = RequestBuilder::new(
        signer.clone(),
        &endpoint,
        Op::Encrypt,
        kmsd_bench::request::encrypt_body(&key_id, &pt),
        false,
    );
    let encrypted = handle(&service, wire_request(&mut enc));
    assert_eq!(encrypted.status, 200);
    let ct = kmsd_bench::request::ciphertext_from_encrypt(&encrypted.body).unwrap();
    let mut dec = RequestBuilder::new(
        signer.clone(),
        &endpoint,
        Op::Decrypt,
        kmsd_bench::request::decrypt_body(&key_id, &ct),
        false,
    );
    let mut gdk = RequestBuilder::new(
        signer,
        &endpoint,
        Op::GenerateDataKey,
        kmsd_bench::request::generate_data_key_body(&key_id),
        false,
    );

    let mut g = c.benchmark_group("request");
    for (name, builder) in [
        ("Encrypt_32B", &mut enc),
        ("Decrypt_32B", &mut dec),
        ("GenerateDataKey", &mut gdk),
    ] {
        g.bench_function(name, |b| {
            let mut line = Vec::with_capacity(4096);
            b.iter_batched(
                || wire_request(builder),
                |req| {
                    let resp = handle(&service, black_box(req));
                    assert_eq!(resp.status, 200);
                    line.clear();
                    resp.audit.write_json_line(&mut line);
                    black_box((&resp.body, &line));
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
