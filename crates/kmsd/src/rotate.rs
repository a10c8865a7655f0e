//! `kmsd rotate-root-key`: re-wrap every piece of key material in a data directory from the
//! current root key to a new one (file, environment or PKCS#11), offline. The work and its
//! crash safety are `kmsd_core::kms::root_rotation`; this module names the keys and opens the
//! store (whose lock refuses to run beside a server on the same directory).

use std::path::PathBuf;

use kmsd_core::kms::root_rotation::rotate_root_key;

use crate::root_key_args::{NewRootKeyArgs, RootKeyArgs};

/// Flags of `kmsd rotate-root-key`.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateArgs {
    /// Data directory to rotate (the server must be stopped).
    #[arg(long, default_value = "./kmsd-data")]
    pub data_dir: PathBuf,
    /// The current root key.
    #[command(flatten)]
    pub old: RootKeyArgs,
    /// The new root key.
    #[command(flatten)]
    pub new: NewRootKeyArgs,
    /// Material records re-wrapped per store commit.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

/// Run `kmsd rotate-root-key`; returns the exit status.
pub fn run(args: RotateArgs) -> i32 {
    match rotate(&args) {
        Ok(()) => 0,
        Err((code, msg)) => {
            eprintln!("kmsd: {msg}");
            code
        }
    }
}

fn rotate(args: &RotateArgs) -> Result<(), (i32, String)> {
    let new_spec = args.new.spec().ok_or((
        2,
        "name the new root key: --new-root-key-file, KMSD_NEW_ROOT_KEY or --new-root-key-pkcs11"
            .to_string(),
    ))?;
    let old_spec = args.old.spec(&args.data_dir.join("root.key"), false);
    if old_spec.same_as(&new_spec) {
        return Err((2, "the new root key is the current one".into()));
    }
    if !args.data_dir.join(kmsd_store::schema::DB_FILE).is_file() {
        return Err((
            2,
            format!("{} holds no kmsd store", args.data_dir.display()),
        ));
    }
    let old = old_spec.load()?;
    let new = new_spec.load()?;
    let store = kmsd_store::RedbStore::open(&args.data_dir).map_err(|e| {
        (
            1,
            format!("{e} (stop the server before rotating its root key)"),
        )
    })?;
    let report = rotate_root_key(
        &store,
        &old,
        &new,
        args.batch_size as usize,
        |done, total| {
            tracing::debug!(done, total, "re-wrapped");
        },
    )
    .map_err(|e| (1, format!("root-key rotation failed: {e}")))?;
    out!(
        "root key rotated: {} material records, {} re-wrapped now, {} already under the new key ({})",
        report.total,
        report.rewrapped,
        report.already_new,
        new.describe()
    );
    out!("start kmsd serve with the new root key; the old one is no longer needed for this data directory");
    Ok(())
}
