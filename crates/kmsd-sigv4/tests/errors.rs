//! Every rejection path of parsing and verification, with AWS's texts and
//! code mapping.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use kmsd_sigv4::canonical::{canonical_request, credential_scope, sha256_hex, string_to_sign};
use kmsd_sigv4::{
    parse_amz_date, sign, verify, DateSource, HttpRequest, Payload, RequestAuth, SigV4Error,
    SigningKey, SigningParams, SigningSettings, Verifier, VerifyOptions,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = br#"{"KeyId":"alias/x","Plaintext":"aGk="}"#;

fn t(s: &str) -> i64 {
    parse_amz_date(s).unwrap_or_else(|| panic!("bad test timestamp {s}"))
}

fn base_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Host", "kms.us-east-1.amazonaws.com"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "TrentService.Encrypt"),
    ]
}

fn params(time: i64) -> SigningParams<'static> {
    SigningParams {
        access_key_id: "AKIAEXAMPLE",
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "kms",
        time,
        settings: SigningSettings::default(),
    }
}

/// Signs the base request at `time`; returns the full header list.
fn signed_headers(time: i64, settings: SigningSettings) -> Vec<(String, String)> {
    let base = base_headers();
    let req = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &base,
        payload: Payload::Bytes(BODY),
    };
    let out = sign(
        &req,
        &SigningParams {
            settings,
            ..params(time)
        },
    )
    .unwrap_or_else(|e| panic!("sign: {e}"));
    base.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .chain(out.headers.into_iter().map(|(n, v)| (n.to_owned(), v)))
        .collect()
}

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn check(headers: &[(String, String)], body: &[u8], now: i64) -> Result<(), SigV4Error> {
    let hs = refs(headers);
    let req = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &hs,
        payload: Payload::Bytes(body),
    };
    let auth = RequestAuth::from_request(&req)?;
    verify(&req, &auth, SECRET, now, &VerifyOptions::default())
}

fn set(headers: &mut [(String, String)], name: &str, value: &str) {
    for (n, v) in headers.iter_mut() {
        if n.eq_ignore_ascii_case(name) {
            *v = value.to_owned();
        }
    }
}

fn incomplete(r: Result<(), SigV4Error>) -> String {
    match r {
        Err(SigV4Error::IncompleteSignature { message }) => message,
        other => panic!("expected IncompleteSignature, got {other:?}"),
    }
}

#[test]
fn happy_path_and_cached_verifier() {
    let now = t("20240820T230802Z");
    let h = signed_headers(now, SigningSettings::default());
    assert_eq!(check(&h, BODY, now), Ok(()));
    let v = Verifier::new(VerifyOptions::default(), 8);
    let hs = refs(&h);
    let req = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &hs,
        payload: Payload::Bytes(BODY),
    };
    let auth = RequestAuth::from_request(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.verify(&req, &auth, SECRET, now), Ok(()));
    assert_eq!(v.verify(&req, &auth, SECRET, now), Ok(()));
    // A cached key for the right secret is never used for a wrong one.
    assert_eq!(
        v.verify(&req, &auth, "not-the-secret", now),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    assert_eq!(v.verify(&req, &auth, SECRET, now), Ok(()));
    assert_eq!(v.cache().len(), 1);
}

#[test]
fn skew_messages_match_aws() {
    // aws/aws-sdk-js-v3#6400
    let req_time = t("20240820T230143Z");
    let h = signed_headers(req_time, SigningSettings::default());
    let e = check(&h, BODY, t("20240820T230802Z")).err();
    assert_eq!(
        e.as_ref().map(ToString::to_string).as_deref(),
        Some("Signature expired: 20240820T230143Z is now earlier than 20240820T230302Z (20240820T230802Z - 5 min.)")
    );
    // aws/aws-sdk-go#2194
    let h = signed_headers(t("20181002T170509Z"), SigningSettings::default());
    let e = check(&h, BODY, t("20181002T165812Z")).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("Signature not yet current: 20181002T170509Z is still later than 20181002T170312Z (20181002T165812Z + 5 min.)")
    );
    // Exactly 5 minutes either way is still accepted.
    let now = t("20240820T230802Z");
    let h = signed_headers(now - 300, SigningSettings::default());
    assert_eq!(check(&h, BODY, now), Ok(()));
    let h = signed_headers(now + 300, SigningSettings::default());
    assert_eq!(check(&h, BODY, now), Ok(()));
}

#[test]
fn missing_authentication() {
    let h: Vec<(String, String)> = base_headers()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let e = check(&h, BODY, 0).err();
    assert_eq!(e, Some(SigV4Error::MissingAuthenticationToken));
    let e = e.unwrap_or(SigV4Error::SignatureDoesNotMatch);
    assert_eq!(e.query_message(), "Request is missing Authentication Token");
    assert_eq!(e.kms_message(), "Missing Authentication Token");
}

#[test]
fn missing_parameters_and_date() {
    let now = t("20240820T230802Z");
    let mut h = signed_headers(now, SigningSettings::default());
    h.retain(|(n, _)| n != "X-Amz-Date");
    set(
        &mut h,
        "Authorization",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
    );
    let m = incomplete(check(&h, BODY, now));
    assert_eq!(
        m,
        "Authorization header requires 'Credential' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00"
    );
    assert!(!m.is_empty());
}

#[test]
fn malformed_timestamp() {
    let now = t("20240820T230802Z");
    let mut h = signed_headers(now, SigningSettings::default());
    set(&mut h, "X-Amz-Date", "2024-08-20T23:08:02Z");
    assert_eq!(
        incomplete(check(&h, BODY, now)),
        "Date must be in ISO-8601 'basic format'. Got '2024-08-20T23:08:02Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
}

#[test]
fn scope_date_mismatch() {
    let now = t("20240820T230802Z");
    let mut h = signed_headers(now, SigningSettings::default());
    for (n, v) in h.iter_mut() {
        if n == "Authorization" {
            *v = v.replace("/20240820/", "/20240819/");
        }
    }
    let e = check(&h, BODY, now).err();
    assert_eq!(
        e.as_ref().map(ToString::to_string).as_deref(),
        Some("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240819' != '20240820', from '20240820T230802Z'.")
    );
}

#[test]
fn required_signed_headers() {
    let now = t("20240820T230802Z");
    let h = signed_headers(now, SigningSettings::default());
    let authz = h
        .iter()
        .find(|(n, _)| n == "Authorization")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    for (from, needle) in [
        (
            "content-type;host;x-amz-date;x-amz-target",
            "'Host' or ':authority' must be a 'SignedHeader'",
        ),
        (
            "content-type;host;x-amz-date;x-amz-target",
            "'X-Amz-Date' must be a 'SignedHeader'",
        ),
    ] {
        let to = if needle.contains("Host") {
            from.replace("host;", "")
        } else {
            from.replace("x-amz-date;", "")
        };
        let mut h2 = h.clone();
        set(&mut h2, "Authorization", &authz.replace(from, &to));
        let m = incomplete(check(&h2, BODY, now));
        assert!(m.starts_with(needle), "{m}");
    }
}

#[test]
fn wrong_signature_body_header_and_hex_case() {
    let now = t("20240820T230802Z");
    let h = signed_headers(now, SigningSettings::default());
    let e = check(&h, b"{}", now).err();
    assert_eq!(e, Some(SigV4Error::SignatureDoesNotMatch));
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some(kmsd_sigv4::SIGNATURE_MISMATCH_MESSAGE)
    );
    let mut h2 = h.clone();
    set(&mut h2, "X-Amz-Target", "TrentService.Decrypt");
    assert_eq!(
        check(&h2, BODY, now),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    let mut h3 = h.clone();
    for (n, v) in h3.iter_mut() {
        if n == "Authorization" {
            let i = v.find("Signature=").map_or(0, |i| i + 10);
            let upper = v[i..].to_ascii_uppercase();
            v.replace_range(i.., &upper);
        }
    }
    assert_eq!(
        check(&h3, BODY, now),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    // An unsigned header may change freely.
    let mut h4 = h.clone();
    h4.push(("User-Agent".to_owned(), "anything".to_owned()));
    assert_eq!(check(&h4, BODY, now), Ok(()));
}

#[test]
fn content_sha256_header() {
    let now = t("20240820T230802Z");
    let s = SigningSettings {
        content_sha256_header: true,
        ..SigningSettings::default()
    };
    let h = signed_headers(now, s);
    assert_eq!(check(&h, BODY, now), Ok(()));
    assert_eq!(
        check(&h, b"tampered", now),
        Err(SigV4Error::ContentSha256Mismatch)
    );

    let s = SigningSettings {
        unsigned_payload: true,
        ..SigningSettings::default()
    };
    let h = signed_headers(now, s);
    assert_eq!(check(&h, b"any body at all", now), Ok(()));
    let hs = refs(&h);
    let req = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &hs,
        payload: Payload::Bytes(BODY),
    };
    let auth = RequestAuth::from_request(&req).unwrap_or_else(|e| panic!("{e}"));
    let strict = VerifyOptions {
        allow_unsigned_payload: false,
        ..VerifyOptions::default()
    };
    assert_eq!(
        verify(&req, &auth, SECRET, now, &strict),
        Err(SigV4Error::UnsignedPayloadNotAllowed)
    );
}

#[test]
fn scope_region_and_service() {
    let now = t("20240820T230802Z");
    let h = signed_headers(now, SigningSettings::default());
    let hs = refs(&h);
    let req = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &hs,
        payload: Payload::Bytes(BODY),
    };
    let auth = RequestAuth::from_request(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auth.check_scope("us-east-1", &["kms"]), Ok(()));
    let e = auth.check_scope("eu-west-1", &["kms"]).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("Credential should be scoped to a valid region, not 'us-east-1'. ")
    );
    let e = auth.check_scope("us-east-1", &["sts", "iam"]).err();
    assert_eq!(
        e.as_ref().map(ToString::to_string).as_deref(),
        Some("Credential should be scoped to correct service: 'sts'. ")
    );
}

#[test]
fn date_header_instead_of_x_amz_date() {
    let now = t("20150830T123600Z");
    let date = "Sun, 30 Aug 2015 12:36:00 GMT";
    let headers = vec![("Host", "example.amazonaws.com"), ("Date", date)];
    let req = HttpRequest {
        method: "GET",
        uri: "/",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let mk = |signed: &str| {
        let creq = canonical_request(&req, signed, &sha256_hex(b""), true, false);
        let scope = credential_scope("20150830", "us-east-1", "sts");
        let sts = string_to_sign("20150830T123600Z", &scope, &creq);
        let sig = SigningKey::derive(SECRET, "20150830", "us-east-1", "sts").sign(&sts);
        format!("AWS4-HMAC-SHA256 Credential=AKID/{scope}, SignedHeaders={signed}, Signature={sig}")
    };
    let good = mk("date;host");
    let mut h2 = headers.clone();
    h2.push(("Authorization", &good));
    let r2 = HttpRequest {
        headers: &h2,
        ..req
    };
    let auth = RequestAuth::from_request(&r2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auth.date_source, DateSource::DateHeader);
    assert_eq!(auth.amz_date, "20150830T123600Z");
    assert_eq!(
        verify(&r2, &auth, SECRET, now, &VerifyOptions::default()),
        Ok(())
    );

    let bad = mk("host");
    let mut h3 = headers.clone();
    h3.push(("Authorization", &bad));
    let r3 = HttpRequest {
        headers: &h3,
        ..req
    };
    let auth = RequestAuth::from_request(&r3).unwrap_or_else(|e| panic!("{e}"));
    let m = incomplete(verify(&r3, &auth, SECRET, now, &VerifyOptions::default()));
    assert!(m.starts_with("'Date' must be a 'SignedHeader'"), "{m}");
}

#[test]
fn presigned_errors() {
    let now = t("20240820T230802Z");
    let headers = vec![("Host", "sts.amazonaws.com")];
    let req = HttpRequest {
        method: "GET",
        uri: "/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let p = SigningParams {
        session_token: Some("tok/en+=="),
        service: "sts",
        ..params(now)
    };
    let out = kmsd_sigv4::presign(&req, &p, 60).unwrap_or_else(|e| panic!("{e}"));
    let r = HttpRequest {
        uri: &out.uri,
        ..req
    };
    let auth = RequestAuth::from_request(&r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(auth.security_token.as_deref(), Some("tok/en+=="));
    assert_eq!(
        verify(&r, &auth, SECRET, now + 60, &VerifyOptions::default()),
        Ok(())
    );
    let e = verify(&r, &auth, SECRET, now + 61, &VerifyOptions::default()).err();
    assert!(matches!(e, Some(SigV4Error::PresignedExpired { .. })));
    // Tampering with a signed query parameter.
    let tampered = out.uri.replace("GetCallerIdentity", "GetSessionToken");
    let r = HttpRequest {
        uri: &tampered,
        ..req
    };
    let auth = RequestAuth::from_request(&r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        verify(&r, &auth, SECRET, now, &VerifyOptions::default()),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    // Over 7 days.
    assert!(kmsd_sigv4::presign(&req, &p, 604_801).is_err());
    let long = out.uri.replace("X-Amz-Expires=60", "X-Amz-Expires=604801");
    let r = HttpRequest { uri: &long, ..req };
    let m = match RequestAuth::from_request(&r) {
        Err(SigV4Error::IncompleteSignature { message }) => message,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        m,
        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
    );
    // Missing parameter.
    let partial = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240820T230802Z";
    let r = HttpRequest {
        uri: partial,
        ..req
    };
    match RequestAuth::from_request(&r) {
        Err(SigV4Error::IncompleteSignature { message }) => {
            assert!(
                message.contains("must include 'X-Amz-Credential'"),
                "{message}"
            );
            assert!(
                message.ends_with("Re-examine the query-string parameters."),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}
