//! Grants in a KMS decision: whether a grant names the caller (GP1), lists the operation (GP2)
//! and its encryption-context constraints hold (GP3).

use crate::arn::split_arn;
use crate::principal::{is_account_id, MatchKinds, M_ACCOUNT, M_ROLE, M_SESSION, M_USER};
use crate::{Caller, Grant};
use std::collections::BTreeMap;

/// Principal kinds through which a grantee string names the caller (GP1), without allocating.
/// Exact string comparisons first; the ARN is split only for root and session grantees.
pub(super) fn grantee_kinds(grantee: &str, caller: &Caller) -> MatchKinds {
    match caller {
        Caller::User { arn, .. } if grantee == arn => return M_USER,
        Caller::AssumedRole { role_arn, .. } if grantee == role_arn => return M_ROLE,
        _ => {}
    }
    if grantee.len() == 12 {
        return if grantee == caller.account() && is_account_id(grantee) {
            M_ACCOUNT
        } else {
            0
        };
    }
    let session_like = match caller {
        Caller::AssumedRole { session_name, .. } => grantee.ends_with(session_name.as_str()),
        _ => false,
    };
    if !grantee.ends_with(":root") && !session_like {
        return 0;
    }
    let Some([arn, _partition, service, region, account, resource]) = split_arn(grantee) else {
        return 0;
    };
    if arn != "arn" || !region.is_empty() || account != caller.account() {
        return 0;
    }
    match (service, caller) {
        ("iam", _) if resource == "root" => M_ACCOUNT,
        (
            "sts",
            Caller::AssumedRole {
                role_name,
                session_name,
                ..
            },
        ) => match resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split_once('/'))
        {
            Some((r, s)) if r == role_name && s == session_name => M_SESSION,
            _ => 0,
        },
        _ => 0,
    }
}

/// The grant lists the operation (GP2; `ReEncrypt*` covers both halves).
pub(super) fn grant_has_operation(g: &Grant, action: &str) -> bool {
    let op = match action.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("kms:") => &action[4..],
        _ => return false,
    };
    g.operations.iter().any(|o| {
        o.eq_ignore_ascii_case(op)
            || (o.eq_ignore_ascii_case("ReEncrypt*")
                && op
                    .get(..9)
                    .is_some_and(|p| p.eq_ignore_ascii_case("ReEncrypt")))
    })
}

/// GP3: encryption-context constraints (case-sensitive); ignored for DescribeKey and RetireGrant.
pub(super) fn grant_constraints_ok(
    g: &Grant,
    action: &str,
    ec: Option<&BTreeMap<String, String>>,
) -> bool {
    let Some(c) = &g.constraints else {
        return true;
    };
    let op = action.get(4..).unwrap_or("");
    if op.eq_ignore_ascii_case("DescribeKey") || op.eq_ignore_ascii_case("RetireGrant") {
        return true;
    }
    let empty = BTreeMap::new();
    let ec = ec.unwrap_or(&empty);
    // "In a grant constraint, the key in each key-value pair is not case sensitive, but the
    // value is case sensitive" (KMS API reference, GrantConstraints).
    if let Some(eq) = &c.encryption_context_equals {
        if eq.len() != ec.len() || !eq.iter().all(|(k, v)| request_has_pair(ec, k, v)) {
            return false;
        }
    }
    if let Some(sub) = &c.encryption_context_subset {
        if !sub.iter().all(|(k, v)| request_has_pair(ec, k, v)) {
            return false;
        }
    }
    true
}

/// Does the request's encryption context hold a pair with key `key` (compared without
/// regard to case) and value exactly `value`?
fn request_has_pair(ec: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    if let Some(v) = ec.get(key) {
        if v == value {
            return true;
        }
    }
    ec.iter()
        .any(|(k, v)| v == value && k != key && keys_equal_ignoring_case(k, key))
}

fn keys_equal_ignoring_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}
