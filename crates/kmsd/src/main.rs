//! The `kmsd` binary: `serve` (the KMS/IAM/STS endpoint), `explain` (why a request is
//! allowed or denied), `audit` (search the audit log), and operations on a data directory:
//! `pkcs11-init`, `rotate-root-key`, `backup`, `restore`.

/// `println!` that ignores a closed stdout (e.g. `kmsd ... | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod access;
mod audit_cmd;
mod audit_log;
mod backup;
mod coarse_timer;
mod explain;
mod explain_online;
mod metrics;
mod observe;
mod root_key_args;
mod rotate;
mod serve;
mod workers;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: per-thread free lists make the many small allocations of a request (headers,
/// JSON, audit line) cheaper than glibc malloc (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A self-hosted AWS KMS-compatible key management service that authorizes every request
/// as AWS does and explains each decision.
#[derive(Debug, Parser)]
#[command(name = "kmsd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve KMS, IAM and STS on one HTTP listener.
    Serve(serve::ServeArgs),
    /// Explain why a principal is allowed or denied an action on a key.
    Explain(explain::ExplainArgs),
    /// Access review: who may do what with a key, and why.
    Access(access::AccessArgs),
    /// Search the audit log of a data directory.
    Audit(audit_cmd::AuditArgs),
    /// Create the root key (AES-256, sensitive, not extractable) in a PKCS#11 token; the
    /// user PIN is read from KMSD_PKCS11_PIN.
    #[command(name = "pkcs11-init")]
    Pkcs11Init(root_key_args::Pkcs11InitArgs),
    /// Re-wrap all key material of a stopped server's data directory under a new root key.
    #[command(name = "rotate-root-key")]
    RotateRootKey(rotate::RotateArgs),
    /// Write a consistent snapshot of a data directory (running server or not) to a file.
    Backup(backup::BackupArgs),
    /// Restore a backup archive into an empty data directory.
    Restore(backup::RestoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Access(args) => access::run(args),
        Command::Audit(args) => audit_cmd::run(args),
        Command::Pkcs11Init(args) => root_key_args::run_pkcs11_init(args),
        Command::RotateRootKey(args) => rotate::run(args),
        Command::Backup(args) => backup::run_backup(args),
        Command::Restore(args) => backup::run_restore(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
