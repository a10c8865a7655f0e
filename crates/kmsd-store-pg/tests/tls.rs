//! TLS to the database: a throwaway PostgreSQL that speaks TLS with a certificate from a
//! test CA and refuses TCP without it. kmsd connects with `sslmode=verify-full` and the CA,
//! and refuses a server its roots do not vouch for. Certificates are made with the openssl
//! CLI; skipped, saying so, when PostgreSQL or openssl is absent.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

mod common;

use std::path::Path;
use std::process::Command;

use common::Cluster;
use kmsd_core::store::{Mutation, Store, StoreError};
use kmsd_store_pg::PgStore;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` in `dir` (`name.crt`, `name.key`).
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// A server certificate for 127.0.0.1 and localhost signed by CA `ca_name`.
fn server_cert(dir: &Path, ca_name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca_name}.crt"),
            "-CAkey",
            &format!("{ca_name}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
}

#[test]
fn verified_tls_connects_and_unverified_servers_are_refused() {
    if Command::new("openssl").arg("version").output().is_err() {
        println!("SKIPPED: the openssl CLI is not installed");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    ca(certs.path(), "test-ca");
    ca(certs.path(), "other-ca");
    server_cert(certs.path(), "test-ca");
    let (crt, key) = (
        certs.path().join("server.crt"),
        certs.path().join("server.key"),
    );
    let Some(cluster) = Cluster::start_with(&[("PG_TLS_CERT", &crt), ("PG_TLS_KEY", &key)]) else {
        return;
    };
    let base = cluster.url("postgres");
    let root = certs.path().join("test-ca.crt");

    // Verified TLS: a commit goes through and reads back.
    let url = format!("{base}?sslmode=verify-full&sslrootcert={}", root.display());
    let store = PgStore::open(&url).unwrap();
    store
        .commit(&[Mutation::Put {
            table: "t",
            key: "k".into(),
            value: b"v".to_vec(),
        }])
        .unwrap();
    drop(store);
    let again = PgStore::open(&url).unwrap();
    assert_eq!(
        again.load("t").unwrap(),
        vec![("k".to_string(), b"v".to_vec())]
    );
    drop(again);
    // `require` verifies too.
    PgStore::open(&format!(
        "{base}?sslmode=require&sslrootcert={}",
        root.display()
    ))
    .unwrap();

    // The server refuses plain TCP (hostnossl reject): kmsd does not fall back silently.
    assert!(PgStore::open(&base).is_err());
    assert!(PgStore::open(&format!("{base}?sslmode=prefer")).is_err());

    // A server whose certificate the given roots do not vouch for is refused.
    let other = certs.path().join("other-ca.crt");
    match PgStore::open(&format!(
        "{base}?sslmode=require&sslrootcert={}",
        other.display()
    )) {
        Err(StoreError::Unavailable(m) | StoreError::Backend(m)) => {
            assert!(m.contains("certificate"), "{m}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a server signed by an unknown CA was accepted"),
    }
}
