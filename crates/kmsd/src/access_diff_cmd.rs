//! `kmsd access --diff --bootstrap WORLD --key KEY --policy NEW.json` (or a proposed grant),
//! `--principal ARN --identity-policy NEW.json [--policy-name N]` (an identity policy) and
//! `--role ARN --trust-policy NEW.json` (a role's trust policy): every (principal, action,
//! resource) whose decision changes, with the flowchart path before and after, and Access
//! Analyzer's CheckNoNewAccess / CheckAccessNotGranted results.
//! Exit status: 0 no new access (and nothing of --access-not-granted granted), 1 otherwise,
//! 2 bad input.

use kmsd_core::access_diff::{access_diff, identity_diff, trust_diff, AccessDiff, Proposal};
use kmsd_core::review::json::diff_json;
use kmsd_policy::validate::catalog;
use serde_json::{json, Value};

use crate::access::AccessArgs;

/// Largest proposed policy file read.
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

fn read_policy(path: &std::path::Path, flag: &str) -> Result<String, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(format!(
            "{flag} {}: larger than {MAX_POLICY_BYTES} bytes",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{flag} {}: not UTF-8 text", path.display()))
}

/// Check the --access-not-granted actions name real KMS actions.
fn check_actions(actions: &[String]) -> Result<(), String> {
    for a in actions {
        if !catalog::is_kms_action(a) {
            let hint = catalog::nearest_action(a)
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            return Err(format!(
                "--access-not-granted {a:?} is not a KMS action{hint}"
            ));
        }
    }
    Ok(())
}

fn proposal(args: &AccessArgs) -> Result<Proposal, String> {
    if let Some(path) = &args.policy {
        return Ok(Proposal::KeyPolicy(read_policy(path, "--policy")?));
    }
    if let Some(grantee) = &args.grant_principal {
        return Ok(Proposal::Grant {
            grantee_principal: grantee.clone(),
            operations: args.grant_operations.clone(),
        });
    }
    Err("--diff needs --policy FILE or --grant-principal ARN --grant-operations OPS".into())
}

/// An identity or trust policy diff (offline only).
fn iam_diff(args: &AccessArgs) -> Result<Option<Value>, String> {
    let (label, arn) = match (&args.principal, &args.role) {
        (Some(p), _) => ("--principal", p),
        (None, Some(r)) => ("--role", r),
        (None, None) => return Ok(None),
    };
    let Some(path) = &args.bootstrap else {
        return Err(format!(
            "{label} diffs are answered offline: --bootstrap WORLD is required"
        ));
    };
    let service = crate::explain::load_world(path, &args.region)?;
    let diff = if let (Some(p), Some(file)) = (&args.principal, &args.identity_policy) {
        let doc = read_policy(file, "--identity-policy")?;
        identity_diff(&service, p, args.policy_name.as_deref(), &doc)
    } else if let (Some(r), Some(file)) = (&args.role, &args.trust_policy) {
        let doc = read_policy(file, "--trust-policy")?;
        trust_diff(&service, r, &doc)
    } else {
        return Err(format!("{label} needs its policy file"));
    };
    let diff = diff.map_err(|e| format!("{label} {arn}: {}", crate::explain::api_text(&e)))?;
    Ok(Some(diff_json(&diff, &args.access_not_granted)))
}

pub fn run(args: &AccessArgs) -> i32 {
    let result = (|| -> Result<Value, String> {
        check_actions(&args.access_not_granted)?;
        if let Some(doc) = iam_diff(args)? {
            return Ok(doc);
        }
        let proposal = proposal(args)?;
        let key = args
            .key
            .as_deref()
            .ok_or("--diff needs --key, --principal or --role")?;
        let region = key
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| format!("--key {key:?} must be a key ARN"))?;
        if let Some(path) = &args.bootstrap {
            let service = crate::explain::load_world(path, region)?;
            let diff: AccessDiff = access_diff(&service, key, &proposal)
                .map_err(|e| format!("--key {key}: {}", crate::explain::api_text(&e)))?;
            return Ok(diff_json(&diff, &args.access_not_granted));
        }
        let endpoint = args
            .endpoint
            .as_ref()
            .ok_or("--diff needs --bootstrap WORLD or --endpoint URL")?;
        let mut input = json!({ "KeyId": key, "AccessNotGranted": args.access_not_granted });
        match &proposal {
            Proposal::KeyPolicy(p) => input["Policy"] = json!(p),
            Proposal::Grant {
                grantee_principal,
                operations,
            } => {
                input["Grant"] =
                    json!({ "GranteePrincipal": grantee_principal, "Operations": operations })
            }
        }
        crate::explain_online::call(endpoint, region, "KmsdService.AccessDiff", &input)
    })();
    match result {
        Ok(doc) => {
            if args.format == crate::explain::Format::Json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
                );
            } else {
                print_text(&doc);
            }
            let field = |name: &str| doc.get(name).and_then(Value::as_str).unwrap_or("PASS");
            if field("checkNoNewAccess") == "PASS" && field("checkAccessNotGranted") == "PASS" {
                0
            } else {
                1
            }
        }
        Err(message) => {
            eprintln!("kmsd access --diff: {message}");
            2
        }
    }
}

fn print_text(doc: &Value) {
    let text = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let empty = Vec::new();
    let changes = doc
        .get("changes")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    out!("Change:           {}", text(doc, "subject"));
    let new = changes
        .iter()
        .filter(|c| text(c, "change") == "granted")
        .count();
    out!(
        "CheckNoNewAccess: {}{}",
        text(doc, "checkNoNewAccess"),
        if new > 0 {
            format!(" ({new} decisions go from deny to allow)")
        } else {
            String::new()
        }
    );
    if let Some(r) = doc.get("checkAccessNotGranted").and_then(Value::as_str) {
        out!("CheckAccessNotGranted: {r}");
        for g in doc
            .get("granted")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            out!(
                "  granted: {} {} {}",
                text(g, "principal"),
                text(g, "action"),
                text(g, "resource")
            );
        }
    }
    if changes.is_empty() {
        out!("No decision changes.");
        return;
    }
    for c in changes {
        out!();
        out!(
            "{} {} {} {}  [{}]",
            if text(c, "change") == "granted" {
                "+"
            } else {
                "-"
            },
            text(c, "principal"),
            text(c, "action"),
            text(c, "resource"),
            text(c, "class")
        );
        out!("    when: {}", text(c, "context"));
        for (label, side) in [("before", "before"), ("after ", "after")] {
            let s = c.get(side).cloned().unwrap_or(Value::Null);
            let path: Vec<String> = s
                .get("path")
                .and_then(Value::as_array)
                .unwrap_or(&empty)
                .iter()
                .map(|step| {
                    format!(
                        "{}{}",
                        text(step, "node"),
                        if text(step, "answer") == "yes" {
                            "Y"
                        } else {
                            "N"
                        }
                    )
                })
                .collect();
            let decision = text(&s, "decision");
            let shown = if decision == "Allow" { "Allow" } else { "Deny" };
            out!("    {label}: {shown:<5} {}", path.join(" "));
        }
        for v in c.get("viaRole").and_then(Value::as_array).unwrap_or(&empty) {
            out!(
                "    through the role: {} {}",
                text(v, "action"),
                text(v, "key")
            );
        }
    }
}
