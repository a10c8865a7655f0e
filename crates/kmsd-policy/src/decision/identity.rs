//! Identity-only decisions: IAM and STS actions in the caller's own account.

use super::trace::{NoTrace, Trace, Tracer};
use super::{n0, n2, Explanation, Iam, IdentityRequest, Node, Outcome};
use crate::evaluate::Req;

/// Decide an identity-only request (IAM and STS actions in the caller's own account).
pub fn decide_identity(req: &IdentityRequest<'_>) -> Outcome {
    identity(req, &mut NoTrace)
}

/// Traced identity-only decision.
pub fn explain_identity(req: &IdentityRequest<'_>) -> Explanation {
    let mut t = Trace {
        questions: Node::identity_question,
        path: Vec::new(),
    };
    let outcome = identity(req, &mut t);
    Explanation {
        outcome,
        path: t.path,
        message: outcome.message(&req.caller.arn(), req.action, req.resource),
    }
}

pub(super) fn identity<T: Tracer>(q: &IdentityRequest<'_>, t: &mut T) -> Outcome {
    let id_req = Req::new(None, q.action, q.resource, q.context);
    let mut iam = Iam::new(q.caller, q.caller_policies, q.action, q.resource, q.context);
    if let Some(o) = n0(t, q.caller_policies, &id_req) {
        return o;
    }
    if let Some(o) = n2(t, &iam) {
        return o;
    }
    let ok = iam.iam_ok();
    t.step(Node::N6, ok, || {
        Iam::new(q.caller, q.caller_policies, q.action, q.resource, q.context).allow_evidence()
    });
    if ok {
        Outcome::ALLOW
    } else {
        Outcome::implicit(iam.blame())
    }
}
