//! IAM's policy simulator, `SimulatePrincipalPolicy` and `SimulateCustomPolicy`, over
//! `kmsd_policy::simulate`: the policies of the source (a user, group or role's, or the
//! documents given), the simulated caller, the authorization of the simulator calls
//! themselves, the request context from `ContextEntries`, and one [`EvaluationResult`] per
//! action and resource. When a resource is a KMS key on this server and no
//! `ResourcePolicy` is given, the key's policy (and its tags and aliases as context) are
//! used, and a `kms:` action is decided as KMS decides it.

use std::sync::Arc;

use kmsd_policy::{
    simulate, Because, Caller, Decision, EvalDecision, Explanation, MatchedStatement, Policy,
    PolicyKind, PolicySourceType, RequestContext, SimulationRequest, SimulationResult,
    SourcedPolicy,
};

use super::model::ParsedArn;
use super::op::IamOp;
use super::params::Params;
use super::{resolve, Actor, Iam};
use crate::error::{ApiError, ErrorCode, IamError};
use crate::kms::Kms;
use crate::principal::Principal;

/// One member of `EvaluationResults`: an action on a resource and the simulator's answer.
#[derive(Debug, Clone)]
pub struct EvaluationResult {
    pub action: String,
    pub resource: String,
    /// Decision, matched statements, missing context values, the boundary's part.
    pub result: SimulationResult,
    /// `EvalDecisionDetails`: absent (`None`) for resource `*`; empty within one account;
    /// per policy type (`IAM Policy`, `Resource Policy`) for a cross-account simulation.
    pub details: Option<Vec<(&'static str, EvalDecision)>>,
}

/// The policies a simulation evaluates for a policy source.
#[derive(Debug, Clone)]
pub struct SimulationSource {
    /// The principal simulated (users and roles; a role is simulated as a session named
    /// `kmsd-explain`); `None` for groups.
    pub principal: Option<Principal>,
    pub policies: Vec<SourcedPolicy>,
    pub boundary: Option<SourcedPolicy>,
}

impl SimulationSource {
    /// The simulated caller, for matching resource-policy principals.
    pub fn caller(&self) -> Option<&Caller> {
        self.principal.as_ref().map(|p| &p.caller)
    }
}

impl Iam {
    /// SimulatePrincipalPolicy's source: authorize `iam:SimulatePrincipalPolicy` on the
    /// source ARN (in the caller's account), then collect its policies.
    pub fn simulation_source(
        &self,
        actor: &mut Actor<'_>,
        policy_source_arn: &str,
    ) -> Result<SimulationSource, ApiError> {
        let parsed = super::model::parse_arn(policy_source_arn).ok_or_else(|| {
            ApiError::new(
                IamError::InvalidInput,
                format!("Invalid ARN: {policy_source_arn}. PolicySourceArn must be a user, group or role ARN."),
            )
        })?;
        self.authorize(
            actor,
            "iam:SimulatePrincipalPolicy",
            policy_source_arn,
            &|_| {},
        )?;
        let no_such = || {
            ApiError::new(
                IamError::NoSuchEntity,
                format!("The entity {policy_source_arn} cannot be found."),
            )
        };
        let account = actor.account();
        match parsed {
            ParsedArn::User { account: a, .. } | ParsedArn::Role { account: a, .. }
                if a == account =>
            {
                let p = self
                    .principal_for_arn(policy_source_arn, None)
                    .map_err(|e| {
                        if e.code == ErrorCode::IamError(IamError::NoSuchEntity) {
                            no_such()
                        } else {
                            e
                        }
                    })?;
                Ok(SimulationSource {
                    policies: p.policies.identity.clone(),
                    boundary: p.policies.boundary.clone(),
                    principal: Some(p),
                })
            }
            ParsedArn::Group {
                account: a,
                path,
                name,
            } if a == account => {
                let st = self.read();
                let g = st
                    .group(&a, &name)
                    .filter(|g| g.path == path && g.name == name)
                    .ok_or_else(no_such)?;
                let mut policies = Vec::new();
                for (n, doc) in &g.inline {
                    policies.push(resolve::compile(
                        n,
                        PolicySourceType::Group,
                        doc,
                        PolicyKind::Identity,
                    )?);
                }
                for arn in &g.managed {
                    let p = st.policy_by_arn(arn).ok_or_else(no_such)?;
                    let doc = p.default_document().unwrap_or_default();
                    policies.push(resolve::compile(
                        arn,
                        PolicySourceType::UserManaged,
                        doc,
                        PolicyKind::Identity,
                    )?);
                }
                Ok(SimulationSource {
                    principal: None,
                    policies,
                    boundary: None,
                })
            }
            _ => Err(no_such()),
        }
    }

    /// Authorize `iam:SimulateCustomPolicy` (resource `*`).
    fn authorize_simulate_custom(&self, actor: &mut Actor<'_>) -> Result<(), ApiError> {
        if actor.principal.caller.is_root() {
            actor.record(kmsd_policy::Decision::Allow);
            return Ok(());
        }
        self.authorize(actor, "iam:SimulateCustomPolicy", "*", &|_| {})
    }

    /// Run a simulation (`op` is SimulatePrincipalPolicy or SimulateCustomPolicy):
    /// authorize it, compile the policies given, and evaluate every action on every
    /// resource (`*` when none is given).
    pub(crate) fn simulate(
        &self,
        kms: &Kms,
        actor: &mut Actor<'_>,
        op: IamOp,
        p: &Params,
    ) -> Result<Vec<EvaluationResult>, ApiError> {
        let source = if op == IamOp::SimulatePrincipalPolicy {
            let arn = p.required("PolicySourceArn")?;
            let mut src = self.simulation_source(actor, arn)?;
            for (i, doc) in p.list("PolicyInputList").iter().enumerate() {
                src.policies.push(compile(
                    &format!("PolicyInputList.{}", i + 1),
                    PolicySourceType::None,
                    doc,
                    PolicyKind::Identity,
                )?);
            }
            src
        } else {
            self.authorize_simulate_custom(actor)?;
            let docs = p.list("PolicyInputList");
            if docs.is_empty() {
                p.required("PolicyInputList.member.1")?;
            }
            let mut policies = Vec::new();
            for (i, doc) in docs.iter().enumerate() {
                policies.push(compile(
                    &format!("PolicyInputList.{}", i + 1),
                    PolicySourceType::None,
                    doc,
                    PolicyKind::Identity,
                )?);
            }
            SimulationSource {
                principal: None,
                policies,
                boundary: None,
            }
        };
        let boundary = match p.list("PermissionsBoundaryPolicyInputList").first() {
            Some(doc) => Some(compile(
                "PermissionsBoundaryPolicyInputList.1",
                PolicySourceType::PermissionsBoundary,
                doc,
                PolicyKind::Boundary,
            )?),
            None => source.boundary.clone(),
        };
        let actions = p.list("ActionNames");
        if actions.is_empty() {
            p.required("ActionNames.member.1")
                .map_err(|_| ApiError::new(IamError::ValidationError, "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null"))?;
        }
        // A KMS action or a kms:/aws: condition key that does not exist is a typo, not a
        // question: refuse it, naming the nearest valid name.
        for act in &actions {
            if act
                .split(':')
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case("kms"))
            {
                kmsd_policy::validate::catalog::check_request_action(act).map_err(invalid)?;
            }
        }
        for (_, name) in p.struct_members("ContextEntries", "ContextKeyName") {
            let service = name.split(':').next().unwrap_or("").to_ascii_lowercase();
            if service == "kms" || service == "aws" {
                kmsd_policy::validate::catalog::check_request_condition_key(&name)
                    .map_err(invalid)?;
            }
        }
        let mut resources = p.list("ResourceArns");
        if resources.is_empty() {
            resources.push("*".to_string());
        }
        let given_resource_policy = p
            .get("ResourcePolicy")
            .map(|doc| {
                compile(
                    "ResourcePolicy",
                    PolicySourceType::Resource,
                    doc,
                    PolicyKind::Key,
                )
            })
            .transpose()?;
        let caller_principal = match p.get("CallerArn") {
            Some(arn) => Some(
                self.principal_for_arn(arn, None)
                    .map_err(|e| invalid(e.message.unwrap_or_default()))?,
            ),
            None => source.principal.clone(),
        };
        let mut base = RequestContext::new();
        if let Some(pr) = &caller_principal {
            pr.add_to_context(&mut base);
        }
        context_entries(p, &mut base)?;

        let mut out = Vec::with_capacity(actions.len().saturating_mul(resources.len()));
        for act in &actions {
            for res in &resources {
                out.push(evaluate(
                    kms,
                    &Question {
                        source: &source,
                        boundary: boundary.as_ref(),
                        given_resource_policy: given_resource_policy.as_ref(),
                        caller: caller_principal.as_ref(),
                        base: &base,
                    },
                    act,
                    res,
                ));
            }
        }
        Ok(out)
    }
}

/// What every evaluation of one simulation shares.
struct Question<'q> {
    source: &'q SimulationSource,
    boundary: Option<&'q SourcedPolicy>,
    given_resource_policy: Option<&'q SourcedPolicy>,
    caller: Option<&'q Principal>,
    base: &'q RequestContext,
}

/// One action on one resource.
fn evaluate(kms: &Kms, q: &Question<'_>, act: &str, res: &str) -> EvaluationResult {
    let mut ctx = q.base.clone();
    let view = if q.given_resource_policy.is_none() && res.starts_with("arn:aws:kms:") {
        kms.key_authz_view(res)
    } else {
        None
    };
    if let Some(v) = &view {
        for (k, val) in &v.tags {
            if ctx.get(&format!("aws:ResourceTag/{k}")).is_none() {
                ctx.set(&format!("aws:ResourceTag/{k}"), val.clone());
            }
        }
        if ctx.get("kms:ResourceAliases").is_none() {
            ctx.set_multi("kms:ResourceAliases", v.aliases.clone());
        }
    }
    let resource_policy = q.given_resource_policy.or(view.as_ref().map(|v| &v.policy));
    let caller = q.caller.map(|p| &p.caller);
    let mut result = simulate(&SimulationRequest {
        policies: &q.source.policies,
        resource_policy,
        boundary: q.boundary,
        caller,
        action: act,
        resource: res,
        context: &ctx,
    });
    // A key on this server: decide as KMS does (key policy delegation, grants), which
    // IAM's generic simulator does not model.
    if let (Some(v), Some(pr)) = (&view, q.caller) {
        if act.to_ascii_lowercase().starts_with("kms:") {
            if let Ok(e) = kms.explain(pr, act, res, &v.region, &ctx, None) {
                kms_override(&mut result, &e, &q.source.policies, &v.policy, q.boundary);
            }
        }
    }
    // EvalDecisionDetails (AWS: absent for `*`, present but empty within one account, per
    // policy type for a cross-account simulation).
    let details = (res != "*").then(|| {
        let resource_account = res.split(':').nth(4).filter(|a| !a.is_empty());
        let cross = match (q.caller, resource_account) {
            (Some(pr), Some(acct)) => pr.caller.account() != acct,
            _ => false,
        };
        if !cross {
            return Vec::new();
        }
        let identity_side = simulate(&SimulationRequest {
            policies: &q.source.policies,
            resource_policy: None,
            boundary: q.boundary,
            caller,
            action: act,
            resource: res,
            context: &ctx,
        })
        .decision;
        let resource_side = match resource_policy {
            Some(rp) => {
                simulate(&SimulationRequest {
                    policies: &[],
                    resource_policy: Some(rp),
                    boundary: None,
                    caller,
                    action: act,
                    resource: res,
                    context: &ctx,
                })
                .decision
            }
            None => EvalDecision::ImplicitDeny,
        };
        vec![
            ("IAM Policy", identity_side),
            ("Resource Policy", resource_side),
        ]
    });
    EvaluationResult {
        action: act.to_string(),
        resource: res.to_string(),
        result,
        details,
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(IamError::InvalidInput, msg)
}

/// A policy document given to the simulator, compiled (`InvalidInput` naming it when it
/// is not a valid policy).
fn compile(
    id: &str,
    source: PolicySourceType,
    text: &str,
    kind: PolicyKind,
) -> Result<SourcedPolicy, ApiError> {
    let policy = Policy::parse(text, kind)
        .map_err(|e| invalid(format!("{id} is not a valid policy: {e}")))?;
    Ok(SourcedPolicy {
        id: id.to_string(),
        source_type: source,
        policy: Arc::new(policy),
    })
}

/// The ContextEntries of the request.
fn context_entries(p: &Params, ctx: &mut RequestContext) -> Result<(), ApiError> {
    const TYPES: [&str; 12] = [
        "string",
        "stringList",
        "numeric",
        "numericList",
        "boolean",
        "booleanList",
        "ip",
        "ipList",
        "binary",
        "binaryList",
        "date",
        "dateList",
    ];
    for (n, name) in p.struct_members("ContextEntries", "ContextKeyName") {
        let values = p.list(&format!("ContextEntries.member.{n}.ContextKeyValues"));
        let ty = p
            .get(&format!("ContextEntries.member.{n}.ContextKeyType"))
            .unwrap_or("string");
        if !TYPES.contains(&ty) {
            return Err(ApiError::new(
                IamError::ValidationError,
                format!("1 validation error detected: Value '{ty}' at 'contextEntries.{n}.member.contextKeyType' failed to satisfy constraint: Member must satisfy enum value set: [{}]", TYPES.join(", ")),
            ));
        }
        if ty.ends_with("List") {
            ctx.set_multi(&name, values);
        } else {
            match values.as_slice() {
                [one] => ctx.set(&name, one.clone()),
                _ => {
                    return Err(invalid(format!(
                        "Context key {name} of type {ty} takes exactly one value."
                    )))
                }
            }
        }
    }
    Ok(())
}

/// Replace a generic simulation's decision and matched statements with the KMS decision.
fn kms_override(
    result: &mut SimulationResult,
    e: &Explanation,
    identity: &[SourcedPolicy],
    key_policy: &SourcedPolicy,
    boundary: Option<&SourcedPolicy>,
) {
    result.decision = match e.outcome.decision {
        Decision::Allow => EvalDecision::Allowed,
        Decision::ExplicitDeny => EvalDecision::ExplicitDeny,
        Decision::ImplicitDeny => EvalDecision::ImplicitDeny,
    };
    let mut matched: Vec<MatchedStatement> = Vec::new();
    if result.decision != EvalDecision::ImplicitDeny {
        for step in e.path.iter().filter(|s| s.answer) {
            for b in &step.because {
                let Because::Statement {
                    policy_id,
                    source_type,
                    sid,
                    index,
                } = b
                else {
                    continue;
                };
                if matched
                    .iter()
                    .any(|m| m.source_policy_id == *policy_id && m.index == *index)
                {
                    continue;
                }
                let policy = std::iter::once(key_policy)
                    .chain(identity.iter())
                    .chain(boundary)
                    .find(|p| p.id == *policy_id);
                let (start, end) = policy
                    .and_then(|p| p.policy.statement_position(*index))
                    .unwrap_or(((0, 0), (0, 0)));
                matched.push(MatchedStatement {
                    source_policy_id: policy_id.clone(),
                    source_policy_type: *source_type,
                    sid: sid.clone(),
                    index: *index,
                    start,
                    end,
                });
            }
        }
    }
    result.matched_statements = matched;
}
