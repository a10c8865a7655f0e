//! One small durable commit (fsync-bound), eight concurrent commits (group
//! commit), and load of a 1000-record table.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kmsd_core::store::{Mutation, Store};
use kmsd_store::RedbStore;

fn bench(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let Ok(store) = RedbStore::open(dir.path()) else {
        return;
    };
    let mut i = 0u64;
    let mut group = c.benchmark_group("store");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("commit_small", |b| {
        b.iter(|| {
            i += 1;
            let m = Mutation::Put {
                table: "keys",
                key: format!("k{}", i % 1000),
                value: vec![0xab; 200],
            };
            black_box(store.commit(std::slice::from_ref(&m)))
        })
    });
    group.bench_function("load_1000", |b| b.iter(|| black_box(store.load("keys"))));
    // Eight threads each commit once; group commit shares fsyncs between them.
    group.bench_function("commit_8_concurrent", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for n in 0..iters {
                std::thread::scope(|scope| {
                    for t in 0..8u64 {
                        let store = &store;
                        scope.spawn(move || {
                            let m = Mutation::Put {
                                table: "conc",
                                key: format!("k{t}-{}", n % 100),
                                value: vec![0xcd; 200],
                            };
                            black_box(store.commit(std::slice::from_ref(&m)))
                        });
                    }
                });
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
