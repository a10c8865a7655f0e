//! HMAC for HMAC KMS keys: [`MacAlgorithm`] (the four `HMAC_SHA_*` algorithms of the
//! `HMAC_224/256/384/512` key specs), [`MacKey`] (random key material as long as the
//! digest, zeroized on drop), [`hmac`] (RFC 2104 over any key, for test vectors), and the
//! wrapping of a [`MacKey`] under the [`RootKey`] for storage.
//!
//! HMAC-SHA-256/384/512 come from `ring::hmac`; HMAC-SHA-224, which `ring` does not offer,
//! from the `hmac` and `sha2` crates. Verification compares in constant time.
//!
//! Wrapped MAC key format v2: `0x82 | algorithm byte | nonce (12) | AES-256-GCM(key) | tag (16)`
//! with AAD = `0x82 | algorithm byte | caller AAD` (use [`crate::wrap_aad`] for the caller
//! AAD, as for symmetric material): the algorithm is bound to the key bytes.

use hmac::Mac as _;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::{random, CryptoError, RootKey};

/// Version byte of the wrapped MAC key format.
pub const WRAPPED_MAC_KEY_VERSION_V2: u8 = 0x82;

/// An HMAC algorithm, named as KMS names it (`MacAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlgorithm {
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl MacAlgorithm {
    /// Every algorithm, shortest digest first.
    pub const ALL: [MacAlgorithm; 4] = [
        MacAlgorithm::HmacSha224,
        MacAlgorithm::HmacSha256,
        MacAlgorithm::HmacSha384,
        MacAlgorithm::HmacSha512,
    ];

    /// The wire name (`HMAC_SHA_256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha224 => "HMAC_SHA_224",
            MacAlgorithm::HmacSha256 => "HMAC_SHA_256",
            MacAlgorithm::HmacSha384 => "HMAC_SHA_384",
            MacAlgorithm::HmacSha512 => "HMAC_SHA_512",
        }
    }

    /// The algorithm of a wire name.
    pub fn from_name(name: &str) -> Option<MacAlgorithm> {
        MacAlgorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The key spec whose keys use this algorithm (`HMAC_256`, ...).
    pub fn key_spec(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha224 => "HMAC_224",
            MacAlgorithm::HmacSha256 => "HMAC_256",
            MacAlgorithm::HmacSha384 => "HMAC_384",
            MacAlgorithm::HmacSha512 => "HMAC_512",
        }
    }

    /// The algorithm of a key spec (`HMAC_224` → HMAC-SHA-224, ...).
    pub fn for_key_spec(spec: &str) -> Option<MacAlgorithm> {
        MacAlgorithm::ALL.into_iter().find(|a| a.key_spec() == spec)
    }

    /// Digest length in bytes: the MAC length and the key material length.
    pub fn digest_len(self) -> usize {
        match self {
            MacAlgorithm::HmacSha224 => 28,
            MacAlgorithm::HmacSha256 => 32,
            MacAlgorithm::HmacSha384 => 48,
            MacAlgorithm::HmacSha512 => 64,
        }
    }

    /// Lengths of key material that may be imported for this algorithm (AWS KMS Developer
    /// Guide, *Importing key material*: HMAC_224 28–64 bytes, HMAC_256 32–64, HMAC_384
    /// 48–128, HMAC_512 64–128). Generated material is `digest_len` long.
    pub fn import_lengths(self) -> std::ops::RangeInclusive<usize> {
        match self {
            MacAlgorithm::HmacSha224 => 28..=64,
            MacAlgorithm::HmacSha256 => 32..=64,
            MacAlgorithm::HmacSha384 => 48..=128,
            MacAlgorithm::HmacSha512 => 64..=128,
        }
    }

    fn code(self) -> u8 {
        match self {
            MacAlgorithm::HmacSha224 => 1,
            MacAlgorithm::HmacSha256 => 2,
            MacAlgorithm::HmacSha384 => 3,
            MacAlgorithm::HmacSha512 => 4,
        }
    }

    fn from_code(c: u8) -> Option<MacAlgorithm> {
        MacAlgorithm::ALL.into_iter().find(|a| a.code() == c)
    }
}

/// HMAC (RFC 2104) of `message` under `key` (any length) with `alg`.
pub fn hmac(alg: MacAlgorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    let ring_alg = match alg {
        MacAlgorithm::HmacSha224 => {
            // `new_from_slice` accepts every key length (long keys are hashed first).
            return match hmac::Hmac::<sha2::Sha224>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(message);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            };
        }
        MacAlgorithm::HmacSha256 => ring::hmac::HMAC_SHA256,
        MacAlgorithm::HmacSha384 => ring::hmac::HMAC_SHA384,
        MacAlgorithm::HmacSha512 => ring::hmac::HMAC_SHA512,
    };
    let k = ring::hmac::Key::new(ring_alg, key);
    ring::hmac::sign(&k, message).as_ref().to_vec()
}

/// The key material of an HMAC KMS key: exactly [`MacAlgorithm::digest_len`] bytes. Zeroized on
/// drop; `Debug` prints the algorithm only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MacKey {
    #[zeroize(skip)]
    alg: MacAlgorithm,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MacKey({}, <redacted>)", self.alg.name())
    }
}

impl MacKey {
    /// Fresh material for `alg` from the system CSPRNG.
    pub fn generate(alg: MacAlgorithm) -> Result<MacKey, CryptoError> {
        let mut bytes = vec![0u8; alg.digest_len()];
        random::fill(&mut bytes)?;
        Ok(MacKey { alg, bytes })
    }

    /// Material from bytes, which must be exactly `alg.digest_len()` long (the vector is zeroized
    /// when the key is dropped).
    pub fn from_bytes(alg: MacAlgorithm, bytes: Vec<u8>) -> Result<MacKey, CryptoError> {
        if bytes.len() != alg.digest_len() {
            let mut b = bytes;
            b.zeroize();
            return Err(CryptoError::InvalidWrappedKey);
        }
        Ok(MacKey { alg, bytes })
    }

    /// Imported material: any length in `alg.import_lengths()` (the vector is zeroized when the
    /// key is dropped, or now if the length is refused).
    pub fn from_imported(alg: MacAlgorithm, bytes: Vec<u8>) -> Result<MacKey, CryptoError> {
        if !alg.import_lengths().contains(&bytes.len()) {
            let mut b = bytes;
            b.zeroize();
            return Err(CryptoError::InvalidWrappedKey);
        }
        Ok(MacKey { alg, bytes })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> MacAlgorithm {
        self.alg
    }

    /// The raw bytes. Do not copy them anywhere that is not zeroized.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The MAC of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        hmac(self.alg, &self.bytes, message)
    }

    /// Whether `mac` is the MAC of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], mac: &[u8]) -> bool {
        let expected = Zeroizing::new(self.sign(message));
        crate::secret::ct_eq(&expected, mac)
    }
}

impl RootKey {
    /// Wrap HMAC key material under this root key (format v2 in the module documentation,
    /// [`RootKey::seal_framed`]). `aad` must be presented again to [`RootKey::unwrap_mac`].
    pub fn wrap_mac(&self, key: &MacKey, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_framed(
            &[WRAPPED_MAC_KEY_VERSION_V2, key.alg.code()],
            &key.bytes,
            aad,
        )
    }

    /// Unwrap bytes produced by [`RootKey::wrap_mac`] with the same `aad`.
    pub fn unwrap_mac(&self, wrapped: &[u8], aad: &[u8]) -> Result<MacKey, CryptoError> {
        let (Some(&WRAPPED_MAC_KEY_VERSION_V2), Some(alg)) = (
            wrapped.first(),
            wrapped.get(1).copied().and_then(MacAlgorithm::from_code),
        ) else {
            return Err(CryptoError::InvalidWrappedKey);
        };
        let framing = 2 + NONCE_LEN + TAG_LEN;
        let len = wrapped.len().saturating_sub(framing);
        if wrapped.len() < framing
            || (len != alg.digest_len() && !alg.import_lengths().contains(&len))
        {
            return Err(CryptoError::InvalidWrappedKey);
        }
        let mut buf = self.open_framed(wrapped, 2, aad)?;
        let bytes = std::mem::take(&mut *buf);
        if bytes.len() == alg.digest_len() {
            MacKey::from_bytes(alg, bytes)
        } else {
            MacKey::from_imported(alg, bytes)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn names_specs_and_lengths() {
        for a in MacAlgorithm::ALL {
            assert_eq!(MacAlgorithm::from_name(a.name()), Some(a));
            assert_eq!(MacAlgorithm::for_key_spec(a.key_spec()), Some(a));
            assert_eq!(MacAlgorithm::from_code(a.code()), Some(a));
            assert_eq!(hmac(a, b"k", b"m").len(), a.digest_len());
            assert_eq!(
                MacKey::generate(a).unwrap().as_bytes().len(),
                a.digest_len()
            );
        }
        assert_eq!(MacAlgorithm::from_name("HMAC_SHA_1"), None);
        assert_eq!(MacAlgorithm::for_key_spec("SYMMETRIC_DEFAULT"), None);
        assert!(MacKey::from_bytes(MacAlgorithm::HmacSha256, vec![0; 31]).is_err());
    }

    #[test]
    fn wrap_roundtrip_binds_aad_and_algorithm() {
        let root = RootKey::from_bytes([7u8; 32]);
        for a in MacAlgorithm::ALL {
            let k = MacKey::generate(a).unwrap();
            let w = root.wrap_mac(&k, b"aad").unwrap();
            assert_eq!(w.len(), 2 + NONCE_LEN + a.digest_len() + TAG_LEN);
            assert!(!w.windows(a.digest_len()).any(|x| x == k.as_bytes()));
            let back = root.unwrap_mac(&w, b"aad").unwrap();
            assert_eq!(back.as_bytes(), k.as_bytes());
            assert_eq!(back.algorithm(), a);
            assert!(root.unwrap_mac(&w, b"other").is_err());
            let other = RootKey::from_bytes([8u8; 32]);
            assert!(other.unwrap_mac(&w, b"aad").is_err());
            // Relabelling the algorithm byte fails authentication or the length check.
            let mut relabelled = w.clone();
            relabelled[1] = if a == MacAlgorithm::HmacSha256 { 1 } else { 2 };
            assert!(root.unwrap_mac(&relabelled, b"aad").is_err());
            let mut flipped = w.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert!(root.unwrap_mac(&flipped, b"aad").is_err());
            assert!(root.unwrap_mac(&w[..w.len() - 1], b"aad").is_err());
            // The symmetric unwrap refuses the MAC format.
            assert!(root.unwrap(&w, b"aad").is_err());
        }
    }

    #[test]
    fn verify_is_exact() {
        let k = MacKey::generate(MacAlgorithm::HmacSha384).unwrap();
        let mac = k.sign(b"hello");
        assert!(k.verify(b"hello", &mac));
        assert!(!k.verify(b"hellO", &mac));
        let mut bad = mac.clone();
        bad[0] ^= 0x80;
        assert!(!k.verify(b"hello", &bad));
        assert!(!k.verify(b"hello", &mac[..mac.len() - 1]));
        assert!(!k.verify(b"hello", &[]));
        assert_eq!(format!("{k:?}"), "MacKey(HMAC_SHA_384, <redacted>)");
    }

    /// RFC 4231 test cases 1–4, 6 and 7 (case 5 truncates the output, which KMS never does).
    #[test]
    fn rfc4231_vectors() {
        let long_key = vec![0xaa; 131];
        let cases: Vec<(Vec<u8>, Vec<u8>, [&str; 4])> = vec![
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                [
                    "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                [
                    "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                [
                    "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                    "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
                    "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
                ],
            ),
            (
                unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                [
                    "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
                    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                    "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
                    "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
                ],
            ),
            (
                long_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                [
                    "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
                    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
                ],
            ),
            (
                long_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                [
                    "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                    "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
                    "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
                ],
            ),
        ];
        for (key, data, want) in cases {
            for (a, w) in MacAlgorithm::ALL.into_iter().zip(want) {
                assert_eq!(hmac(a, &key, &data), unhex(w), "{}", a.name());
            }
        }
    }
}
