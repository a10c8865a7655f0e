//! Root key: wrap/unwrap, hex form, key file creation/permission/length checks, redaction.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::fs;
use std::os::unix::fs::PermissionsExt;

use kmsd_crypto::{wrap_aad, CryptoError, KeyMaterial, RootKey, WRAPPED_KEY_LEN};

const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn wrap_round_trip_and_binding() {
    let root = RootKey::generate().unwrap();
    let m = KeyMaterial::generate().unwrap();
    let aad = wrap_aad(ID, 1);
    let w = root.wrap(&m, &aad).unwrap();
    assert_eq!(w.len(), WRAPPED_KEY_LEN);
    assert_eq!(w[0], 0x81);
    assert!(root.unwrap(&w, &aad).unwrap().ct_eq(&m));
    // A second wrap uses a fresh nonce.
    assert_ne!(root.wrap(&m, &aad).unwrap(), w);
    // Bound to key id and version.
    assert!(matches!(
        root.unwrap(&w, &wrap_aad(ID, 2)),
        Err(CryptoError::AuthenticationFailed)
    ));
    assert!(matches!(
        root.unwrap(&w, &wrap_aad("1234abcd-12ab-34cd-56ef-1234567890ac", 1)),
        Err(CryptoError::AuthenticationFailed)
    ));
    // Wrong root key.
    let other = RootKey::generate().unwrap();
    assert!(matches!(
        other.unwrap(&w, &aad),
        Err(CryptoError::AuthenticationFailed)
    ));
    // Every single-byte tamper and every truncation fails.
    for i in 0..w.len() {
        let mut t = w.clone();
        t[i] ^= 0x01;
        assert!(root.unwrap(&t, &aad).is_err(), "tamper at {i}");
        assert!(matches!(
            root.unwrap(&w[..i], &aad),
            Err(CryptoError::InvalidWrappedKey)
        ));
    }
}

#[test]
fn wrap_aad_is_unambiguous() {
    assert_ne!(wrap_aad("ab", 1), wrap_aad("a", 1));
    assert_ne!(wrap_aad(ID, 1), wrap_aad(ID, 256));
}

#[test]
fn from_hex() {
    let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    let k = RootKey::from_hex(hex).unwrap();
    let mut expect = [0u8; 32];
    for (i, b) in expect.iter_mut().enumerate() {
        *b = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ][i % 16];
    }
    assert!(k.ct_eq(&RootKey::from_bytes(expect)));
    assert!(RootKey::from_hex(&format!("  {hex}\n")).is_ok());
    for bad in [
        "",
        &hex[1..],
        &format!("{hex}0"),
        &format!("{}g", &hex[1..]),
    ] {
        let e = RootKey::from_hex(bad).unwrap_err();
        assert!(matches!(e, CryptoError::BadRootKey(_)));
        // Error text never echoes the key.
        assert!(!e.to_string().contains("00112233"), "{e}");
    }
}

#[test]
fn key_file_created_once_with_0600_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/root.key");
    let k1 = RootKey::load_or_create(&path).unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let k2 = RootKey::load_or_create(&path).unwrap();
    assert!(k1.ct_eq(&k2));
    // No temporary files are left behind.
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // Material wrapped under the created key unwraps after reload.
    let m = KeyMaterial::generate().unwrap();
    let w = k1.wrap(&m, b"x").unwrap();
    assert!(k2.unwrap(&w, b"x").unwrap().ct_eq(&m));
}

#[test]
fn key_file_with_group_or_other_bits_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.key");
    RootKey::load_or_create(&path).unwrap();
    for mode in [0o640, 0o604, 0o660, 0o644, 0o602] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let e = RootKey::load_or_create(&path).unwrap_err();
        assert!(
            matches!(e, CryptoError::BadRootKey(ref s) if s.contains("chmod 600")),
            "{e}"
        );
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(RootKey::load_or_create(&path).is_ok());
}

#[test]
fn key_file_wrong_length_refused_hex_form_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.key");
    for len in [0usize, 1, 31, 33, 63, 100] {
        fs::write(&path, vec![b'a'; len]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let e = RootKey::load_or_create(&path).unwrap_err();
        assert!(matches!(e, CryptoError::BadRootKey(_)), "len {len}: {e}");
    }
    fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
    let k = RootKey::load_or_create(&path).unwrap();
    assert!(k.ct_eq(&RootKey::from_bytes([0xab; 32])));
    fs::write(&path, "zz".repeat(32)).unwrap();
    assert!(matches!(
        RootKey::load_or_create(&path),
        Err(CryptoError::BadRootKey(_))
    ));
}

#[test]
fn key_file_path_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = RootKey::load_or_create(dir.path()).unwrap_err();
    assert!(
        matches!(e, CryptoError::BadRootKey(_) | CryptoError::Io(_)),
        "{e}"
    );
}

#[test]
fn debug_is_redacted() {
    let k = RootKey::from_bytes([0x41; 32]);
    let m = KeyMaterial::from_bytes([0x42; 32]);
    let dk = format!("{k:?} {k:#?}");
    let dm = format!("{m:?} {m:#?}");
    assert!(dk.contains("redacted") && dm.contains("redacted"));
    for s in [dk, dm] {
        assert!(
            !s.contains("65") && !s.contains("66") && !s.contains("41") && !s.contains("42"),
            "{s}"
        );
    }
}

#[test]
fn random_bytes_lengths_and_variety() {
    assert!(kmsd_crypto::random_bytes(0).unwrap().is_empty());
    let a = kmsd_crypto::random_bytes(32).unwrap();
    let b = kmsd_crypto::random_bytes(32).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn generic_secret_is_redacted_and_constant_time_eq_works() {
    let s = kmsd_crypto::Secret::new(String::from("wJalrXUtnFEMI/K7MDENG"));
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG");
    assert!(kmsd_crypto::constant_time_eq(b"abc", b"abc"));
    assert!(!kmsd_crypto::constant_time_eq(b"abc", b"abd"));
    assert!(!kmsd_crypto::constant_time_eq(b"abc", b"ab"));
    assert!(kmsd_crypto::constant_time_eq(b"", b""));
}
