//! The PKCS#11 root key against SoftHSM2: a token initialised in a temporary directory, a key
//! created by `pkcs11::create_key`, wrap/unwrap through the token, and the refusals.
//!
//! Needs SoftHSM2 (`softhsm2-util` and its module; `.ci/run` installs Debian's `softhsm2`).
//! Without it the test fails under CI (`CI` set) and is skipped with a message elsewhere.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use kmsd_crypto::pkcs11::{create_key, Pkcs11Config, Pkcs11RootKey};
use kmsd_crypto::{wrap_aad, KeyMaterial, MacAlgorithm, MacKey, RootKey};

fn module() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KMSD_TEST_PKCS11_MODULE") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

#[test]
fn root_key_in_softhsm() {
    let Some(module) = module() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SoftHSM2 is not installed (apt-get install softhsm2)"
        );
        eprintln!("SKIPPED: SoftHSM2 is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // The only test in this binary: the module reads the variable at C_Initialize.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let st = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "kmsd-test"])
        .args(["--pin", "1234", "--so-pin", "5678"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");

    let config = Pkcs11Config {
        module: module.clone(),
        token_label: "kmsd-test".into(),
        key_label: "root".into(),
    };
    // No key yet.
    let e = Pkcs11RootKey::open(config.clone(), "1234").err().unwrap();
    assert!(e.to_string().contains("no secret key labelled"), "{e}");
    // Wrong PIN: refused, and the PIN is not in the message.
    let e = create_key(&config, "9999-wrong").err().unwrap();
    assert!(e.to_string().contains("cannot log in"), "{e}");
    assert!(!e.to_string().contains("9999-wrong"));
    create_key(&config, "1234").unwrap();
    let e = create_key(&config, "1234").err().unwrap();
    assert!(e.to_string().contains("already has"), "{e}");
    let bad_token = Pkcs11Config {
        token_label: "nope".into(),
        ..config.clone()
    };
    let e = Pkcs11RootKey::open(bad_token, "1234").err().unwrap();
    assert!(e.to_string().contains("no PKCS#11 token labelled"), "{e}");

    let hsm = RootKey::from_backend(Arc::new(
        Pkcs11RootKey::open(config.clone(), "1234").unwrap(),
    ));
    assert!(hsm.describe().contains("\"root\""));
    let m = KeyMaterial::from_bytes([0x42; 32]);
    let aad = wrap_aad("1234abcd-12ab-34cd-56ef-1234567890ab", 1);
    let w = hsm.wrap(&m, &aad).unwrap();
    assert_eq!(w.len(), kmsd_crypto::WRAPPED_KEY_LEN);
    assert!(hsm.unwrap(&w, &aad).unwrap().ct_eq(&m));
    // Wrong AAD, tampered bytes, and another (local) root key all fail.
    assert!(hsm.unwrap(&w, &wrap_aad("other", 1)).is_err());
    let mut t = w.clone();
    t[20] ^= 1;
    assert!(hsm.unwrap(&t, &aad).is_err());
    let local = RootKey::from_bytes([7; 32]);
    assert!(local.unwrap(&w, &aad).is_err());
    assert!(hsm.unwrap(&local.wrap(&m, &aad).unwrap(), &aad).is_err());

    // HMAC material, same token key.
    let mac = MacKey::from_bytes(MacAlgorithm::HmacSha256, vec![9u8; 32]).unwrap();
    let wm = hsm.wrap_mac(&mac, &aad).unwrap();
    let back = hsm.unwrap_mac(&wm, &aad).unwrap();
    assert_eq!(back.sign(b"msg"), mac.sign(b"msg"));

    // A second handle on the same key (as after a restart) opens what the first wrapped.
    let again = RootKey::from_backend(Arc::new(Pkcs11RootKey::open(config, "1234").unwrap()));
    assert!(again.unwrap(&w, &aad).unwrap().ct_eq(&m));
}
