//! `SimulatePrincipalPolicy` and `SimulateCustomPolicy`: IAM's policy simulator over
//! `kmsd_policy::simulate`, one `EvaluationResult` per action and resource. When a resource
//! is a KMS key on this server and no `ResourcePolicy` is given, the key's policy (and its
//! tags and aliases as context) are used.

use std::sync::Arc;

use kmsd_core::error::ApiError;
use kmsd_core::error::IamError;
use kmsd_core::iam::{Actor, SimulationSource};
use kmsd_core::service::Service;
use kmsd_policy::{
    simulate, Because, Decision, EvalDecision, Explanation, MatchedStatement, Policy, PolicyKind,
    PolicySourceType, RequestContext, SimulationRequest, SimulationResult, SourcedPolicy,
};

use super::params::Params;
use super::xml::Xml;

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(IamError::InvalidInput, msg)
}

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
    for (n, name) in p.struct_members("ContextEntries", "ContextKeyName") {
        let values = p.list(&format!("ContextEntries.member.{n}.ContextKeyValues"));
        let ty = p
            .get(&format!("ContextEntries.member.{n}.ContextKeyType"))
            .unwrap_or("string");
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

/// Run a simulation and render its `EvaluationResults`.
pub fn run(
    service: &Service,
    actor: &Actor<'_>,
    action: &str,
    p: &Params,
) -> Result<Option<String>, ApiError> {
    let iam = &service.iam;
    let source = if action == "SimulatePrincipalPolicy" {
        let arn = p.required("PolicySourceArn")?;
        let mut src = iam.simulation_source(actor, arn)?;
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
        iam.authorize_simulate_custom(actor)?;
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
            iam.principal_for_arn(arn, None)
                .map_err(|e| invalid(e.message.unwrap_or_default()))?,
        ),
        None => source.principal.clone(),
    };
    let mut base = RequestContext::new();
    if let Some(pr) = &caller_principal {
        pr.add_to_context(&mut base);
    }
    context_entries(p, &mut base)?;

    let mut x = Xml::new();
    x.open("EvaluationResults");
    for act in &actions {
        for res in &resources {
            let mut ctx = base.clone();
            let view = if given_resource_policy.is_none() && res.starts_with("arn:aws:kms:") {
                service.kms.key_authz_view(res)
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
            let resource_policy = given_resource_policy
                .as_ref()
                .or(view.as_ref().map(|v| &v.policy));
            let mut result = simulate(&SimulationRequest {
                policies: &source.policies,
                resource_policy,
                boundary: boundary.as_ref(),
                caller: caller_principal.as_ref().map(|p| &p.caller),
                action: act,
                resource: res,
                context: &ctx,
            });
            // A key on this server: decide as KMS does (key policy delegation, grants),
            // which IAM's generic simulator does not model.
            if let (Some(v), Some(pr)) = (&view, &caller_principal) {
                if act.to_ascii_lowercase().starts_with("kms:") {
                    if let Ok(e) = service.kms.explain(pr, act, res, &v.region, &ctx, None) {
                        kms_override(
                            &mut result,
                            &e,
                            &source.policies,
                            &v.policy,
                            boundary.as_ref(),
                        );
                    }
                }
            }
            x.open("member")
                .text("EvalActionName", act)
                .text("EvalResourceName", res)
                .text("EvalDecision", result.decision.as_str());
            x.members("MatchedStatements", &result.matched_statements, |x, m| {
                x.text("SourcePolicyId", &m.source_policy_id)
                    .text("SourcePolicyType", m.source_policy_type.as_str())
                    .open("StartPosition")
                    .text("Line", &m.start.0.to_string())
                    .text("Column", &m.start.1.to_string())
                    .close("StartPosition")
                    .open("EndPosition")
                    .text("Line", &m.end.0.to_string())
                    .text("Column", &m.end.1.to_string())
                    .close("EndPosition");
            });
            x.open("MissingContextValues");
            for k in &result.missing_context_values {
                x.text("member", k);
            }
            x.close("MissingContextValues");
            // EvalDecisionDetails (AWS: absent for `*`, present but empty within one account,
            // per policy type for a cross-account simulation).
            if res != "*" {
                let resource_account = res.split(':').nth(4).filter(|a| !a.is_empty());
                let cross = match (&caller_principal, resource_account) {
                    (Some(pr), Some(acct)) => pr.caller.account() != acct,
                    _ => false,
                };
                x.open("EvalDecisionDetails");
                if cross {
                    let identity_side = simulate(&SimulationRequest {
                        policies: &source.policies,
                        resource_policy: None,
                        boundary: boundary.as_ref(),
                        caller: caller_principal.as_ref().map(|p| &p.caller),
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
                                caller: caller_principal.as_ref().map(|p| &p.caller),
                                action: act,
                                resource: res,
                                context: &ctx,
                            })
                            .decision
                        }
                        None => EvalDecision::ImplicitDeny,
                    };
                    for (k, d) in [
                        ("IAM Policy", identity_side),
                        ("Resource Policy", resource_side),
                    ] {
                        x.open("entry")
                            .text("key", k)
                            .text("value", d.as_str())
                            .close("entry");
                    }
                }
                x.close("EvalDecisionDetails");
            }
            if let Some(b) = result.allowed_by_boundary {
                x.open("PermissionsBoundaryDecisionDetail")
                    .boolean("AllowedByPermissionsBoundary", b)
                    .close("PermissionsBoundaryDecisionDetail");
            }
            x.close("member");
        }
    }
    x.close("EvaluationResults");
    x.boolean("IsTruncated", false);
    Ok(Some(x.finish()))
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
