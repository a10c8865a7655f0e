//! Client-side signing as AWS SDKs do it: `Authorization` header signing and
//! presigned URLs. Used by `kmsd explain --endpoint`, the load generator and
//! the tests.

use crate::authorization::MAX_PRESIGN_EXPIRES_SECS;
use crate::canonical::{
    canonical_request, credential_scope, sha256_hex, string_to_sign, uri_encode, HttpRequest,
    Payload, ALGORITHM, UNSIGNED_PAYLOAD,
};
use crate::error::SigV4Error;
use crate::signing_key::SigningKey;
use crate::timestamp::format_amz_date;

/// Headers never signed (hop-by-hop or rewritten by proxies), as in the
/// AWS SDKs, plus the ones the signer itself sets.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
    "baggage",
    "traceparent",
    "tracestate",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// How the session token is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionTokenMode {
    /// Added before signing, so it is signed (botocore's behaviour).
    #[default]
    Signed,
    /// Added after signing (some SDKs do this for STS).
    AppendAfterSigning,
}

/// Signing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningSettings {
    /// Normalize the URI path (true for every service but S3).
    pub normalize_uri_path: bool,
    /// Add and sign `X-Amz-Content-Sha256`.
    pub content_sha256_header: bool,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body hash (implies the
    /// `X-Amz-Content-Sha256` header).
    pub unsigned_payload: bool,
    /// Session-token placement.
    pub session_token_mode: SessionTokenMode,
}

impl Default for SigningSettings {
    fn default() -> Self {
        SigningSettings {
            normalize_uri_path: true,
            content_sha256_header: false,
            unsigned_payload: false,
            session_token_mode: SessionTokenMode::Signed,
        }
    }
}

/// Credentials, scope and time for signing.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials.
    pub session_token: Option<&'a str>,
    /// Region of the scope.
    pub region: &'a str,
    /// Service of the scope.
    pub service: &'a str,
    /// Signing time, epoch seconds.
    pub time: i64,
    /// Settings.
    pub settings: SigningSettings,
}

impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &self.time)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Result of header signing. `Debug` redacts the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Headers to add to the request, in this order; `Authorization` last.
    pub headers: Vec<(&'static str, String)>,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// Hex signature.
    pub signature: String,
}

impl std::fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("x-amz-security-token") {
                    (*n, "<redacted>")
                } else {
                    (*n, v.as_str())
                }
            })
            .collect();
        f.debug_struct("SignedHeaders")
            .field("headers", &headers)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// Result of presigning. Its `uri` carries the session token, if any:
/// treat it as a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// The request target (path and query) carrying the signature.
    pub uri: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// Hex signature.
    pub signature: String,
}

fn signed_header_names(req: &HttpRequest<'_>, extra: &[&str]) -> Result<String, SigV4Error> {
    let mut names: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !UNSIGNED_HEADERS.contains(&n.as_str()))
        .chain(extra.iter().map(|s| (*s).to_owned()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SigV4Error::incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(names.join(";"))
}

fn body_hash(req: &HttpRequest<'_>) -> String {
    match req.payload {
        Payload::Bytes(b) => sha256_hex(b),
        Payload::Sha256Hex(h) => h.to_ascii_lowercase(),
    }
}

/// Signs a request with the `Authorization` header. The request's headers
/// must include `Host`; any `Authorization`, `X-Amz-Date`,
/// `X-Amz-Security-Token` or `X-Amz-Content-Sha256` already present are
/// ignored and replaced by the returned headers.
pub fn sign(
    req: &HttpRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<SignedHeaders, SigV4Error> {
    let s = params.settings;
    let amz_date = format_amz_date(params.time);
    let date = &amz_date[..8];
    let payload_hash = if s.unsigned_payload {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        body_hash(req)
    };
    let mut added: Vec<(&'static str, String)> = vec![("X-Amz-Date", amz_date.clone())];
    let sign_token = s.session_token_mode == SessionTokenMode::Signed;
    if let (Some(t), true) = (params.session_token, sign_token) {
        added.push(("X-Amz-Security-Token", t.to_owned()));
    }
    if s.content_sha256_header || s.unsigned_payload {
        added.push(("X-Amz-Content-Sha256", payload_hash.clone()));
    }
    let mut all: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(n, _)| {
            ![
                "authorization",
                "x-amz-date",
                "x-amz-security-token",
                "x-amz-content-sha256",
            ]
            .iter()
            .any(|x| n.eq_ignore_ascii_case(x))
        })
        .copied()
        .collect();
    all.extend(added.iter().map(|(n, v)| (*n, v.as_str())));
    let extra: Vec<String> = added.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let view = HttpRequest {
        headers: &all,
        ..*req
    };
    let signed = signed_header_names(&view, &extra_refs)?;
    let creq = canonical_request(&view, &signed, &payload_hash, s.normalize_uri_path, false);
    let scope = credential_scope(date, params.region, params.service);
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let key = SigningKey::derive(
        params.secret_access_key,
        date,
        params.region,
        params.service,
    );
    let signature = key.sign(&sts);
    if let (Some(t), false) = (params.session_token, sign_token) {
        added.push(("X-Amz-Security-Token", t.to_owned()));
    }
    added.push((
        "Authorization",
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            params.access_key_id
        ),
    ));
    Ok(SignedHeaders {
        headers: added,
        canonical_request: creq,
        string_to_sign: sts,
        signature,
    })
}

fn push_param(uri: &mut String, name: &str, value: &str) {
    uri.push(if uri.contains('?') { '&' } else { '?' });
    uri.push_str(name);
    uri.push('=');
    uri.push_str(&{
        let mut e = String::new();
        uri_encode(value.as_bytes(), false, &mut e);
        e
    });
}

/// Presigns a request: returns its URI with `X-Amz-Algorithm`,
/// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`, `X-Amz-Expires`,
/// `X-Amz-Security-Token` (if any) and `X-Amz-Signature` appended. All
/// request headers not excluded (at least `Host`) are signed.
pub fn presign(
    req: &HttpRequest<'_>,
    params: &SigningParams<'_>,
    expires_secs: u64,
) -> Result<Presigned, SigV4Error> {
    if expires_secs > MAX_PRESIGN_EXPIRES_SECS {
        return Err(SigV4Error::incomplete(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    let s = params.settings;
    let amz_date = format_amz_date(params.time);
    let date = &amz_date[..8];
    let scope = credential_scope(date, params.region, params.service);
    let signed = signed_header_names(req, &[])?;
    let mut uri = req.uri.to_owned();
    if uri.ends_with('?') {
        uri.pop();
    }
    push_param(&mut uri, "X-Amz-Algorithm", ALGORITHM);
    push_param(
        &mut uri,
        "X-Amz-Credential",
        &format!("{}/{scope}", params.access_key_id),
    );
    push_param(&mut uri, "X-Amz-Date", &amz_date);
    push_param(&mut uri, "X-Amz-SignedHeaders", &signed);
    push_param(&mut uri, "X-Amz-Expires", &expires_secs.to_string());
    let sign_token = s.session_token_mode == SessionTokenMode::Signed;
    if let (Some(t), true) = (params.session_token, sign_token) {
        push_param(&mut uri, "X-Amz-Security-Token", t);
    }
    let payload_hash = if s.unsigned_payload {
        UNSIGNED_PAYLOAD.to_owned()
    } else {
        body_hash(req)
    };
    let view = HttpRequest { uri: &uri, ..*req };
    let creq = canonical_request(&view, &signed, &payload_hash, s.normalize_uri_path, true);
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let key = SigningKey::derive(
        params.secret_access_key,
        date,
        params.region,
        params.service,
    );
    let signature = key.sign(&sts);
    if let (Some(t), false) = (params.session_token, sign_token) {
        push_param(&mut uri, "X-Amz-Security-Token", t);
    }
    push_param(&mut uri, "X-Amz-Signature", &signature);
    Ok(Presigned {
        uri,
        canonical_request: creq,
        string_to_sign: sts,
        signature,
    })
}
