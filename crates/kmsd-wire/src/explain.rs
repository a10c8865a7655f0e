//! Explanations on the wire: the JSON form of a traced decision (shared by `kmsd explain`
//! offline and online) and the server side of online explain.

use kmsd_policy::{Because, Decision, Explanation};
use serde_json::{json, Value};

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

/// `Allow`, `ExplicitDeny` or `ImplicitDeny`.
pub fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "Allow",
        Decision::ExplicitDeny => "ExplicitDeny",
        Decision::ImplicitDeny => "ImplicitDeny",
    }
}

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

