//! One whole KMS request in process, as `kmsd serve` runs it minus the socket: a
//! SigV4-signed awsJson1_1 Encrypt / Decrypt / GenerateDataKey through `kmsd_wire::handle`
//! (routing, signature verification, authorization, cryptography, JSON) and the audit line
//! serialized as the audit log writes it. Signing happens outside the measured part.
//!
//! The caller is the root user of 111122223333 from `examples/seed-world.json`; the key is
//! created through the API, so its policy is the default one (root delegation).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test code: a failed expectation panics; test helpers need no docs"
)]

mod common;

use common::{wire_request, Setup};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use kmsd_bench::request::{self, Op};
use kmsd_wire::handle;

fn bench(c: &mut Criterion) {
    let setup = Setup::new();
    let key_id = setup.key_id.clone();
    let mut enc = setup.builder(Op::Encrypt, request::encrypt_body(&key_id, &[0x5au8; 32]));
    let encrypted = handle(&setup.service, wire_request(&mut enc));
    assert_eq!(encrypted.status, 200);
    let ct = request::ciphertext_from_encrypt(&encrypted.body).unwrap();
    let mut dec = setup.builder(Op::Decrypt, request::decrypt_body(&key_id, &ct));
    let mut gdk = setup.builder(
        Op::GenerateDataKey,
        request::generate_data_key_body(&key_id),
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
                    let resp = handle(&setup.service, black_box(req));
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
