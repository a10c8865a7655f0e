//! Server-side verification: scope checks, the 5-minute skew rule, presigned
//! expiry, payload hash, and constant-time signature comparison.

use subtle::ConstantTimeEq;

use crate::authorization::{AuthKind, DateSource, RequestAuth};
use sha2::{Digest, Sha256};

#[cfg(doc)]
use crate::canonical::string_to_sign;
use crate::canonical::{
    canonical_request, push_hex_bytes, HttpRequest, Payload, ALGORITHM, UNSIGNED_PAYLOAD,
};
use crate::error::SigV4Error;
use crate::signing_key::{SigningKey, SigningKeyCache};
use crate::timestamp::format_amz_date;

/// Allowed clock skew between client and server (AWS: 5 minutes).
pub const MAX_SKEW_SECS: i64 = 300;

/// Verification settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Remove dot segments and empty segments from the path before encoding
    /// (true for every service but S3).
    pub normalize_uri_path: bool,
    /// Accept `X-Amz-Content-Sha256: UNSIGNED-PAYLOAD`.
    pub allow_unsigned_payload: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            normalize_uri_path: true,
            allow_unsigned_payload: true,
        }
    }
}

/// Checks that do not need the secret: scope date, required signed headers,
/// and time (skew, or presigned validity window), in that order.
pub fn check_time_and_scope(auth: &RequestAuth, now_epoch_secs: i64) -> Result<(), SigV4Error> {
    let request_date = auth.amz_date.get(..8).unwrap_or_default();
    if auth.credential.date != request_date {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: auth.credential.date.clone(),
            request_date: request_date.to_owned(),
            amz_date: auth.amz_date.clone(),
        });
    }
    if !auth.signs_header("host") {
        return Err(SigV4Error::incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    match auth.date_source {
        DateSource::AmzDateHeader if !auth.signs_header("x-amz-date") => {
            return Err(SigV4Error::incomplete(
                "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
            ))
        }
        DateSource::DateHeader if !auth.signs_header("date") => {
            return Err(SigV4Error::incomplete(
                "'Date' must be a 'SignedHeader' in the AWS Authorization.",
            ))
        }
        _ => {}
    }
    let t = auth.request_time;
    if t > now_epoch_secs.saturating_add(MAX_SKEW_SECS) {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request_time: auth.amz_date.clone(),
            latest: format_amz_date(now_epoch_secs.saturating_add(MAX_SKEW_SECS)),
            server_time: format_amz_date(now_epoch_secs),
        });
    }
    match auth.kind {
        AuthKind::Header => {
            if t < now_epoch_secs.saturating_sub(MAX_SKEW_SECS) {
                return Err(SigV4Error::SignatureExpired {
                    request_time: auth.amz_date.clone(),
                    earliest: format_amz_date(now_epoch_secs.saturating_sub(MAX_SKEW_SECS)),
                    server_time: format_amz_date(now_epoch_secs),
                });
            }
        }
        AuthKind::Presigned { expires_secs } => {
            let end = t.saturating_add(i64::try_from(expires_secs).unwrap_or(i64::MAX));
            if now_epoch_secs > end {
                return Err(SigV4Error::PresignedExpired {
                    expired_at: format_amz_date(end),
                    server_time: format_amz_date(now_epoch_secs),
                });
            }
        }
    }
    Ok(())
}

/// A payload hash without an allocation: the header's text, or hex computed on the stack.
enum PayloadHash<'a> {
    Text(&'a str),
    Hex([u8; 64]),
    Owned(String),
}

impl PayloadHash<'_> {
    fn as_str(&self) -> &str {
        match self {
            PayloadHash::Text(s) => s,
            // Lower-case hex digits are ASCII, so this never falls back.
            PayloadHash::Hex(h) => std::str::from_utf8(h).unwrap_or_default(),
            PayloadHash::Owned(s) => s,
        }
    }
}

fn sha256_hex_stack(data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    push_hex_bytes(&Sha256::digest(data), &mut out);
    out
}

/// [`payload_hash`] without allocating.
fn payload_hash_of<'a>(
    req: &HttpRequest<'a>,
    allow_unsigned: bool,
) -> Result<PayloadHash<'a>, SigV4Error> {
    let actual = || match req.payload {
        Payload::Bytes(b) => PayloadHash::Hex(sha256_hex_stack(b)),
        Payload::Sha256Hex(h) if h.bytes().any(|b| b.is_ascii_uppercase()) => {
            PayloadHash::Owned(h.to_ascii_lowercase())
        }
        Payload::Sha256Hex(h) => PayloadHash::Text(h),
    };
    match req.header("x-amz-content-sha256").map(str::trim) {
        Some(UNSIGNED_PAYLOAD) if allow_unsigned => Ok(PayloadHash::Text(UNSIGNED_PAYLOAD)),
        Some(UNSIGNED_PAYLOAD) => Err(SigV4Error::UnsignedPayloadNotAllowed),
        Some(claimed) => {
            let a = actual();
            if bool::from(a.as_str().as_bytes().ct_eq(claimed.as_bytes())) {
                Ok(PayloadHash::Text(claimed))
            } else {
                Err(SigV4Error::ContentSha256Mismatch)
            }
        }
        None => Ok(actual()),
    }
}

/// The payload hash the client signed: `X-Amz-Content-Sha256` when present
/// (which must then equal the body's hash, or be `UNSIGNED-PAYLOAD` when
/// allowed), else the SHA-256 of the body.
pub fn payload_hash(req: &HttpRequest<'_>, allow_unsigned: bool) -> Result<String, SigV4Error> {
    payload_hash_of(req, allow_unsigned).map(|h| h.as_str().to_owned())
}

/// The canonical request the verifier reconstructs for `auth` (useful for
/// diagnostics such as `kmsd explain`).
pub fn canonical_request_for(
    req: &HttpRequest<'_>,
    auth: &RequestAuth,
    options: &VerifyOptions,
) -> Result<String, SigV4Error> {
    let hash = payload_hash_of(req, options.allow_unsigned_payload)?;
    Ok(canonical_request(
        req,
        &auth.signed_headers,
        hash.as_str(),
        options.normalize_uri_path,
        matches!(auth.kind, AuthKind::Presigned { .. }),
    ))
}

fn decode_lower_hex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let nib = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        *o = (nib(b[2 * i])? << 4) | nib(b[2 * i + 1])?;
    }
    Some(out)
}

/// The signature of `canonical_request` under `key`: the HMAC of
/// [`string_to_sign`]`(amz_date, scope, canonical_request)`, fed to the MAC piece by piece
/// (no scope or string-to-sign buffers).
fn expected_signature(key: &SigningKey, auth: &RequestAuth, canonical_request: &str) -> [u8; 32] {
    let c = &auth.credential;
    let creq_hash = sha256_hex_stack(canonical_request.as_bytes());
    key.sign_parts(&[
        ALGORITHM.as_bytes(),
        b"\n",
        auth.amz_date.as_bytes(),
        b"\n",
        c.date.as_bytes(),
        b"/",
        c.region.as_bytes(),
        b"/",
        c.service.as_bytes(),
        b"/aws4_request\n",
        &creq_hash,
    ])
}

fn verify_with_key(
    req: &HttpRequest<'_>,
    auth: &RequestAuth,
    key: &SigningKey,
    options: &VerifyOptions,
) -> Result<(), SigV4Error> {
    let creq = canonical_request_for(req, auth, options)?;
    let expected = expected_signature(key, auth, &creq);
    // Signatures are lower-case hex, as every SDK sends them.
    // (Its shape is not secret; only the comparison of values must be
    // constant-time.)
    let Some(provided) = decode_lower_hex(&auth.signature) else {
        return Err(SigV4Error::SignatureDoesNotMatch);
    };
    if bool::from(expected.ct_eq(&provided)) {
        Ok(())
    } else {
        Err(SigV4Error::SignatureDoesNotMatch)
    }
}

/// Verifies a request: scope date → required signed headers → time →
/// payload hash → signature. `secret_access_key` is the secret the caller
/// looked up for `auth.credential.access_key_id`.
pub fn verify(
    req: &HttpRequest<'_>,
    auth: &RequestAuth,
    secret_access_key: &str,
    now_epoch_secs: i64,
    options: &VerifyOptions,
) -> Result<(), SigV4Error> {
    check_time_and_scope(auth, now_epoch_secs)?;
    let c = &auth.credential;
    let key = SigningKey::derive(secret_access_key, &c.date, &c.region, &c.service);
    verify_with_key(req, auth, &key, options)
}

/// A verifier with options and a signing-key cache, shared across threads.
#[derive(Debug, Default)]
pub struct Verifier {
    options: VerifyOptions,
    cache: SigningKeyCache,
}

impl Verifier {
    /// A verifier whose cache holds at most `cache_capacity` keys.
    pub fn new(options: VerifyOptions, cache_capacity: usize) -> Self {
        Verifier {
            options,
            cache: SigningKeyCache::new(cache_capacity),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// The signing-key cache (e.g. to clear it when a secret is deleted).
    pub fn cache(&self) -> &SigningKeyCache {
        &self.cache
    }

    /// Same as [`verify`], with a cached signing key.
    pub fn verify(
        &self,
        req: &HttpRequest<'_>,
        auth: &RequestAuth,
        secret_access_key: &str,
        now_epoch_secs: i64,
    ) -> Result<(), SigV4Error> {
        check_time_and_scope(auth, now_epoch_secs)?;
        let c = &auth.credential;
        let key = self.cache.get(
            &c.access_key_id,
            secret_access_key,
            &c.date,
            &c.region,
            &c.service,
        );
        verify_with_key(req, auth, &key, &self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::Credential;
    use crate::canonical::{credential_scope, string_to_sign};
    use proptest::prelude::*;

    proptest! {
        /// The streamed signature equals the HMAC of the string to sign built as text.
        #[test]
        fn streamed_signature_equals_string_to_sign(
            secret in "[ -~]{1,40}",
            date in "[0-9]{8}",
            time in "T[0-9]{6}Z",
            region in "[a-z0-9-]{1,20}",
            service in "[a-z]{1,10}",
            creq in "(?s).{0,300}",
        ) {
            let key = SigningKey::derive(&secret, &date, &region, &service);
            let amz_date = format!("{date}{time}");
            let auth = RequestAuth {
                kind: AuthKind::Header,
                credential: Credential {
                    access_key_id: "AKID".into(),
                    date: date.clone(),
                    region: region.clone(),
                    service: service.clone(),
                },
                signed_headers: "host".into(),
                signature: String::new(),
                amz_date: amz_date.clone(),
                request_time: 0,
                date_source: DateSource::AmzDateHeader,
                security_token: None,
            };
            let sts = string_to_sign(&amz_date, &credential_scope(&date, &region, &service), &creq);
            prop_assert_eq!(expected_signature(&key, &auth, &creq), key.sign_bytes(&sts));
        }

        /// The allocation-free payload hash equals the hex SHA-256 of the body.
        #[test]
        fn payload_hash_is_hex_sha256(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let req = HttpRequest { method: "POST", uri: "/", headers: &[], payload: Payload::Bytes(&body) };
            prop_assert_eq!(payload_hash(&req, true).ok(), Some(crate::canonical::sha256_hex(&body)));
        }
    }
}
