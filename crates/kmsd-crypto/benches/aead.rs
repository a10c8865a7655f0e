//! Seal and open of kmsd ciphertext blobs at 32 B and 4 KiB.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kmsd_crypto::{blob, KeyMaterial};

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn bench(c: &mut Criterion) {
    let Ok(material) = KeyMaterial::generate() else {
        return;
    };
    let mut ec = BTreeMap::new();
    ec.insert("purpose".to_string(), "bench".to_string());
    let mut group = c.benchmark_group("blob");
    for size in [32usize, 4096] {
        let pt = vec![0x5au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &pt, |b, pt| {
            b.iter(|| blob::seal(&material, KEY_ID, 1, &ec, black_box(pt)))
        });
        let Ok(sealed) = blob::seal(&material, KEY_ID, 1, &ec, &pt) else {
            return;
        };
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, ct| {
            b.iter(|| blob::open(&material, black_box(ct), &ec))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
