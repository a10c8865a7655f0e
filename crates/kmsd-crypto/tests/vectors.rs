//! Known-answer vectors for the v1 blob and wrapped-key formats, produced by an
//! independent encoder (`tests/fixtures/make_vectors.py`, Python `cryptography`)
//! from `docs/ciphertext-format.md`. Data sealed by any release must keep opening.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::collections::BTreeMap;

use kmsd_crypto::blob::{self, CiphertextHeader};
use kmsd_crypto::{wrap_aad, KeyMaterial, RootKey};

const VECTORS: &str = include_str!("fixtures/v1_vectors.txt");

fn vector(name: &str) -> Vec<u8> {
    let line = VECTORS
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap();
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
        .collect()
}

fn seq(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start + i as u8)
}

#[test]
fn blob1_opens() {
    let b = vector("blob1");
    let m = KeyMaterial::from_bytes(seq(0));
    let ec: BTreeMap<String, String> = [("purpose", "test"), ("app", "kmsd"), ("\u{e9}", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        blob::parse_header(&b).unwrap(),
        CiphertextHeader {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            material_version: 1
        }
    );
    assert_eq!(
        blob::open(&m, &b, &ec).unwrap().as_slice(),
        b"kmsd ciphertext format v1"
    );
    assert!(blob::open(&m, &b, &BTreeMap::new()).is_err());
}

#[test]
fn blob2_opens() {
    let b = vector("blob2");
    assert_eq!(b.len(), blob::MIN_BLOB_LEN);
    let m = KeyMaterial::from_bytes(seq(0));
    assert_eq!(
        blob::parse_header(&b).unwrap(),
        CiphertextHeader {
            key_id: "ffffffff-0000-4000-8000-00000000000f".into(),
            material_version: 0xffff_fffe
        }
    );
    assert!(blob::open(&m, &b, &BTreeMap::new()).unwrap().is_empty());
}

#[test]
fn wrapped1_unwraps() {
    let w = vector("wrapped1");
    let root = RootKey::from_bytes(seq(0x40));
    let m = root
        .unwrap(&w, &wrap_aad("1234abcd-12ab-34cd-56ef-1234567890ab", 3))
        .unwrap();
    assert_eq!(m.as_bytes(), &seq(0xa0));
    assert!(root
        .unwrap(&w, &wrap_aad("1234abcd-12ab-34cd-56ef-1234567890ab", 4))
        .is_err());
}
