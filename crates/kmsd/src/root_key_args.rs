//! Where the root key comes from: the flags and environment variables shared by `serve`,
//! `rotate-root-key` (old and new key) and `pkcs11-init`, and loading the key they name.
//!
//! Precedence for one key: PKCS#11 flags, else the hex environment variable, else the file
//! (created at first start by `serve` only). The PKCS#11 PIN is read from an environment
//! variable, never from a flag (flags are visible to every user of the machine).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kmsd_crypto::pkcs11::{Pkcs11Config, Pkcs11RootKey};
use kmsd_crypto::RootKey;
use zeroize::Zeroizing;

/// Environment variable holding the root key as 64 hex digits.
pub const ROOT_KEY_ENV: &str = "KMSD_ROOT_KEY";
/// Environment variable holding the PKCS#11 user PIN.
pub const PKCS11_PIN_ENV: &str = "KMSD_PKCS11_PIN";
/// `rotate-root-key`: the new root key as 64 hex digits.
pub const NEW_ROOT_KEY_ENV: &str = "KMSD_NEW_ROOT_KEY";
/// `rotate-root-key`: the PIN of the new key's token (default: `KMSD_PKCS11_PIN`).
pub const NEW_PKCS11_PIN_ENV: &str = "KMSD_NEW_PKCS11_PIN";

/// The root key flags of `kmsd serve` and the old key of `kmsd rotate-root-key`.
#[derive(Debug, Clone, clap::Args)]
pub struct RootKeyArgs {
    /// Root key file (32 raw bytes or 64 hex digits, mode 0600); `serve` creates it at first
    /// start. Default: DATA_DIR/root.key. Ignored when the environment variable KMSD_ROOT_KEY
    /// (64 hex digits) is set, which takes precedence.
    #[arg(long, conflicts_with = "root_key_pkcs11")]
    pub root_key_file: Option<PathBuf>,
    /// Keep the root key in a hardware security module: path of its PKCS#11 module
    /// (e.g. /usr/lib/softhsm/libsofthsm2.so). Needs --pkcs11-token and --pkcs11-key; the
    /// user PIN is read from the environment variable KMSD_PKCS11_PIN.
    #[arg(long, value_name = "MODULE.so", requires_all = ["pkcs11_token", "pkcs11_key"])]
    pub root_key_pkcs11: Option<PathBuf>,
    /// With --root-key-pkcs11: the label of the token holding the root key.
    #[arg(long, value_name = "LABEL", requires = "root_key_pkcs11")]
    pub pkcs11_token: Option<String>,
    /// With --root-key-pkcs11: the label of the AES-256 root key in the token.
    #[arg(long, value_name = "LABEL", requires = "root_key_pkcs11")]
    pub pkcs11_key: Option<String>,
}

/// The new root key of `kmsd rotate-root-key`.
#[derive(Debug, Clone, clap::Args)]
pub struct NewRootKeyArgs {
    /// The new root key file (created, mode 0600, when absent). Ignored when the environment
    /// variable KMSD_NEW_ROOT_KEY (64 hex digits) is set, which takes precedence.
    #[arg(long, conflicts_with = "new_root_key_pkcs11")]
    pub new_root_key_file: Option<PathBuf>,
    /// Move the root key into a hardware security module: path of its PKCS#11 module. Needs
    /// --new-pkcs11-token and --new-pkcs11-key; the PIN is read from KMSD_NEW_PKCS11_PIN,
    /// or KMSD_PKCS11_PIN when that is unset.
    #[arg(long, value_name = "MODULE.so", requires_all = ["new_pkcs11_token", "new_pkcs11_key"])]
    pub new_root_key_pkcs11: Option<PathBuf>,
    /// With --new-root-key-pkcs11: the label of the token holding the new root key.
    #[arg(long, value_name = "LABEL", requires = "new_root_key_pkcs11")]
    pub new_pkcs11_token: Option<String>,
    /// With --new-root-key-pkcs11: the label of the new AES-256 root key in the token.
    #[arg(long, value_name = "LABEL", requires = "new_root_key_pkcs11")]
    pub new_pkcs11_key: Option<String>,
}

/// One root key, as named by flags and environment.
#[derive(Debug, Clone)]
pub enum RootKeySpec {
    /// 64 hex digits from an environment variable (named for messages).
    Env(&'static str),
    /// A key file; `create` makes it when absent.
    File { path: PathBuf, create: bool },
    /// A key in a PKCS#11 token; the PIN comes from one of `pin_envs` (first set wins).
    Pkcs11 {
        config: Pkcs11Config,
        pin_envs: &'static [&'static str],
    },
}

impl RootKeyArgs {
    /// The key these flags name; `default_file` when none is given. `serve` creates the
    /// file when absent (`create`), `rotate-root-key` does not.
    pub fn spec(&self, default_file: &Path, create: bool) -> RootKeySpec {
        if let (Some(module), Some(token), Some(key)) =
            (&self.root_key_pkcs11, &self.pkcs11_token, &self.pkcs11_key)
        {
            return RootKeySpec::Pkcs11 {
                config: Pkcs11Config {
                    module: module.clone(),
                    token_label: token.clone(),
                    key_label: key.clone(),
                },
                pin_envs: &[PKCS11_PIN_ENV],
            };
        }
        if std::env::var_os(ROOT_KEY_ENV).is_some() {
            return RootKeySpec::Env(ROOT_KEY_ENV);
        }
        RootKeySpec::File {
            path: self
                .root_key_file
                .clone()
                .unwrap_or_else(|| default_file.to_path_buf()),
            create,
        }
    }
}

impl NewRootKeyArgs {
    /// The new key these flags name, or `None` when none is.
    pub fn spec(&self) -> Option<RootKeySpec> {
        if let (Some(module), Some(token), Some(key)) = (
            &self.new_root_key_pkcs11,
            &self.new_pkcs11_token,
            &self.new_pkcs11_key,
        ) {
            return Some(RootKeySpec::Pkcs11 {
                config: Pkcs11Config {
                    module: module.clone(),
                    token_label: token.clone(),
                    key_label: key.clone(),
                },
                pin_envs: &[NEW_PKCS11_PIN_ENV, PKCS11_PIN_ENV],
            });
        }
        if std::env::var_os(NEW_ROOT_KEY_ENV).is_some() {
            return Some(RootKeySpec::Env(NEW_ROOT_KEY_ENV));
        }
        self.new_root_key_file
            .clone()
            .map(|path| RootKeySpec::File { path, create: true })
    }
}

/// Read a PIN from the first of `envs` that is set.
pub fn pin_from_env(envs: &[&'static str]) -> Result<Zeroizing<String>, (i32, String)> {
    for name in envs {
        if let Some(v) = std::env::var_os(name) {
            return Ok(Zeroizing::new(v.to_string_lossy().into_owned()));
        }
    }
    Err((
        2,
        format!(
            "the PKCS#11 user PIN must be in the environment variable {}",
            envs.first().copied().unwrap_or(PKCS11_PIN_ENV)
        ),
    ))
}

impl RootKeySpec {
    /// Load the key. Errors: (exit status, message); messages never contain key bytes or PINs.
    pub fn load(&self) -> Result<RootKey, (i32, String)> {
        match self {
            RootKeySpec::Env(name) => {
                let hex = std::env::var_os(name).unwrap_or_default();
                let hex = Zeroizing::new(hex.to_string_lossy().into_owned());
                RootKey::from_hex(&hex).map_err(|e| (2, format!("{name}: {e}")))
            }
            RootKeySpec::File { path, create } => {
                let r = if *create {
                    RootKey::load_or_create(path)
                } else {
                    RootKey::load(path)
                };
                r.map_err(|e| (1, format!("root key {}: {e}", path.display())))
            }
            RootKeySpec::Pkcs11 { config, pin_envs } => {
                let pin = pin_from_env(pin_envs)?;
                let key =
                    Pkcs11RootKey::open(config.clone(), &pin).map_err(|e| (1, e.to_string()))?;
                Ok(RootKey::from_backend(Arc::new(key)))
            }
        }
    }

    /// Whether two specs certainly name the same key (same file, same variable or same token
    /// key), to refuse a rotation onto itself.
    pub fn same_as(&self, other: &RootKeySpec) -> bool {
        match (self, other) {
            (RootKeySpec::File { path: a, .. }, RootKeySpec::File { path: b, .. }) => {
                match (a.canonicalize(), b.canonicalize()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => a == b,
                }
            }
            (RootKeySpec::Pkcs11 { config: a, .. }, RootKeySpec::Pkcs11 { config: b, .. }) => {
                a.module == b.module && a.token_label == b.token_label && a.key_label == b.key_label
            }
            _ => false,
        }
    }
}

/// Flags of `kmsd pkcs11-init`.
#[derive(Debug, Clone, clap::Args)]
pub struct Pkcs11InitArgs {
    /// Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).
    #[arg(long, value_name = "MODULE.so")]
    pub module: PathBuf,
    /// Label of the (already initialised) token to create the key in.
    #[arg(long, value_name = "LABEL")]
    pub token: String,
    /// Label of the new key.
    #[arg(long, value_name = "LABEL")]
    pub key: String,
}

/// `kmsd pkcs11-init`: create a sensitive, non-extractable AES-256 key in a token (PIN from
/// KMSD_PKCS11_PIN). Returns the exit status.
pub fn run_pkcs11_init(args: Pkcs11InitArgs) -> i32 {
    let pin = match pin_from_env(&[PKCS11_PIN_ENV]) {
        Ok(p) => p,
        Err((code, msg)) => {
            eprintln!("kmsd: {msg}");
            return code;
        }
    };
    let config = Pkcs11Config {
        module: args.module,
        token_label: args.token,
        key_label: args.key,
    };
    match kmsd_crypto::pkcs11::create_key(&config, &pin) {
        Ok(()) => {
            out!(
                "created AES-256 key {:?} in token {:?} (sensitive, not extractable)",
                config.key_label,
                config.token_label
            );
            0
        }
        Err(e) => {
            eprintln!("kmsd: {e}");
            1
        }
    }
}
