//! Encrypt and Decrypt through `Kms::call` (root caller, default key policy, MemStore) at
//! 32 B and 4 KiB, and the AES-256-GCM blob alone, to show what authorization and request
//! handling add to the cryptography.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test code: a failed expectation panics; test helpers need no docs"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kmsd_core::clock::SystemClock;
use kmsd_core::kms::Kms;
use kmsd_core::principal::{Principal, PrincipalDirectory, RequestMeta};
use kmsd_core::store::MemStore;
use kmsd_crypto::{blob, KeyMaterial, RootKey};
use kmsd_policy::{Caller, PolicySet};
use serde_json::json;

struct Dir;
impl PrincipalDirectory for Dir {
    fn account_exists(&self, _: &str) -> bool {
        true
    }
    fn principal_exists(&self, _: &str) -> bool {
        true
    }
}

fn bench(c: &mut Criterion) {
    let kms = Kms::open(
        Arc::new(MemStore::new()),
        Arc::new(SystemClock),
        Arc::new(RootKey::generate().unwrap()),
        Arc::new(Dir),
    )
    .unwrap();
    let root = Principal {
        caller: Caller::Root {
            account: "111122223333".into(),
        },
        policies: Arc::new(PolicySet::default()),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    };
    let meta = RequestMeta {
        source_ip: None,
        secure_transport: true,
        time_millis: 1_700_000_000_000,
        region: "us-east-1".into(),
        user_agent: None,
        request_id: "bench".into(),
    };
    let created = kms
        .call("CreateKey", &root, &meta, &json!({}))
        .result
        .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let b64 = base64::engine::general_purpose::STANDARD;

    let mut g = c.benchmark_group("kms_call");
    for size in [32usize, 4096] {
        let pt = vec![0x5au8; size];
        let enc_in = json!({"KeyId": key_id, "Plaintext": b64.encode(&pt), "EncryptionContext": {"purpose": "bench"}});
        let ct =
            kms.call("Encrypt", &root, &meta, &enc_in).result.unwrap()["CiphertextBlob"].clone();
        let dec_in = json!({"CiphertextBlob": ct, "EncryptionContext": {"purpose": "bench"}});
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("Encrypt", size), &enc_in, |b, input| {
            b.iter(|| {
                let r = kms.call("Encrypt", &root, &meta, black_box(input));
                assert!(r.result.is_ok());
            })
        });
        g.bench_with_input(BenchmarkId::new("Decrypt", size), &dec_in, |b, input| {
            b.iter(|| {
                let r = kms.call("Decrypt", &root, &meta, black_box(input));
                assert!(r.result.is_ok());
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("blob_only");
    let material = KeyMaterial::generate().unwrap();
    let ec = BTreeMap::from([("purpose".to_string(), "bench".to_string())]);
    for size in [32usize, 4096] {
        let pt = vec![0x5au8; size];
        let ct = blob::seal(&material, &key_id, 1, &ec, &pt).unwrap();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("seal", size), &pt, |b, pt| {
            b.iter(|| blob::seal(&material, &key_id, 1, &ec, black_box(pt)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("open", size), &ct, |b, ct| {
            b.iter(|| blob::open(&material, black_box(ct), &ec).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
