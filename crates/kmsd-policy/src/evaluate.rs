//! One compiled policy against one request: which statements apply (§2, §3, E2).
//!
//! Checks run cheapest first (effect, action, principal, resource, conditions) and allocate only
//! when a policy variable must be substituted.

use crate::caller::Caller;
use crate::context::RequestContext;
use crate::policy::{Effect, Policy, PolicyKind, Statement};
use crate::principal::{MatchKinds, M_STAR};

/// The request facts a statement is matched against.
#[derive(Clone, Copy)]
pub(crate) struct Req<'a> {
    /// `None` for policies that have no Principal element (identity grammar).
    pub caller: Option<&'a Caller>,
    pub action: &'a str,
    pub resource: &'a str,
    /// `resource` split into its six ARN parts once per request (`None`: not an ARN).
    pub parts: Option<[&'a str; 6]>,
    pub ctx: &'a RequestContext,
}

impl<'a> Req<'a> {
    pub fn new(
        caller: Option<&'a Caller>,
        action: &'a str,
        resource: &'a str,
        ctx: &'a RequestContext,
    ) -> Req<'a> {
        Req {
            caller,
            action,
            resource,
            parts: crate::arn::split_arn(resource),
            ctx,
        }
    }
}

impl Statement {
    #[inline]
    pub(crate) fn action_matches(&self, action: &str) -> bool {
        let any = self.actions.globs.iter().any(|g| g.matches(action, true));
        any != self.actions.not
    }

    /// Resource clause; a statement without a Resource element applies only in trust policies.
    #[inline]
    pub(crate) fn resource_matches(
        &self,
        kind: PolicyKind,
        resource: &str,
        parts: Option<&[&str; 6]>,
        ctx: &RequestContext,
    ) -> bool {
        match &self.resources {
            None => kind == PolicyKind::Trust,
            Some(r) => {
                let any = r
                    .patterns
                    .iter()
                    .any(|p| p.matches_parts(resource, parts, ctx));
                any != r.not
            }
        }
    }

    #[inline]
    pub(crate) fn conditions_hold(&self, ctx: &RequestContext) -> bool {
        self.conditions.iter().all(|c| c.eval(ctx))
    }

    /// Principal kinds through which the statement applies (`M_STAR` when the policy has no
    /// Principal element or no caller is given).
    #[inline]
    pub(crate) fn principal_kinds(&self, caller: Option<&Caller>) -> MatchKinds {
        match (&self.principal, caller) {
            (Some(p), Some(c)) => p.match_kinds(c),
            (Some(_), None) => 0,
            (None, _) => M_STAR,
        }
    }

    /// E2: principal ∧ action ∧ resource ∧ conditions. Returns the matched principal kinds
    /// (0 = does not apply).
    #[inline]
    pub(crate) fn applies(&self, kind: PolicyKind, req: &Req<'_>) -> MatchKinds {
        // Principal first: in resource policies most statements name someone else, and that
        // is cheaper to rule out than a long action list.
        let kinds = self.principal_kinds(req.caller);
        if kinds == 0 || !self.action_matches(req.action) {
            return 0;
        }
        if !self.resource_matches(kind, req.resource, req.parts.as_ref(), req.ctx)
            || !self.conditions_hold(req.ctx)
        {
            return 0;
        }
        kinds
    }

    /// Action and resource match (ignoring principal and conditions): the statement is
    /// relevant to the request (for MissingContextValues).
    pub(crate) fn relevant(
        &self,
        kind: PolicyKind,
        action: &str,
        resource: &str,
        ctx: &RequestContext,
    ) -> bool {
        self.action_matches(action)
            && self.resource_matches(
                kind,
                resource,
                crate::arn::split_arn(resource).as_ref(),
                ctx,
            )
    }
}

impl Policy {
    /// Index of the first statement with `effect` that applies, if any.
    #[inline]
    pub(crate) fn first_applying(&self, effect: Effect, req: &Req<'_>) -> Option<usize> {
        let kind = self.kind();
        self.statements
            .iter()
            .position(|s| s.effect == effect && s.applies(kind, req) != 0)
    }

    /// Every statement with `effect` that applies, with the principal kinds it matched through.
    pub(crate) fn all_applying(&self, effect: Effect, req: &Req<'_>) -> Vec<(usize, MatchKinds)> {
        let kind = self.kind();
        self.statements
            .iter()
            .enumerate()
            .filter(|(_, s)| s.effect == effect)
            .filter_map(|(i, s)| {
                let k = s.applies(kind, req);
                (k != 0).then_some((i, k))
            })
            .collect()
    }

    /// Does any statement's principal clause name this caller (any effect, ignoring action,
    /// resource and conditions)? Used to decide whether a key is visible to a caller (§7.1).
    pub(crate) fn mentions(&self, caller: &Caller) -> bool {
        self.statements.iter().any(|s| {
            s.principal
                .as_ref()
                .is_some_and(|p| p.match_kinds(caller) != 0)
        })
    }
}
