//! The JSON form of explanations, access reviews, access diffs and recent denials: the
//! shapes of the contract (interface.md), shared by the server's `KmsdService.*` answers and
//! the `kmsd` CLI offline, so both print the same document.

use kmsd_policy::{Because, Explanation, PathStep};
use serde_json::{json, Value};

use super::access::AccessReview;
use crate::access_diff::AccessDiff;
use crate::audit::{decision_name, AuditEvent};

/// The explanation as the JSON object of the contract: decision, path, message.
pub fn explanation_json(e: &Explanation) -> Value {
    let path: Vec<Value> = e
        .path
        .iter()
        .map(|step| {
            json!({
                "node": format!("{:?}", step.node),
                "question": step.question,
                "answer": if step.answer { "yes" } else { "no" },
                "because": step.because.iter().map(because_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({
        "decision": decision_name(e.outcome.decision),
        "path": path,
    });
    if let (Some(m), Some(obj)) = (&e.message, out.as_object_mut()) {
        obj.insert("message".into(), Value::String(m.clone()));
    }
    out
}

/// One reason of a step: a statement, a grant or a note.
pub fn because_json(b: &Because) -> Value {
    match b {
        Because::Statement {
            policy_id,
            source_type,
            sid,
            index,
        } => json!({
            "type": "statement",
            "policy": policy_id,
            "source_type": format!("{source_type:?}"),
            "sid": sid,
            "index": index,
        }),
        Because::Grant { grant_id, name } => json!({
            "type": "grant",
            "grant_id": grant_id,
            "name": name,
        }),
        Because::Note(text) => json!({ "type": "note", "text": text }),
    }
}

/// `PASS` or `FAIL`.
pub fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The diff as JSON: checks, then each changed (principal, action, resource) with both
/// explanations.
pub fn diff_json(diff: &AccessDiff, not_granted: &[String]) -> Value {
    let changes: Vec<Value> = diff
        .changes
        .iter()
        .map(|c| {
            let mut v = json!({
                "principal": c.principal,
                "class": c.class.as_str(),
                "action": c.action,
                "resource": c.resource,
                "change": if c.after.allowed { "granted" } else { "revoked" },
                "context": c.context,
                "before": explanation_json(&c.before.explanation),
                "after": explanation_json(&c.after.explanation),
            });
            if !c.via_role.is_empty() {
                v["viaRole"] = c
                    .via_role
                    .iter()
                    .map(|(a, k)| json!({"action": a, "key": k}))
                    .collect();
            }
            v
        })
        .collect();
    let mut doc = json!({
        "subject": diff.subject,
        "account": diff.account,
        "checkNoNewAccess": pass(diff.no_new_access()),
        "changes": changes,
        "principalsEvaluated": diff.principals.iter().map(|(p, c)| json!({"principal": p, "class": c.as_str()})).collect::<Vec<_>>(),
        "actionsEvaluated": diff.actions,
        "keysEvaluated": diff.keys,
        "witnessesComplete": diff.witnesses_complete,
        "note": "Request-specific condition keys (encryption context, request parameters, network, request tags) may hold: a decision is made under each value the policies compare them with, a value they do not name, and none; 'context' names one under which the decision changes. Principals of accounts the world does not hold are evaluated with an identity policy that allows everything; 'anonymous' is a caller whose own policies allow nothing.",
    });
    if !diff.key_arn.is_empty() {
        doc["key"] = json!(diff.key_arn);
    }
    if !not_granted.is_empty() {
        let granted: Vec<Value> = diff
            .allowed_after
            .iter()
            .filter(|(_, a, _)| not_granted.iter().any(|n| n.eq_ignore_ascii_case(a)))
            .map(|(p, a, r)| json!({"principal": p, "action": a, "resource": r}))
            .collect();
        doc["checkAccessNotGranted"] = json!(pass(granted.is_empty()));
        doc["granted"] = Value::Array(granted);
    }
    doc
}

/// The access review as the contract's JSON object.
pub fn access_review_json(review: &AccessReview) -> Value {
    let entries: Vec<Value> = review
        .principals
        .iter()
        .map(|p| {
            let actions: Vec<Value> = p
                .actions
                .iter()
                .map(|a| {
                    json!({
                        "action": a.action,
                        "why": a.why.iter().map(why_step_json).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "principal": p.principal,
                "account": p.account,
                "cross_account": p.cross_account,
                "actions": actions,
            })
        })
        .collect();
    json!({
        "key": review.key_arn,
        "account": review.account,
        "principals": entries,
        "note": "Grantees and roles are evaluated without an encryption context or request-specific condition keys; conditional access shows only where its conditions hold without them. kms:RetireGrant is decided per grant (retiring principal, grantee, or IAM policy), not per key, and is not listed.",
    })
}

/// A step that answered YES on the way to Allow: node, question, reasons.
fn why_step_json(step: &PathStep) -> Value {
    json!({
        "node": format!("{:?}", step.node),
        "question": step.question,
        "because": step.because.iter().map(because_json).collect::<Vec<_>>(),
    })
}

/// `{"Events": [...]}`: the denials' audit events as the audit log writes them.
pub fn recent_denials_json(events: &[AuditEvent]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .filter_map(|event| serde_json::to_value(event).ok())
        .collect();
    json!({ "Events": events })
}
