//! `kmsd validate-policy FILE --kind key|identity|trust|session`: the validation findings of
//! a policy document (Access Analyzer's ValidatePolicy, offline), for people and for CI.
//! Exit status: 0 no finding, 1 findings (a JSON syntax error is one), 2 bad input (the file
//! cannot be read, is not UTF-8 or is larger than the validator reads).

use std::io::Read as _;
use std::path::PathBuf;

use kmsd_policy::validate::{findings_json, path_text, validate_policy, ValidateOptions};
use kmsd_policy::PolicyKind;

/// Which kind of policy the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A KMS key policy.
    Key,
    /// An IAM identity policy (user, group or role; inline or managed).
    Identity,
    /// A role trust policy.
    Trust,
    /// A session policy passed to AssumeRole.
    Session,
}

impl Kind {
    pub fn policy_kind(self) -> PolicyKind {
        match self {
            Kind::Key => PolicyKind::Key,
            Kind::Identity => PolicyKind::Identity,
            Kind::Trust => PolicyKind::Trust,
            Kind::Session => PolicyKind::Session,
        }
    }
}

/// Flags of `kmsd validate-policy`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The policy document (JSON); `-` reads standard input.
    pub file: PathBuf,
    /// Which kind of policy the document is.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// The account that owns the key or role (decides what is cross-account); by default the
    /// account of the first account principal allowed kms:PutKeyPolicy.
    #[arg(long)]
    pub account: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::explain::Format,
}

/// Largest file read (the validator refuses more anyway).
const MAX_FILE_BYTES: u64 = kmsd_policy::validate::MAX_DOCUMENT_BYTES as u64;

fn read(file: &PathBuf) -> Result<String, String> {
    let mut bytes = Vec::new();
    let result = if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
    };
    result.map_err(|e| format!("{}: {e}", file.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_FILE_BYTES} bytes; not a policy document",
            file.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", file.display()))
}

/// Run `kmsd validate-policy`; returns the exit status.
pub fn run(args: ValidateArgs) -> i32 {
    if let Some(a) = &args.account {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            eprintln!("kmsd validate-policy: --account {a:?} must be a 12-digit account id");
            return 2;
        }
    }
    let text = match read(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kmsd validate-policy: {e}");
            return 2;
        }
    };
    let options = ValidateOptions {
        account: args.account.clone(),
    };
    let findings = match validate_policy(&text, args.kind.policy_kind(), &options) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kmsd validate-policy: {e}");
            return 2;
        }
    };
    if args.format == crate::explain::Format::Json {
        let doc = serde_json::json!({ "findings": findings_json(&findings) });
        out!(
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
        );
    } else if findings.is_empty() {
        out!("{}: no findings", args.file.display());
    } else {
        for f in &findings {
            let (where_, path) = match f.locations.first() {
                Some(l) => (
                    format!("{}:{}", l.start.line, l.start.column + 1),
                    path_text(&l.path),
                ),
                None => (String::new(), String::new()),
            };
            out!(
                "{}:{where_}: {} {}: {}{}",
                args.file.display(),
                f.finding_type.as_str(),
                f.issue_code,
                f.details,
                if path.is_empty() {
                    String::new()
                } else {
                    format!(" [{path}]")
                }
            );
        }
    }
    i32::from(!findings.is_empty())
}
