//! Verification of a typical KMS `Encrypt` request with a cached signing key.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kmsd_sigv4::{
    sign, HttpRequest, Payload, RequestAuth, SigningParams, SigningSettings, Verifier,
    VerifyOptions,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexampletoken";
const NOW: i64 = 1_724_195_282;

fn bench_verify(c: &mut Criterion) {
    let body = br#"{"KeyId":"alias/ExampleAlias","Plaintext":"SGVsbG8sIHdvcmxkIQ==","EncryptionContext":{"Department":"Finance"}}"#;
    let base: Vec<(&str, &str)> = vec![
        ("Host", "kms.us-east-1.amazonaws.com"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "TrentService.Encrypt"),
        ("Content-Length", "113"),
        (
            "User-Agent",
            "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux",
        ),
    ];
    let params = SigningParams {
        access_key_id: "ASIAEXAMPLEKEY123456",
        secret_access_key: SECRET,
        session_token: Some(TOKEN),
        region: "us-east-1",
        service: "kms",
        time: NOW,
        settings: SigningSettings::default(),
    };
    let unsigned = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &base,
        payload: Payload::Bytes(body),
    };
    let Ok(signed) = sign(&unsigned, &params) else {
        return;
    };
    let mut headers = base.clone();
    headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_str())));
    let req = HttpRequest {
        headers: &headers,
        ..unsigned
    };
    let verifier = Verifier::new(VerifyOptions::default(), 1024);
    let Ok(auth) = RequestAuth::from_request(&req) else {
        return;
    };
    assert!(verifier.verify(&req, &auth, SECRET, NOW).is_ok());

    c.bench_function("verify_kms_encrypt_cached_key", |b| {
        b.iter(|| verifier.verify(black_box(&req), black_box(&auth), SECRET, NOW))
    });
    c.bench_function("verify_kms_encrypt_uncached_key", |b| {
        b.iter(|| {
            kmsd_sigv4::verify(
                black_box(&req),
                black_box(&auth),
                SECRET,
                NOW,
                &VerifyOptions::default(),
            )
        })
    });
    c.bench_function("parse_and_verify_kms_encrypt_cached_key", |b| {
        b.iter(|| {
            RequestAuth::from_request(black_box(&req))
                .and_then(|a| verifier.verify(&req, &a, SECRET, NOW))
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
