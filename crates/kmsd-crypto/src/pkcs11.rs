//! The root key in a hardware security module, through PKCS#11 (`cryptoki`).
//!
//! [`Pkcs11RootKey`] is a [`RootKeyBackend`]: it holds a logged-in session on the token whose
//! label is given and the handle of a secret AES-256 key found by its label, and wraps and
//! unwraps key material with `CKM_AES_GCM` (96-bit nonce chosen by kmsd, 128-bit tag) inside
//! the token. The key must be sensitive and non-extractable; kmsd never reads it.
//! [`create_key`] generates such a key in a token (`kmsd pkcs11-init`).
//!
//! A PKCS#11 module is loaded and `C_Initialize`d once per process and path, so that two
//! keys in the same module (rotation inside one token) share it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::root_key::RootKeyBackend;
use crate::CryptoError;

/// AES-256 key length in bytes.
const AES_256_LEN: u64 = 32;

/// Which token key to use.
#[derive(Debug, Clone)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// Label of the token (`CKA_LABEL` of the token info, trailing blanks ignored).
    pub token_label: String,
    /// `CKA_LABEL` of the secret key in the token.
    pub key_label: String,
}

impl Pkcs11Config {
    fn describe(&self) -> String {
        format!(
            "PKCS#11 key {:?} in token {:?} ({})",
            self.key_label,
            self.token_label,
            self.module.display()
        )
    }
}

/// A root key inside a PKCS#11 token.
pub struct Pkcs11RootKey {
    config: Pkcs11Config,
    session: Mutex<Session>,
    key: ObjectHandle,
}

fn hsm_err(what: &str, e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Hsm(format!("{what}: {e}"))
}

/// The process-wide context for `module`, loaded and initialised on first use.
fn context(module: &Path) -> Result<Pkcs11, CryptoError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .map_err(|_| CryptoError::Hsm("PKCS#11 context lock poisoned".into()))?;
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        hsm_err(
            &format!("cannot load PKCS#11 module {}", module.display()),
            e,
        )
    })?;
    match ctx.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(hsm_err("C_Initialize failed", e)),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

fn find_slot(ctx: &Pkcs11, token_label: &str) -> Result<Slot, CryptoError> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| hsm_err("cannot list PKCS#11 slots", e))?;
    let mut found = None;
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| hsm_err("cannot read PKCS#11 token info", e))?;
        if info.label().trim_end() == token_label {
            if found.is_some() {
                return Err(CryptoError::Hsm(format!(
                    "more than one PKCS#11 token is labelled {token_label:?}"
                )));
            }
            found = Some(slot);
        }
    }
    found.ok_or_else(|| CryptoError::Hsm(format!("no PKCS#11 token labelled {token_label:?}")))
}

fn open_session(config: &Pkcs11Config, pin: &str) -> Result<Session, CryptoError> {
    let ctx = context(&config.module)?;
    let slot = find_slot(&ctx, &config.token_label)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| hsm_err("cannot open a PKCS#11 session", e))?;
    let pin = AuthPin::new(pin.to_string());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        // The PIN is never part of the message.
        Err(e) => Err(hsm_err(
            &format!("cannot log in to token {:?}", config.token_label),
            e,
        )),
    }
}

fn find_keys(session: &Session, label: &str) -> Result<Vec<ObjectHandle>, CryptoError> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| hsm_err("cannot search the PKCS#11 token", e))
}

impl Pkcs11RootKey {
    /// Log in to the token of `config` with `pin` and find the key. Refuses a key that is
    /// missing, ambiguous, not AES-256, extractable, not sensitive, or not usable for
    /// encryption and decryption.
    pub fn open(config: Pkcs11Config, pin: &str) -> Result<Pkcs11RootKey, CryptoError> {
        let session = open_session(&config, pin)?;
        let keys = find_keys(&session, &config.key_label)?;
        let key = match keys.as_slice() {
            [k] => *k,
            [] => {
                return Err(CryptoError::Hsm(format!(
                    "no secret key labelled {:?} in token {:?} (create one with kmsd pkcs11-init)",
                    config.key_label, config.token_label
                )))
            }
            _ => {
                return Err(CryptoError::Hsm(format!(
                    "more than one secret key labelled {:?} in token {:?}",
                    config.key_label, config.token_label
                )))
            }
        };
        let attrs = session
            .get_attributes(
                key,
                &[
                    AttributeType::KeyType,
                    AttributeType::ValueLen,
                    AttributeType::Extractable,
                    AttributeType::Sensitive,
                    AttributeType::Encrypt,
                    AttributeType::Decrypt,
                ],
            )
            .map_err(|e| hsm_err("cannot read the key's attributes", e))?;
        let mut ok_type = false;
        let mut ok_len = false;
        let mut extractable = true;
        let mut sensitive = false;
        let mut encrypt = false;
        let mut decrypt = false;
        for a in attrs {
            match a {
                Attribute::KeyType(t) => ok_type = t == KeyType::AES,
                Attribute::ValueLen(n) => ok_len = u64::from(n) == AES_256_LEN,
                Attribute::Extractable(b) => extractable = b,
                Attribute::Sensitive(b) => sensitive = b,
                Attribute::Encrypt(b) => encrypt = b,
                Attribute::Decrypt(b) => decrypt = b,
                _ => {}
            }
        }
        let problem = if !ok_type || !ok_len {
            Some("is not an AES-256 key")
        } else if extractable {
            Some("is extractable (CKA_EXTRACTABLE must be false)")
        } else if !sensitive {
            Some("is not sensitive (CKA_SENSITIVE must be true)")
        } else if !encrypt || !decrypt {
            Some("does not allow encryption and decryption")
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(CryptoError::Hsm(format!("{} {p}", config.describe())));
        }
        Ok(Pkcs11RootKey {
            config,
            session: Mutex::new(session),
            key,
        })
    }

    fn with_session<T>(
        &self,
        f: impl FnOnce(&Session) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        let session = self
            .session
            .lock()
            .map_err(|_| CryptoError::Hsm("PKCS#11 session lock poisoned".into()))?;
        f(&session)
    }
}

impl RootKeyBackend for Pkcs11RootKey {
    fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut iv = *nonce;
        let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())
            .map_err(|e| hsm_err("AES-GCM parameters", e))?;
        let out = self.with_session(|s| {
            s.encrypt(&Mechanism::AesGcm(params), self.key, plaintext)
                .map_err(|e| hsm_err("PKCS#11 encryption failed", e))
        })?;
        if out.len() != plaintext.len() + TAG_LEN {
            return Err(CryptoError::Hsm(
                "PKCS#11 AES-GCM returned an unexpected length".into(),
            ));
        }
        Ok(out)
    }

    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < TAG_LEN {
            return Err(CryptoError::AuthenticationFailed);
        }
        let mut iv = *nonce;
        let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())
            .map_err(|e| hsm_err("AES-GCM parameters", e))?;
        self.with_session(|s| {
            match s.decrypt(&Mechanism::AesGcm(params), self.key, sealed) {
                Ok(pt) => Ok(Zeroizing::new(pt)),
                // A failed tag check is reported as such, like the local key's.
                Err(CkError::Pkcs11(
                    RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange,
                    _,
                )) => Err(CryptoError::AuthenticationFailed),
                Err(e) => Err(hsm_err("PKCS#11 decryption failed", e)),
            }
        })
    }

    fn describe(&self) -> String {
        self.config.describe()
    }
}

/// Generate a token-resident AES-256 key labelled `config.key_label` in the token of
/// `config`: sensitive, non-extractable, usable only to encrypt and decrypt. Refuses if a
/// secret key with that label already exists.
pub fn create_key(config: &Pkcs11Config, pin: &str) -> Result<(), CryptoError> {
    let session = open_session(config, pin)?;
    if !find_keys(&session, &config.key_label)?.is_empty() {
        return Err(CryptoError::Hsm(format!(
            "token {:?} already has a secret key labelled {:?}",
            config.token_label, config.key_label
        )));
    }
    let template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(config.key_label.as_bytes().to_vec()),
        Attribute::ValueLen(AES_256_LEN.into()),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ];
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|e| hsm_err("cannot generate the key in the token", e))?;
    Ok(())
}
