//! `kmsd access --diff --bootstrap WORLD --key KEY --policy NEW.json` (or a proposed grant):
//! every (principal, action) whose decision on the key changes, with the flowchart path
//! before and after, and Access Analyzer's CheckNoNewAccess / CheckAccessNotGranted results.
//! Exit status: 0 no new access (and nothing of --access-not-granted granted), 1 otherwise,
//! 2 bad input.

use kmsd_core::access_diff::{access_diff, AccessDiff, Proposal};
use kmsd_policy::validate::catalog;
use kmsd_wire::explain::explanation_json;
use serde_json::{json, Value};

use crate::access::AccessArgs;

/// Largest proposed policy file read.
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

fn read_policy(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("--policy {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(format!(
            "--policy {}: larger than {MAX_POLICY_BYTES} bytes",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("--policy {}: not UTF-8 text", path.display()))
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
        return Ok(Proposal::KeyPolicy(read_policy(path)?));
    }
    if let Some(grantee) = &args.grant_principal {
        return Ok(Proposal::Grant {
            grantee_principal: grantee.clone(),
            operations: args.grant_operations.clone(),
        });
    }
    Err("--diff needs --policy FILE or --grant-principal ARN --grant-operations OPS".into())
}

pub fn run(args: &AccessArgs) -> i32 {
    let result = (|| -> Result<(AccessDiff, Value), String> {
        check_actions(&args.access_not_granted)?;
        let proposal = proposal(args)?;
        let path = args
            .bootstrap
            .as_ref()
            .ok_or("--diff needs --bootstrap WORLD")?;
        let region = args
            .key
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| format!("--key {:?} must be a key ARN", args.key))?;
        let service = crate::explain::load_world(path, region)?;
        let diff = access_diff(&service, &args.key, &proposal)
            .map_err(|e| format!("--key {}: {}", args.key, crate::explain::api_text(&e)))?;
        let doc = diff_json(&diff, &args.access_not_granted);
        Ok((diff, doc))
    })();
    match result {
        Ok((diff, doc)) => {
            if args.format == crate::explain::Format::Json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
                );
            } else {
                print_text(&diff, &doc);
            }
            let not_granted_ok = args.access_not_granted.is_empty()
                || diff.access_not_granted(&args.access_not_granted);
            if diff.no_new_access() && not_granted_ok {
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

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The diff as JSON: checks, then each changed (principal, action) with both explanations.
pub fn diff_json(diff: &AccessDiff, not_granted: &[String]) -> Value {
    let changes: Vec<Value> = diff
        .changes
        .iter()
        .map(|c| {
            json!({
                "principal": c.principal,
                "class": c.class.as_str(),
                "action": c.action,
                "change": if c.after.allowed { "granted" } else { "revoked" },
                "before": explanation_json(&c.before.explanation),
                "after": explanation_json(&c.after.explanation),
            })
        })
        .collect();
    let mut doc = json!({
        "key": diff.key_arn,
        "account": diff.account,
        "checkNoNewAccess": pass(diff.no_new_access()),
        "changes": changes,
        "principalsEvaluated": diff.principals.iter().map(|(p, c)| json!({"principal": p, "class": c.as_str()})).collect::<Vec<_>>(),
        "actionsEvaluated": diff.actions,
        "note": "Decided without an encryption context or request-specific condition keys. Principals of accounts the world does not hold are evaluated with an identity policy that allows everything; 'anonymous' is a caller whose own policies allow nothing.",
    });
    if !not_granted.is_empty() {
        let granted: Vec<Value> = diff
            .allowed_after
            .iter()
            .filter(|(_, a)| not_granted.iter().any(|n| n.eq_ignore_ascii_case(a)))
            .map(|(p, a)| json!({"principal": p, "action": a}))
            .collect();
        doc["checkAccessNotGranted"] = json!(pass(granted.is_empty()));
        doc["granted"] = Value::Array(granted);
    }
    doc
}

fn print_text(diff: &AccessDiff, doc: &Value) {
    out!("Key:              {}", diff.key_arn);
    let new = diff.new_access().count();
    out!(
        "CheckNoNewAccess: {}{}",
        pass(diff.no_new_access()),
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
            .into_iter()
            .flatten()
        {
            out!(
                "  granted: {} {}",
                g.get("principal").and_then(Value::as_str).unwrap_or(""),
                g.get("action").and_then(Value::as_str).unwrap_or("")
            );
        }
    }
    if diff.changes.is_empty() {
        out!("No decision changes.");
        return;
    }
    for c in &diff.changes {
        out!();
        out!(
            "{} {} {}  [{}]",
            if c.after.allowed { "+" } else { "-" },
            c.principal,
            c.action,
            c.class.as_str()
        );
        for (label, side) in [("before", &c.before), ("after ", &c.after)] {
            out!(
                "    {label}: {:<5} {}",
                if side.allowed { "Allow" } else { "Deny" },
                side.explanation.path_string()
            );
        }
    }
}
