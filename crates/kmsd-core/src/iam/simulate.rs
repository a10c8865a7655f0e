//! What IAM's policy simulator needs from IAM state: the policies of a user, group or role
//! (`SimulatePrincipalPolicy`'s `PolicySourceArn`), the simulated caller, and the
//! authorization of the simulator calls themselves.

use kmsd_policy::{Caller, PolicyKind, PolicySourceType, SourcedPolicy};

use super::model::ParsedArn;
use super::{resolve, Actor, Iam};
use crate::error::{ApiError, ErrorCode, IamError};
use crate::principal::Principal;

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
        actor: &Actor<'_>,
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
    pub fn authorize_simulate_custom(&self, actor: &Actor<'_>) -> Result<(), ApiError> {
        if actor.principal.caller.is_root() {
            actor.record(kmsd_policy::Decision::Allow);
            return Ok(());
        }
        self.authorize(actor, "iam:SimulateCustomPolicy", "*", &|_| {})
    }
}
