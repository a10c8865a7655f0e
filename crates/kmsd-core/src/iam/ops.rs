//! IAM operations (users, access keys, groups, roles, inline and managed policies, policy
//! versions, permissions boundaries, tags): input checks, authorization, AWS's errors and
//! limits, and the write through the store.
//!
//! One submodule per IAM entity (`users`, `access_keys`, `groups`, `roles`, `inline` and
//! `managed` policies, `attachments` of managed policies and boundaries, `tags`); this module
//! holds what they share: entity kinds, document and ARN checks, and the not-found errors.

use kmsd_policy::{Policy, PolicyKind, RequestContext};

use super::model::{
    check_name, check_path, check_tags, group_arn, merge_tags, policy_arn, policy_size,
    random_access_key_id, random_secret, random_unique_id, role_arn, user_arn, validation_error,
    AccessKeyRec, GroupRec, KeyOwner, ParsedArn, PolicyRec, PolicyVersionRec, RoleRec, Tags,
    UserRec,
};
use super::{key, Actor, Change, Iam, State};
use crate::error::ApiError;
use crate::error::IamError;

mod access_keys;
mod attachments;
mod groups;
mod inline;
mod managed;
mod roles;
mod tags;
mod users;

/// The kinds of IAM identities that carry policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    fn word(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }
    fn field(self) -> &'static str {
        match self {
            EntityKind::User => "userName",
            EntityKind::Group => "groupName",
            EntityKind::Role => "roleName",
        }
    }
    fn capital(self) -> &'static str {
        match self {
            EntityKind::User => "User",
            EntityKind::Group => "Group",
            EntityKind::Role => "Role",
        }
    }
    /// Aggregate inline policy size quota (non-whitespace characters).
    fn inline_quota(self) -> usize {
        match self {
            EntityKind::User => 2048,
            EntityKind::Group => 5120,
            EntityKind::Role => 10240,
        }
    }
}

/// Input of CreateRole.
#[derive(Debug, Clone, Default)]
pub struct CreateRoleInput {
    pub name: String,
    pub path: Option<String>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub permissions_boundary: Option<String>,
    pub tags: Tags,
}

/// A managed policy and how many identities it is attached to.
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub policy: PolicyRec,
    pub attachment_count: usize,
    pub boundary_usage_count: usize,
}

/// An entity with policies, cloned for modification.
enum Entity {
    User(UserRec),
    Group(GroupRec),
    Role(RoleRec),
}

impl Entity {
    fn name(&self) -> &str {
        match self {
            Entity::User(u) => &u.name,
            Entity::Group(g) => &g.name,
            Entity::Role(r) => &r.name,
        }
    }
    fn arn(&self) -> String {
        match self {
            Entity::User(u) => user_arn(&u.account, &u.path, &u.name),
            Entity::Group(g) => group_arn(&g.account, &g.path, &g.name),
            Entity::Role(r) => role_arn(&r.account, &r.path, &r.name),
        }
    }
    fn inline(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        match self {
            Entity::User(u) => &mut u.inline,
            Entity::Group(g) => &mut g.inline,
            Entity::Role(r) => &mut r.inline,
        }
    }
    fn managed(&mut self) -> &mut Vec<String> {
        match self {
            Entity::User(u) => &mut u.managed,
            Entity::Group(g) => &mut g.managed,
            Entity::Role(r) => &mut r.managed,
        }
    }
    fn boundary(&mut self) -> Option<&mut Option<String>> {
        match self {
            Entity::User(u) => Some(&mut u.boundary),
            Entity::Group(_) => None,
            Entity::Role(r) => Some(&mut r.boundary),
        }
    }
    fn tags(&mut self) -> Option<&mut Tags> {
        match self {
            Entity::User(u) => Some(&mut u.tags),
            Entity::Group(_) => None,
            Entity::Role(r) => Some(&mut r.tags),
        }
    }
    fn change(self) -> Change {
        match self {
            Entity::User(u) => Change::User(u),
            Entity::Group(g) => Change::Group(g),
            Entity::Role(r) => Change::Role(r),
        }
    }
}

fn no_such(kind: EntityKind, name: &str) -> ApiError {
    ApiError::new(
        IamError::NoSuchEntity,
        format!("The {} with name {name} cannot be found.", kind.word()),
    )
}

fn entity(st: &State, account: &str, kind: EntityKind, name: &str) -> Result<Entity, ApiError> {
    check_name(
        name,
        kind.field(),
        if kind == EntityKind::Group { 128 } else { 64 },
    )?;
    let found = match kind {
        EntityKind::User => st.user(account, name).cloned().map(Entity::User),
        EntityKind::Group => st.group(account, name).cloned().map(Entity::Group),
        EntityKind::Role => st.role(account, name).cloned().map(Entity::Role),
    };
    found.ok_or_else(|| no_such(kind, name))
}

/// Check a policy document's syntax and grammar for its kind.
pub(crate) fn check_document(doc: &str, kind: PolicyKind) -> Result<(), ApiError> {
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(serde_json::Value::Object(_)) => {}
        _ => {
            return Err(ApiError::new(
                IamError::MalformedPolicyDocument,
                "Syntax errors in policy.",
            ))
        }
    }
    Policy::parse(doc, kind)
        .map(|_| ())
        .map_err(|e| ApiError::new(IamError::MalformedPolicyDocument, e.to_string()))
}

/// Every AWS principal a trust policy names must exist on this server (AWS answers
/// `Invalid principal in policy` otherwise).
pub(crate) fn check_trust_principals(st: &State, doc: &str) -> Result<(), ApiError> {
    let Ok(policy) = Policy::parse(doc, PolicyKind::Trust) else {
        return Ok(());
    };
    for arn in policy.aws_principals() {
        if arn != "*" && !st.principal_exists(&arn) {
            return Err(ApiError::new(
                IamError::MalformedPolicyDocument,
                format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
            ));
        }
    }
    Ok(())
}

fn check_policy_name(name: &str) -> Result<(), ApiError> {
    check_name(name, "policyName", 128)
}

fn check_policy_arn_syntax(arn: &str, field: &str) -> Result<(), ApiError> {
    if arn.len() < 20 || arn.len() > 2048 || !arn.starts_with("arn:") {
        return Err(validation_error(
            Some(arn),
            field,
            "Member must have length greater than or equal to 20",
        ));
    }
    if !super::aws_managed::is_aws_managed_arn(arn)
        && !matches!(super::model::parse_arn(arn), Some(ParsedArn::Policy { .. }))
    {
        return Err(ApiError::new(
            IamError::InvalidInput,
            format!("ARN {arn} is not valid."),
        ));
    }
    Ok(())
}

/// A policy this account may attach or read: its own, or an AWS managed one.
fn usable_by(p: &PolicyRec, account: &str) -> bool {
    p.account == account || p.account == super::aws_managed::AWS_ACCOUNT
}

fn not_attachable(arn: &str) -> ApiError {
    ApiError::new(
        IamError::NoSuchEntity,
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

fn request_tags(ctx: &mut RequestContext, tags: &Tags) {
    for (k, v) in tags {
        ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
    }
    ctx.set_multi("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
}

fn resource_tags(ctx: &mut RequestContext, tags: &Tags) {
    for (k, v) in tags {
        ctx.set(&format!("aws:ResourceTag/{k}"), v.clone());
        ctx.set(&format!("iam:ResourceTag/{k}"), v.clone());
    }
}

fn no_extra(_: &mut RequestContext) {}

fn entity_tags(e: &mut Entity) -> Tags {
    e.tags().map(|t| t.clone()).unwrap_or_default()
}

impl Iam {
    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    fn managed_count(st: &State, arn: &str) -> (usize, usize) {
        let mut attached = 0;
        let mut boundary = 0;
        for u in st.users.values() {
            attached += u.managed.iter().filter(|a| *a == arn).count();
            boundary += usize::from(u.boundary.as_deref() == Some(arn));
        }
        for g in st.groups.values() {
            attached += g.managed.iter().filter(|a| *a == arn).count();
        }
        for r in st.roles.values() {
            attached += r.managed.iter().filter(|a| *a == arn).count();
            boundary += usize::from(r.boundary.as_deref() == Some(arn));
        }
        (attached, boundary)
    }

    fn boundary_arn(st: &State, account: &str, arn: &str) -> Result<(), ApiError> {
        check_policy_arn_syntax(arn, "permissionsBoundary")?;
        match st.policy_by_arn(arn) {
            Some(p) if usable_by(p, account) => Ok(()),
            _ => Err(ApiError::new(
                IamError::NoSuchEntity,
                format!("Scope ARN: {arn} does not exist or is not attachable."),
            )),
        }
    }
}
