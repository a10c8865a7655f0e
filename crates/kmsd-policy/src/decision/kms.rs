//! The KMS decision (§5): key policy, the caller's IAM policies and grants, walked along the
//! nodes of the *Troubleshooting key access* flowchart.

use super::grant::{grant_constraints_ok, grant_has_operation, grantee_kinds};
use super::trace::{note, stmt, BecauseOnly, NoTrace, Trace, Tracer};
use super::{
    account_of, n0, n2, resource_allows, resource_evidence, Because, DenyReason, Explanation, Iam,
    KmsRequest, Node, Outcome,
};
use crate::evaluate::Req;
use crate::policy::Effect;
use crate::principal::{M_ACCOUNT, M_DIRECT};

/// E10: operations that can succeed across accounts.
pub(crate) fn cross_account_capable(action: &str) -> bool {
    let op = match action.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("kms:") => &action[4..],
        _ => return false,
    };
    const OK: &[&str] = &[
        "Encrypt",
        "Decrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
        "GetPublicKey",
        "CreateGrant",
        "DescribeKey",
        "GetKeyRotationStatus",
        "ListGrants",
        "RetireGrant",
        "RevokeGrant",
    ];
    OK.iter().any(|o| o.eq_ignore_ascii_case(op))
}

/// Decide a KMS request (untraced hot path).
pub fn decide_kms(req: &KmsRequest<'_>) -> Outcome {
    kms(req, &mut NoTrace)
}

/// Decide a KMS request and trace the flowchart path.
pub fn explain_kms(req: &KmsRequest<'_>) -> Explanation {
    let mut t = Trace {
        questions: Node::kms_question,
        path: Vec::new(),
    };
    let outcome = kms(req, &mut t);
    Explanation {
        outcome,
        path: t.path,
        message: outcome.message(&req.caller.arn(), req.action, req.key_arn),
    }
}

/// A decision with the evidence of every step of its flowchart path, in path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub outcome: Outcome,
    /// The `because` of each [`PathStep`] of [`explain_kms`]'s path, concatenated.
    pub because: Vec<Because>,
    /// The node of the path's last step (where the flowchart ended).
    pub end: Option<Node>,
}

/// Decide a KMS request and keep only the evidence along the path: the same outcome and the
/// same statements, grants and notes, in the same order, as [`explain_kms`]'s path carries
/// (one generic decision runs under both), without the path steps, the question texts and
/// the denial message (see [`Outcome::message`]). The hot path of KMS operations, whose audit
/// records name the deciding statements.
pub fn decide_kms_because(req: &KmsRequest<'_>) -> Decided {
    // A KMS path has at most nine steps, each with a reason or two: one allocation.
    let mut t = BecauseOnly {
        because: Vec::with_capacity(8),
        end: None,
    };
    let outcome = kms(req, &mut t);
    Decided {
        outcome,
        because: t.because,
        end: t.end,
    }
}

pub(super) fn kms<T: Tracer>(q: &KmsRequest<'_>, t: &mut T) -> Outcome {
    let caller = q.caller;
    let key_account = account_of(q.key_arn);
    let same = caller.account() == key_account;
    let r = Req::new(Some(caller), q.action, q.key_arn, q.context);
    let id_req = Req { caller: None, ..r };
    let kp = q.key_policy;
    let mut iam = Iam::from_req(caller, q.caller_policies, id_req);
    // The identity side's evidence, on a fresh `Iam` over the same (already split) request.
    let iam_evidence = || Iam::from_req(caller, q.caller_policies, id_req).allow_evidence();

    // N0
    if let Some(o) = n0(t, q.caller_policies, &id_req) {
        return o;
    }
    // N1
    if let Some(i) = kp.policy.first_applying(Effect::Deny, &r) {
        t.step(Node::N1, true, || vec![stmt(kp, i)]);
        return Outcome::explicit(DenyReason::ResourceBased);
    }
    t.step(Node::N1, false, Vec::new);
    // N2
    if let Some(o) = n2(t, &iam) {
        return o;
    }
    let not_visible = || {
        !same
            && !kp.policy.mentions(caller)
            && !q
                .grants
                .iter()
                .any(|g| grantee_kinds(&g.grantee_principal, caller) != 0)
    };
    let resource_deny = |hidden: bool| {
        Outcome::implicit(if hidden {
            DenyReason::ResourceNotVisible
        } else {
            DenyReason::ResourceBased
        })
    };
    // E10
    if !same && !cross_account_capable(q.action) {
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from key account {key_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, false, || {
            note(format!("{} cannot be used across accounts", q.action))
        });
        return resource_deny(not_visible());
    }

    // Allow sources.
    let (direct_kinds, account_allow) = resource_allows(kp, &r);
    let direct_ok = direct_kinds != 0 && iam.limit_ok(direct_kinds);
    // Grants are looked at only when the flowchart gets to them.
    let find_grant = |iam: &mut Iam<'_>| -> Option<usize> {
        for (gi, g) in q.grants.iter().enumerate() {
            let kinds = grantee_kinds(&g.grantee_principal, caller);
            if kinds == 0
                || !grant_has_operation(g, q.action)
                || !grant_constraints_ok(g, q.action, q.encryption_context)
            {
                continue;
            }
            let ok = if kinds == M_ACCOUNT {
                iam.iam_ok()
            } else {
                iam.limit_ok(kinds)
            };
            if ok {
                return Some(gi);
            }
        }
        None
    };
    let grant_evidence = |grant_hit: Option<usize>| -> Vec<Because> {
        match grant_hit {
            Some(gi) => q
                .grants
                .get(gi)
                .map(|g| {
                    vec![Because::Grant {
                        grant_id: g.grant_id.clone(),
                        name: g.name.clone(),
                    }]
                })
                .unwrap_or_default(),
            None => {
                note("no grant for the caller allows this operation with this encryption context")
            }
        }
    };

    // N3
    t.step(Node::N3, direct_ok, || {
        if direct_kinds != 0 && !direct_ok {
            let mut v = resource_evidence(kp, &r, M_DIRECT);
            v.push(Because::Note(
                "the statement names the role (or \"*\" for a role session), so the permissions boundary and session policy limit it, and they do not allow the action".into(),
            ));
            v
        } else if direct_kinds == 0 {
            note(format!(
                "no Allow statement of the key policy names the caller (user, role, session or \"*\") for {} with these conditions",
                q.action
            ))
        } else {
            resource_evidence(kp, &r, M_DIRECT)
        }
    });
    if direct_ok {
        if same {
            t.step(Node::T1, true, || same_account(key_account));
            return Outcome::ALLOW;
        }
        if iam.iam_ok() {
            t.step(Node::T1, false, || {
                note(format!(
                    "caller account {} differs from key account {key_account}",
                    caller.account()
                ))
            });
            t.step(Node::T2, true, iam_evidence);
            return Outcome::ALLOW;
        }
        if let Some(gi) = find_grant(&mut iam) {
            t.step(Node::N4, true, || grant_evidence(Some(gi)));
            return Outcome::ALLOW;
        }
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from key account {key_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, false, iam_evidence);
        return Outcome::implicit(iam.blame());
    }
    // N4
    let grant_hit = find_grant(&mut iam);
    t.step(Node::N4, grant_hit.is_some(), || grant_evidence(grant_hit));
    if grant_hit.is_some() {
        return Outcome::ALLOW;
    }
    // N5
    t.step(Node::N5, account_allow, || {
        if account_allow {
            resource_evidence(kp, &r, M_ACCOUNT)
        } else {
            note(format!(
                "no Allow statement of the key policy names account {} (or its root user) for {} with these conditions",
                caller.account(),
                q.action
            ))
        }
    });
    if !account_allow {
        return resource_deny(not_visible());
    }
    // N6
    let iam_ok = iam.iam_ok();
    t.step(Node::N6, iam_ok, iam_evidence);
    if !iam_ok {
        return Outcome::implicit(iam.blame());
    }
    // T1 / T2
    if same {
        t.step(Node::T1, true, || same_account(key_account));
        return Outcome::ALLOW;
    }
    t.step(Node::T1, false, || {
        note(format!(
            "caller account {} differs from key account {key_account}",
            caller.account()
        ))
    });
    t.step(Node::T2, true, iam_evidence);
    Outcome::ALLOW
}

fn same_account(account: &str) -> Vec<Because> {
    note(format!(
        "the caller and the resource are in account {account}"
    ))
}
