//! Server-side verification: scope checks, the 5-minute skew rule, presigned
//! expiry, payload hash, and constant-time signature comparison.

use subtle::ConstantTimeEq;

use crate::authorization::{AuthKind, DateSource, RequestAuth};
use crate::canonical::{
    canonical_request, sha256_hex, string_to_sign, HttpRequest, Payload, UNSIGNED_PAYLOAD,
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

/// The payload hash the client signed: `X-Amz-Content-Sha256` when present
/// (which must then equal the body's hash, or be `UNSIGNED-PAYLOAD` when
/// allowed), else the SHA-256 of the body.
pub fn payload_hash(req: &HttpRequest<'_>, allow_unsigned: bool) -> Result<String, SigV4Error> {
    let actual = || match req.payload {
        Payload::Bytes(b) => sha256_hex(b),
        Payload::Sha256Hex(h) => h.to_ascii_lowercase(),
    };
    match req.header("x-amz-content-sha256").map(str::trim) {
        Some(UNSIGNED_PAYLOAD) if allow_unsigned => Ok(UNSIGNED_PAYLOAD.to_owned()),
        Some(UNSIGNED_PAYLOAD) => Err(SigV4Error::UnsignedPayloadNotAllowed),
        Some(claimed) => {
            let a = actual();
            if bool::from(a.as_bytes().ct_eq(claimed.as_bytes())) {
                Ok(claimed.to_owned())
            } else {
                Err(SigV4Error::ContentSha256Mismatch)
            }
        }
        None => Ok(actual()),
    }
}

/// The canonical request the verifier reconstructs for `auth` (useful for
/// diagnostics such as `kmsd explain`).
pub fn canonical_request_for(
    req: &HttpRequest<'_>,
    auth: &RequestAuth,
    options: &VerifyOptions,
) -> Result<String, SigV4Error> {
    let hash = payload_hash(req, options.allow_unsigned_payload)?;
    Ok(canonical_request(
        req,
        &auth.signed_headers,
        &hash,
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

fn verify_with_key(
    req: &HttpRequest<'_>,
    auth: &RequestAuth,
    key: &SigningKey,
    options: &VerifyOptions,
) -> Result<(), SigV4Error> {
    let creq = canonical_request_for(req, auth, options)?;
    let sts = string_to_sign(&auth.amz_date, &auth.credential.scope(), &creq);
    let expected = key.sign_bytes(&sts);
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
