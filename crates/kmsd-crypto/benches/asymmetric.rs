//! Per-algorithm cost of the asymmetric operations (`kmsd_crypto::asymmetric`): Sign and
//! Verify of a 32-byte RAW message for each signing key spec, RSA-OAEP decryption, ECDH and
//! ML-KEM decapsulation. Keys are made once, outside the measurement.
#![allow(
    clippy::expect_used,
    reason = "benchmark setup: a key that cannot be made ends the run"
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kmsd_crypto::asymmetric::{EncryptionAlgorithm, KeySpec, MessageType, SigningAlgorithm};

fn sign_verify(c: &mut Criterion) {
    let msg = [0x5au8; 32];
    let cases = [
        (KeySpec::EccNistP256, SigningAlgorithm::EcdsaSha256),
        (KeySpec::EccNistP384, SigningAlgorithm::EcdsaSha384),
        (KeySpec::EccNistP521, SigningAlgorithm::EcdsaSha512),
        (KeySpec::EccSecgP256k1, SigningAlgorithm::EcdsaSha256),
        (
            KeySpec::EccNistEdwards25519,
            SigningAlgorithm::Ed25519Sha512,
        ),
        (KeySpec::Rsa2048, SigningAlgorithm::RsassaPssSha256),
        (KeySpec::Rsa2048, SigningAlgorithm::RsassaPkcs1V15Sha256),
        (KeySpec::Rsa4096, SigningAlgorithm::RsassaPssSha256),
        (KeySpec::MlDsa44, SigningAlgorithm::MlDsaShake256),
        (KeySpec::MlDsa65, SigningAlgorithm::MlDsaShake256),
        (KeySpec::MlDsa87, SigningAlgorithm::MlDsaShake256),
    ];
    let mut g = c.benchmark_group("asymmetric");
    for (spec, alg) in cases {
        let k = spec.generate().expect("key");
        let sig = k.sign(alg, MessageType::Raw, &msg).expect("sign");
        g.bench_function(format!("sign {} {}", spec.name(), alg.name()), |b| {
            b.iter(|| k.sign(alg, MessageType::Raw, black_box(&msg)))
        });
        g.bench_function(format!("verify {} {}", spec.name(), alg.name()), |b| {
            b.iter(|| k.verify(alg, MessageType::Raw, black_box(&msg), &sig))
        });
    }
    let rsa = KeySpec::Rsa2048.generate().expect("key");
    let ct = rsa
        .encrypt(EncryptionAlgorithm::RsaesOaepSha256, &msg)
        .expect("encrypt");
    g.bench_function("decrypt RSA_2048 RSAES_OAEP_SHA_256", |b| {
        b.iter(|| rsa.decrypt(EncryptionAlgorithm::RsaesOaepSha256, black_box(&ct)))
    });
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
    ] {
        let k = spec.generate().expect("key");
        let peer = spec.generate().expect("key");
        let spki = peer.public_key_spki().to_vec();
        g.bench_function(format!("ecdh {}", spec.name()), |b| {
            b.iter(|| k.derive_shared_secret(black_box(&spki)))
        });
    }
    let kem = KeySpec::MlKem768.generate().expect("key");
    let (kct, _) = kem.encapsulate().expect("encapsulate");
    g.bench_function("decapsulate ML_KEM_768", |b| {
        b.iter(|| kem.decapsulate(black_box(&kct)))
    });
    g.finish();
}

criterion_group!(benches, sign_verify);
criterion_main!(benches);
