//! Client-side AWS Signature Version 4 for the load generator.
//!
//! Signs a request the way the AWS SDKs sign an awsJson1_1 call: the signed
//! headers are `content-type`, `host`, `x-amz-date`, `x-amz-target` (and
//! `x-amz-security-token` for temporary credentials), the payload hash is the
//! hex SHA-256 of the body, and the credential scope is
//! `DATE/REGION/SERVICE/aws4_request`. The derived signing key is cached per
//! day, so a signature costs two SHA-256 hashes and one HMAC.
//!
//! This module owns only the client side; verification lives in `kmsd-sigv4`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

type HmacSha256 = Hmac<Sha256>;

/// The SigV4 algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

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

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length.
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Derives `kSigning` from a secret and a scope (`DATE`, `REGION`, `SERVICE`).
pub fn derive_signing_key(
    secret_access_key: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret_access_key.as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&k, date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
    Zeroizing::new(hmac_sha256(&*k_service, b"aws4_request"))
}

/// An `X-Amz-Date` timestamp (`YYYYMMDDTHHMMSSZ`) for a point in time.
///
/// Times before the Unix epoch are clamped to the epoch.
pub fn amz_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    amz_date_from_unix(secs)
}

/// An `X-Amz-Date` timestamp for Unix seconds.
pub fn amz_date_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    cached_date: String,
    cached_key: Zeroizing<[u8; 32]>,
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

impl Clone for Signer {
    fn clone(&self) -> Self {
        Signer {
            credentials: self.credentials.clone(),
            region: self.region.clone(),
            service: self.service.clone(),
            cached_date: self.cached_date.clone(),
            cached_key: self.cached_key.clone(),
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
            cached_date: String::new(),
            cached_key: Zeroizing::new([0u8; 32]),
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

    fn key_for(&mut self, date: &str) -> &[u8; 32] {
        if self.cached_date != date {
            self.cached_key = derive_signing_key(
                &self.credentials.secret_access_key,
                date,
                &self.region,
                &self.service,
            );
            self.cached_date.zeroize();
            self.cached_date.push_str(date);
        }
        &self.cached_key
    }

    /// Signs a request.
    ///
    /// `headers` are the headers to sign as (lower-case name, value) pairs,
    /// *without* `x-amz-date` and `x-amz-security-token`, which the signer
    /// adds itself. `canonical_query` must already be in canonical form
    /// (sorted, URI-encoded; empty for awsJson calls). `path` must already be
    /// URI-encoded.
    pub fn sign(
        &mut self,
        method: &str,
        path: &str,
        canonical_query: &str,
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

        let mut canonical = String::with_capacity(256);
        canonical.push_str(method);
        canonical.push('\n');
        canonical.push_str(path);
        canonical.push('\n');
        canonical.push_str(canonical_query);
        canonical.push('\n');
        for (name, value) in &all {
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(value.trim());
            canonical.push('\n');
        }
        canonical.push('\n');
        let mut signed_headers = String::with_capacity(64);
        for (i, (name, _)) in all.iter().enumerate() {
            if i > 0 {
                signed_headers.push(';');
            }
            signed_headers.push_str(name);
        }
        canonical.push_str(&signed_headers);
        canonical.push('\n');
        canonical.push_str(&sha256_hex(payload));

        let date = amz_date.get(..8).unwrap_or(amz_date).to_owned();
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let key = self.key_for(&date);
        let signature = hex::encode(hmac_sha256(key, string_to_sign.as_bytes()));
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_aws_documented_example() {
        // AWS General Reference, "Examples of how to derive a signing key".
        let k = derive_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(*k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

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
            "/",
            "Action=ListUsers&Version=2010-05-08",
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
        assert_eq!(amz_date_from_unix(0), "19700101T000000Z");
        // 2015-08-30T12:36:00Z
        assert_eq!(amz_date_from_unix(1_440_938_160), "20150830T123600Z");
        // 2024-02-29T23:59:59Z (leap day)
        assert_eq!(amz_date_from_unix(1_709_251_199), "20240229T235959Z");
        assert_eq!(amz_date_from_unix(1_709_251_200), "20240301T000000Z");
    }

    #[test]
    fn session_token_is_signed_and_key_cache_follows_date() {
        let creds = Credentials::new("ASIAEXAMPLE", "s3cr3t-value", Some("t0ken-value".into()));
        let mut signer = Signer::new(creds, "eu-west-1", "kms");
        let a = signer.sign("POST", "/", "", &[("host", "h")], b"{}", "20260101T000000Z");
        assert!(a
            .authorization
            .contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"));
        let b = signer.sign("POST", "/", "", &[("host", "h")], b"{}", "20260102T000000Z");
        assert!(b
            .authorization
            .contains("/20260102/eu-west-1/kms/aws4_request"));
        let c = signer.sign("POST", "/", "", &[("host", "h")], b"{}", "20260101T000000Z");
        assert_eq!(a, c);
        assert_ne!(a.authorization, b.authorization);
        let dbg = format!("{signer:?}");
        assert!(!dbg.contains("s3cr3t-value") && !dbg.contains("t0ken-value"));
    }
}
