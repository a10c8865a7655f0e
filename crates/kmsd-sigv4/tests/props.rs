//! Property tests: sign-then-verify round trips, any change to signed data
//! is rejected, and the parsers never panic on arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use kmsd_sigv4::{
    parse_amz_date, parse_authorization, parse_http_date, parse_presigned_query, sign, verify,
    HttpRequest, Payload, RequestAuth, SigV4Error, SigningParams, SigningSettings, VerifyOptions,
};
use proptest::prelude::*;

const NOW: i64 = 1_724_195_282;

#[derive(Debug, Clone)]
struct Case {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    secret: String,
    token: Option<String>,
    skew: i64,
}

fn header_name() -> impl Strategy<Value = String> {
    // Names the signer sets itself (x-amz-date, ...) are kept out.
    "x-[a-z][a-z0-9-]{0,8}".prop_filter("reserved", |s| !s.starts_with("x-amz"))
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        prop::collection::vec("[a-zA-Z0-9._~ %-]{1,8}", 0..4),
        prop::collection::vec(("[a-zA-Z0-9_.~-]{1,6}", "[ -~]{0,8}"), 0..4),
        prop::collection::vec((header_name(), "[!-~]([ -~]{0,10}[!-~])?"), 0..4),
        prop::collection::vec(any::<u8>(), 0..64),
        "[A-Za-z0-9/+]{1,40}",
        prop::option::of("[A-Za-z0-9/+=]{1,40}"),
        -300i64..=300,
    )
        .prop_map(|(m, segs, q, h, body, secret, token, skew)| Case {
            method: m.to_owned(),
            path: format!("/{}", segs.join("/")),
            query: q,
            headers: h,
            body,
            secret,
            token,
            skew,
        })
}

fn encode_query(q: &[(String, String)]) -> String {
    q.iter()
        .map(|(k, v)| {
            let mut ke = String::new();
            kmsd_sigv4::canonical::uri_encode(k.as_bytes(), false, &mut ke);
            let mut ve = String::new();
            kmsd_sigv4::canonical::uri_encode(v.as_bytes(), false, &mut ve);
            format!("{ke}={ve}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Signs the case; returns (uri, headers incl. signature headers).
fn signed(c: &Case) -> (String, Vec<(String, String)>) {
    let uri = if c.query.is_empty() {
        c.path.clone()
    } else {
        format!("{}?{}", c.path, encode_query(&c.query))
    };
    let mut headers: Vec<(String, String)> =
        vec![("Host".into(), "kms.us-east-1.amazonaws.com".into())];
    headers.extend(c.headers.iter().cloned());
    let hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = HttpRequest {
        method: &c.method,
        uri: &uri,
        headers: &hs,
        payload: Payload::Bytes(&c.body),
    };
    let p = SigningParams {
        access_key_id: "AKIAEXAMPLE",
        secret_access_key: &c.secret,
        session_token: c.token.as_deref(),
        region: "us-east-1",
        service: "kms",
        time: NOW + c.skew,
        settings: SigningSettings::default(),
    };
    let out = match sign(&req, &p) {
        Ok(o) => o,
        Err(e) => panic!("sign failed: {e}"),
    };
    headers.extend(out.headers.into_iter().map(|(n, v)| (n.to_owned(), v)));
    (uri, headers)
}

fn check(
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
    secret: &str,
) -> Result<(), SigV4Error> {
    let hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = HttpRequest {
        method,
        uri,
        headers: &hs,
        payload: Payload::Bytes(body),
    };
    let auth = RequestAuth::from_request(&req)?;
    verify(&req, &auth, secret, NOW, &VerifyOptions::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sign_then_verify(c in case()) {
        let (uri, headers) = signed(&c);
        prop_assert_eq!(check(&c.method, &uri, &headers, &c.body, &c.secret), Ok(()));
    }

    #[test]
    fn tampering_is_rejected(c in case(), which in 0usize..6, idx in any::<prop::sample::Index>()) {
        let (uri, mut headers) = signed(&c);
        let mismatch = Err(SigV4Error::SignatureDoesNotMatch);
        match which {
            0 => {
                let mut b = c.body.clone();
                b.push(b'!');
                prop_assert_eq!(check(&c.method, &uri, &headers, &b, &c.secret), mismatch);
            }
            1 => {
                let s = format!("{}x", c.secret);
                prop_assert_eq!(check(&c.method, &uri, &headers, &c.body, &s), mismatch);
            }
            2 => {
                let (p, q) = uri.split_once('?').map_or((uri.as_str(), None), |(p, q)| (p, Some(q)));
                let u = match q { Some(q) => format!("{p}/zz?{q}"), None => format!("{p}/zz") };
                prop_assert_eq!(check(&c.method, &u, &headers, &c.body, &c.secret), mismatch);
            }
            3 => {
                let u = if uri.contains('?') { format!("{uri}&extra=1") } else { format!("{uri}?extra=1") };
                prop_assert_eq!(check(&c.method, &u, &headers, &c.body, &c.secret), mismatch);
            }
            4 => {
                // Change the value of a signed header other than x-amz-date
                // (which would change the scope/skew result instead).
                let signable: Vec<usize> = headers.iter().enumerate()
                    .filter(|(_, (n, _))| !matches!(n.to_ascii_lowercase().as_str(), "authorization" | "x-amz-date"))
                    .map(|(i, _)| i).collect();
                let i = signable[idx.index(signable.len())];
                headers[i].1.push('Z');
                prop_assert_eq!(check(&c.method, &uri, &headers, &c.body, &c.secret), mismatch);
            }
            _ => {
                let m = if c.method == "GET" { "HEAD" } else { "GET" };
                prop_assert_eq!(check(m, &uri, &headers, &c.body, &c.secret), mismatch);
            }
        }
    }

    #[test]
    fn parsers_never_panic(s in "\\PC*", t in ".*") {
        let _ = parse_authorization(&s);
        let _ = parse_authorization(&format!("AWS4-HMAC-SHA256 {s}"));
        let _ = parse_presigned_query(&s);
        let _ = parse_presigned_query(&format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&{s}"));
        let _ = parse_amz_date(&s);
        let _ = parse_http_date(&s);
        let headers = [("Authorization", s.as_str()), ("X-Amz-Date", t.as_str()), ("Date", t.as_str()), ("Host", "h")];
        for uri in [s.as_str(), "/", "/?X-Amz-Algorithm=x"] {
            let req = HttpRequest { method: "POST", uri, headers: &headers, payload: Payload::Bytes(s.as_bytes()) };
            if let Ok(auth) = RequestAuth::from_request(&req) {
                let _ = verify(&req, &auth, "secret", NOW, &VerifyOptions::default());
                let _ = verify(&req, &auth, "secret", i64::MIN, &VerifyOptions::default());
                let _ = verify(&req, &auth, "secret", i64::MAX, &VerifyOptions::default());
            }
            let q = HttpRequest { uri: &format!("/?{s}"), headers: &headers[3..], ..req };
            if let Ok(auth) = RequestAuth::from_request(&q) {
                let _ = verify(&q, &auth, "secret", NOW, &VerifyOptions::default());
            }
        }
    }

    #[test]
    fn signing_never_panics(uri in "\\PC*", name in "\\PC{0,12}", value in "\\PC{0,12}", time in any::<i64>(), expires in any::<u64>()) {
        let headers = [("Host", "h"), (name.as_str(), value.as_str())];
        let req = HttpRequest { method: "GET", uri: &uri, headers: &headers, payload: Payload::Bytes(b"") };
        let p = SigningParams {
            access_key_id: "AKID",
            secret_access_key: "s",
            session_token: Some(&value),
            region: "r",
            service: "s",
            time,
            settings: SigningSettings::default(),
        };
        prop_assert!(sign(&req, &p).is_ok());
        let _ = kmsd_sigv4::presign(&req, &p, expires);
    }

    #[test]
    fn authorization_fields_never_panic(
        cred in "[ -~]{0,60}", signed in "[ -~]{0,30}", sig in "[ -~]{0,70}", date in "[0-9TZ]{0,17}",
        expires in "[0-9]{0,8}", now in any::<i64>()
    ) {
        let h = format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={sig}");
        let headers = [("Authorization", h.as_str()), ("X-Amz-Date", date.as_str()), ("Host", "h")];
        let req = HttpRequest { method: "POST", uri: "/", headers: &headers, payload: Payload::Bytes(b"") };
        if let Ok(auth) = RequestAuth::from_request(&req) {
            let _ = verify(&req, &auth, "secret", now, &VerifyOptions::default());
        }
        let uri = format!("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders={signed}&X-Amz-Signature={sig}");
        let req = HttpRequest { uri: &uri, headers: &headers[2..], ..req };
        if let Ok(auth) = RequestAuth::from_request(&req) {
            let _ = verify(&req, &auth, "secret", now, &VerifyOptions::default());
        }
    }
}
