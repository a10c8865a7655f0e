//! The ciphertext blob and wrapped root-key format on arbitrary bytes, and a seal → open
//! round trip.
//!
//! Properties:
//! - `blob::parse_header` and `blob::open` never panic; `parse_header` accepts only inputs
//!   of at least `MIN_BLOB_LEN` bytes starting with the v1 version byte (key id reported as
//!   lower-case hyphenated UUID text) or the multi-Region version byte (`mrk-` and the 16
//!   bytes as 32 lower-case hex digits);
//! - `open` with a fixed key never succeeds on bytes it did not seal; `RootKey::unwrap`
//!   never succeeds on bytes it did not wrap;
//! - `seal` then `parse_header`/`open` gives back key id, material version and plaintext;
//!   flipping any one bit, truncating, or changing the encryption context makes `open` fail.

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use kmsd_crypto::blob::{self, BLOB_VERSION_MRK, BLOB_VERSION_V1, MIN_BLOB_LEN};
use kmsd_crypto::{KeyMaterial, RootKey};

use crate::gen::{byte, string};

const KEY: [u8; 32] = [7u8; 32];
const ROOT: [u8; 32] = [9u8; 32];

fn uuid_text(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn context(u: &mut Unstructured<'_>) -> BTreeMap<String, String> {
    (0..byte(u) % 4)
        .map(|_| (string(u, 12), string(u, 12)))
        .collect()
}

/// Entry point.
pub fn run(data: &[u8]) {
    let material = KeyMaterial::from_bytes(KEY);
    let root = RootKey::from_bytes(ROOT);

    // Arbitrary bytes.
    match blob::parse_header(data) {
        Ok(h) => {
            assert!(data.len() >= MIN_BLOB_LEN);
            let mut id = [0u8; 16];
            id.copy_from_slice(&data[1..17]);
            match data[0] {
                BLOB_VERSION_V1 => assert_eq!(h.key_id, uuid_text(&id)),
                BLOB_VERSION_MRK => {
                    let hex: String = id.iter().map(|x| format!("{x:02x}")).collect();
                    assert_eq!(h.key_id, format!("mrk-{hex}"));
                }
                v => panic!("version byte {v:#04x} accepted"),
            }
            assert_eq!(h.material_version.to_be_bytes(), data[17..21]);
        }
        Err(e) => assert!(e.is_invalid_ciphertext(), "{e:?}"),
    }
    assert!(
        blob::open(&material, data, &BTreeMap::new()).is_err(),
        "random blob opened"
    );
    assert!(
        root.unwrap(data, b"aad").is_err(),
        "random wrapped key unwrapped"
    );

    // Round trip.
    let mut u = Unstructured::new(data);
    let mut id = [0u8; 16];
    for b in id.iter_mut() {
        *b = byte(&mut u);
    }
    let version = u.arbitrary::<u32>().unwrap_or(1);
    let ec = context(&mut u);
    let flip = u.arbitrary::<u16>().unwrap_or(0);
    let plaintext = u.take_rest();
    // Both key id forms: a UUID (v1 blob) and a multi-Region `mrk-` id (its own version).
    let key_id = if flip & 0x8000 != 0 {
        let hex: String = id.iter().map(|x| format!("{x:02x}")).collect();
        format!("mrk-{hex}")
    } else {
        uuid_text(&id)
    };
    let sealed = match blob::seal(&material, &key_id, version, &ec, plaintext) {
        Ok(s) => s,
        Err(e) => panic!("seal failed: {e:?}"),
    };
    let h = blob::parse_header(&sealed).unwrap_or_else(|e| panic!("header: {e:?}"));
    assert_eq!(h.key_id, key_id);
    assert_eq!(h.material_version, version);
    let opened = blob::open(&material, &sealed, &ec).unwrap_or_else(|e| panic!("open: {e:?}"));
    assert_eq!(opened.as_slice(), plaintext);

    let bit = usize::from(flip) % (sealed.len() * 8);
    let mut tampered = sealed.clone();
    tampered[bit / 8] ^= 1 << (bit % 8);
    assert!(
        blob::open(&material, &tampered, &ec).is_err(),
        "bit {bit} flip opened"
    );
    assert!(blob::open(&material, &sealed[..sealed.len() - 1], &ec).is_err());
    let mut other_ec = ec.clone();
    if other_ec.remove("fuzz-extra").is_none() {
        other_ec.insert("fuzz-extra".to_string(), String::new());
    }
    assert!(blob::open(&material, &sealed, &other_ec).is_err());
    let other = KeyMaterial::from_bytes([8u8; 32]);
    assert!(blob::open(&other, &sealed, &ec).is_err());

    // Root-key wrap round trip.
    let wrapped = root
        .wrap(&material, &id)
        .unwrap_or_else(|e| panic!("wrap: {e:?}"));
    let back = root
        .unwrap(&wrapped, &id)
        .unwrap_or_else(|e| panic!("unwrap: {e:?}"));
    assert!(back.ct_eq(&material));
    let mut tw = wrapped.clone();
    let wbit = usize::from(flip) % (tw.len() * 8);
    tw[wbit / 8] ^= 1 << (wbit % 8);
    assert!(root.unwrap(&tw, &id).is_err());
    assert!(root.unwrap(&wrapped, &key_id.as_bytes()[..4]).is_err());
}
