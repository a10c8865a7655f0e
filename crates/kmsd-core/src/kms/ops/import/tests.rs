//! Import tokens and material identity.

use super::*;

#[test]
fn token_round_trips_and_rejects_garbage() {
    let p = ImportParams {
        key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        token_id: hex(&[7u8; TOKEN_ID_LEN]),
        algorithm: "RSAES_OAEP_SHA_256".into(),
        wrapping_key_spec: "RSA_2048".into(),
        valid_to_millis: 1_700_000_000_123,
        wrapped_private_key: String::new(),
    };
    let t = token_bytes(&p, &[7u8; TOKEN_ID_LEN]);
    assert_eq!(
        parse_token(&t),
        Some((p.token_id.clone(), p.valid_to_millis, p.key_id.clone()))
    );
    assert_eq!(parse_token(&t[..10]), None);
    assert_eq!(parse_token(b""), None);
    let mut bad = t.clone();
    bad[0] ^= 1;
    assert_eq!(parse_token(&bad), None);
    let mut bad = t;
    bad[4] = 9;
    assert_eq!(parse_token(&bad), None);
}

#[test]
fn material_id_depends_on_key_and_material() {
    let a = imported_material_id("k1", &[1u8; 32]);
    assert_eq!(a.len(), 64);
    assert_eq!(a, imported_material_id("k1", &[1u8; 32]));
    assert_ne!(a, imported_material_id("k2", &[1u8; 32]));
    assert_ne!(a, imported_material_id("k1", &[2u8; 32]));
}
