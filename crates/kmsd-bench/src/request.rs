//! KMS awsJson1_1 requests: endpoint parsing, operation bodies, signed
//! `http::Request`s, and reading the error code of a failed response.
//!
//! A KMS call is `POST /` with `Content-Type: application/x-amz-json-1.1`,
//! `X-Amz-Target: TrentService.<Operation>` and a JSON body; it is signed
//! with SigV4 for service `kms` (see [`crate::sign`]).

use std::time::SystemTime;

use anyhow::{bail, Context};
use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::Full;

use crate::sign::{amz_date, Signer};

/// The awsJson1_1 content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The KMS operations the load generator drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `TrentService.Encrypt`.
    Encrypt,
    /// `TrentService.Decrypt`.
    Decrypt,
    /// `TrentService.GenerateDataKey`.
    GenerateDataKey,
    /// `TrentService.Sign`.
    Sign,
    /// `TrentService.CreateKey` (setup only).
    CreateKey,
}

impl Op {
    /// The operation name as AWS spells it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Encrypt => "Encrypt",
            Op::Decrypt => "Decrypt",
            Op::GenerateDataKey => "GenerateDataKey",
            Op::Sign => "Sign",
            Op::CreateKey => "CreateKey",
        }
    }

    /// The `X-Amz-Target` header value.
    pub fn target(self) -> &'static str {
        match self {
            Op::Encrypt => "TrentService.Encrypt",
            Op::Decrypt => "TrentService.Decrypt",
            Op::GenerateDataKey => "TrentService.GenerateDataKey",
            Op::Sign => "TrentService.Sign",
            Op::CreateKey => "TrentService.CreateKey",
        }
    }
}

/// A plain-HTTP endpoint (`http://HOST:PORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `HOST:PORT` as given, used for the `Host` header and for connecting.
    pub authority: String,
}

impl Endpoint {
    /// Parses `http://HOST[:PORT][/]`. TLS is not supported. The port
    /// defaults to 80.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = match url.strip_prefix("http://") {
            Some(r) => r,
            None if url.starts_with("https://") => {
                bail!("https endpoints are not supported (plain http only): {url}")
            }
            None => bail!("endpoint must start with http://: {url}"),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            bail!("endpoint must be http://HOST[:PORT] with no path: {url}");
        }
        Ok(Endpoint {
            authority: authority.to_owned(),
        })
    }

    /// The address to connect to (`HOST:PORT`, port 80 when absent).
    pub fn connect_addr(&self) -> String {
        let has_port = match self.authority.rfind(']') {
            // [v6]:port
            Some(close) => self.authority[close..].contains(':'),
            None => self.authority.contains(':'),
        };
        if has_port {
            self.authority.clone()
        } else {
            format!("{}:80", self.authority)
        }
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn to_body(v: &serde_json::Value) -> Bytes {
    // Serializing a `Value` cannot fail.
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// `{"KeyId": .., "Plaintext": base64}`.
pub fn encrypt_body(key_id: &str, plaintext: &[u8]) -> Bytes {
    to_body(&serde_json::json!({ "KeyId": key_id, "Plaintext": b64(plaintext) }))
}

/// `{"KeyId": .., "CiphertextBlob": base64}`.
pub fn decrypt_body(key_id: &str, ciphertext_b64: &str) -> Bytes {
    to_body(&serde_json::json!({ "KeyId": key_id, "CiphertextBlob": ciphertext_b64 }))
}

/// `{"KeyId": .., "KeySpec": "AES_256"}`.
pub fn generate_data_key_body(key_id: &str) -> Bytes {
    to_body(&serde_json::json!({ "KeyId": key_id, "KeySpec": "AES_256" }))
}

/// `{"KeyId": .., "Message": base64, "SigningAlgorithm": ..}` (a RAW message).
pub fn sign_body(key_id: &str, message: &[u8], algorithm: &str) -> Bytes {
    to_body(&serde_json::json!({
        "KeyId": key_id,
        "Message": b64(message),
        "SigningAlgorithm": algorithm,
    }))
}

/// `{"Description": .., "KeySpec": .., "KeyUsage": "SIGN_VERIFY"}` for a signing key.
pub fn create_signing_key_body(description: &str, key_spec: &str) -> Bytes {
    to_body(&serde_json::json!({
        "Description": description,
        "KeySpec": key_spec,
        "KeyUsage": "SIGN_VERIFY",
    }))
}

/// `{"Description": ..}` for a symmetric encryption key.
pub fn create_key_body(description: &str) -> Bytes {
    to_body(&serde_json::json!({ "Description": description }))
}

/// The `KeyMetadata.KeyId` of a CreateKey response.
pub fn key_id_from_create_key(body: &[u8]) -> anyhow::Result<String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).context("CreateKey response is not JSON")?;
    v.get("KeyMetadata")
        .and_then(|m| m.get("KeyId"))
        .and_then(|k| k.as_str())
        .map(str::to_owned)
        .context("CreateKey response has no KeyMetadata.KeyId")
}

/// The base64 `CiphertextBlob` of an Encrypt response.
pub fn ciphertext_from_encrypt(body: &[u8]) -> anyhow::Result<String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).context("Encrypt response is not JSON")?;
    v.get("CiphertextBlob")
        .and_then(|k| k.as_str())
        .map(str::to_owned)
        .context("Encrypt response has no CiphertextBlob")
}

/// The AWS error code of a failed response: the `X-Amzn-ErrorType` header,
/// else the body's `__type` (namespace stripped), else `HTTP_<status>`.
pub fn error_code(status: u16, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(v) = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
    {
        let code = v.split(':').next().unwrap_or(v).trim();
        if !code.is_empty() {
            return code.to_owned();
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(t) = v.get("__type").and_then(|t| t.as_str()) {
            let code = t.rsplit('#').next().unwrap_or(t);
            if !code.is_empty() {
                return code.to_owned();
            }
        }
    }
    format!("HTTP_{status}")
}

/// The `message` (or `Message`) of an error body, for setup diagnostics.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message")
        .or_else(|| v.get("Message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
}

/// Builds signed requests for one operation and body.
///
/// With `replay` the first request's signature is kept and every later
/// request is a byte-for-byte copy of it (a measurement mode that removes
/// client signing cost; the server still verifies every copy).
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    signer: Signer,
    authority: String,
    op: Op,
    body: Bytes,
    base: HeaderMap,
    replay: bool,
    last_second: u64,
    last_date: String,
    signed: Option<HeaderMap>,
}

impl RequestBuilder {
    /// A builder for `op` with `body`, sent to `endpoint`.
    pub fn new(signer: Signer, endpoint: &Endpoint, op: Op, body: Bytes, replay: bool) -> Self {
        let mut base = HeaderMap::with_capacity(8);
        base.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        base.insert(
            HeaderName::from_static("x-amz-target"),
            HeaderValue::from_static(op.target()),
        );
        base.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("kmsd-bench/", env!("CARGO_PKG_VERSION"))),
        );
        RequestBuilder {
            signer,
            authority: endpoint.authority.clone(),
            op,
            body,
            base,
            replay,
            last_second: u64::MAX,
            last_date: String::new(),
            signed: None,
        }
    }

    /// The operation this builder sends.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The request body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The full header map of a request signed at `now`.
    pub fn signed_headers(&mut self, now: SystemTime) -> anyhow::Result<HeaderMap> {
        if self.replay {
            if let Some(h) = &self.signed {
                return Ok(h.clone());
            }
        }
        let secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if secs != self.last_second {
            self.last_second = secs;
            self.last_date = amz_date(now);
        }
        let sig = self.signer.sign(
            "POST",
            "/",
            &[
                ("content-type", CONTENT_TYPE),
                ("host", &self.authority),
                ("x-amz-target", self.op.target()),
            ],
            &self.body,
            &self.last_date,
        );
        let mut h = self.base.clone();
        h.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.authority).context("endpoint is not a valid Host")?,
        );
        h.insert(
            HeaderName::from_static("x-amz-date"),
            HeaderValue::from_str(&sig.amz_date).context("bad X-Amz-Date")?,
        );
        if let Some(token) = self.signer.credentials().session_token() {
            h.insert(
                HeaderName::from_static("x-amz-security-token"),
                HeaderValue::from_str(token).context("session token is not a valid header")?,
            );
        }
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&sig.authorization).context("bad Authorization")?,
        );
        if self.replay {
            self.signed = Some(h.clone());
        }
        Ok(h)
    }

    /// A request signed at `now` (or the replayed copy).
    pub fn build(&mut self, now: SystemTime) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let headers = self.signed_headers(now)?;
        let mut req = http::Request::new(Full::new(self.body.clone()));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = http::Uri::from_static("/");
        *req.headers_mut() = headers;
        Ok(req)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;
    use crate::sign::Credentials;

    #[test]
    fn endpoint_parsing() {
        let e = Endpoint::parse("http://127.0.0.1:4599/").unwrap();
        assert_eq!(e.authority, "127.0.0.1:4599");
        assert_eq!(e.connect_addr(), "127.0.0.1:4599");
        assert_eq!(
            Endpoint::parse("http://localhost").unwrap().connect_addr(),
            "localhost:80"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:9").unwrap().connect_addr(),
            "[::1]:9"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]").unwrap().connect_addr(),
            "[::1]:80"
        );
        assert!(Endpoint::parse("https://x").is_err());
        assert!(Endpoint::parse("127.0.0.1:1").is_err());
        assert!(Endpoint::parse("http://h/path").is_err());
    }

    #[test]
    fn error_codes() {
        let mut h = HeaderMap::new();
        assert_eq!(
            error_code(
                400,
                &h,
                br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"x"}"#
            ),
            "NotFoundException"
        );
        assert_eq!(
            error_code(400, &h, br#"{"__type":"AccessDeniedException"}"#),
            "AccessDeniedException"
        );
        assert_eq!(error_code(502, &h, b"<html>"), "HTTP_502");
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("UnrecognizedClientException:http://internal.amazon.com/"),
        );
        assert_eq!(error_code(400, &h, b""), "UnrecognizedClientException");
        assert_eq!(error_message(br#"{"message":"m"}"#).as_deref(), Some("m"));
        assert_eq!(error_message(br#"{"Message":"M"}"#).as_deref(), Some("M"));
    }

    #[test]
    fn bodies_are_awsjson() {
        let b = encrypt_body("alias/x", b"\x00\x01\x02");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["KeyId"], "alias/x");
        assert_eq!(v["Plaintext"], "AAEC");
        let v: serde_json::Value = serde_json::from_slice(&generate_data_key_body("k")).unwrap();
        assert_eq!(v["KeySpec"], "AES_256");
        let v: serde_json::Value = serde_json::from_slice(&decrypt_body("k", "AAEC")).unwrap();
        assert_eq!(v["CiphertextBlob"], "AAEC");
        assert_eq!(
            key_id_from_create_key(br#"{"KeyMetadata":{"KeyId":"abc"}}"#).unwrap(),
            "abc"
        );
        assert!(key_id_from_create_key(br#"{}"#).is_err());
        assert_eq!(
            ciphertext_from_encrypt(br#"{"CiphertextBlob":"Zm9v","KeyId":"k"}"#).unwrap(),
            "Zm9v"
        );
    }

    fn builder(replay: bool) -> RequestBuilder {
        let signer = Signer::new(
            Credentials::new("AKIAEXAMPLE111ROOT01", "root-secret", None),
            "us-east-1",
            "kms",
        );
        let ep = Endpoint::parse("http://127.0.0.1:4599").unwrap();
        RequestBuilder::new(signer, &ep, Op::Encrypt, encrypt_body("k", b"hi"), replay)
    }

    #[test]
    fn built_request_carries_awsjson_and_sigv4_headers() {
        let mut b = builder(false);
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let req = b.build(t).unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri(), "/");
        let h = req.headers();
        assert_eq!(h["content-type"], CONTENT_TYPE);
        assert_eq!(h["x-amz-target"], "TrentService.Encrypt");
        assert_eq!(h["host"], "127.0.0.1:4599");
        assert_eq!(h["x-amz-date"], "20150830T123600Z");
        let auth = h["authorization"].to_str().unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE111ROOT01/20150830/us-east-1/kms/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        // A second later the request is signed anew.
        let req2 = b.build(t + std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(req2.headers()["x-amz-date"], "20150830T123601Z");
        assert_ne!(req2.headers()["authorization"], h["authorization"]);
    }

    #[test]
    fn replay_reuses_the_first_signature() {
        let mut b = builder(true);
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let a = b.build(t).unwrap();
        let later = b.build(t + std::time::Duration::from_secs(60)).unwrap();
        assert_eq!(a.headers(), later.headers());
    }
}
