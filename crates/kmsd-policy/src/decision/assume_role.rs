//! The `sts:AssumeRole` decision (§6): the role's trust policy and the caller's identity policies.

use super::trace::{note, stmt, NoTrace, Trace, Tracer};
use super::{
    account_of, n0, n2, resource_allows, resource_evidence, AssumeRoleRequest, DenyReason,
    Explanation, Iam, Node, Outcome,
};
use crate::evaluate::Req;
use crate::policy::Effect;
use crate::principal::{M_ACCOUNT, M_DIRECT};

/// Decide `sts:AssumeRole` (trust policy plus the caller's identity policy).
pub fn decide_assume_role(req: &AssumeRoleRequest<'_>) -> Outcome {
    assume_role(req, &mut NoTrace)
}

/// Traced AssumeRole decision.
pub fn explain_assume_role(req: &AssumeRoleRequest<'_>) -> Explanation {
    let mut t = Trace {
        questions: Node::assume_role_question,
        path: Vec::new(),
    };
    let outcome = assume_role(req, &mut t);
    Explanation {
        outcome,
        path: t.path,
        message: outcome.message(&req.caller.arn(), ASSUME_ROLE, req.role_arn),
    }
}

const ASSUME_ROLE: &str = "sts:AssumeRole";

fn assume_role<T: Tracer>(q: &AssumeRoleRequest<'_>, t: &mut T) -> Outcome {
    let caller = q.caller;
    let role_account = account_of(q.role_arn);
    let same = caller.account() == role_account;
    let r = Req::new(Some(caller), ASSUME_ROLE, q.role_arn, q.context);
    let id_req = Req { caller: None, ..r };
    let tp = q.trust_policy;
    let mut iam = Iam::new(
        caller,
        q.caller_policies,
        ASSUME_ROLE,
        q.role_arn,
        q.context,
    );
    let evid = |q: &AssumeRoleRequest<'_>| {
        Iam::new(
            q.caller,
            q.caller_policies,
            ASSUME_ROLE,
            q.role_arn,
            q.context,
        )
        .allow_evidence()
    };

    if let Some(o) = n0(t, q.caller_policies, &id_req) {
        return o;
    }
    if let Some(i) = tp.policy.first_applying(Effect::Deny, &r) {
        t.step(Node::N1, true, || vec![stmt(tp, i)]);
        return Outcome::explicit(DenyReason::ResourceBased);
    }
    t.step(Node::N1, false, Vec::new);
    if let Some(o) = n2(t, &iam) {
        return o;
    }
    if caller.is_root() {
        // AWS does not let the root user assume roles.
        t.step(Node::N3, false, || {
            note("the account root user cannot assume roles")
        });
        return Outcome::implicit(DenyReason::ResourceBased);
    }
    let (direct_kinds, account_allow) = resource_allows(tp, &r);
    let direct_ok = direct_kinds != 0 && iam.limit_ok(direct_kinds);
    t.step(Node::N3, direct_ok, || resource_evidence(tp, &r, M_DIRECT));
    if direct_ok {
        if same {
            t.step(Node::T1, true, Vec::new);
            return Outcome::ALLOW;
        }
        let ok = iam.iam_ok();
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from role account {role_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, ok, || evid(q));
        return if ok {
            Outcome::ALLOW
        } else {
            Outcome::implicit(iam.blame())
        };
    }
    t.step(Node::N5, account_allow, || {
        resource_evidence(tp, &r, M_ACCOUNT)
    });
    if !account_allow {
        return Outcome::implicit(DenyReason::ResourceBased);
    }
    let ok = iam.iam_ok();
    t.step(Node::N6, ok, || evid(q));
    if !ok {
        return Outcome::implicit(iam.blame());
    }
    if same {
        t.step(Node::T1, true, Vec::new);
    } else {
        t.step(Node::T1, false, || {
            note(format!(
                "caller account {} differs from role account {role_account}",
                caller.account()
            ))
        });
        t.step(Node::T2, true, || evid(q));
    }
    Outcome::ALLOW
}
