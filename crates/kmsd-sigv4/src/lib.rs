//! Pure AWS Signature Version 4 (`AWS4-HMAC-SHA256`): canonicalization,
//! signing and verification. No I/O and no clock: callers pass "now" as epoch
//! seconds. Knows nothing about kmsd.
//!
//! # Modules
//! - [`canonical`]: the request view ([`HttpRequest`]), canonical request and
//!   string to sign (shared by signer and verifier).
//! - [`authorization`]: `Authorization` header and presigned query parsing
//!   into a [`RequestAuth`].
//! - [`signing_key`]: key derivation and the bounded [`SigningKeyCache`].
//! - [`verify`](mod@verify): server-side checks and constant-time comparison.
//! - [`sign`](mod@sign): client-side header signing and presigning.
//! - [`timestamp`]: `YYYYMMDDTHHMMSSZ` / HTTP-date parsing and formatting.
//! - [`error`]: [`SigV4Error`] and its AWS codes.
//!
//! # Verification order
//! 1. **Parse** — [`RequestAuth::from_request`]: `Authorization` header, else
//!    presigned query (`X-Amz-Algorithm`…), else
//!    [`SigV4Error::MissingAuthenticationToken`]. Malformed or incomplete
//!    data (missing `Credential`/`SignedHeaders`/`Signature`, no
//!    `X-Amz-Date`/`Date`, bad timestamp, credential not
//!    `AKID/date/region/service/aws4_request`, `X-Amz-Expires` over 7 days)
//!    gives [`SigV4Error::IncompleteSignature`] with AWS's wording.
//! 2. **Caller**: look up the secret for `auth.credential.access_key_id`
//!    (unknown → `UnrecognizedClientException` / `InvalidClientTokenId`,
//!    which this crate does not produce); for temporary keys, check that
//!    `auth.security_token` is present, belongs to that key and is
//!    unexpired (`ExpiredTokenException` / `ExpiredToken`); optionally call
//!    [`RequestAuth::check_scope`] for the endpoint's region and services.
//! 3. **Scope** — [`verify()`] first checks that the scope date equals the
//!    request timestamp's date, that `host` is signed, and that `x-amz-date`
//!    (or `date`) is signed when the timestamp came from that header.
//! 4. **Skew** — header form: the request time must be within ±5 minutes of
//!    `now` (`Signature expired: …` / `Signature not yet current: …`);
//!    presigned form: not more than 5 minutes in the future and `now` not
//!    after `X-Amz-Date + X-Amz-Expires`.
//! 5. **Signature** — payload hash (`X-Amz-Content-Sha256` if present, which
//!    must match the body or be `UNSIGNED-PAYLOAD`), canonical request,
//!    string to sign, signing key (cached by [`Verifier`]), HMAC, and a
//!    constant-time comparison with the provided signature.
//!
//! The session token is never interpreted here: it may be signed or not
//! (some SDKs add it after signing); checking it is the caller's job.
//!
//! # Example
//! ```
//! use kmsd_sigv4::{sign, HttpRequest, Payload, RequestAuth, SigningParams, SigningSettings,
//!                  Verifier, VerifyOptions};
//! let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
//! let now = 1_724_195_282; // the caller's clock, epoch seconds
//! let body = br#"{"KeyId":"alias/x","Plaintext":"aGk="}"#;
//! let base = [("Host", "kms.us-east-1.amazonaws.com"),
//!             ("X-Amz-Target", "TrentService.Encrypt"),
//!             ("Content-Type", "application/x-amz-json-1.1")];
//! let req = HttpRequest { method: "POST", uri: "/", headers: &base, payload: Payload::Bytes(body) };
//! let params = SigningParams { access_key_id: "AKIAEXAMPLE", secret_access_key: secret,
//!     session_token: None, region: "us-east-1", service: "kms", time: now,
//!     settings: SigningSettings::default() };
//! let signed = sign(&req, &params)?;
//!
//! // Server side.
//! let mut headers = base.to_vec();
//! headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_str())));
//! let req = HttpRequest { headers: &headers, ..req };
//! let auth = RequestAuth::from_request(&req)?;
//! assert_eq!(auth.credential.access_key_id, "AKIAEXAMPLE"); // look up its secret
//! let verifier = Verifier::new(VerifyOptions::default(), 1024);
//! verifier.verify(&req, &auth, secret, now + 10)?;
//! # Ok::<(), kmsd_sigv4::SigV4Error>(())
//! ```
//!
//! Error codes: see [`SigV4Error`] (the table of KMS and IAM/STS codes each variant is
//! answered with).

pub mod authorization;
pub mod canonical;
pub mod error;
pub mod sign;
pub mod signing_key;
pub mod timestamp;
pub mod verify;

pub use authorization::{
    parse_authorization, parse_presigned_query, AuthHeader, AuthKind, Credential, DateSource,
    PresignedQuery, RequestAuth, MAX_PRESIGN_EXPIRES_SECS,
};
pub use canonical::{HttpRequest, Payload, EMPTY_SHA256, UNSIGNED_PAYLOAD};
pub use error::{SigV4Error, SIGNATURE_MISMATCH_MESSAGE};
pub use sign::{
    presign, sign, Presigned, SessionTokenMode, SignedHeaders, SigningParams, SigningSettings,
};
pub use signing_key::{SigningKey, SigningKeyCache};
pub use timestamp::{format_amz_date, parse_amz_date, parse_http_date};
pub use verify::{check_time_and_scope, verify, Verifier, VerifyOptions, MAX_SKEW_SECS};
