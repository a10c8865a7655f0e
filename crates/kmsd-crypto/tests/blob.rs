//! Ciphertext blob: round trips, tamper/truncation/context/key/version rejection,
//! header parsing robustness, IV uniqueness, and the byte layout.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::collections::{BTreeMap, HashSet};

use kmsd_crypto::blob::{self, CiphertextHeader, HEADER_LEN, MIN_BLOB_LEN};
use kmsd_crypto::{CryptoError, KeyMaterial};
use proptest::prelude::*;

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

fn ec(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn material(b: u8) -> KeyMaterial {
    KeyMaterial::from_bytes([b; 32])
}

#[test]
fn round_trip_various_sizes_and_contexts() {
    let m = KeyMaterial::generate().unwrap();
    for size in [0usize, 1, 15, 16, 17, 32, 4096] {
        for ctx in [
            ec(&[]),
            ec(&[("a", "b")]),
            ec(&[("k1", "v1"), ("k2", ""), ("", "x")]),
        ] {
            let pt: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let b = blob::seal(&m, KEY_ID, 7, &ctx, &pt).unwrap();
            assert_eq!(b.len(), HEADER_LEN + size + 16);
            assert_eq!(blob::open(&m, &b, &ctx).unwrap().as_slice(), pt.as_slice());
            assert_eq!(
                blob::parse_header(&b).unwrap(),
                CiphertextHeader {
                    key_id: KEY_ID.into(),
                    material_version: 7
                }
            );
        }
    }
}

#[test]
fn layout_is_as_documented() {
    let m = material(1);
    let b = blob::seal(&m, KEY_ID, 0x0102_0304, &ec(&[]), b"hello").unwrap();
    assert_eq!(b[0], 0x01);
    assert_eq!(
        &b[1..17],
        &[
            0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78,
            0x90, 0xab
        ]
    );
    assert_eq!(&b[17..21], &[1, 2, 3, 4]);
    assert_eq!(b.len(), 33 + 5 + 16);
    assert_ne!(&b[33..38], b"hello");
}

#[test]
fn uppercase_key_id_is_accepted_and_reported_lowercase() {
    let m = material(1);
    let b = blob::seal(&m, &KEY_ID.to_uppercase(), 1, &ec(&[]), b"x").unwrap();
    assert_eq!(blob::parse_header(&b).unwrap().key_id, KEY_ID);
}

#[test]
fn invalid_key_id_rejected_on_seal() {
    let m = material(1);
    for bad in [
        "",
        "alias/foo",
        "1234abcd12ab34cd56ef1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        assert!(matches!(
            blob::seal(&m, bad, 1, &ec(&[]), b"x"),
            Err(CryptoError::InvalidKeyId(_))
        ));
    }
}

#[test]
fn tampering_any_single_byte_fails() {
    let m = material(9);
    let ctx = ec(&[("app", "billing")]);
    let b = blob::seal(&m, KEY_ID, 3, &ctx, b"attack at dawn, bring snacks").unwrap();
    for i in 0..b.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut t = b.clone();
            t[i] ^= flip;
            let r = blob::open(&m, &t, &ctx);
            assert!(r.is_err(), "byte {i} flip {flip:#x} accepted");
            assert!(r.err().unwrap().is_invalid_ciphertext());
        }
    }
}

#[test]
fn truncation_and_extension_fail() {
    let m = material(9);
    let ctx = ec(&[]);
    let b = blob::seal(&m, KEY_ID, 3, &ctx, b"some plaintext").unwrap();
    for len in 0..b.len() {
        let r = blob::open(&m, &b[..len], &ctx);
        assert!(r.is_err(), "truncation to {len} accepted");
        if len < MIN_BLOB_LEN {
            assert!(matches!(r, Err(CryptoError::InvalidCiphertext)));
            assert!(blob::parse_header(&b[..len]).is_err());
        }
    }
    let mut longer = b.clone();
    longer.push(0);
    assert!(blob::open(&m, &longer, &ctx).is_err());
}

#[test]
fn wrong_context_fails() {
    let m = material(2);
    let ctx = ec(&[("a", "1"), ("b", "2")]);
    let b = blob::seal(&m, KEY_ID, 1, &ctx, b"pt").unwrap();
    for other in [
        ec(&[]),
        ec(&[("a", "1")]),
        ec(&[("a", "1"), ("b", "3")]),
        ec(&[("A", "1"), ("b", "2")]),
        ec(&[("a", "1"), ("b", "2"), ("c", "")]),
        // Same concatenation, different split: must differ thanks to length prefixes.
        ec(&[("a1", ""), ("b", "2")]),
        ec(&[("a", "1b"), ("", "2")]),
    ] {
        assert!(matches!(
            blob::open(&m, &b, &other),
            Err(CryptoError::AuthenticationFailed)
        ));
    }
    assert!(blob::open(&m, &b, &ctx).is_ok());
}

#[test]
fn empty_context_equals_no_context() {
    let m = material(2);
    let b = blob::seal(&m, KEY_ID, 1, &BTreeMap::new(), b"pt").unwrap();
    assert!(blob::open(&m, &b, &ec(&[])).is_ok());
}

#[test]
fn wrong_key_fails() {
    let b = blob::seal(&material(1), KEY_ID, 1, &ec(&[]), b"pt").unwrap();
    assert!(matches!(
        blob::open(&material(2), &b, &ec(&[])),
        Err(CryptoError::AuthenticationFailed)
    ));
}

#[test]
fn wrong_format_version_or_material_version_fails() {
    let m = material(1);
    let b = blob::seal(&m, KEY_ID, 1, &ec(&[]), b"pt").unwrap();
    for v in [0x00u8, 0x03, 0x81, 0xff] {
        let mut t = b.clone();
        t[0] = v;
        assert!(matches!(
            blob::open(&m, &t, &ec(&[])),
            Err(CryptoError::InvalidCiphertext)
        ));
        assert!(matches!(
            blob::parse_header(&t),
            Err(CryptoError::InvalidCiphertext)
        ));
    }
    // Relabel the material version: header is parsed fine, but authentication fails.
    let mut t = b.clone();
    t[20] = 2;
    assert_eq!(blob::parse_header(&t).unwrap().material_version, 2);
    assert!(matches!(
        blob::open(&m, &t, &ec(&[])),
        Err(CryptoError::AuthenticationFailed)
    ));
    // Relabel the key id: same.
    let mut t = b;
    t[1] ^= 0x10;
    assert!(matches!(
        blob::open(&m, &t, &ec(&[])),
        Err(CryptoError::AuthenticationFailed)
    ));
}

#[test]
fn iv_is_unique_across_calls() {
    let m = material(1);
    let mut ivs = HashSet::new();
    let mut blobs = HashSet::new();
    for _ in 0..20_000 {
        let b = blob::seal(&m, KEY_ID, 1, &ec(&[]), b"same plaintext").unwrap();
        assert!(ivs.insert(b[21..33].to_vec()), "IV repeated");
        assert!(blobs.insert(b));
    }
}

#[test]
fn canonical_context_encoding() {
    assert_eq!(
        blob::canonical_encryption_context(&ec(&[])),
        vec![0, 0, 0, 0]
    );
    assert_eq!(
        blob::canonical_encryption_context(&ec(&[("b", "2"), ("a", "xy")])),
        vec![
            0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0, 0, 2, b'x', b'y', 0, 0, 0, 1, b'b', 0, 0, 0, 1,
            b'2'
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_header_and_open_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = blob::parse_header(&bytes);
        prop_assert!(blob::open(&material(3), &bytes, &ec(&[])).is_err());
    }

    #[test]
    fn parse_header_never_panics_on_v1_prefix(tail in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut bytes = vec![0x01u8];
        bytes.extend_from_slice(&tail);
        let r = blob::parse_header(&bytes);
        prop_assert_eq!(r.is_ok(), bytes.len() >= MIN_BLOB_LEN);
    }

    #[test]
    fn round_trip_arbitrary(
        pt in proptest::collection::vec(any::<u8>(), 0..600),
        ctx in proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..4),
        version in any::<u32>(),
        id in any::<[u8; 16]>(),
    ) {
        let key_id = format!(
            "{}-{}-{}-{}-{}",
            hex(&id[0..4]), hex(&id[4..6]), hex(&id[6..8]), hex(&id[8..10]), hex(&id[10..16])
        );
        let m = material(5);
        let b = blob::seal(&m, &key_id, version, &ctx, &pt).unwrap();
        let h = blob::parse_header(&b).unwrap();
        prop_assert_eq!(h.key_id, key_id);
        prop_assert_eq!(h.material_version, version);
        let opened = blob::open(&m, &b, &ctx).unwrap();
        prop_assert_eq!(opened.as_slice(), pt.as_slice());
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A multi-Region key id (`mrk-` + 32 hex digits) is sealed in a version-2 blob and read
/// back from its header; the version byte is authenticated like the rest of the header.
#[test]
fn multi_region_key_ids_use_version_2() {
    let m = KeyMaterial::generate().unwrap();
    let id = "mrk-1234abcd12ab34cd56ef1234567890ab";
    let ec = BTreeMap::new();
    let b = blob::seal(&m, id, 3, &ec, b"x").unwrap();
    assert_eq!(b[0], 0x02);
    let h = blob::parse_header(&b).unwrap();
    assert_eq!(h.key_id, id);
    assert_eq!(h.material_version, 3);
    assert_eq!(&*blob::open(&m, &b, &ec).unwrap(), b"x");
    let mut t = b.clone();
    t[0] = 0x01;
    assert!(blob::open(&m, &t, &ec).is_err());
    assert!(blob::seal(&m, "mrk-1234", 1, &ec, b"x").is_err());
    assert!(blob::seal(&m, "mrk-1234abcd12ab34cd56ef1234567890zz", 1, &ec, b"x").is_err());
}
