//! IAM's policy simulator (`SimulateCustomPolicy`, `SimulatePrincipalPolicy`; §7.2): one action on
//! one resource against identity policies, an optional resource policy and an optional
//! permissions boundary, with the matched statements (positions included) and the condition keys
//! the relevant statements need but the context lacks.
//!
//! Like AWS's simulator, this applies the general IAM rules (explicit deny wins; identity allow
//! within the boundary, or resource-policy allow) and not the KMS key-policy rules.

use crate::evaluate::Req;
use crate::policy::Effect;
use crate::{Caller, PolicySourceType, RequestContext, SourcedPolicy};

/// `EvalDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvalDecision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl EvalDecision {
    /// The wire value: `allowed`, `explicitDeny`, `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalDecision::Allowed => "allowed",
            EvalDecision::ExplicitDeny => "explicitDeny",
            EvalDecision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// One entry of `MatchedStatements`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// `SourcePolicyId`.
    pub source_policy_id: String,
    /// `SourcePolicyType` (see [`PolicySourceType::as_str`]).
    pub source_policy_type: PolicySourceType,
    pub sid: Option<String>,
    /// 0-based statement index.
    pub index: usize,
    /// `StartPosition` (line, column), 1-based.
    pub start: (usize, usize),
    /// `EndPosition` (line, column), 1-based, just after the closing `}`.
    pub end: (usize, usize),
}

/// The input of one simulation.
#[derive(Debug, Clone, Copy)]
pub struct SimulationRequest<'a> {
    /// Identity policies (`PolicyInputList`, or the principal's policies).
    pub policies: &'a [SourcedPolicy],
    /// `ResourcePolicy` (a resource policy with Principal elements), if any.
    pub resource_policy: Option<&'a SourcedPolicy>,
    /// `PermissionsBoundaryPolicyInputList` (or the principal's boundary), if any.
    pub boundary: Option<&'a SourcedPolicy>,
    /// The simulated caller (`CallerArn`), used to match resource-policy principals.
    pub caller: Option<&'a Caller>,
    pub action: &'a str,
    /// Resource ARN or `*`.
    pub resource: &'a str,
    pub context: &'a RequestContext,
}

/// The output of one simulation (`EvaluationResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    pub decision: EvalDecision,
    /// On explicit deny only the applying Deny statements; on allow the applying Allow statements.
    pub matched_statements: Vec<MatchedStatement>,
    /// Condition keys referenced by statements relevant to this action and resource (action and
    /// resource match) that the context does not supply. Names as written in the policy.
    pub missing_context_values: Vec<String>,
    /// `PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary`; `None` without a boundary.
    pub allowed_by_boundary: Option<bool>,
}

/// Run the simulator for one action and resource.
pub fn simulate(req: &SimulationRequest<'_>) -> SimulationResult {
    let id_req = Req::new(None, req.action, req.resource, req.context);
    let res_req = Req {
        caller: req.caller,
        ..id_req
    };
    let mut all: Vec<(&SourcedPolicy, &Req<'_>)> =
        req.policies.iter().map(|p| (p, &id_req)).collect();
    if let Some(rp) = req.resource_policy {
        all.push((rp, &res_req));
    }
    let with_boundary: Vec<(&SourcedPolicy, &Req<'_>)> = all
        .iter()
        .copied()
        .chain(req.boundary.map(|b| (b, &id_req)))
        .collect();

    let matched = |list: &[(&SourcedPolicy, &Req<'_>)], effect: Effect| -> Vec<MatchedStatement> {
        let mut out = Vec::new();
        for (p, r) in list {
            for (i, _) in p.policy.all_applying(effect, r) {
                let (start, end) = p.policy.statement_position(i).unwrap_or(((0, 0), (0, 0)));
                out.push(MatchedStatement {
                    source_policy_id: p.id.clone(),
                    source_policy_type: p.source_type,
                    sid: p.policy.statement_sid(i).map(str::to_string),
                    index: i,
                    start,
                    end,
                });
            }
        }
        out
    };

    let missing_context_values = missing_keys(&with_boundary, req);
    let allowed_by_boundary = req
        .boundary
        .map(|b| b.policy.first_applying(Effect::Allow, &id_req).is_some());

    let denies = matched(&with_boundary, Effect::Deny);
    if !denies.is_empty() {
        return SimulationResult {
            decision: EvalDecision::ExplicitDeny,
            matched_statements: denies,
            missing_context_values,
            allowed_by_boundary,
        };
    }
    let id_allow = req
        .policies
        .iter()
        .any(|p| p.policy.first_applying(Effect::Allow, &id_req).is_some());
    let rp_allow = req
        .resource_policy
        .is_some_and(|p| p.policy.first_applying(Effect::Allow, &res_req).is_some());
    let allowed = (id_allow && allowed_by_boundary.unwrap_or(true)) || rp_allow;
    SimulationResult {
        decision: if allowed {
            EvalDecision::Allowed
        } else {
            EvalDecision::ImplicitDeny
        },
        matched_statements: if allowed {
            matched(&all, Effect::Allow)
        } else {
            Vec::new()
        },
        missing_context_values,
        allowed_by_boundary,
    }
}

fn missing_keys(list: &[(&SourcedPolicy, &Req<'_>)], req: &SimulationRequest<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (p, _) in list {
        let kind = p.policy.kind();
        for s in &p.policy.statements {
            if !s.relevant(kind, req.action, req.resource, req.context) {
                continue;
            }
            for c in s.conditions.iter() {
                let mut keys = Vec::new();
                c.keys_as_written(&mut keys);
                for k in keys {
                    if req.context.get(&k).is_none()
                        && !out.iter().any(|o| o.eq_ignore_ascii_case(&k))
                    {
                        out.push(k);
                    }
                }
            }
        }
    }
    out
}
