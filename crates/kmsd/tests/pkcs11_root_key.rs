//! The root key in a PKCS#11 token (SoftHSM2, a token initialised in a temporary directory):
//! `kmsd pkcs11-init` creates the key, `kmsd serve --root-key-pkcs11` wraps material through
//! the token, a restart opens it again, and without the token (another root key, a wrong
//! PIN, the token gone) the store's material cannot be opened. Then a data directory under a
//! file root key is moved into the token with `kmsd rotate-root-key`.
//!
//! Needs SoftHSM2 (`.ci/run` installs Debian's `softhsm2`); skipped with a message where it
//! is missing, except under CI.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

mod common;

use common::ops::{create_key, decrypt, encrypt, kmsd, kmsd_ok, serve_fails, SoftHsm};
use common::{b64, Server};

#[test]
fn root_key_in_a_token_then_moved_from_a_file_into_it() {
    let Some(hsm) = SoftHsm::init("kmsd-ci") else {
        return;
    };
    // Server::start passes the test's environment on to kmsd.
    for (k, v) in hsm.env() {
        std::env::set_var(k, v);
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");

    // No key yet: serve refuses, naming the problem.
    let err = serve_fails(&data, &hsm.flags("kmsd-root"), &hsm.env());
    assert!(err.contains("no secret key labelled"), "{err}");
    hsm.create_key("kmsd-root");
    // A second pkcs11-init with the same label is refused.
    let o = kmsd(
        &[
            "pkcs11-init",
            "--module",
            hsm.module.to_str().unwrap(),
            "--token",
            &hsm.token,
            "--key",
            "kmsd-root",
        ],
        &hsm.env(),
    );
    assert!(!o.status.success());

    // Serve on the token, create a key, encrypt, stop.
    let s = Server::start(&data, &log, &hsm.flags("kmsd-root"));
    let key = create_key(s.addr);
    let blob = encrypt(s.addr, &key, b"kept in the token");
    assert!(s.terminate());
    assert!(
        !data.join("root.key").exists(),
        "a root key file was created although the root key is in the token"
    );

    // Restart on the token: the material opens.
    let s = Server::start(&data, &log, &hsm.flags("kmsd-root"));
    assert_eq!(decrypt(s.addr, &blob), b64(b"kept in the token"));
    assert!(s.terminate());

    // Without the token the material cannot be opened:
    // - another root key (a fresh file key),
    let err = serve_fails(&data, &[], &[]);
    assert!(err.contains("does not unwrap"), "{err}");
    std::fs::remove_file(data.join("root.key")).unwrap();
    // - the right token with a wrong PIN (the PIN is not echoed),
    let mut env = hsm.env();
    env[1] = ("KMSD_PKCS11_PIN", "0000-wrong");
    let err = serve_fails(&data, &hsm.flags("kmsd-root"), &env);
    assert!(err.contains("cannot log in"), "{err}");
    assert!(!err.contains("0000-wrong"));
    // - no PIN at all,
    let o = kmsd(
        &[
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
            ][..],
            &hsm.flags("kmsd-root")[..],
        ]
        .concat(),
        &[
            ("SOFTHSM2_CONF", hsm.conf.to_str().unwrap()),
            ("KMSD_PKCS11_PIN", ""),
        ],
    );
    assert!(!o.status.success());
    // - another key in the token,
    hsm.create_key("other");
    let err = serve_fails(&data, &hsm.flags("other"), &hsm.env());
    assert!(err.contains("does not unwrap"), "{err}");
    // - the token gone.
    let tokens = hsm.dir.path().join("tokens");
    let moved = hsm.dir.path().join("tokens-away");
    std::fs::rename(&tokens, &moved).unwrap();
    std::fs::create_dir(&tokens).unwrap();
    let err = serve_fails(&data, &hsm.flags("kmsd-root"), &hsm.env());
    assert!(err.contains("no PKCS#11 token labelled"), "{err}");
    std::fs::remove_dir(&tokens).unwrap();
    std::fs::rename(&moved, &tokens).unwrap();

    // From a file root key into the token: rotate-root-key.
    let data2 = tmp.path().join("data2");
    let s = Server::start(&data2, &log, &[]);
    let key2 = create_key(s.addr);
    let blob2 = encrypt(s.addr, &key2, b"moved into the token");
    assert!(s.terminate());
    let module = hsm.module.to_str().unwrap();
    let out = kmsd_ok(
        &[
            "rotate-root-key",
            "--data-dir",
            data2.to_str().unwrap(),
            "--new-root-key-pkcs11",
            module,
            "--new-pkcs11-token",
            &hsm.token,
            "--new-pkcs11-key",
            "kmsd-root",
        ],
        &hsm.env(),
    );
    assert!(out.contains("re-wrapped"), "{out}");
    // The old file key no longer opens anything; the token does.
    let err = serve_fails(&data2, &[], &[]);
    assert!(err.contains("does not unwrap"), "{err}");
    let s = Server::start(&data2, &log, &hsm.flags("kmsd-root"));
    assert_eq!(decrypt(s.addr, &blob2), b64(b"moved into the token"));
    // Keys created on the token after the move work too.
    let k3 = create_key(s.addr);
    let b3 = encrypt(s.addr, &k3, b"new");
    assert_eq!(decrypt(s.addr, &b3), b64(b"new"));
    assert!(s.terminate());
}
