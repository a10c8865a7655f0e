//! The kmsd ciphertext blob: self-describing, versioned, AES-256-GCM.
//!
//! Layout v1 (byte-exact description in `docs/ciphertext-format.md`):
//!
//! ```text
//! offset len  field
//! 0      1    version = 0x01
//! 1      16   key id (UUID, raw bytes)
//! 17     4    material version (u32 big-endian)
//! 21     12   IV (random per call)
//! 33     n    AES-256-GCM ciphertext (n = plaintext length)
//! 33+n   16   GCM tag
//! ```
//!
//! AAD = bytes `0..33` (the header, IV included) `||` [`canonical_encryption_context`].
//!
//! Version `0x02` is the same layout for a multi-Region key, whose id is `mrk-` and 32 hex
//! digits: bytes 1..17 are those 16 bytes. The version byte tells the two id forms apart.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::{random, uuid_text, CryptoError, KeyMaterial};

/// Version byte of the v1 blob.
pub const BLOB_VERSION_V1: u8 = 0x01;
/// Version byte of a blob of a multi-Region key (`mrk-` id; otherwise the v1 layout).
pub const BLOB_VERSION_MRK: u8 = 0x02;
/// Length of the v1 header (version, key id, material version, IV).
pub const HEADER_LEN: usize = 1 + 16 + 4 + NONCE_LEN;
/// Smallest valid v1 blob (empty plaintext).
pub const MIN_BLOB_LEN: usize = HEADER_LEN + TAG_LEN;

/// Parsed header of a kmsd ciphertext blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiphertextHeader {
    /// The key's UUID as lowercase hyphenated text.
    pub key_id: String,
    /// Which material version of the key sealed the blob.
    pub material_version: u32,
}

/// Encrypt `plaintext` under `material`, naming `key_id` (hyphenated UUID text, or a
/// multi-Region key id `mrk-` + 32 hex digits) and `material_version` in the header,
/// binding `encryption_context`.
pub fn seal(
    material: &KeyMaterial,
    key_id: &str,
    material_version: u32,
    encryption_context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let (version, id) = match key_id.strip_prefix("mrk-") {
        Some(hex) => (BLOB_VERSION_MRK, uuid_text::parse_hex32(hex)?),
        None => (BLOB_VERSION_V1, uuid_text::parse(key_id)?),
    };
    let iv = random::nonce()?;
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(version);
    out.extend_from_slice(&id);
    out.extend_from_slice(&material_version.to_be_bytes());
    out.extend_from_slice(&iv);
    let aad = aad(&out, encryption_context);
    out.extend_from_slice(plaintext);
    let body = out
        .get_mut(HEADER_LEN..)
        .ok_or(CryptoError::InvalidCiphertext)?;
    let tag = aead::seal_in_place(material.as_bytes(), iv, &aad, body)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

struct Parsed<'a> {
    version: u8,
    header: &'a [u8],
    key_id: [u8; 16],
    material_version: u32,
    iv: [u8; NONCE_LEN],
    body: &'a [u8],
}

fn parse(blob: &[u8]) -> Result<Parsed<'_>, CryptoError> {
    let version = match blob.first() {
        Some(&v)
            if blob.len() >= MIN_BLOB_LEN && (v == BLOB_VERSION_V1 || v == BLOB_VERSION_MRK) =>
        {
            v
        }
        _ => return Err(CryptoError::InvalidCiphertext),
    };
    let (header, body) = blob.split_at(HEADER_LEN);
    let mut key_id = [0u8; 16];
    key_id.copy_from_slice(header.get(1..17).ok_or(CryptoError::InvalidCiphertext)?);
    let mut ver = [0u8; 4];
    ver.copy_from_slice(header.get(17..21).ok_or(CryptoError::InvalidCiphertext)?);
    let mut iv = [0u8; NONCE_LEN];
    iv.copy_from_slice(
        header
            .get(21..HEADER_LEN)
            .ok_or(CryptoError::InvalidCiphertext)?,
    );
    Ok(Parsed {
        version,
        header,
        key_id,
        material_version: u32::from_be_bytes(ver),
        iv,
        body,
    })
}

/// Read the key id and material version from a blob without decrypting it.
/// Never panics; any malformed input is [`CryptoError::InvalidCiphertext`].
/// The header is not authenticated until [`open`] succeeds.
pub fn parse_header(blob: &[u8]) -> Result<CiphertextHeader, CryptoError> {
    let p = parse(blob)?;
    Ok(CiphertextHeader {
        key_id: if p.version == BLOB_VERSION_MRK {
            format!("mrk-{}", uuid_text::format_hex32(&p.key_id))
        } else {
            uuid_text::format(&p.key_id)
        },
        material_version: p.material_version,
    })
}

/// Decrypt a blob sealed by [`seal`] with the same material and encryption context.
pub fn open(
    material: &KeyMaterial,
    blob: &[u8],
    encryption_context: &BTreeMap<String, String>,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let p = parse(blob)?;
    let aad = aad(p.header, encryption_context);
    let mut buf = Zeroizing::new(p.body.to_vec());
    let n = aead::open_in_place(material.as_bytes(), p.iv, &aad, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn aad(header: &[u8], ec: &BTreeMap<String, String>) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + canonical_len(ec));
    v.extend_from_slice(header);
    write_canonical_encryption_context(ec, &mut v);
    v
}

fn canonical_len(ec: &BTreeMap<String, String>) -> usize {
    4 + ec.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>()
}

/// The unambiguous byte encoding of an encryption context:
/// `u32 BE count`, then per pair in ascending key order (bytewise UTF-8)
/// `u32 BE len(key) | key | u32 BE len(value) | value`. The empty map encodes as
/// four zero bytes, so "no context" and "empty context" are the same, as in AWS.
pub fn canonical_encryption_context(ec: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical_len(ec));
    write_canonical_encryption_context(ec, &mut out);
    out
}

/// Appends [`canonical_encryption_context`]'s bytes to `out`.
fn write_canonical_encryption_context(ec: &BTreeMap<String, String>, out: &mut Vec<u8>) {
    out.extend_from_slice(&len_u32(ec.len()).to_be_bytes());
    for (k, v) in ec {
        out.extend_from_slice(&len_u32(k.len()).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&len_u32(v.len()).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

fn len_u32(n: usize) -> u32 {
    // Contexts are bounded far below 4 GiB by the wire layer; saturate, never wrap.
    u32::try_from(n).unwrap_or(u32::MAX)
}
