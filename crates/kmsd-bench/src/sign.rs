//! Client-side AWS Signature Version 4 for the load generator.
//!
//! Signs a request the way the AWS SDKs sign an awsJson1_1 call: the signed
//! headers are `content-type`, `host`, `x-amz-date`, `x-amz-target` (and
//! `x-amz-security-token` for temporary credentials), the payload hash is the
//! hex SHA-256 of the body, and the credential scope is
//! `DATE/REGION/SERVICE/aws4_request`. Canonicalization, the string to sign
//! and key derivation come from `kmsd-sigv4`; this module adds a per-day
//! cache of the derived signing key (so a signature costs two SHA-256 hashes
//! and one HMAC, not five HMACs) and the header assembly.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use kmsd_sigv4::canonical::{canonical_request, credential_scope, string_to_sign, ALGORITHM};
use kmsd_sigv4::{format_amz_date, HttpRequest, Payload, SigningKey};
use zeroize::{Zeroize, Zeroizing};

/// AWS credentials. The secret is zeroized on drop and never printed.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<String>,
}

impl Credentials {
    /// Long-term or temporary credentials.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token,
        }
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An `X-Amz-Date` timestamp (`YYYYMMDDTHHMMSSZ`) for a point in time.
///
/// Times before the Unix epoch are clamped to the epoch.
pub fn amz_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_amz_date(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// What a signature adds to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The `X-Amz-Date` header value.
    pub amz_date: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// Signs requests for one (credentials, region, service), caching the
/// signing key of the current day. One per connection, so no locking.
#[derive(Clone)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    cached: Option<(String, SigningKey)>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        if let Some((date, _key)) = self.cached.as_mut() {
            // The key zeroizes itself on drop.
            date.zeroize();
        }
    }
}

impl Signer {
    /// A signer for `service` (`kms`, `iam`, `sts`) in `region`.
    pub fn new(credentials: Credentials, region: &str, service: &str) -> Self {
        Signer {
            credentials,
            region: region.to_owned(),
            service: service.to_owned(),
            cached: None,
        }
    }

    /// The credentials this signer uses.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The region of the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn key_for(&mut self, date: &str) -> &SigningKey {
        let fresh = match &self.cached {
            Some((d, _)) => d != date,
            None => true,
        };
        if fresh {
            let key = SigningKey::derive(
                self.credentials.secret_access_key(),
                date,
                &self.region,
                &self.service,
            );
            self.cached = Some((date.to_owned(), key));
        }
        match &self.cached {
            Some((_, k)) => k,
            None => unreachable!("the cache was filled above"),
        }
    }

    /// Signs a request.
    ///
    /// `headers` are the headers to sign as (lower-case name, value) pairs,
    /// *without* `x-amz-date` and `x-amz-security-token`, which the signer
    /// adds itself (all of them are signed; `host` must be among them).
    /// `uri` is the request target as sent (path and optional `?query`).
    pub fn sign(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
        amz_date: &str,
    ) -> Signature {
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 2);
        all.extend_from_slice(headers);
        all.push(("x-amz-date", amz_date));
        let token = self.credentials.session_token.clone();
        if let Some(t) = token.as_deref() {
            all.push(("x-amz-security-token", t));
        }
        all.sort_by(|a, b| a.0.cmp(b.0));
        let mut signed_headers = String::with_capacity(64);
        for (i, (name, _)) in all.iter().enumerate() {
            if i > 0 {
                signed_headers.push(';');
            }
            signed_headers.push_str(name);
        }
        let req = HttpRequest {
            method,
            uri,
            headers: &all,
            payload: Payload::Bytes(payload),
        };
        let payload_hash = kmsd_sigv4::canonical::sha256_hex(payload);
        let creq = canonical_request(&req, &signed_headers, &payload_hash, true, false);
        let date = amz_date.get(..8).unwrap_or(amz_date).to_owned();
        let scope = credential_scope(&date, &self.region, &self.service);
        let sts = string_to_sign(amz_date, &scope, &creq);
        let signature = self.key_for(&date).sign(&sts);
        Signature {
            amz_date: amz_date.to_owned(),
            authorization: format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.credentials.access_key_id
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn iam_list_users_example_signature() {
        // AWS General Reference, "Signature Version 4 signing process" example.
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        );
        let mut signer = Signer::new(creds, "us-east-1", "iam");
        let sig = signer.sign(
            "GET",
            "/?Action=ListUsers&Version=2010-05-08",
            &[
                (
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                ("host", "iam.amazonaws.com"),
            ],
            b"",
            "20150830T123600Z",
        );
        assert_eq!(
            sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn amz_date_formats_utc() {
        let at = |s: u64| amz_date(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        // 2015-08-30T12:36:00Z
        assert_eq!(at(1_440_938_160), "20150830T123600Z");
        // 2024-02-29T23:59:59Z (leap day)
        assert_eq!(at(1_709_251_199), "20240229T235959Z");
        assert_eq!(at(1_709_251_200), "20240301T000000Z");
    }

    #[test]
    fn session_token_is_signed_and_key_cache_follows_date() {
        let creds = Credentials::new("ASIAEXAMPLE", "s3cr3t-value", Some("t0ken-value".into()));
        let mut signer = Signer::new(creds, "eu-west-1", "kms");
        let a = signer.sign("POST", "/", &[("host", "h")], b"{}", "20260101T000000Z");
        assert!(a
            .authorization
            .contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"));
        let b = signer.sign("POST", "/", &[("host", "h")], b"{}", "20260102T000000Z");
        assert!(b
            .authorization
            .contains("/20260102/eu-west-1/kms/aws4_request"));
        let c = signer.sign("POST", "/", &[("host", "h")], b"{}", "20260101T000000Z");
        assert_eq!(a, c);
        assert_ne!(a.authorization, b.authorization);
        let dbg = format!("{signer:?}");
        assert!(!dbg.contains("s3cr3t-value") && !dbg.contains("t0ken-value"));
    }
}
