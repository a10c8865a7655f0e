//! `kmsd access --key ARN`: access review of one key — every principal the world or server
//! knows (account roots, users, roles, grantees) with each KMS action it may perform on the
//! key and why; access from other accounts is flagged. `--diff` (see `access_diff_cmd`):
//! what a proposed key policy, grant, identity policy or role trust policy changes.

use std::path::PathBuf;

use serde_json::{json, Value};

/// Flags of `kmsd access`.
#[derive(Debug, Clone, clap::Args)]
pub struct AccessArgs {
    /// World (bootstrap) file to answer from, offline.
    #[arg(
        long,
        conflicts_with = "endpoint",
        required_unless_present = "endpoint"
    )]
    pub bootstrap: Option<PathBuf>,
    /// URL of a running kmsd to ask (credentials from the usual AWS environment; the caller
    /// needs kms:GetKeyPolicy on the key).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Key ARN or alias ARN (access review; --diff of a key policy or grant).
    #[arg(long, required_unless_present_any = ["principal", "role"])]
    pub key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::explain::Format,
    /// Access diff: what a proposed key policy (--key, --policy) or grant (--key,
    /// --grant-principal, --grant-operations) changes, offline (--bootstrap) or online
    /// (--endpoint; the caller needs kms:GetKeyPolicy on the key); or an identity policy
    /// (--principal, --identity-policy [--policy-name]) or a role's trust policy (--role,
    /// --trust-policy), offline. Exit 0 no new access, 1 new access (or an
    /// --access-not-granted action is granted), 2 bad input.
    #[arg(long)]
    pub diff: bool,
    /// Proposed key policy (JSON file) for --diff.
    #[arg(
        long,
        requires = "diff",
        conflicts_with_all = ["grant_principal", "principal", "role"]
    )]
    pub policy: Option<PathBuf>,
    /// Grantee principal of a proposed grant for --diff.
    #[arg(
        long,
        requires = "diff",
        requires = "grant_operations",
        conflicts_with_all = ["principal", "role"]
    )]
    pub grant_principal: Option<String>,
    /// Operations of the proposed grant, comma-separated (e.g. Decrypt,GenerateDataKey).
    #[arg(long, requires = "grant_principal", value_delimiter = ',')]
    pub grant_operations: Vec<String>,
    /// User, role or group ARN whose identity policy --identity-policy replaces or adds
    /// (--diff, offline).
    #[arg(
        long,
        requires = "diff",
        requires = "identity_policy",
        conflicts_with_all = ["key", "role"]
    )]
    pub principal: Option<String>,
    /// Proposed identity policy (JSON file) for --principal.
    #[arg(long, requires = "principal")]
    pub identity_policy: Option<PathBuf>,
    /// Which identity policy --identity-policy is: an inline policy name of the --principal
    /// (replaced if it exists, added otherwise) or a managed policy ARN (its document replaced
    /// wherever it is attached). Default: a new inline policy.
    #[arg(long, requires = "identity_policy")]
    pub policy_name: Option<String>,
    /// Role ARN whose trust policy --trust-policy replaces (--diff, offline).
    #[arg(
        long,
        requires = "diff",
        requires = "trust_policy",
        conflicts_with_all = ["key", "principal"]
    )]
    pub role: Option<String>,
    /// Proposed trust policy (AssumeRolePolicyDocument, JSON file) for --role.
    #[arg(long, requires = "role")]
    pub trust_policy: Option<PathBuf>,
    /// Region of the world's keys declared without one (--principal and --role diffs).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// With --diff: also fail (exit 1) when any principal may perform one of these actions
    /// after the change (CheckAccessNotGranted), comma-separated.
    #[arg(long, requires = "diff", value_delimiter = ',')]
    pub access_not_granted: Vec<String>,
}

/// Run `kmsd access`; 0 on success, 2 on bad input.
pub fn run(args: AccessArgs) -> i32 {
    if args.diff {
        return crate::access_diff_cmd::run(&args);
    }
    let Some(key) = args.key.clone() else {
        eprintln!("kmsd access: --key is required without --diff");
        return 2;
    };
    let region = match region_of(&key) {
        Some(r) => r,
        None => {
            eprintln!("kmsd access: --key {key:?} must be a key ARN or alias ARN");
            return 2;
        }
    };
    let review = if let Some(path) = &args.bootstrap {
        offline(path, &key, &region)
    } else if let Some(endpoint) = &args.endpoint {
        crate::explain_online::call(
            endpoint,
            &region,
            "KmsdService.AccessReview",
            &json!({ "KeyId": key }),
        )
    } else {
        Err("one of --bootstrap or --endpoint is required".into())
    };
    match review {
        Ok(review) => {
            print(&review, args.format);
            0
        }
        Err(message) => {
            eprintln!("kmsd access: {message}");
            2
        }
    }
}

fn offline(path: &std::path::Path, key: &str, region: &str) -> Result<Value, String> {
    let service = crate::explain::load_world(path, region)?;
    kmsd_core::review::access::access_review(&service, key)
        .map(|review| kmsd_core::review::json::access_review_json(&review))
        .map_err(|e| format!("--key {key}: {}", crate::explain::api_text(&e)))
}

fn region_of(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "kms", region, _, _] if !region.is_empty() => Some((*region).to_string()),
        _ => None,
    }
}

fn print(review: &Value, format: crate::explain::Format) {
    if format == crate::explain::Format::Json {
        out!(
            "{}",
            serde_json::to_string_pretty(review).unwrap_or_else(|_| "{}".into())
        );
        return;
    }
    let text = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    out!("Key:     {}", text(review, "key"));
    out!("Account: {}", text(review, "account"));
    let empty = Vec::new();
    let principals = review
        .get("principals")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if principals.is_empty() {
        out!("No known principal may use this key.");
    }
    for p in principals {
        let cross = p
            .get("cross_account")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out!();
        out!(
            "{}{}",
            text(p, "principal"),
            if cross { "   [CROSS-ACCOUNT]" } else { "" }
        );
        for a in p.get("actions").and_then(Value::as_array).unwrap_or(&empty) {
            let why: Vec<String> = a
                .get("why")
                .and_then(Value::as_array)
                .unwrap_or(&empty)
                .iter()
                .map(|step| {
                    let because: Vec<String> = step
                        .get("because")
                        .and_then(Value::as_array)
                        .unwrap_or(&empty)
                        .iter()
                        .map(describe)
                        .collect();
                    format!("{} {}", text(step, "node"), because.join(", "))
                })
                .collect();
            out!("  {:<38} {}", text(a, "action"), why.join("; "));
        }
    }
}

fn describe(b: &Value) -> String {
    let field = |name: &str| b.get(name).and_then(Value::as_str).unwrap_or("");
    match field("type") {
        "statement" => match b.get("sid").and_then(Value::as_str) {
            Some(sid) => format!("{} \"{sid}\"", field("policy")),
            None => format!(
                "{} #{}",
                field("policy"),
                b.get("index").and_then(Value::as_u64).unwrap_or(0)
            ),
        },
        "grant" => format!("grant {}", field("grant_id")),
        _ => field("text").to_string(),
    }
}
