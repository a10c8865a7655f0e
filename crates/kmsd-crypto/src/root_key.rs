//! [`RootKey`]: the key kept outside the store that wraps key material at rest.
//!
//! A root key is either a local 256-bit AES key (from a file or the environment) or a key
//! held by a [`RootKeyBackend`] such as a PKCS#11 token ([`crate::pkcs11`]), which performs
//! the AES-256-GCM operations itself so that the key never enters kmsd's memory. Both
//! produce the same byte formats; only the tag check tells which key wrapped a record.
//!
//! Wrapped key format v1 (61 bytes, see `docs/ciphertext-format.md`):
//! `0x81 | nonce (12) | AES-256-GCM(material) (32) | tag (16)`, with
//! AAD = `0x81 || caller AAD`. [`wrap_aad`] builds the caller AAD that binds
//! the material to its key id and material version.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::uuid_text::hex_val;
use crate::{random, CryptoError, KeyMaterial};

/// Version byte of the wrapped key format.
pub const WRAPPED_KEY_VERSION_V1: u8 = 0x81;
/// Length of a v1 wrapped key: version + nonce + 32 bytes + tag.
pub const WRAPPED_KEY_LEN: usize = 1 + NONCE_LEN + 32 + TAG_LEN;

/// The recommended AAD for [`RootKey::wrap`]: binds wrapped material to one
/// key and one material version.
///
/// Layout: `"kmsd-key-material" | u32 BE len(key_id) | key_id UTF-8 | u32 BE material_version`.
pub fn wrap_aad(key_id: &str, material_version: u32) -> Vec<u8> {
    const LABEL: &[u8] = b"kmsd-key-material";
    let id = key_id.as_bytes();
    let mut out = Vec::with_capacity(LABEL.len() + 8 + id.len());
    out.extend_from_slice(LABEL);
    out.extend_from_slice(&len_u32(id.len()).to_be_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&material_version.to_be_bytes());
    out
}

fn len_u32(n: usize) -> u32 {
    // Key ids are tens of bytes; saturate rather than wrap for absurd inputs.
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A root key held outside kmsd's memory (a hardware security module): it seals and opens
/// with AES-256-GCM under a key kmsd never sees.
pub trait RootKeyBackend: Send + Sync {
    /// AES-256-GCM encryption of `plaintext` with the 96-bit `nonce` and `aad`; returns
    /// `ciphertext || 16-byte tag`.
    fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    /// The inverse of [`RootKeyBackend::seal`]; fails unless the tag verifies.
    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
    /// A short description for messages (never secret): module, token and key label.
    fn describe(&self) -> String;
}

/// 32 key bytes, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct LocalKey([u8; 32]);

#[derive(Clone)]
enum Repr {
    Local(LocalKey),
    Backend(Arc<dyn RootKeyBackend>),
}

/// The root key: a local 256-bit key (zeroized on drop) or a key in a [`RootKeyBackend`].
/// `Debug` prints `RootKey(<redacted>)`.
#[derive(Clone)]
pub struct RootKey(Repr);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

impl RootKey {
    /// A root key from raw bytes.
    pub fn from_bytes(b: [u8; 32]) -> RootKey {
        RootKey(Repr::Local(LocalKey(b)))
    }

    /// A root key held by `backend` (e.g. [`crate::pkcs11::Pkcs11RootKey`]).
    pub fn from_backend(backend: Arc<dyn RootKeyBackend>) -> RootKey {
        RootKey(Repr::Backend(backend))
    }

    /// What this root key is, for messages: `local key` or the backend's description.
    pub fn describe(&self) -> String {
        match &self.0 {
            Repr::Local(_) => "local key".into(),
            Repr::Backend(b) => b.describe(),
        }
    }

    /// A fresh random root key (ephemeral uses such as offline `explain`).
    pub fn generate() -> Result<RootKey, CryptoError> {
        let mut k = [0u8; 32];
        random::fill(&mut k)?;
        let key = RootKey::from_bytes(k);
        k.zeroize();
        Ok(key)
    }

    /// Load an existing root key file (never creates one); the same checks as
    /// [`RootKey::load_or_create`].
    pub fn load(path: &Path) -> Result<RootKey, CryptoError> {
        let f = File::open(path).map_err(|e| io_err("cannot open root key file", path, &e))?;
        Self::load_file(path, f)
    }

    /// AES-256-GCM: encrypt `in_out` in place and return the tag.
    pub(crate) fn seal_in_place(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], CryptoError> {
        match &self.0 {
            Repr::Local(k) => aead::seal_in_place(&k.0, nonce, aad, in_out),
            Repr::Backend(b) => {
                let sealed = b.seal(&nonce, aad, in_out)?;
                let (ct, tag) = sealed
                    .split_at_checked(in_out.len())
                    .ok_or(CryptoError::InvalidWrappedKey)?;
                let tag: [u8; TAG_LEN] =
                    tag.try_into().map_err(|_| CryptoError::InvalidWrappedKey)?;
                in_out.copy_from_slice(ct);
                Ok(tag)
            }
        }
    }

    /// AES-256-GCM: decrypt `ciphertext || tag` in place; returns the plaintext length.
    pub(crate) fn open_in_place(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        match &self.0 {
            Repr::Local(k) => aead::open_in_place(&k.0, nonce, aad, in_out),
            Repr::Backend(b) => {
                let pt = b.open(&nonce, aad, in_out)?;
                let n = pt.len();
                in_out
                    .get_mut(..n)
                    .ok_or(CryptoError::InvalidWrappedKey)?
                    .copy_from_slice(&pt);
                Ok(n)
            }
        }
    }

    /// Parse the environment-variable form: exactly 64 hex digits (either case),
    /// surrounding whitespace ignored. Error messages never echo the input.
    pub fn from_hex(s: &str) -> Result<RootKey, CryptoError> {
        let t = s.trim().as_bytes();
        if t.len() != 64 {
            return Err(CryptoError::BadRootKey(format!(
                "expected 64 hex digits, got {} characters",
                t.len()
            )));
        }
        let mut k = [0u8; 32];
        for (i, pair) in t.chunks_exact(2).enumerate() {
            let (Some(hi), Some(lo)) = (
                pair.first().copied().and_then(hex_val),
                pair.get(1).copied().and_then(hex_val),
            ) else {
                return Err(CryptoError::BadRootKey(
                    "root key contains a non-hex character".into(),
                ));
            };
            if let Some(slot) = k.get_mut(i) {
                *slot = (hi << 4) | lo;
            }
        }
        let key = RootKey::from_bytes(k);
        k.zeroize();
        Ok(key)
    }

    /// Load the root key file at `path`, creating it (32 random bytes, mode 0600)
    /// if it does not exist.
    ///
    /// Creation is atomic: the key is written to a temporary file in the same
    /// directory, fsynced, linked into place (never replacing an existing file),
    /// and the directory is fsynced. An existing file is refused if it grants any
    /// group/other permission, is not a regular file, or is neither 32 raw bytes
    /// nor 64 hex digits (optionally followed by a newline).
    pub fn load_or_create(path: &Path) -> Result<RootKey, CryptoError> {
        match File::open(path) {
            Ok(f) => Self::load_file(path, f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_file(path),
            Err(e) => Err(io_err("cannot open root key file", path, &e)),
        }
    }

    fn load_file(path: &Path, mut f: File) -> Result<RootKey, CryptoError> {
        let meta = f
            .metadata()
            .map_err(|e| io_err("cannot stat root key file", path, &e))?;
        if !meta.is_file() {
            return Err(CryptoError::BadRootKey(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        check_mode(path, &meta)?;
        // Read at most 66 bytes: enough to see "64 hex + CRLF" and to detect longer files.
        let mut buf = Zeroizing::new(Vec::with_capacity(67));
        (&mut f)
            .take(67)
            .read_to_end(&mut buf)
            .map_err(|e| io_err("cannot read root key file", path, &e))?;
        if buf.len() == 32 {
            let mut k = [0u8; 32];
            k.copy_from_slice(&buf);
            let key = RootKey::from_bytes(k);
            k.zeroize();
            return Ok(key);
        }
        let text = buf
            .strip_suffix(b"\r\n")
            .or_else(|| buf.strip_suffix(b"\n"))
            .unwrap_or(&buf);
        if text.len() == 64 {
            let s = std::str::from_utf8(text).map_err(|_| {
                CryptoError::BadRootKey(format!(
                    "{} is not 32 bytes or 64 hex digits",
                    path.display()
                ))
            })?;
            return Self::from_hex(s).map_err(|_| {
                CryptoError::BadRootKey(format!("{} contains a non-hex character", path.display()))
            });
        }
        Err(CryptoError::BadRootKey(format!(
            "{} has the wrong length ({} bytes): expected 32 raw bytes or 64 hex digits",
            path.display(),
            buf.len()
        )))
    }

    fn create_file(path: &Path) -> Result<RootKey, CryptoError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| io_err("cannot create directory", &dir, &e))?;
        let mut key = [0u8; 32];
        random::fill(&mut key)?;
        let key = LocalKey(key);
        let suffix = random::random_bytes(8)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root-key".into());
        let tmp = dir.join(format!(".{file_name}.tmp-{suffix}"));
        let result = Self::write_and_link(&key, &tmp, path, &dir);
        // The temporary name is gone after a successful link+unlink; clean up on failure.
        let _ = fs::remove_file(&tmp);
        match result {
            Ok(()) => Ok(RootKey(Repr::Local(key))),
            Err(LinkOutcome::Exists) => {
                // Another process created it first: use theirs.
                let f =
                    File::open(path).map_err(|e| io_err("cannot open root key file", path, &e))?;
                Self::load_file(path, f)
            }
            Err(LinkOutcome::Failed(e)) => Err(e),
        }
    }

    fn write_and_link(
        key: &LocalKey,
        tmp: &Path,
        path: &Path,
        dir: &Path,
    ) -> Result<(), LinkOutcome> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(tmp)
            .map_err(|e| LinkOutcome::Failed(io_err("cannot create root key file", tmp, &e)))?;
        f.write_all(&key.0)
            .and_then(|()| f.sync_all())
            .map_err(|e| LinkOutcome::Failed(io_err("cannot write root key file", tmp, &e)))?;
        drop(f);
        match fs::hard_link(tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(LinkOutcome::Exists)
            }
            Err(_) => {
                // Filesystems without hard links: fall back to rename (not exclusive).
                if path.exists() {
                    return Err(LinkOutcome::Exists);
                }
                fs::rename(tmp, path).map_err(|e| {
                    LinkOutcome::Failed(io_err("cannot move root key file into place", path, &e))
                })?;
            }
        }
        let _ = fs::remove_file(tmp);
        sync_dir(dir).map_err(|e| LinkOutcome::Failed(io_err("cannot fsync directory", dir, &e)))
    }

    /// The framing every format wrapped under the root key shares (v1 key material, v2 MAC
    /// keys, v3 secrets, v4 asymmetric private keys; `docs/ciphertext-format.md`):
    ///
    /// ```text
    /// header | nonce (12) | AES-256-GCM(body) | tag (16)      AAD = header || caller AAD
    /// ```
    ///
    /// `header` is the format's version byte and, for v2/v4, its algorithm or spec byte; the
    /// nonce is fresh and random. The plaintext copy made while sealing is zeroized.
    pub(crate) fn seal_framed(
        &self,
        header: &[u8],
        body: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let nonce = random::nonce()?;
        let start = header.len() + NONCE_LEN;
        let mut out = Zeroizing::new(Vec::with_capacity(start + body.len() + TAG_LEN));
        out.extend_from_slice(header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(body);
        let full_aad = framed_aad(header, aad);
        let sealed = out.get_mut(start..).ok_or(CryptoError::InvalidWrappedKey)?;
        let tag = self.seal_in_place(nonce, &full_aad, sealed)?;
        out.extend_from_slice(&tag);
        Ok(std::mem::take(&mut *out))
    }

    /// The body of bytes made by [`RootKey::seal_framed`] with a `header_len`-byte header and
    /// the same caller `aad`. The caller checks the header's contents and the length its
    /// format allows; this checks only that the framing fits, then the tag.
    pub(crate) fn open_framed(
        &self,
        wrapped: &[u8],
        header_len: usize,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let start = header_len + NONCE_LEN;
        if wrapped.len() < start + TAG_LEN {
            return Err(CryptoError::InvalidWrappedKey);
        }
        let header = wrapped
            .get(..header_len)
            .ok_or(CryptoError::InvalidWrappedKey)?;
        let nonce: [u8; NONCE_LEN] = wrapped
            .get(header_len..start)
            .and_then(|n| n.try_into().ok())
            .ok_or(CryptoError::InvalidWrappedKey)?;
        let mut buf = Zeroizing::new(
            wrapped
                .get(start..)
                .ok_or(CryptoError::InvalidWrappedKey)?
                .to_vec(),
        );
        let n = self.open_in_place(nonce, &framed_aad(header, aad), &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Wrap `material` under this root key (format v1, [`RootKey::seal_framed`]).
    /// `aad` must be presented again to [`RootKey::unwrap`]; use [`wrap_aad`].
    pub fn wrap(&self, material: &KeyMaterial, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal_framed(&[WRAPPED_KEY_VERSION_V1], material.as_bytes(), aad)
    }

    /// Unwrap bytes produced by [`RootKey::wrap`] with the same `aad`.
    pub fn unwrap(&self, wrapped: &[u8], aad: &[u8]) -> Result<KeyMaterial, CryptoError> {
        if wrapped.len() != WRAPPED_KEY_LEN || wrapped.first() != Some(&WRAPPED_KEY_VERSION_V1) {
            return Err(CryptoError::InvalidWrappedKey);
        }
        let pt = self.open_framed(wrapped, 1, aad)?;
        let mut raw: [u8; 32] = pt
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidWrappedKey)?;
        let m = KeyMaterial::from_bytes(raw);
        raw.zeroize();
        Ok(m)
    }

    /// Equality of two root keys: local keys compared in constant time; a backend key is
    /// equal only to itself (the same handle).
    pub fn ct_eq(&self, other: &RootKey) -> bool {
        match (&self.0, &other.0) {
            (Repr::Local(a), Repr::Local(b)) => crate::secret::ct_eq(&a.0, &b.0),
            (Repr::Backend(a), Repr::Backend(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

enum LinkOutcome {
    Exists,
    Failed(CryptoError),
}

/// `header || caller AAD`: the AAD of every framed format.
fn framed_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + aad.len());
    v.extend_from_slice(header);
    v.extend_from_slice(aad);
    v
}

fn io_err(what: &str, path: &Path, e: &std::io::Error) -> CryptoError {
    CryptoError::Io(format!("{what} {}: {e}", path.display()))
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &fs::Metadata) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::BadRootKey(format!(
            "{} has mode {mode:04o}; it must not be readable or writable by group or others (chmod 600)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &fs::Metadata) -> Result<(), CryptoError> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
