//! STS: GetCallerIdentity and AssumeRole (trust policy plus the caller's identity policies,
//! `sts:ExternalId`, `sts:RoleSessionName`, duration limits and role chaining, session
//! policies and session tags — `sts:TagSession`, transitive tags inherited along a role
//! chain — and `SourceIdentity` with `sts:SetSourceIdentity`), issuing ASIA credentials
//! that expire on the [`Clock`](crate::clock::Clock).

use kmsd_policy::{AssumeRoleRequest, Caller, Decision, PolicyKind, PolicySourceType};
use zeroize::Zeroizing;

use super::model::{
    check_tags, policy_size, random_access_key_id, random_secret, random_session_token, role_arn,
    validation_error, KeyOwner, SessionRec, Tags,
};
use super::{access_denied_message, resolve, Actor, Change, Iam};
use crate::error::ApiError;
use crate::error::StsError;

/// GetCallerIdentity's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

/// AssumeRole's parameters.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub role_session_name: String,
    pub duration_seconds: Option<i64>,
    /// Inline session policy (JSON text).
    pub policy: Option<String>,
    /// Managed policies that also cut the session.
    pub policy_arns: Vec<String>,
    pub tags: Tags,
    pub transitive_tag_keys: Vec<String>,
    pub external_id: Option<String>,
    /// `SourceIdentity`: needs `sts:SetSourceIdentity` in the trust policy; kept on the session.
    pub source_identity: Option<String>,
}

/// AssumeRole's answer (the secret and token are shown once, to the caller; `Debug`
/// shows neither).
#[derive(Clone)]
pub struct AssumeRoleOutput {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Zeroizing<String>,
    /// Epoch seconds.
    pub expiration: i64,
    /// `AROA…:SESSION`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// Percentage of the packed-policy allowance used, when a policy, ARNs or tags were given.
    pub packed_policy_size: Option<u32>,
    /// The `SourceIdentity` the caller set, echoed back.
    pub source_identity: Option<String>,
}

impl std::fmt::Debug for AssumeRoleOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRoleOutput")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .field("assumed_role_id", &self.assumed_role_id)
            .field("arn", &self.arn)
            .field("packed_policy_size", &self.packed_policy_size)
            .field("source_identity", &self.source_identity)
            .finish()
    }
}

/// GetSessionToken's answer (`Debug` shows neither the secret nor the token).
#[derive(Clone)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Zeroizing<String>,
    /// Epoch seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Characters of session policy, policy ARNs and session tags that make 100% packed size.
const PACKED_ALLOWANCE: usize = 4096;

/// Sessions expired longer than this are dropped from the store when a new one is issued.
const SESSION_RETENTION_SECS: i64 = 86_400;

fn check_len(value: &str, field: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min {
        return Err(validation_error(
            Some(value),
            field,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(validation_error(
            Some(value),
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn check_pattern(value: &str, field: &str, extra: &str, pattern: &str) -> Result<(), ApiError> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) || extra.contains(c))
    {
        Ok(())
    } else {
        Err(validation_error(
            Some(value),
            field,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ))
    }
}

impl Iam {
    /// GetCallerIdentity: always allowed.
    pub fn get_caller_identity(&self, actor: &mut Actor<'_>) -> CallerIdentity {
        actor.record(Decision::Allow);
        let c = &actor.principal.caller;
        CallerIdentity {
            user_id: c.userid(),
            account: c.account().to_string(),
            arn: c.arn(),
        }
    }

    /// GetSessionToken: temporary credentials for the calling user or account root
    /// (900..129600 seconds, default 43200; at most 3600 for the root user). Not callable with
    /// temporary credentials.
    pub fn get_session_token(
        &self,
        actor: &mut Actor<'_>,
        duration_seconds: Option<i64>,
    ) -> Result<SessionCredentials, ApiError> {
        if let Some(d) = duration_seconds {
            if d < 900 {
                return Err(validation_error(
                    Some(&d.to_string()),
                    "durationSeconds",
                    "Member must have value greater than or equal to 900",
                ));
            }
            if d > 129_600 {
                return Err(validation_error(
                    Some(&d.to_string()),
                    "durationSeconds",
                    "Member must have value less than or equal to 129600",
                ));
            }
        }
        let caller = &actor.principal.caller;
        if actor.principal.token_issue_time.is_some()
            || matches!(caller, Caller::AssumedRole { .. })
        {
            actor.record(Decision::ImplicitDeny);
            return Err(ApiError::new(
                StsError::AccessDenied,
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        actor.record(Decision::Allow);
        let owner = match caller {
            Caller::User { name, .. } => KeyOwner::User(name.clone()),
            _ => KeyOwner::Root,
        };
        let max = if owner == KeyOwner::Root {
            3600
        } else {
            129_600
        };
        let duration = duration_seconds.unwrap_or(43_200).min(max);
        let mut st = self.write();
        let now = self.clock.now_secs();
        let mut id = random_access_key_id("ASIA")?;
        while st.keys.contains_key(&id) || st.sessions.contains_key(&id) {
            id = random_access_key_id("ASIA")?;
        }
        let session = SessionRec {
            access_key_id: id.clone(),
            secret: random_secret()?,
            token: random_session_token()?,
            account: caller.account().to_string(),
            role_name: String::new(),
            session_name: String::new(),
            issued: now,
            expires: now + duration,
            policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            owner: Some(owner),
            source_identity: None,
            transitive_tag_keys: Vec::new(),
        };
        let mut changes: Vec<Change> = st
            .sessions
            .values()
            .filter(|s| s.expires + SESSION_RETENTION_SECS < now)
            .map(|s| Change::DelSession(s.access_key_id.clone()))
            .collect();
        changes.push(Change::Session(session.clone()));
        self.commit(&mut st, changes)?;
        Ok(SessionCredentials {
            access_key_id: id,
            secret_access_key: session.secret,
            session_token: session.token,
            expiration: session.expires,
        })
    }

    /// AssumeRole.
    pub fn assume_role(
        &self,
        actor: &mut Actor<'_>,
        input: &AssumeRoleInput,
    ) -> Result<AssumeRoleOutput, ApiError> {
        // Input constraints (ValidationError), in the order of the model.
        check_len(&input.role_arn, "roleArn", 20, 2048)?;
        check_len(&input.role_session_name, "roleSessionName", 2, 64)?;
        check_pattern(
            &input.role_session_name,
            "roleSessionName",
            "",
            "[\\w+=,.@-]*",
        )?;
        if let Some(d) = input.duration_seconds {
            if d < 900 {
                return Err(validation_error(
                    Some(&d.to_string()),
                    "durationSeconds",
                    "Member must have value greater than or equal to 900",
                ));
            }
            if d > 43200 {
                return Err(validation_error(
                    Some(&d.to_string()),
                    "durationSeconds",
                    "Member must have value less than or equal to 43200",
                ));
            }
        }
        if let Some(p) = &input.policy {
            check_len(p, "policy", 1, 2048)?;
        }
        if input.policy_arns.len() > 10 {
            return Err(validation_error(
                None,
                "policyArns",
                "Member must have length less than or equal to 10",
            ));
        }
        for (i, arn) in input.policy_arns.iter().enumerate() {
            check_len(arn, &format!("policyArns.{}.member.arn", i + 1), 20, 2048)?;
        }
        check_tags(&input.tags)?;
        if let Some(x) = &input.external_id {
            check_len(x, "externalId", 2, 1224)?;
            check_pattern(x, "externalId", ":/", "[\\w+=,.@:\\/-]*")?;
        }
        if let Some(x) = &input.source_identity {
            check_len(x, "sourceIdentity", 2, 64)?;
            check_pattern(x, "sourceIdentity", "", "[\\w+=,.@-]*")?;
        }
        if let Some(p) = &input.policy {
            super::ops::check_document(p, PolicyKind::Session)?;
        }

        let caller = &actor.principal.caller;
        let denied_plain = || {
            ApiError::new(
                StsError::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                    caller.arn(),
                    input.role_arn
                ),
            )
        };
        if caller.is_root() {
            actor.record(Decision::ImplicitDeny);
            return Err(ApiError::new(
                StsError::AccessDenied,
                "Roles may not be assumed by root accounts.",
            ));
        }

        let mut st = self.write();
        let Some(role) = st.role_by_arn(&input.role_arn).cloned() else {
            actor.record(Decision::ImplicitDeny);
            return Err(denied_plain());
        };
        let trust_text = super::binding::effective_trust(&st, &role.trust, &role.trust_bindings);
        let trust = match resolve::compile(
            "AssumeRolePolicyDocument",
            PolicySourceType::Resource,
            &trust_text,
            PolicyKind::Trust,
        ) {
            Ok(t) => t,
            Err(_) => {
                actor.record(Decision::ImplicitDeny);
                return Err(denied_plain());
            }
        };
        let mut ctx = actor.context();
        ctx.set("sts:RoleSessionName", input.role_session_name.clone());
        if let Some(x) = &input.external_id {
            ctx.set("sts:ExternalId", x.clone());
        }
        if !input.tags.is_empty() {
            for (k, v) in &input.tags {
                ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
            }
            ctx.set_multi(
                "aws:TagKeys",
                input.tags.iter().map(|(k, _)| k.clone()).collect(),
            );
        }
        if !input.transitive_tag_keys.is_empty() {
            ctx.set_multi("sts:TransitiveTagKeys", input.transitive_tag_keys.clone());
        }
        // A source identity set earlier in a role chain persists and cannot be changed.
        let inherited_source = caller_session(&st, actor).and_then(|s| s.source_identity.clone());
        if let (Some(had), Some(asked)) = (&inherited_source, &input.source_identity) {
            if had != asked {
                actor.record(Decision::ImplicitDeny);
                return Err(ApiError::new(
                    StsError::AccessDenied,
                    format!(
                        "User: {} is not authorized to perform: sts:SetSourceIdentity on resource: {}: the source identity of a role chain cannot be changed",
                        caller.arn(),
                        input.role_arn
                    ),
                ));
            }
        }
        let source_identity = input.source_identity.clone().or(inherited_source);
        if let Some(x) = &source_identity {
            ctx.set("sts:SourceIdentity", x.clone());
        }
        let role_arn_full = role_arn(&role.account, &role.path, &role.name);
        let explanation = kmsd_policy::explain_assume_role(&AssumeRoleRequest {
            caller,
            caller_policies: &actor.principal.policies,
            role_arn: &role_arn_full,
            trust_policy: &trust,
            context: &ctx,
        });
        actor.record(explanation.outcome.decision);
        if explanation.outcome.decision != Decision::Allow {
            let message = explanation.message.clone().unwrap_or_else(|| {
                access_denied_message(
                    &caller.arn(),
                    "sts:AssumeRole",
                    &input.role_arn,
                    explanation.outcome.decision,
                    explanation.outcome.denied_by,
                )
            });
            return Err(ApiError::new(StsError::AccessDenied, message));
        }

        // Session tags need sts:TagSession, a source identity sts:SetSourceIdentity, in the
        // trust policy.
        let extra_actions = [
            (!input.tags.is_empty(), "sts:TagSession"),
            (input.source_identity.is_some(), "sts:SetSourceIdentity"),
        ];
        for (_, action) in extra_actions.iter().filter(|(needed, _)| *needed) {
            let sim = kmsd_policy::simulate(&kmsd_policy::SimulationRequest {
                policies: &[],
                resource_policy: Some(&trust),
                boundary: None,
                caller: Some(caller),
                action,
                resource: &role_arn_full,
                context: &ctx,
            });
            if sim.decision != kmsd_policy::EvalDecision::Allowed {
                actor.record(if sim.decision == kmsd_policy::EvalDecision::ExplicitDeny {
                    Decision::ExplicitDeny
                } else {
                    Decision::ImplicitDeny
                });
                return Err(ApiError::new(
                    StsError::AccessDenied,
                    format!(
                        "User: {} is not authorized to perform: {action} on resource: {}",
                        caller.arn(),
                        input.role_arn
                    ),
                ));
            }
        }

        // Role chaining: the calling session's transitive tags pass on and cannot be
        // overridden (keys compare case-insensitively).
        let inherited: Tags = caller_session(&st, actor)
            .map(|s| {
                s.tags
                    .iter()
                    .filter(|(k, _)| {
                        s.transitive_tag_keys
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(k))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let Some((k, _)) = input
            .tags
            .iter()
            .find(|(k, _)| inherited.iter().any(|(i, _)| i.eq_ignore_ascii_case(k)))
        {
            return Err(ApiError::new(
                StsError::InvalidParameterValue,
                format!("The session tag {k} cannot override the transitive tag of the same key inherited from the calling session."),
            ));
        }
        let mut session_tags = input.tags.clone();
        session_tags.extend(inherited.iter().cloned());
        let mut transitive_tag_keys: Vec<String> = input
            .transitive_tag_keys
            .iter()
            .filter(|t| input.tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(t)))
            .cloned()
            .collect();
        transitive_tag_keys.extend(inherited.iter().map(|(k, _)| k.clone()));

        // Duration: 900 .. role maximum; role chaining caps at one hour.
        let duration = input.duration_seconds.unwrap_or(3600);
        if matches!(caller, Caller::AssumedRole { .. }) && duration > 3600 {
            return Err(ApiError::new(
                StsError::ValidationError,
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        if duration > role.max_session {
            return Err(ApiError::new(
                StsError::ValidationError,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        for arn in &input.policy_arns {
            if st.policy_by_arn(arn).is_none_or(|p| {
                p.account != role.account && p.account != super::aws_managed::AWS_ACCOUNT
            }) {
                return Err(ApiError::new(
                    StsError::MalformedPolicyDocument,
                    format!("Policy {arn} does not exist or is not attachable."),
                ));
            }
        }

        // Packed size of the session policies and tags, as a percentage of the allowance.
        let packed =
            if input.policy.is_some() || !input.policy_arns.is_empty() || !input.tags.is_empty() {
                let tag_chars: usize = input.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
                let used = input.policy.as_deref().map(policy_size).unwrap_or(0)
                    + input.policy_arns.iter().map(String::len).sum::<usize>()
                    + tag_chars;
                Some(u32::try_from((used * 100).div_ceil(PACKED_ALLOWANCE)).unwrap_or(u32::MAX))
            } else {
                None
            };
        if let Some(p) = packed.filter(|p| *p > 100) {
            return Err(ApiError::new(
                StsError::PackedPolicyTooLarge,
                format!("Packed policy consumes {p}% of allotted space, please use smaller policy for this session."),
            ));
        }

        let now = self.clock.now_secs();
        let mut id = random_access_key_id("ASIA")?;
        while st.keys.contains_key(&id) || st.sessions.contains_key(&id) {
            id = random_access_key_id("ASIA")?;
        }
        let session = SessionRec {
            access_key_id: id.clone(),
            secret: random_secret()?,
            token: random_session_token()?,
            account: role.account.clone(),
            role_name: role.name.clone(),
            session_name: input.role_session_name.clone(),
            issued: now,
            expires: now + duration,
            policy: input.policy.clone(),
            policy_arns: input.policy_arns.clone(),
            tags: session_tags,
            owner: None,
            source_identity,
            transitive_tag_keys,
        };
        // The session's principal must be buildable (its policies compile) before it is issued.
        resolve::role_session_principal(
            &st,
            &role,
            &session.session_name,
            Some(now),
            session.policy.as_deref(),
            &session.policy_arns,
            &session.tags,
        )?;
        let mut changes: Vec<Change> = st
            .sessions
            .values()
            .filter(|s| s.expires + SESSION_RETENTION_SECS < now)
            .map(|s| Change::DelSession(s.access_key_id.clone()))
            .collect();
        changes.push(Change::Session(session.clone()));
        self.commit(&mut st, changes)?;

        Ok(AssumeRoleOutput {
            access_key_id: id,
            secret_access_key: session.secret.clone(),
            session_token: session.token.clone(),
            expiration: session.expires,
            assumed_role_id: format!("{}:{}", role.role_id, session.session_name),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                role.account, role.name, session.session_name
            ),
            packed_policy_size: packed,
            source_identity: session.source_identity.clone(),
        })
    }
}

/// The session record behind an assumed-role caller: same account, role, session name and
/// issue time, with every one of its session tags visible on the caller (session tags
/// override role tags, so they all appear with their values).
fn caller_session<'s>(st: &'s super::State, actor: &Actor<'_>) -> Option<&'s SessionRec> {
    let Caller::AssumedRole {
        account,
        role_name,
        session_name,
        ..
    } = &actor.principal.caller
    else {
        return None;
    };
    let issued = actor.principal.token_issue_time?;
    let tags = &actor.principal.tags;
    st.sessions.values().find(|s| {
        s.owner.is_none()
            && &s.account == account
            && &s.role_name == role_name
            && &s.session_name == session_name
            && s.issued == issued
            && s.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    })
}
