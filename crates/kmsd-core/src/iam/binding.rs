//! Unique-id binding of trust-policy principals (iam-evaluation.md P8/S7): when a trust
//! policy is saved, each user or role ARN it names is bound to that entity's unique id. If
//! the entity is later deleted (or deleted and re-created under the same name), the entry
//! is evaluated as the bare unique id, which matches no one else.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kmsd_policy::{Policy, PolicyKind};
use serde_json::Value;

use super::model::{parse_arn, ParsedArn};
use super::State;

/// The current unique id of a user or role ARN, if it exists.
pub(crate) fn current_id(st: &State, arn: &str) -> Option<String> {
    match parse_arn(arn)? {
        ParsedArn::User {
            account,
            path,
            name,
        } => st
            .user(&account, &name)
            .filter(|u| u.path == path && u.name == name)
            .map(|u| u.user_id.clone()),
        ParsedArn::Role { .. } => st.role_by_arn(arn).map(|r| r.role_id.clone()),
        _ => None,
    }
}

/// Bind the user and role ARNs a trust policy names to their current unique ids.
/// `extra` supplies ids of entities not yet in `st` (world files create them in the same batch).
pub(crate) fn bind(
    st: &State,
    doc: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let Ok(policy) = Policy::parse(doc, PolicyKind::Trust) else {
        return BTreeMap::new();
    };
    policy
        .aws_principals()
        .into_iter()
        .filter_map(|arn| {
            let id = extra.get(&arn).cloned().or_else(|| current_id(st, &arn))?;
            Some((arn, id))
        })
        .collect()
}

fn replace_in(value: &mut Value, stale: &BTreeMap<&str, &str>) {
    match value {
        Value::String(s) => {
            if let Some(id) = stale.get(s.as_str()) {
                *s = (*id).to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in(v, stale)),
        _ => {}
    }
}

/// The trust policy as evaluated: entries whose bound entity is gone become its unique id.
pub(crate) fn effective_trust<'a>(
    st: &State,
    trust: &'a str,
    bindings: &BTreeMap<String, String>,
) -> Cow<'a, str> {
    let stale: BTreeMap<&str, &str> = bindings
        .iter()
        .filter(|(arn, id)| current_id(st, arn).as_deref() != Some(id.as_str()))
        .map(|(a, i)| (a.as_str(), i.as_str()))
        .collect();
    if stale.is_empty() {
        return Cow::Borrowed(trust);
    }
    let Ok(mut doc) = serde_json::from_str::<Value>(trust) else {
        return Cow::Borrowed(trust);
    };
    let statements: Vec<&mut Value> = match doc.get_mut("Statement") {
        Some(Value::Array(list)) => list.iter_mut().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    for s in statements {
        for key in ["Principal", "NotPrincipal"] {
            if let Some(aws) = s.get_mut(key).and_then(|p| p.get_mut("AWS")) {
                replace_in(aws, &stale);
            }
        }
    }
    Cow::Owned(doc.to_string())
}
