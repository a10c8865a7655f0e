//! IAM and STS result shapes as AWS renders them in XML (`User`, `Role`, `Group`,
//! `Policy`, `PolicyVersion`, `AccessKey`, `Credentials`, `EvaluationResults`, ...): one
//! [`reply`] per [`Reply`] variant, lists with `IsTruncated` and `Marker`.

use kmsd_core::iam::call::name_param;
use kmsd_core::iam::model::{
    group_arn, role_arn, user_arn, AccessKeyRec, GroupRec, PolicyVersionRec, RoleRec, UserRec,
};
use kmsd_core::iam::{EvaluationResult, Page, PolicyView, Reply};

use super::xml::Xml;

/// The content of an operation's `Result` element.
pub fn reply(x: &mut Xml, r: &Reply) {
    match r {
        Reply::Empty | Reply::EmptyResult => {}
        Reply::User(u) => user(x, u, true),
        Reply::Users(page) => paged(x, "Users", page, |x, u| user_fields(x, u, false)),
        Reply::AccessKey { user_name, key } => access_key(x, user_name, key),
        Reply::AccessKeys { user_name, page } => paged(x, "AccessKeyMetadata", page, |x, k| {
            access_key_metadata(x, user_name, k);
        }),
        Reply::Group(g) => group(x, g),
        Reply::GroupWithUsers { group: g, users } => {
            group(x, g);
            paged(x, "Users", users, |x, u| user_fields(x, u, false));
        }
        Reply::Groups(page) => paged(x, "Groups", page, group_fields),
        Reply::Role { role: r, last_used } => role(x, r, *last_used),
        Reply::Roles(page) => paged(x, "Roles", page, |x, r| role_fields(x, r, false)),
        Reply::InlinePolicy {
            kind,
            entity,
            name,
            document,
        } => {
            x.text(name_param(*kind), entity)
                .text("PolicyName", name)
                .document("PolicyDocument", document);
        }
        Reply::PolicyNames(page) => {
            x.open("PolicyNames");
            for n in &page.items {
                x.text("member", n);
            }
            x.close("PolicyNames");
            truncation(x, page.marker.as_deref());
        }
        Reply::Policy(v) => policy(x, v),
        Reply::Policies(page) => paged(x, "Policies", page, policy_fields),
        Reply::PolicyVersion {
            version,
            is_default,
            with_document,
        } => policy_version(x, version, *is_default, *with_document),
        Reply::PolicyVersions(page) => paged(x, "Versions", page, |x, (v, d)| {
            policy_version_fields(x, v, *d, false);
        }),
        Reply::AttachedPolicies(page) => paged(x, "AttachedPolicies", page, |x, (name, arn)| {
            x.text("PolicyName", name).text("PolicyArn", arn);
        }),
        Reply::Tags(page) => paged(x, "Tags", page, |x, (k, v)| {
            x.text("Key", k).text("Value", v);
        }),
        Reply::Simulation(results) => evaluation_results(x, results),
        Reply::CallerIdentity(id) => {
            x.text("Arn", &id.arn)
                .text("UserId", &id.user_id)
                .text("Account", &id.account);
        }
        Reply::SessionToken(c) => {
            x.open("Credentials")
                .text("AccessKeyId", &c.access_key_id)
                .text("SecretAccessKey", c.secret_access_key.as_str())
                .text("SessionToken", c.session_token.as_str())
                .date("Expiration", c.expiration)
                .close("Credentials");
        }
        Reply::AssumedRole(out) => {
            x.open("AssumedRoleUser")
                .text("AssumedRoleId", &out.assumed_role_id)
                .text("Arn", &out.arn)
                .close("AssumedRoleUser")
                .open("Credentials")
                .text("AccessKeyId", &out.access_key_id)
                .text("SecretAccessKey", out.secret_access_key.as_str())
                .text("SessionToken", out.session_token.as_str())
                .date("Expiration", out.expiration)
                .close("Credentials");
            if let Some(n) = out.packed_policy_size {
                x.text("PackedPolicySize", &n.to_string());
            }
            if let Some(s) = &out.source_identity {
                x.text("SourceIdentity", s);
            }
        }
    }
}

/// A page of a list: its `member`s, then `IsTruncated` and, when there is a next page,
/// `Marker`.
fn paged<T>(x: &mut Xml, tag: &str, page: &Page<T>, f: impl FnMut(&mut Xml, &T)) {
    x.members(tag, &page.items, f);
    truncation(x, page.marker.as_deref());
}

fn truncation(x: &mut Xml, marker: Option<&str>) {
    match marker {
        Some(marker) => {
            x.boolean("IsTruncated", true);
            x.text("Marker", marker);
        }
        None => {
            x.boolean("IsTruncated", false);
        }
    }
}

/// `EvaluationResults` (never truncated).
fn evaluation_results(x: &mut Xml, results: &[EvaluationResult]) {
    x.open("EvaluationResults");
    for r in results {
        let result = &r.result;
        x.open("member")
            .text("EvalActionName", &r.action)
            .text("EvalResourceName", &r.resource)
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
        if let Some(details) = &r.details {
            x.open("EvalDecisionDetails");
            for (k, d) in details {
                x.open("entry")
                    .text("key", k)
                    .text("value", d.as_str())
                    .close("entry");
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
    x.close("EvaluationResults");
    x.boolean("IsTruncated", false);
}

fn boundary(x: &mut Xml, arn: Option<&str>) {
    if let Some(a) = arn {
        x.open("PermissionsBoundary")
            .text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .text("PermissionsBoundaryArn", a)
            .close("PermissionsBoundary");
    }
}

/// `<User>` (full form: boundary and tags when present). The root user (GetUser by the
/// root with no name) has no name or path.
pub fn user(x: &mut Xml, u: &UserRec, full: bool) {
    x.open("User");
    user_fields(x, u, full);
    x.close("User");
}

/// The members of a `User` (for list `member`s).
pub fn user_fields(x: &mut Xml, u: &UserRec, full: bool) {
    if u.name.is_empty() {
        x.text("UserId", &u.user_id)
            .text("Arn", &format!("arn:aws:iam::{}:root", u.account))
            .date("CreateDate", u.created);
    } else {
        x.text("Path", &u.path)
            .text("UserName", &u.name)
            .text("UserId", &u.user_id)
            .text("Arn", &user_arn(&u.account, &u.path, &u.name))
            .date("CreateDate", u.created);
        if full {
            boundary(x, u.boundary.as_deref());
            x.tags("Tags", &u.tags);
        }
    }
}

/// `<Group>`.
pub fn group(x: &mut Xml, g: &GroupRec) {
    x.open("Group");
    group_fields(x, g);
    x.close("Group");
}

/// The members of a `Group`.
pub fn group_fields(x: &mut Xml, g: &GroupRec) {
    x.text("Path", &g.path)
        .text("GroupName", &g.name)
        .text("GroupId", &g.group_id)
        .text("Arn", &group_arn(&g.account, &g.path, &g.name))
        .date("CreateDate", g.created);
}

/// `<Role>` with its URL-encoded trust policy.
pub fn role(x: &mut Xml, r: &RoleRec, last_used: bool) {
    x.open("Role");
    role_fields(x, r, last_used);
    x.close("Role");
}

/// The members of a `Role`.
pub fn role_fields(x: &mut Xml, r: &RoleRec, last_used: bool) {
    x.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.role_id)
        .text("Arn", &role_arn(&r.account, &r.path, &r.name))
        .date("CreateDate", r.created)
        .document("AssumeRolePolicyDocument", &r.trust)
        .opt("Description", r.description.as_deref())
        .text("MaxSessionDuration", &r.max_session.to_string());
    boundary(x, r.boundary.as_deref());
    x.tags("Tags", &r.tags);
    if last_used {
        x.open("RoleLastUsed").close("RoleLastUsed");
    }
}

/// `<Policy>`.
pub fn policy(x: &mut Xml, v: &PolicyView) {
    x.open("Policy");
    policy_fields(x, v);
    x.close("Policy");
}

/// The members of a `Policy`.
pub fn policy_fields(x: &mut Xml, v: &PolicyView) {
    let p = &v.policy;
    x.text("PolicyName", &p.name)
        .text("DefaultVersionId", &p.default_version)
        .text("PolicyId", &p.policy_id)
        .text("Path", &p.path)
        .text("Arn", &p.arn())
        .text("AttachmentCount", &v.attachment_count.to_string())
        .text(
            "PermissionsBoundaryUsageCount",
            &v.boundary_usage_count.to_string(),
        )
        .boolean("IsAttachable", true)
        .opt("Description", p.description.as_deref())
        .date("CreateDate", p.created)
        .date("UpdateDate", p.updated);
    x.tags("Tags", &p.tags);
}

/// `<PolicyVersion>` (`with_document` false for CreatePolicyVersion, as AWS).
pub fn policy_version(x: &mut Xml, v: &PolicyVersionRec, is_default: bool, with_document: bool) {
    x.open("PolicyVersion");
    policy_version_fields(x, v, is_default, with_document);
    x.close("PolicyVersion");
}

/// The members of a `PolicyVersion`.
pub fn policy_version_fields(
    x: &mut Xml,
    v: &PolicyVersionRec,
    is_default: bool,
    with_document: bool,
) {
    if with_document {
        x.document("Document", &v.document);
    }
    x.text("VersionId", &v.id)
        .boolean("IsDefaultVersion", is_default)
        .date("CreateDate", v.created);
}

/// `<AccessKey>` with its secret (CreateAccessKey only).
pub fn access_key(x: &mut Xml, user_name: &str, k: &AccessKeyRec) {
    x.open("AccessKey");
    if !user_name.is_empty() {
        x.text("UserName", user_name);
    }
    x.text("AccessKeyId", &k.id)
        .text("Status", &k.status)
        .text("SecretAccessKey", k.secret.as_str())
        .date("CreateDate", k.created)
        .close("AccessKey");
}

/// One `AccessKeyMetadata` member body (no secret).
pub fn access_key_metadata(x: &mut Xml, user_name: &str, k: &AccessKeyRec) {
    if !user_name.is_empty() {
        x.text("UserName", user_name);
    }
    x.text("AccessKeyId", &k.id)
        .text("Status", &k.status)
        .date("CreateDate", k.created);
}
