//! SigV4 parsing and canonicalization on arbitrary input, and a sign → verify round trip.
//!
//! Properties:
//! - `parse_authorization`, `parse_presigned_query`, `RequestAuth::from_request`, the
//!   canonicalizers and `verify` never panic on any header/URI/query text;
//! - an arbitrary (unsigned) request never verifies;
//! - `normalize_path` and the canonical query are idempotent, and a parsed `Authorization`
//!   header re-rendered parses to the same value;
//! - a request signed (header or presigned) by `kmsd_sigv4::sign`/`presign` with arbitrary
//!   path, query, headers, body, scope, secret and settings verifies with the same secret at
//!   the signing time, and fails with any other secret.

use arbitrary::Unstructured;
use kmsd_sigv4::{
    authorization::{parse_authorization, parse_presigned_query, RequestAuth},
    canonical::{normalize_path, write_canonical_query, write_canonical_uri},
    sign::{presign, sign, SessionTokenMode, SigningParams, SigningSettings},
    verify, HttpRequest, Payload, VerifyOptions,
};

use crate::gen::{byte, pick, string, string_of, TOKEN, UPPER};

const METHODS: &[&str] = &["POST", "GET", "PUT", "DELETE", "HEAD", "OPTIONS", ""];
const HEADER_NAMES: &[&str] = &[
    "Host",
    "host",
    "Authorization",
    "X-Amz-Date",
    "x-amz-date",
    "Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    "Content-Type",
    "X-Amz-Target",
    "User-Agent",
    "Content-Length",
    "Expect",
    "x-amzn-trace-id",
];
const SIGNING_SKIP: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Entry point.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    match byte(&mut u) % 4 {
        0 => parse_arbitrary(&mut u),
        1 => request_arbitrary(&mut u),
        _ => sign_round_trip(&mut u),
    }
}

fn parse_arbitrary(u: &mut Unstructured<'_>) {
    let text = string(u, 255);
    // Re-rendering is only faithful for fields without whitespace or control characters
    // (the parser trims the whole header, so a value ending in e.g. U+000C loses it).
    let plain = |s: &str| {
        !s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    };
    if let Ok(h) = parse_authorization(&text).map_err(drop).and_then(|h| {
        let c = &h.credential;
        let fields = [
            &c.access_key_id,
            &c.date,
            &c.region,
            &c.service,
            &h.signed_headers,
            &h.signature,
        ];
        if fields.iter().all(|f| plain(f)) {
            Ok(h)
        } else {
            Err(())
        }
    }) {
        let again = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
            h.credential.access_key_id,
            h.credential.scope(),
            h.signed_headers,
            h.signature
        );
        let reparsed = parse_authorization(&again);
        assert_eq!(
            reparsed.as_ref().ok(),
            Some(&h),
            "re-rendered {again:?} from {text:?}"
        );
    }
    let _ = parse_presigned_query(&text);
    let _ = kmsd_sigv4::authorization::is_presigned_query(&text);
    let _ = kmsd_sigv4::parse_amz_date(&text);
    let _ = kmsd_sigv4::parse_http_date(&text);
    if text.starts_with('/') {
        let once = normalize_path(&text);
        assert_eq!(
            normalize_path(&once),
            once,
            "normalize_path not idempotent on {text:?}"
        );
    }
    let mut uri = String::new();
    write_canonical_uri(&text, true, &mut uri);
    write_canonical_uri(&text, false, &mut uri);
    let mut q = String::new();
    write_canonical_query(&text, false, &mut q);
    let mut q2 = String::new();
    write_canonical_query(&q, false, &mut q2);
    assert_eq!(q, q2, "canonical query not idempotent on {text:?}");
    let mut q3 = String::new();
    write_canonical_query(&text, true, &mut q3);
}

fn request_arbitrary(u: &mut Unstructured<'_>) {
    let method = pick(u, METHODS);
    let uri = string(u, 200);
    let n = byte(u) % 8;
    let mut owned: Vec<(String, String)> = Vec::new();
    for _ in 0..n {
        let name = if byte(u) < 200 {
            pick(u, HEADER_NAMES).to_string()
        } else {
            string(u, 20)
        };
        owned.push((name, string(u, 200)));
    }
    let body = string(u, 64);
    let headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let req = HttpRequest {
        method,
        uri: &uri,
        headers: &headers,
        payload: Payload::Bytes(body.as_bytes()),
    };
    let _ = req.path();
    let _ = req.query();
    let Ok(auth) = RequestAuth::from_request(&req) else {
        return;
    };
    let _ = auth.check_scope("us-east-1", &["kms"]);
    let _ = kmsd_sigv4::check_time_and_scope(&auth, auth.request_time);
    for normalize in [true, false] {
        let opts = VerifyOptions {
            normalize_uri_path: normalize,
            allow_unsigned_payload: true,
        };
        let _ = kmsd_sigv4::verify::canonical_request_for(&req, &auth, &opts);
        assert!(
            verify(&req, &auth, "secret", auth.request_time, &opts).is_err(),
            "an arbitrary request verified: {auth:?}"
        );
    }
}

fn header_name(u: &mut Unstructured<'_>) -> String {
    if byte(u) < 128 {
        pick(u, HEADER_NAMES).to_string()
    } else {
        string_of(
            u,
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
            16,
            true,
        )
    }
}

fn sign_round_trip(u: &mut Unstructured<'_>) {
    let method = pick(u, &METHODS[..6]);
    let mut path = string(u, 64).replace(['?', '#'], "");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let query = string(u, 64).replace('#', "");
    let mut owned: Vec<(String, String)> = vec![("Host".to_string(), string(u, 24))];
    for _ in 0..byte(u) % 6 {
        let name = header_name(u);
        if SIGNING_SKIP.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            continue;
        }
        owned.push((name, string(u, 48)));
    }
    let body_len = usize::from(byte(u)).min(u.len());
    let body = u.bytes(body_len).unwrap_or_default().to_vec();
    let access_key_id = string_of(u, UPPER, 20, true);
    let secret = string(u, 40);
    let token = if byte(u) & 1 == 1 {
        Some(string(u, 32))
    } else {
        None
    };
    let region = string_of(u, TOKEN, 16, true);
    let service = string_of(u, TOKEN, 8, true);
    let time = 946_684_800 + i64::from(u.arbitrary::<u32>().unwrap_or(0));
    let flags = byte(u);
    let settings = SigningSettings {
        normalize_uri_path: flags & 1 != 0,
        content_sha256_header: flags & 2 != 0,
        unsigned_payload: flags & 4 != 0,
        session_token_mode: if flags & 8 != 0 {
            SessionTokenMode::Signed
        } else {
            SessionTokenMode::AppendAfterSigning
        },
    };
    let presigned = flags & 16 != 0;
    let expires = u64::from(u.arbitrary::<u32>().unwrap_or(0)) % 604_801;
    let params = SigningParams {
        access_key_id: &access_key_id,
        secret_access_key: &secret,
        session_token: token.as_deref(),
        region: &region,
        service: &service,
        time,
        settings,
    };
    let uri = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let req = HttpRequest {
        method,
        uri: &uri,
        headers: &headers,
        payload: Payload::Bytes(&body),
    };
    let opts = VerifyOptions {
        normalize_uri_path: settings.normalize_uri_path,
        allow_unsigned_payload: true,
    };
    if presigned {
        // A query that already carries presigned parameters is not a request to presign.
        if kmsd_sigv4::authorization::is_presigned_query(&query)
            || query.to_ascii_lowercase().contains("x-amz-")
            // Presigned requests carry no X-Amz-Content-Sha256 header, so the verifier
            // hashes the body; an UNSIGNED-PAYLOAD presign is only for S3.
            || settings.unsigned_payload
            // A token appended after presigning is outside the signed query (AWS's
            // "omit session token" signer mode for IoT); no KMS/STS/IAM verifier accepts it.
            || (token.is_some() && settings.session_token_mode == SessionTokenMode::AppendAfterSigning)
        {
            return;
        }
        let Ok(p) = presign(&req, &params, expires) else {
            return;
        };
        let signed_req = HttpRequest { uri: &p.uri, ..req };
        let auth = match RequestAuth::from_request(&signed_req) {
            Ok(a) => a,
            Err(e) => panic!("presigned request does not parse: {e:?}; uri {:?}", p.uri),
        };
        let r = verify(&signed_req, &auth, &secret, time, &opts);
        assert!(
            r.is_ok(),
            "presigned request does not verify: {r:?}; uri {:?}",
            p.uri
        );
        let other = format!("{secret}x");
        assert!(verify(&signed_req, &auth, &other, time, &opts).is_err());
    } else {
        let Ok(s) = sign(&req, &params) else {
            return;
        };
        let mut all = headers.clone();
        all.extend(s.headers.iter().map(|(n, v)| (*n, v.as_str())));
        let signed_req = HttpRequest {
            headers: &all,
            ..req
        };
        let auth = match RequestAuth::from_request(&signed_req) {
            Ok(a) => a,
            Err(e) => panic!("signed request does not parse: {e:?}; headers {all:?}"),
        };
        let r = verify(&signed_req, &auth, &secret, time, &opts);
        assert!(
            r.is_ok(),
            "signed request does not verify: {r:?}; creq {:?}",
            s.canonical_request
        );
        let other = format!("{secret}x");
        assert!(verify(&signed_req, &auth, &other, time, &opts).is_err());
    }
}
