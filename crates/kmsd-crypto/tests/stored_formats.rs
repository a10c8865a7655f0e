//! Stores written before the root-key framing had one owner still open: each format
//! (v1 key material, v2 MAC key — generated and imported length —, v3 secret, v4 asymmetric
//! private key) as bytes written by the code of commit 913bea3, under a fixed root key and AAD.
//! A change to any framing detail (header, nonce position, AAD composition, tag) fails here.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use kmsd_crypto::asymmetric::KeySpec;
use kmsd_crypto::{wrap_aad, MacAlgorithm, RootKey};

const ROOT: [u8; 32] = [0x42; 32];
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

const V1: &str = "81f9ffdd6388a17b54b9af06b7f99e99b7fab913a2fb31b8830dd495b6934c8e6cafe7b064c700eec47eacffdf479cc9004f04cea6ed5c894d3e1191a8";
const V2: &str = "8202433a7702279f46e7fa7bf9420a311ef6bf65353a818e6d984446f1949a3b6c1ae2a494ce3b53a54c07046b051bba381ac76fd91ce010a4102f7aab9d";
const V2_IMPORTED: &str = "82034240999cf0ccd7f45e172c575caf957aa83792f2d10a2a4d12485a3399192ec2aafbf398459afad2418ec62062347f35cd146a86be65dbb002d59ccc599650bab6c4dcf8a23dc16bceabf6d18272c37e0fa03300eead31e9fe42b3c966edb87853fc716ef386d2fc9b7abad3b27344d4ea82a7a0da4f41365bf3003f9f9dc269";
const V3: &str = "838f4abc9dd145e2cc822d62513a3404543e077c21d352d033efe174c54b1802e9757fe135e4c1ef155f7d49bc4b48c8a7530b08d4626424";
const V4_P256_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420b1249b25de5ab82cca7677f83323de076ed65ce5197e70740c190945f0bbcbe9a144034200048827ba670d299dbb515441b7635414bc7a45882702a6a98f8605d2702ccb650283b155f0855a4d4b07b8d46a197f9afdcb605eed25d253418f7e38dd84da6a7a";
const V4_P256: &str = "840411ac20b95cf5e85ff19965f1a7713af617305fbe8e92184630a34e422d7851b91187a3d8774fdd9536a1165c1601a2da2fa5f36d998ced3c414c94849ffec3d1fbaeab8709d8b823323cca9c727d59f0b5cbed3610762ac3752f63dc98b426cac0be3f39b5acbd009d4e746e8d7ec9eb79bc71e047d6a7510192dbfa77b7c44ae54df595098ee4da41e1e5daa1042ed72dd3bdfd7e921fbf55f8453d197e30eba9d09edc7308";
const V4_ED25519_PKCS8: &str = "302e020100300506032b657004220420839954131ceeb139b0633a64c3ed9d60ca87ab5e01f2a0693eed400efbbf89a4";
const V4_ED25519: &str = "8408408d35d0c34b1334a6cf2fed60e92148be6787f9d9d4860772d07c752d639083a60302a84db55b307ab5d3d5a81e53f9994cc57b3529063a17931e4c9e3d6cd08972ef44dca32579e6f00a54";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn aad() -> Vec<u8> {
    wrap_aad(KEY_ID, 1)
}

#[test]
fn v1_key_material_still_opens() {
    let root = RootKey::from_bytes(ROOT);
    let m = root.unwrap(&unhex(V1), &aad()).unwrap();
    assert_eq!(m.as_bytes(), &[0x11; 32]);
    assert!(root.unwrap(&unhex(V1), &wrap_aad(KEY_ID, 2)).is_err());
}

#[test]
fn v2_mac_keys_still_open() {
    let root = RootKey::from_bytes(ROOT);
    let k = root.unwrap_mac(&unhex(V2), &aad()).unwrap();
    assert_eq!(k.algorithm(), MacAlgorithm::HmacSha256);
    assert_eq!(k.as_bytes(), &[0x22; 32]);
    let k = root.unwrap_mac(&unhex(V2_IMPORTED), &aad()).unwrap();
    assert_eq!(k.algorithm(), MacAlgorithm::HmacSha384);
    assert_eq!(k.as_bytes(), (0..100u8).collect::<Vec<_>>().as_slice());
    assert!(root.unwrap_mac(&unhex(V2), &wrap_aad(KEY_ID, 2)).is_err());
}

#[test]
fn v3_secret_still_opens() {
    let root = RootKey::from_bytes(ROOT);
    let s = root.unwrap_secret(&unhex(V3), &aad()).unwrap();
    assert_eq!(s.as_slice(), b"kmsd wrapped secret fixture");
    assert!(root
        .unwrap_secret(&unhex(V3), &wrap_aad(KEY_ID, 2))
        .is_err());
}

#[test]
fn v4_private_keys_still_open() {
    let root = RootKey::from_bytes(ROOT);
    for (spec, pkcs8, wrapped) in [
        (KeySpec::EccNistP256, V4_P256_PKCS8, V4_P256),
        (KeySpec::EccNistEdwards25519, V4_ED25519_PKCS8, V4_ED25519),
    ] {
        let k = root.unwrap_private_key(&unhex(wrapped), &aad()).unwrap();
        assert_eq!(k.spec(), spec);
        assert_eq!(k.pkcs8(), unhex(pkcs8).as_slice());
        assert!(root
            .unwrap_private_key(&unhex(wrapped), &wrap_aad(KEY_ID, 2))
            .is_err());
    }
}

#[test]
fn each_format_round_trips_through_the_shared_framing() {
    // What is written now has the same shape as what was written before: same length, same
    // header bytes, and it opens under the same rules.
    let root = RootKey::from_bytes(ROOT);
    let m = root.unwrap(&unhex(V1), &aad()).unwrap();
    let w = root.wrap(&m, &aad()).unwrap();
    assert_eq!((w.len(), w[0]), (unhex(V1).len(), 0x81));
    let k = root.unwrap_mac(&unhex(V2_IMPORTED), &aad()).unwrap();
    let w = root.wrap_mac(&k, &aad()).unwrap();
    assert_eq!(
        (w.len(), &w[..2]),
        (unhex(V2_IMPORTED).len(), &unhex(V2_IMPORTED)[..2])
    );
    let w = root
        .wrap_secret(b"kmsd wrapped secret fixture", &aad())
        .unwrap();
    assert_eq!((w.len(), w[0]), (unhex(V3).len(), 0x83));
    let k = root.unwrap_private_key(&unhex(V4_P256), &aad()).unwrap();
    let w = root.wrap_private_key(&k, &aad()).unwrap();
    assert_eq!((w.len(), &w[..2]), (unhex(V4_P256).len(), &[0x84u8, 4][..]));
    assert_eq!(
        root.unwrap_private_key(&w, &aad()).unwrap().pkcs8(),
        k.pkcs8()
    );
}
