//! Parsing of SigV4 authorization data: the `Authorization` header, the
//! presigned query parameters, and the request timestamp, into a
//! [`RequestAuth`] ready for [`crate::verify()`].

use std::fmt;

use base64::Engine as _;
use percent_encoding::percent_decode_str;

use crate::canonical::{split_ascii, HttpRequest, ALGORITHM};
use crate::error::SigV4Error;
use crate::timestamp::{format_amz_date, parse_amz_date, parse_http_date};

/// Longest accepted `X-Amz-Expires` (7 days).
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// `AKID/YYYYMMDD/region/service/aws4_request`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Access key id (`AKIA...`/`ASIA...`).
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    /// Region.
    pub region: String,
    /// Service (`kms`, `sts`, `iam`).
    pub service: String,
}

impl Credential {
    /// Parses a credential; the terminator must be `aws4_request`.
    pub fn parse(s: &str) -> Result<Self, SigV4Error> {
        // The five parts without collecting them (a sixth means too many).
        let mut parts = [""; 5];
        let mut n = 0;
        for p in split_ascii(s, |b| b == b'/') {
            if let Some(slot) = parts.get_mut(n) {
                *slot = p;
            }
            n += 1;
        }
        if n != 5 {
            return Err(SigV4Error::incomplete(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{s}'"
            )));
        }
        if parts[4] != "aws4_request" {
            return Err(SigV4Error::incomplete(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                parts[4]
            )));
        }
        if parts[0].is_empty() {
            return Err(SigV4Error::incomplete(format!(
                "Credential must have a non-empty access key id, got '{s}'"
            )));
        }
        Ok(Credential {
            access_key_id: parts[0].to_owned(),
            date: parts[1].to_owned(),
            region: parts[2].to_owned(),
            service: parts[3].to_owned(),
        })
    }

    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        crate::canonical::credential_scope(&self.date, &self.region, &self.service)
    }
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// Credential and scope.
    pub credential: Credential,
    /// `;`-separated lower-case header names, as sent.
    pub signed_headers: String,
    /// Hex signature, as sent.
    pub signature: String,
}

struct RawAuthHeader<'a> {
    credential: Option<&'a str>,
    signed_headers: Option<&'a str>,
    signature: Option<&'a str>,
}

fn missing_param_messages(raw: &RawAuthHeader<'_>) -> String {
    let mut msg = String::new();
    if raw.credential.is_none() {
        msg.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if raw.signature.is_none() {
        msg.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if raw.signed_headers.is_none() {
        msg.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    msg
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_param_separator(b: u8) -> bool {
    b == b',' || b == b' ' || b == b'\t'
}

fn parse_raw(header: &str) -> Result<RawAuthHeader<'_>, SigV4Error> {
    let h = header.trim();
    let (algorithm, rest) = match h.bytes().position(is_blank) {
        Some(i) => (
            h.get(..i).unwrap_or_default(),
            h.get(i..).unwrap_or_default(),
        ),
        None => (h, ""),
    };
    let mut raw = RawAuthHeader {
        credential: None,
        signed_headers: None,
        signature: None,
    };
    if algorithm != ALGORITHM {
        if algorithm.starts_with("AWS4-") {
            return Err(SigV4Error::incomplete(format!(
                "Unsupported AWS 'algorithm': '{algorithm}'"
            )));
        }
        // Not SigV4 at all: report every parameter as missing, as AWS does.
        return Ok(raw);
    }
    for part in split_ascii(rest, is_param_separator) {
        if part.is_empty() {
            continue;
        }
        let Some(eq) = part.bytes().position(|b| b == b'=') else {
            let digest = sha256_raw(part.as_bytes());
            return Err(SigV4Error::incomplete(format!(
                "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '{}'.",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )));
        };
        let (k, v) = (
            part.get(..eq).unwrap_or_default(),
            part.get(eq + 1..).unwrap_or_default(),
        );
        let slot = match k {
            "Credential" => &mut raw.credential,
            "SignedHeaders" => &mut raw.signed_headers,
            "Signature" => &mut raw.signature,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }
    Ok(raw)
}

fn sha256_raw(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn validate_signed_headers(list: &str) -> Result<(), SigV4Error> {
    // An empty name: an empty list, a leading or trailing `;`, or `;;`.
    if list.is_empty() || list.starts_with(';') || list.ends_with(';') || list.contains(";;") {
        return Err(SigV4Error::incomplete(format!(
            "SignedHeaders must be a non-empty ';'-separated list of header names, got '{list}'."
        )));
    }
    Ok(())
}

fn build_header(raw: &RawAuthHeader<'_>) -> Result<AuthHeader, SigV4Error> {
    match (raw.credential, raw.signed_headers, raw.signature) {
        (Some(c), Some(h), Some(s)) => {
            let credential = Credential::parse(c)?;
            validate_signed_headers(h)?;
            Ok(AuthHeader {
                credential,
                signed_headers: h.to_owned(),
                signature: s.to_owned(),
            })
        }
        _ => Err(SigV4Error::incomplete(missing_param_messages(raw))),
    }
}

/// Parses an `Authorization` header value. Parameters may be separated by
/// commas and/or spaces; unknown parameters are ignored.
pub fn parse_authorization(header: &str) -> Result<AuthHeader, SigV4Error> {
    let raw = parse_raw(header)?;
    build_header(&raw).map_err(|e| match e {
        SigV4Error::IncompleteSignature { message } if missing_any(&raw) => {
            SigV4Error::incomplete(format!("{message}Authorization={header}"))
        }
        e => e,
    })
}

fn missing_any(raw: &RawAuthHeader<'_>) -> bool {
    raw.credential.is_none() || raw.signed_headers.is_none() || raw.signature.is_none()
}

/// The presigned query parameters, percent-decoded. `Debug` redacts the
/// session token.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedQuery {
    /// Credential and scope.
    pub credential: Credential,
    /// `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`).
    pub amz_date: String,
    /// `X-Amz-Expires` in seconds (≤ 7 days).
    pub expires_secs: u64,
    /// `X-Amz-SignedHeaders`.
    pub signed_headers: String,
    /// `X-Amz-Signature`.
    pub signature: String,
    /// `X-Amz-Security-Token`, if present.
    pub security_token: Option<String>,
}

/// Whether a query string carries presigned SigV4 parameters
/// (`X-Amz-Algorithm`, `X-Amz-Credential` or `X-Amz-Signature`).
pub fn is_presigned_query(query: &str) -> bool {
    query.split('&').any(|p| {
        let k = p.split('=').next().unwrap_or_default();
        let k: Vec<u8> = percent_decode_str(k).collect();
        matches!(
            k.as_slice(),
            b"X-Amz-Algorithm" | b"X-Amz-Credential" | b"X-Amz-Signature"
        )
    })
}

/// Parses the presigned parameters of a raw query string.
pub fn parse_presigned_query(query: &str) -> Result<PresignedQuery, SigV4Error> {
    let mut alg = None;
    let mut cred = None;
    let mut date = None;
    let mut expires = None;
    let mut signed = None;
    let mut sig = None;
    let mut token = None;
    for piece in query.split('&') {
        let (k, v) = match piece.find('=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, ""),
        };
        let k: Vec<u8> = percent_decode_str(k).collect();
        let slot = match k.as_slice() {
            b"X-Amz-Algorithm" => &mut alg,
            b"X-Amz-Credential" => &mut cred,
            b"X-Amz-Date" => &mut date,
            b"X-Amz-Expires" => &mut expires,
            b"X-Amz-SignedHeaders" => &mut signed,
            b"X-Amz-Signature" => &mut sig,
            b"X-Amz-Security-Token" => &mut token,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(percent_decode_str(v).decode_utf8_lossy().into_owned());
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("X-Amz-Algorithm", &alg),
        ("X-Amz-Credential", &cred),
        ("X-Amz-Signature", &sig),
        ("X-Amz-SignedHeaders", &signed),
        ("X-Amz-Date", &date),
        ("X-Amz-Expires", &expires),
    ] {
        if v.is_none() {
            missing.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    let (Some(alg), Some(cred), Some(date), Some(expires), Some(signed), Some(sig)) =
        (alg, cred, date, expires, signed, sig)
    else {
        missing.push_str("Re-examine the query-string parameters.");
        return Err(SigV4Error::incomplete(missing));
    };
    if alg != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "Unsupported AWS 'algorithm': '{alg}'"
        )));
    }
    let credential = Credential::parse(&cred)?;
    validate_signed_headers(&signed)?;
    let expires_secs: u64 = match expires.parse::<u64>() {
        Ok(n) if expires.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => {
            return Err(SigV4Error::incomplete(format!(
                "X-Amz-Expires should be a number, got '{expires}'."
            )))
        }
    };
    if expires_secs > MAX_PRESIGN_EXPIRES_SECS {
        return Err(SigV4Error::incomplete(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    Ok(PresignedQuery {
        credential,
        amz_date: date,
        expires_secs,
        signed_headers: signed,
        signature: sig,
        security_token: token,
    })
}

/// Where the request timestamp came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSource {
    /// The `X-Amz-Date` header.
    AmzDateHeader,
    /// The HTTP `Date` header (when no `X-Amz-Date`).
    DateHeader,
    /// The `X-Amz-Date` query parameter (presigned).
    Query,
}

/// Header-signed or presigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization` header.
    Header,
    /// Presigned query parameters with their `X-Amz-Expires`.
    Presigned {
        /// Validity in seconds from the request time.
        expires_secs: u64,
    },
}

/// Everything needed to verify a request, extracted from it. `Debug`
/// redacts the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// Header or presigned form.
    pub kind: AuthKind,
    /// Credential and scope.
    pub credential: Credential,
    /// `;`-separated signed header names, as sent.
    pub signed_headers: String,
    /// Hex signature, as sent.
    pub signature: String,
    /// Request timestamp as `YYYYMMDDTHHMMSSZ` (the string that was signed).
    pub amz_date: String,
    /// Request timestamp in epoch seconds.
    pub request_time: i64,
    /// Where the timestamp came from.
    pub date_source: DateSource,
    /// `X-Amz-Security-Token` (header or query), for the caller to check.
    pub security_token: Option<String>,
}

fn redacted(t: &Option<String>) -> Option<&'static str> {
    t.as_ref().map(|_| "<redacted>")
}

impl fmt::Debug for PresignedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedQuery")
            .field("credential", &self.credential)
            .field("amz_date", &self.amz_date)
            .field("expires_secs", &self.expires_secs)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("security_token", &redacted(&self.security_token))
            .finish()
    }
}

impl fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAuth")
            .field("kind", &self.kind)
            .field("credential", &self.credential)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("amz_date", &self.amz_date)
            .field("request_time", &self.request_time)
            .field("date_source", &self.date_source)
            .field("security_token", &redacted(&self.security_token))
            .finish()
    }
}

fn bad_date(v: &str) -> SigV4Error {
    SigV4Error::incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{v}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

impl RequestAuth {
    /// Extracts authorization data from a request: the `Authorization`
    /// header if present, else presigned query parameters, else
    /// [`SigV4Error::MissingAuthenticationToken`].
    pub fn from_request(req: &HttpRequest<'_>) -> Result<Self, SigV4Error> {
        if let Some(h) = req.header("authorization") {
            return Self::from_header(req, h);
        }
        let q = req.query();
        if is_presigned_query(q) {
            let p = parse_presigned_query(q)?;
            let request_time = parse_amz_date(&p.amz_date).ok_or_else(|| bad_date(&p.amz_date))?;
            return Ok(RequestAuth {
                kind: AuthKind::Presigned {
                    expires_secs: p.expires_secs,
                },
                credential: p.credential,
                signed_headers: p.signed_headers,
                signature: p.signature,
                amz_date: p.amz_date,
                request_time,
                date_source: DateSource::Query,
                security_token: p.security_token,
            });
        }
        Err(SigV4Error::MissingAuthenticationToken)
    }

    fn from_header(req: &HttpRequest<'_>, header: &str) -> Result<Self, SigV4Error> {
        let raw = parse_raw(header)?;
        let amz = req.header("x-amz-date");
        let date = req.header("date");
        if missing_any(&raw) || (amz.is_none() && date.is_none()) {
            let mut msg = missing_param_messages(&raw);
            if amz.is_none() && date.is_none() {
                msg.push_str(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
                );
            }
            msg.push_str("Authorization=");
            msg.push_str(header);
            return Err(SigV4Error::incomplete(msg));
        }
        let parsed = build_header(&raw)?;
        let (amz_date, request_time, date_source) = match (amz, date) {
            (Some(v), _) => {
                let v = v.trim();
                let t = parse_amz_date(v).ok_or_else(|| bad_date(v))?;
                (v.to_owned(), t, DateSource::AmzDateHeader)
            }
            (None, Some(v)) => {
                let t = parse_http_date(v).ok_or_else(|| bad_date(v))?;
                (format_amz_date(t), t, DateSource::DateHeader)
            }
            (None, None) => return Err(SigV4Error::MissingAuthenticationToken),
        };
        Ok(RequestAuth {
            kind: AuthKind::Header,
            credential: parsed.credential,
            signed_headers: parsed.signed_headers,
            signature: parsed.signature,
            amz_date,
            request_time,
            date_source,
            security_token: req
                .header("x-amz-security-token")
                .map(|s| s.trim().to_owned()),
        })
    }

    /// Checks the scope's region and service against what the endpoint
    /// serves (`services` lists the accepted service names).
    pub fn check_scope(&self, region: &str, services: &[&str]) -> Result<(), SigV4Error> {
        if !services.contains(&self.credential.service.as_str()) {
            return Err(SigV4Error::WrongService {
                expected: services.first().copied().unwrap_or_default().to_owned(),
            });
        }
        if self.credential.region != region {
            return Err(SigV4Error::WrongRegion {
                region: self.credential.region.clone(),
            });
        }
        Ok(())
    }

    /// Whether `name` (lower-case) is among the signed headers.
    pub fn signs_header(&self, name: &str) -> bool {
        split_ascii(&self.signed_headers, |b| b == b';').any(|h| h == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_botocore_header() {
        let h = parse_authorization("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa0").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.credential.access_key_id, "AKIDEXAMPLE");
        assert_eq!(
            h.credential.scope(),
            "20150830/us-east-1/service/aws4_request"
        );
        assert_eq!(h.signed_headers, "host;x-amz-date");
        assert_eq!(h.signature, "5fa0");
    }

    #[test]
    fn tolerant_separators() {
        for s in [
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request,SignedHeaders=host,Signature=ab",
            "AWS4-HMAC-SHA256  Credential=A/20150830/r/s/aws4_request SignedHeaders=host Signature=ab",
            " AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request , SignedHeaders=host ,Signature=ab ",
        ] {
            let h = parse_authorization(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(h.signed_headers, "host");
            assert_eq!(h.signature, "ab");
        }
    }

    fn msg(r: Result<AuthHeader, SigV4Error>) -> String {
        match r {
            Err(SigV4Error::IncompleteSignature { message }) => message,
            other => panic!("expected IncompleteSignature, got {other:?}"),
        }
    }

    #[test]
    fn missing_parameters() {
        assert_eq!(
            msg(parse_authorization("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab")),
            "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab"
        );
        assert_eq!(
            msg(parse_authorization("Bearer xyz")),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer xyz"
        );
        assert!(msg(parse_authorization("AWS4-HMAC-SHA512 Credential=x"))
            .contains("Unsupported AWS 'algorithm'"));
        assert!(msg(parse_authorization("AWS4-HMAC-SHA256 Credential"))
            .starts_with("Invalid key=value pair (missing equal-sign)"));
        assert!(msg(parse_authorization(
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s, SignedHeaders=host, Signature=ab"
        ))
        .starts_with("Credential must have exactly 5 slash-delimited elements"));
        assert_eq!(
            msg(parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws5_request, SignedHeaders=host, Signature=ab")),
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        );
        assert!(msg(parse_authorization(
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=, Signature=ab"
        ))
        .starts_with("SignedHeaders must be"));
    }

    /// The previous (`str::split` on a char set) parser: the reference for [`parse_raw`].
    fn parse_raw_reference(header: &str) -> Result<RawAuthHeader<'_>, SigV4Error> {
        let h = header.trim();
        let (algorithm, rest) = match h.find([' ', '\t']) {
            Some(i) => (&h[..i], &h[i..]),
            None => (h, ""),
        };
        let mut raw = RawAuthHeader {
            credential: None,
            signed_headers: None,
            signature: None,
        };
        if algorithm != ALGORITHM {
            if algorithm.starts_with("AWS4-") {
                return Err(SigV4Error::incomplete(format!(
                    "Unsupported AWS 'algorithm': '{algorithm}'"
                )));
            }
            // Not SigV4 at all: report every parameter as missing, as AWS does.
            return Ok(raw);
        }
        for part in rest.split([',', ' ', '\t']) {
            if part.is_empty() {
                continue;
            }
            let Some(eq) = part.find('=') else {
                let digest = sha256_raw(part.as_bytes());
                return Err(SigV4Error::incomplete(format!(
                    "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '{}'.",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )));
            };
            let (k, v) = (&part[..eq], &part[eq + 1..]);
            let slot = match k {
                "Credential" => &mut raw.credential,
                "SignedHeaders" => &mut raw.signed_headers,
                "Signature" => &mut raw.signature,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        Ok(raw)
    }

    fn flat(r: Result<RawAuthHeader<'_>, SigV4Error>) -> Result<[Option<&str>; 3], String> {
        r.map(|r| [r.credential, r.signed_headers, r.signature])
            .map_err(|e| e.to_string())
    }

    proptest::proptest! {
        #[test]
        fn parse_raw_equals_reference(
            head in proptest::sample::select(vec!["AWS4-HMAC-SHA256", "AWS4-X", "Bearer", "", " AWS4-HMAC-SHA256"]),
            body in "[ ,\t=/;a-zA-Z0-9\u{a0}\u{3000}é]{0,60}",
            keys in proptest::collection::vec(proptest::sample::select(vec!["Credential=", "SignedHeaders=", "Signature=", "X=", "Credential"]), 0..4),
        ) {
            let header = format!("{head}{}{body}", keys.join(" "));
            proptest::prop_assert_eq!(flat(parse_raw(&header)), flat(parse_raw_reference(&header)));
            let header = format!("{head} {body}");
            proptest::prop_assert_eq!(flat(parse_raw(&header)), flat(parse_raw_reference(&header)));
        }

        #[test]
        fn credential_parse_equals_split(s in "[a-z/é]{0,20}") {
            let parts: Vec<&str> = s.split('/').collect();
            let ok = parts.len() == 5 && parts[4] == "aws4_request" && !parts[0].is_empty();
            proptest::prop_assert_eq!(Credential::parse(&s).is_ok(), ok);
            let s = format!("{s}/x/y/z/aws4_request");
            let parts: Vec<&str> = s.split('/').collect();
            match Credential::parse(&s) {
                Ok(c) => proptest::prop_assert_eq!(
                    [c.access_key_id.as_str(), &c.date, &c.region, &c.service],
                    [parts[0], parts[1], parts[2], parts[3]]
                ),
                Err(_) => proptest::prop_assert!(parts.len() != 5 || parts[0].is_empty()),
            }
        }

        #[test]
        fn signed_header_lists(list in "[a-c;]{0,8}", name in "[a-c]{0,2}") {
            proptest::prop_assert_eq!(
                validate_signed_headers(&list).is_ok(),
                !(list.is_empty() || list.split(';').any(str::is_empty))
            );
            let auth = RequestAuth {
                kind: AuthKind::Header,
                credential: Credential {
                    access_key_id: "A".into(),
                    date: String::new(),
                    region: String::new(),
                    service: String::new(),
                },
                signed_headers: list.clone(),
                signature: String::new(),
                amz_date: String::new(),
                request_time: 0,
                date_source: DateSource::AmzDateHeader,
                security_token: None,
            };
            proptest::prop_assert_eq!(auth.signs_header(&name), list.split(';').any(|h| h == name));
        }
    }

    #[test]
    fn debug_redacts_session_token() {
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20150830%2Fr%2Fs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab&X-Amz-Expires=60&X-Amz-Security-Token=SESSIONTOKENVALUE";
        let p = parse_presigned_query(q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.security_token.as_deref(), Some("SESSIONTOKENVALUE"));
        assert!(!format!("{p:?}").contains("SESSIONTOKENVALUE"));
        let uri = format!("/?{q}");
        let h = [("host", "h")];
        let req = HttpRequest {
            method: "GET",
            uri: &uri,
            headers: &h,
            payload: crate::Payload::Bytes(b""),
        };
        let a = RequestAuth::from_request(&req).unwrap_or_else(|e| panic!("{e}"));
        let d = format!("{a:?}");
        assert!(
            !d.contains("SESSIONTOKENVALUE") && d.contains("<redacted>"),
            "{d}"
        );
    }

    #[test]
    fn presigned_parse_errors() {
        let e = parse_presigned_query("X-Amz-Algorithm=AWS4-HMAC-SHA256");
        let Err(SigV4Error::IncompleteSignature { message }) = e else {
            panic!("{e:?}")
        };
        assert!(message.contains("must include 'X-Amz-Credential'"));
        assert!(!message.contains("must include 'X-Amz-Algorithm'"));
        let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20150830%2Fr%2Fs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab";
        assert!(parse_presigned_query(&format!("{base}&X-Amz-Expires=604800")).is_ok());
        for bad in ["604801", "-1", "+5", "abc", ""] {
            assert!(
                matches!(
                    parse_presigned_query(&format!("{base}&X-Amz-Expires={bad}")),
                    Err(SigV4Error::IncompleteSignature { .. })
                ),
                "{bad}"
            );
        }
    }
}
