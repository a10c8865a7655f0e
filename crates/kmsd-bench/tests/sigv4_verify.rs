//! The requests kmsd-bench sends verify with kmsd-sigv4's server-side
//! verifier, and fail it when the secret, body or time is wrong; the cached
//! signer agrees with kmsd-sigv4's own `sign`.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::time::{Duration, UNIX_EPOCH};

use kmsd_bench::request::{encrypt_body, Endpoint, Op, RequestBuilder};
use kmsd_bench::sign::{Credentials, Signer};
use kmsd_sigv4::{HttpRequest, Payload, RequestAuth, SigV4Error, SigningParams, Verifier};

const AKID: &str = "AKIAEXAMPLE111ROOT01";
const SECRET: &str = "root-secret-of-111122223333";
const NOW: u64 = 1_795_000_000; // 2026-11-18

fn builder(token: Option<&str>, replay: bool) -> RequestBuilder {
    let signer = Signer::new(
        Credentials::new(AKID, SECRET, token.map(str::to_owned)),
        "us-west-2",
        "kms",
    );
    let ep = Endpoint::parse("http://127.0.0.1:4599").unwrap();
    RequestBuilder::new(
        signer,
        &ep,
        Op::Encrypt,
        encrypt_body("alias/bench", &[7u8; 32]),
        replay,
    )
}

/// Verifies a built request as the server would, with `body` as received.
fn verify(
    req: &http::Request<http_body_util::Full<bytes::Bytes>>,
    body: &[u8],
    secret: &str,
    now: u64,
) -> Result<RequestAuth, SigV4Error> {
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    let view = HttpRequest {
        method: req.method().as_str(),
        uri: "/",
        headers: &headers,
        payload: Payload::Bytes(body),
    };
    let auth = RequestAuth::from_request(&view)?;
    let verifier = Verifier::default();
    verifier.verify(&view, &auth, secret, now as i64)?;
    Ok(auth)
}

#[test]
fn signed_encrypt_request_verifies() {
    let mut b = builder(None, false);
    let req = b.build(UNIX_EPOCH + Duration::from_secs(NOW)).unwrap();
    let body = b.body().clone();
    let auth = verify(&req, &body, SECRET, NOW + 3).unwrap();
    assert_eq!(auth.credential.access_key_id, AKID);
    assert_eq!(auth.credential.region, "us-west-2");
    assert_eq!(auth.credential.service, "kms");
    assert_eq!(
        auth.signed_headers,
        "content-type;host;x-amz-date;x-amz-target"
    );
}

#[test]
fn wrong_secret_or_tampered_body_fails() {
    let mut b = builder(None, false);
    let req = b.build(UNIX_EPOCH + Duration::from_secs(NOW)).unwrap();
    let body = b.body().clone();
    assert!(matches!(
        verify(&req, &body, "not-the-secret", NOW),
        Err(SigV4Error::SignatureDoesNotMatch)
    ));
    let mut tampered = body.to_vec();
    tampered.push(b' ');
    assert!(matches!(
        verify(&req, &tampered, SECRET, NOW),
        Err(SigV4Error::SignatureDoesNotMatch)
    ));
}

#[test]
fn replayed_request_verifies_until_the_skew_window_closes() {
    let mut b = builder(None, true);
    let t0 = UNIX_EPOCH + Duration::from_secs(NOW);
    let first = b.build(t0).unwrap();
    let again = b.build(t0 + Duration::from_secs(120)).unwrap();
    assert_eq!(first.headers(), again.headers());
    let body = b.body().clone();
    assert!(verify(&again, &body, SECRET, NOW + 120).is_ok());
    assert!(matches!(
        verify(&again, &body, SECRET, NOW + 301),
        Err(SigV4Error::SignatureExpired { .. })
    ));
}

#[test]
fn session_token_is_sent_signed_and_verifies() {
    let mut b = builder(Some("FwoGZXIvYXdzEXAMPLETOKEN"), false);
    let req = b.build(UNIX_EPOCH + Duration::from_secs(NOW)).unwrap();
    let body = b.body().clone();
    let auth = verify(&req, &body, SECRET, NOW).unwrap();
    assert_eq!(
        auth.security_token.as_deref(),
        Some("FwoGZXIvYXdzEXAMPLETOKEN")
    );
    assert!(auth.signed_headers.contains("x-amz-security-token"));
}

#[test]
fn cached_signer_agrees_with_kmsd_sigv4_sign() {
    let creds = Credentials::new(AKID, SECRET, Some("tok".to_owned()));
    let mut signer = Signer::new(creds, "eu-central-1", "kms");
    let body = br#"{"KeyId":"k","Plaintext":"AAAA"}"#;
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("host", "localhost:4599"),
        ("x-amz-target", "TrentService.Encrypt"),
    ];
    let ours = signer.sign("POST", "/", &headers, body, "20261123T074320Z");
    let theirs = kmsd_sigv4::sign(
        &HttpRequest {
            method: "POST",
            uri: "/",
            headers: &headers,
            payload: Payload::Bytes(body),
        },
        &SigningParams {
            access_key_id: AKID,
            secret_access_key: SECRET,
            session_token: Some("tok"),
            region: "eu-central-1",
            service: "kms",
            time: 1_795_419_800,
            settings: Default::default(),
        },
    )
    .unwrap();
    let auth = theirs
        .headers
        .iter()
        .find(|(n, _)| *n == "Authorization")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(ours.authorization, auth);
    // A second signature on the same day reuses the cached key and still agrees.
    let again = signer.sign("POST", "/", &headers, body, "20261123T074320Z");
    assert_eq!(again, ours);
}
