//! Connection settings: the `postgres://` URL, libpq's TLS parameters included, and the TLS
//! connector they ask for.
//!
//! - `sslmode=disable` or `prefer` (tokio-postgres' default), or no `sslmode`: plain TCP, as
//!   on a loopback or private network. `prefer` does not upgrade: kmsd never runs TLS it has
//!   not verified.
//! - `sslmode=require`, `verify-ca` or `verify-full`: TLS (rustls, ring) with the server's
//!   certificate verified, host name included, against `sslrootcert=FILE` (PEM) from the URL,
//!   else the `PGSSLROOTCERT` environment variable, else the system's trust store. That is
//!   libpq's `verify-full` for all three: stricter than libpq's `require` (which encrypts
//!   without checking who answers), because a database that can be impersonated can be fed
//!   a forged key record.
//!
//! tokio-postgres knows only `disable`/`prefer`/`require` and no `sslrootcert`, so both are
//! read here and taken out of the URL before it parses the rest.

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_postgres::config::SslMode;

use crate::StoreError;

/// How connections to the database are made.
#[derive(Clone)]
pub enum Tls {
    /// Plain TCP.
    Off,
    /// TLS with the server verified.
    Verified(tokio_postgres_rustls::MakeRustlsConnect),
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tls::Off => "Tls::Off",
            Tls::Verified(_) => "Tls::Verified",
        })
    }
}

/// A parsed `postgres://` URL and its TLS connector.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: tokio_postgres::Config,
    pub tls: Tls,
}

/// The TLS parameters taken out of a URL.
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsParams {
    verify: bool,
    root_cert: Option<PathBuf>,
}

/// Splits libpq's TLS parameters off `url`: returns the URL tokio-postgres can parse and
/// what was asked for.
fn split_tls_params(url: &str) -> Result<(String, TlsParams), StoreError> {
    let mut params = TlsParams::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), params));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => match v {
                "disable" | "prefer" => {}
                "require" | "verify-ca" | "verify-full" => params.verify = true,
                "allow" => {
                    return Err(StoreError::Backend(
                        "invalid PostgreSQL URL: sslmode=allow is not supported (use disable, \
                         prefer, require, verify-ca or verify-full)"
                            .into(),
                    ))
                }
                _ => {
                    return Err(StoreError::Backend(format!(
                        "invalid PostgreSQL URL: unknown sslmode `{v}`"
                    )))
                }
            },
            "sslrootcert" => params.root_cert = Some(PathBuf::from(percent_decode(v)?)),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, params))
}

fn percent_decode(s: &str) -> Result<String, StoreError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    StoreError::Backend("invalid PostgreSQL URL: bad percent-encoding".into())
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| StoreError::Backend("invalid PostgreSQL URL: sslrootcert is not UTF-8".into()))
}

/// The trust anchors: the given PEM file, else `PGSSLROOTCERT`, else the system store.
fn root_store(root_cert: Option<PathBuf>) -> Result<rustls::RootCertStore, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    let file = root_cert.or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from));
    match file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    StoreError::Backend(format!(
                        "cannot read the database's root certificate {}: {e}",
                        path.display()
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Backend(format!(
                    "no certificate in {}",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(StoreError::Backend(
                    "sslmode asks for TLS but the system trust store is empty: give the \
                     database's CA with sslrootcert=FILE or PGSSLROOTCERT"
                        .into(),
                ));
            }
        }
    }
    Ok(roots)
}

/// rustls on ring: the workspace's crypto already builds on ring, and aws-lc-rs (rustls'
/// default) needs a C toolchain and cmake.
#[expect(
    deprecated,
    reason = "ring's provider lacks post-quantum key exchange, which rustls now flags; the \
              alternative, aws-lc-rs, would add a C build to every kmsd build"
)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Parses a `postgres://` URL (the password from `PGPASSWORD` when it has none) and builds
/// the connector its `sslmode` asks for.
pub fn settings(url: &str) -> Result<Settings, StoreError> {
    let (url, params) = split_tls_params(url)?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
    let tls = if params.verify {
        config.ssl_mode(SslMode::Require);
        let provider = Arc::new(ring_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Backend(format!("TLS configuration: {e}")))?
            .with_root_certificates(root_store(params.root_cert)?)
            .with_no_client_auth();
        Tls::Verified(tokio_postgres_rustls::MakeRustlsConnect::new(client))
    } else {
        config.ssl_mode(SslMode::Disable);
        Tls::Off
    };
    Ok(Settings { config, tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let (url, p) = split_tls_params(
            "postgres://kmsd@db:5432/kms?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap_or_default();
        assert_eq!(url, "postgres://kmsd@db:5432/kms?application_name=x");
        assert!(p.verify);
        assert_eq!(p.root_cert, Some(PathBuf::from("/etc/ca.pem")));

        let (url, p) = split_tls_params("postgres://kmsd@db/kms").unwrap_or_default();
        assert_eq!(url, "postgres://kmsd@db/kms");
        assert_eq!(p, TlsParams::default());

        for mode in ["require", "verify-ca"] {
            let (_, p) =
                split_tls_params(&format!("postgres://h/d?sslmode={mode}")).unwrap_or_default();
            assert!(p.verify, "{mode}");
        }
        let (url, p) = split_tls_params("postgres://h/d?sslmode=prefer").unwrap_or_default();
        assert_eq!(url, "postgres://h/d");
        assert!(!p.verify);
    }

    #[test]
    fn unknown_or_unsafe_modes_are_refused() {
        assert!(split_tls_params("postgres://h/d?sslmode=allow").is_err());
        assert!(split_tls_params("postgres://h/d?sslmode=maybe").is_err());
        assert!(split_tls_params("postgres://h/d?sslrootcert=%zz").is_err());
    }

    #[test]
    fn a_missing_root_certificate_file_is_an_error() {
        let e = settings("postgres://h/d?sslmode=require&sslrootcert=/nonexistent/ca.pem");
        assert!(matches!(e, Err(StoreError::Backend(m)) if m.contains("/nonexistent/ca.pem")));
    }

    #[test]
    fn plain_connections_stay_plain() {
        let s = settings("postgres://kmsd@127.0.0.1:5433/postgres");
        assert!(matches!(s, Ok(Settings { tls: Tls::Off, .. })));
    }
}
