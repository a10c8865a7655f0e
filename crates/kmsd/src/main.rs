//! The `kmsd` binary: `serve` (the KMS/IAM/STS endpoint), `explain` (why a request is
//! allowed or denied), `access` (access review), `audit` (search the audit log) and
//! `validate-policy` (policy validation findings).

/// `println!` that ignores a closed stdout (e.g. `kmsd ... | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod access;
mod access_diff_cmd;
mod audit_cmd;
mod audit_log;
mod coarse_timer;
mod explain;
mod explain_online;
mod serve;
mod validate_cmd;
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
    /// Validate a policy document: findings as IAM Access Analyzer reports them.
    ValidatePolicy(validate_cmd::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Access(args) => access::run(args),
        Command::Audit(args) => audit_cmd::run(args),
        Command::ValidatePolicy(args) => validate_cmd::run(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
