//! Tracers: what a decision records of its flowchart path (nothing, every step, or only the
//! evidence), and the evidence helpers.

use super::{Because, Node, PathStep};
use crate::evaluate::Req;
use crate::policy::Effect;
use crate::SourcedPolicy;

/// Receives the flowchart steps of a decision.
pub(super) trait Tracer {
    fn step(&mut self, node: Node, answer: bool, because: impl FnOnce() -> Vec<Because>);
}

/// Records nothing; evidence closures are never run.
pub(super) struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn step(&mut self, _: Node, _: bool, _: impl FnOnce() -> Vec<Because>) {}
}

/// Records every step with its question text.
pub(super) struct Trace {
    pub(super) questions: fn(Node) -> &'static str,
    pub(super) path: Vec<PathStep>,
}

impl Tracer for Trace {
    fn step(&mut self, node: Node, answer: bool, because: impl FnOnce() -> Vec<Because>) {
        self.path.push(PathStep {
            node,
            question: (self.questions)(node),
            answer,
            because: because(),
        });
    }
}

/// Records only the evidence of each step, in path order (what an audit record keeps), not
/// the path itself: no question texts, no per-step vectors.
pub(super) struct BecauseOnly {
    pub(super) because: Vec<Because>,
    /// The last node visited: where the path ended.
    pub(super) end: Option<Node>,
}

impl Tracer for BecauseOnly {
    fn step(&mut self, node: Node, _: bool, because: impl FnOnce() -> Vec<Because>) {
        self.end = Some(node);
        self.because.append(&mut because());
    }
}

pub(super) fn stmt(p: &SourcedPolicy, index: usize) -> Because {
    Because::Statement {
        policy_id: p.id.clone(),
        source_type: p.source_type,
        sid: p.policy.statement_sid(index).map(str::to_string),
        index,
    }
}

pub(super) fn note(s: impl Into<String>) -> Vec<Because> {
    vec![Because::Note(s.into())]
}

/// Every statement of `effect` applying in `policies`, as evidence.
pub(super) fn evidence(policies: &[&SourcedPolicy], effect: Effect, req: &Req<'_>) -> Vec<Because> {
    let mut out = Vec::new();
    for p in policies {
        for (i, _) in p.policy.all_applying(effect, req) {
            out.push(stmt(p, i));
        }
    }
    out
}
