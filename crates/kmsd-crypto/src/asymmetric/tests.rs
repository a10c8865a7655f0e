#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fast_specs() -> impl Iterator<Item = KeySpec> {
    KeySpec::ALL
        .into_iter()
        .filter(|s| !matches!(s, KeySpec::Rsa3072 | KeySpec::Rsa4096))
}

#[test]
fn names_round_trip() {
    for s in KeySpec::ALL {
        assert_eq!(KeySpec::from_name(s.name()), Some(s));
    }
    for a in SigningAlgorithm::ALL {
        assert_eq!(SigningAlgorithm::from_name(a.name()), Some(a));
    }
    assert_eq!(KeySpec::from_name("SM2"), None);
    assert_eq!(SigningAlgorithm::from_name("SM2DSA"), None);
    assert_eq!(
        MessageType::from_name("EXTERNAL_MU"),
        Some(MessageType::ExternalMu)
    );
}

#[test]
fn every_spec_generates_reloads_and_signs_or_encapsulates() {
    for spec in fast_specs() {
        let k = spec.generate().unwrap();
        let again = PrivateKey::from_pkcs8(spec, k.pkcs8()).unwrap();
        assert_eq!(k.public_key_spki(), again.public_key_spki(), "{spec:?}");
        // Two generations differ.
        let other = spec.generate().unwrap();
        assert_ne!(k.public_key_spki(), other.public_key_spki());
        // The PKCS#8 of one spec does not load as another family's key.
        let wrong = if spec.family() == Family::Ecc {
            KeySpec::MlDsa44
        } else {
            KeySpec::EccNistP256
        };
        assert!(PrivateKey::from_pkcs8(wrong, k.pkcs8()).is_err());
        for &alg in spec.signing_algorithms() {
            for mt in [
                MessageType::Raw,
                MessageType::Digest,
                MessageType::ExternalMu,
            ] {
                if !alg.accepts(mt) {
                    assert_eq!(k.sign(alg, mt, &[0; 64]), Err(AsymError::Algorithm));
                    continue;
                }
                let msg: Vec<u8> = match mt {
                    MessageType::Raw => b"kmsd asymmetric test message".to_vec(),
                    _ => vec![0x5a; alg.hash().len()],
                };
                let sig = k.sign(alg, mt, &msg).unwrap();
                assert_eq!(
                    k.verify(alg, mt, &msg, &sig),
                    Ok(()),
                    "{spec:?} {alg:?} {mt:?}"
                );
                assert_eq!(
                    other.verify(alg, mt, &msg, &sig),
                    Err(AsymError::InvalidSignature),
                    "{spec:?} {alg:?}: another key's signature"
                );
                let mut bad = msg.clone();
                bad[0] ^= 1;
                assert_eq!(
                    k.verify(alg, mt, &bad, &sig),
                    Err(AsymError::InvalidSignature)
                );
                let mut bad_sig = sig.clone();
                let last = bad_sig.len() - 1;
                bad_sig[last] ^= 1;
                assert_eq!(
                    k.verify(alg, mt, &msg, &bad_sig),
                    Err(AsymError::InvalidSignature)
                );
                assert_eq!(
                    k.verify(alg, mt, &msg, &[]),
                    Err(AsymError::InvalidSignature)
                );
                if mt != MessageType::Raw {
                    assert_eq!(
                        k.sign(alg, mt, &msg[1..]),
                        Err(AsymError::DigestLength),
                        "{spec:?} {alg:?}"
                    );
                }
            }
        }
        if spec.family() == Family::MlKem {
            let (ct, ss) = k.encapsulate().unwrap();
            assert_eq!(ss.len(), 32);
            assert_eq!(k.decapsulate(&ct).unwrap(), ss);
            assert_ne!(other.decapsulate(&ct).unwrap(), ss);
            assert_eq!(k.decapsulate(&ct[1..]), Err(AsymError::InvalidCiphertext));
            assert_eq!(
                k.sign(SigningAlgorithm::MlDsaShake256, MessageType::Raw, b"x"),
                Err(AsymError::Algorithm)
            );
        } else {
            assert!(k.encapsulate().is_err());
        }
    }
}

#[test]
fn algorithms_of_another_spec_are_refused() {
    let p256 = KeySpec::EccNistP256.generate().unwrap();
    for alg in [
        SigningAlgorithm::EcdsaSha384,
        SigningAlgorithm::RsassaPssSha256,
        SigningAlgorithm::Ed25519Sha512,
    ] {
        assert_eq!(
            p256.sign(alg, MessageType::Raw, b"m"),
            Err(AsymError::Algorithm)
        );
    }
    let ed = KeySpec::EccNistEdwards25519.generate().unwrap();
    assert_eq!(
        ed.sign(
            SigningAlgorithm::Ed25519Sha512,
            MessageType::Digest,
            &[0; 64]
        ),
        Err(AsymError::Algorithm)
    );
    assert_eq!(
        ed.sign(SigningAlgorithm::Ed25519PhSha512, MessageType::Raw, b"m"),
        Err(AsymError::Algorithm)
    );
}

/// RFC 6979 A.2.5: P-256, SHA-256, message "sample". Signing is deterministic, so the
/// same `r` comes out; `s` is the RFC's or its low-S twin n − s.
#[test]
fn rfc6979_p256_sample() {
    let x = hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
    let sk = p256::ecdsa::SigningKey::from_slice(&x).unwrap();
    use p256::pkcs8::EncodePrivateKey;
    let der = sk.to_pkcs8_der().unwrap();
    let k = PrivateKey::from_pkcs8(KeySpec::EccNistP256, der.as_bytes()).unwrap();
    let sig = k
        .sign(SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"sample")
        .unwrap();
    let sig = p256::ecdsa::Signature::from_der(&sig).unwrap();
    let r = hex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716");
    let s = hex("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
    assert_eq!(sig.r().to_bytes().to_vec(), r);
    let rfc = p256::ecdsa::Signature::from_scalars(
        <[u8; 32]>::try_from(&r[..]).unwrap(),
        <[u8; 32]>::try_from(&s[..]).unwrap(),
    )
    .unwrap();
    assert_eq!(sig, rfc.normalize_s());
    // The RFC's own (high-S) signature verifies too, as DER.
    let rfc_der = rfc.to_der();
    k.verify(
        SigningAlgorithm::EcdsaSha256,
        MessageType::Raw,
        b"sample",
        rfc_der.as_bytes(),
    )
    .unwrap();
    // And as DIGEST.
    let digest = Hash::Sha256.digest(b"sample");
    k.verify(
        SigningAlgorithm::EcdsaSha256,
        MessageType::Digest,
        &digest,
        rfc_der.as_bytes(),
    )
    .unwrap();
}

fn ed_key(seed_hex: &str) -> PrivateKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(hex(seed_hex));
    PrivateKey::from_pkcs8(KeySpec::EccNistEdwards25519, &der).unwrap()
}

/// RFC 8032 §7.1 TEST 1 (Ed25519, empty message).
#[test]
fn rfc8032_ed25519_test1() {
    let k = ed_key("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    assert_eq!(
        k.public_key_spki()[12..].to_vec(),
        hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    );
    let sig = k
        .sign(SigningAlgorithm::Ed25519Sha512, MessageType::Raw, b"")
        .unwrap();
    assert_eq!(
        sig,
        hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    );
}

/// RFC 8032 §7.3 (Ed25519ph, message "abc"): the DIGEST is SHA-512("abc").
#[test]
fn rfc8032_ed25519ph_abc() {
    let k = ed_key("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
    assert_eq!(
        k.public_key_spki()[12..].to_vec(),
        hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
    );
    let digest = Hash::Sha512.digest(b"abc");
    let sig = k
        .sign(
            SigningAlgorithm::Ed25519PhSha512,
            MessageType::Digest,
            &digest,
        )
        .unwrap();
    assert_eq!(
        sig,
        hex("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406")
    );
}

/// ECDH agrees with `ring`'s independent implementation on P-256 and P-384.
#[test]
fn ecdh_agrees_with_ring() {
    use ring::agreement;
    let rng = ring::rand::SystemRandom::new();
    for (spec, alg, curve_oid) in [
        (
            KeySpec::EccNistP256,
            &agreement::ECDH_P256,
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07][..],
        ),
        (
            KeySpec::EccNistP384,
            &agreement::ECDH_P384,
            &[0x2b, 0x81, 0x04, 0x00, 0x22][..],
        ),
    ] {
        let k = spec.generate().unwrap();
        let eph = agreement::EphemeralPrivateKey::generate(alg, &rng).unwrap();
        let eph_pub = eph.compute_public_key().unwrap();
        let peer_spki = crate::key_pair::ec_spki_for_test(curve_oid, eph_pub.as_ref());
        let ours = k.derive_shared_secret(&peer_spki).unwrap();
        // Our public point, out of our SPKI (uncompressed point at the end).
        let spki = k.public_key_spki();
        let point_len = eph_pub.as_ref().len();
        let our_point = &spki[spki.len() - point_len..];
        let theirs = agreement::agree_ephemeral(
            eph,
            &agreement::UnparsedPublicKey::new(alg, our_point),
            |s| s.to_vec(),
        )
        .unwrap();
        assert_eq!(ours.to_vec(), theirs, "{spec:?}");
        // A key of another curve, or garbage, is refused.
        let other = KeySpec::EccNistP521.generate().unwrap();
        assert_eq!(
            k.derive_shared_secret(other.public_key_spki()),
            Err(AsymError::InvalidPublicKey)
        );
        assert_eq!(
            k.derive_shared_secret(b"garbage"),
            Err(AsymError::InvalidPublicKey)
        );
    }
    let a = KeySpec::EccNistP521.generate().unwrap();
    let b = KeySpec::EccNistP521.generate().unwrap();
    let ab = a.derive_shared_secret(b.public_key_spki()).unwrap();
    assert_eq!(ab.len(), 66);
    assert_eq!(ab, b.derive_shared_secret(a.public_key_spki()).unwrap());
}

/// RSA: `ring`'s RAW signatures and the `rsa` crate's DIGEST signatures verify through
/// each other's path and through `ring`'s verifier; OAEP round trips; limits.
#[test]
fn rsa_2048_sign_verify_encrypt() {
    let k = KeySpec::Rsa2048.generate().unwrap();
    let spki = k.public_key_spki();
    let (_, _, public) = crate::key_pair::parse_spki_for_test(spki).unwrap();
    let msg = b"message for RSA";
    for (alg, ring_alg) in [
        (
            SigningAlgorithm::RsassaPssSha256,
            &ring::signature::RSA_PSS_2048_8192_SHA256,
        ),
        (
            SigningAlgorithm::RsassaPssSha512,
            &ring::signature::RSA_PSS_2048_8192_SHA512,
        ),
        (
            SigningAlgorithm::RsassaPkcs1V15Sha384,
            &ring::signature::RSA_PKCS1_2048_8192_SHA384,
        ),
    ] {
        let raw = k.sign(alg, MessageType::Raw, msg).unwrap();
        let digest = alg.hash().digest(msg);
        let dig = k.sign(alg, MessageType::Digest, &digest).unwrap();
        for sig in [&raw, &dig] {
            assert_eq!(sig.len(), 256);
            k.verify(alg, MessageType::Raw, msg, sig).unwrap();
            k.verify(alg, MessageType::Digest, &digest, sig).unwrap();
            ring::signature::UnparsedPublicKey::new(ring_alg, public)
                .verify(msg, sig)
                .unwrap();
        }
    }
    for alg in [
        EncryptionAlgorithm::RsaesOaepSha1,
        EncryptionAlgorithm::RsaesOaepSha256,
    ] {
        let max = max_plaintext_len(2048, alg);
        let pt = vec![7u8; max];
        let ct = k.encrypt(alg, &pt).unwrap();
        assert_eq!(k.decrypt(alg, &ct).unwrap().to_vec(), pt);
        assert_eq!(
            k.encrypt(alg, &vec![7u8; max + 1]),
            Err(AsymError::PlaintextTooLong)
        );
        let mut bad = ct.clone();
        bad[10] ^= 1;
        assert_eq!(k.decrypt(alg, &bad), Err(AsymError::InvalidCiphertext));
        assert_eq!(k.decrypt(alg, &ct[1..]), Err(AsymError::InvalidCiphertext));
    }
    assert_eq!(
        max_plaintext_len(2048, EncryptionAlgorithm::RsaesOaepSha1),
        214
    );
    assert_eq!(
        max_plaintext_len(2048, EncryptionAlgorithm::RsaesOaepSha256),
        190
    );
    assert_eq!(
        max_plaintext_len(3072, EncryptionAlgorithm::RsaesOaepSha1),
        342
    );
    assert_eq!(
        max_plaintext_len(3072, EncryptionAlgorithm::RsaesOaepSha256),
        318
    );
    assert_eq!(
        max_plaintext_len(4096, EncryptionAlgorithm::RsaesOaepSha1),
        470
    );
    assert_eq!(
        max_plaintext_len(4096, EncryptionAlgorithm::RsaesOaepSha256),
        446
    );
    // A 2048-bit key does not load as RSA_3072.
    assert!(PrivateKey::from_pkcs8(KeySpec::Rsa3072, k.pkcs8()).is_err());
}

/// ML-DSA: a RAW signature verifies as EXTERNAL_MU with μ computed independently
/// (SHAKE256 from `sha3`) per FIPS 204: μ = SHAKE256(SHAKE256(pk, 64) ‖ 0 ‖ 0 ‖ M, 64).
#[test]
fn ml_dsa_external_mu_matches_raw() {
    use sha3::digest::{ExtendableOutput, Update, XofReader};
    for spec in [KeySpec::MlDsa44, KeySpec::MlDsa65, KeySpec::MlDsa87] {
        let k = spec.generate().unwrap();
        let (_, _, pk) = crate::key_pair::parse_spki_for_test(k.public_key_spki()).unwrap();
        let expected_pk_len = match spec {
            KeySpec::MlDsa44 => 1312,
            KeySpec::MlDsa65 => 1952,
            _ => 2592,
        };
        assert_eq!(pk.len(), expected_pk_len);
        let mut tr = [0u8; 64];
        let mut h = sha3::Shake256::default();
        h.update(pk);
        h.finalize_xof().read(&mut tr);
        let msg = b"ML-DSA external mu";
        let mut mu = [0u8; 64];
        let mut h = sha3::Shake256::default();
        h.update(&tr);
        h.update(&[0, 0]);
        h.update(msg);
        h.finalize_xof().read(&mut mu);
        let alg = SigningAlgorithm::MlDsaShake256;
        let raw = k.sign(alg, MessageType::Raw, msg).unwrap();
        k.verify(alg, MessageType::ExternalMu, &mu, &raw).unwrap();
        let by_mu = k.sign(alg, MessageType::ExternalMu, &mu).unwrap();
        k.verify(alg, MessageType::Raw, msg, &by_mu).unwrap();
        let sig_len = match spec {
            KeySpec::MlDsa44 => 2420,
            KeySpec::MlDsa65 => 3309,
            _ => 4627,
        };
        assert_eq!(raw.len(), sig_len);
    }
}

#[test]
fn ml_kem_sizes() {
    for (spec, pk_len, ct_len) in [
        (KeySpec::MlKem512, 800, 768),
        (KeySpec::MlKem768, 1184, 1088),
        (KeySpec::MlKem1024, 1568, 1568),
    ] {
        let k = spec.generate().unwrap();
        let (_, _, pk) = crate::key_pair::parse_spki_for_test(k.public_key_spki()).unwrap();
        assert_eq!(pk.len(), pk_len);
        let (ct, _) = k.encapsulate().unwrap();
        assert_eq!(ct.len(), ct_len);
    }
}
