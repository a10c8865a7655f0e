//! IAM and STS result shapes as AWS renders them in XML (`User`, `Role`, `Group`,
//! `Policy`, `PolicyVersion`, `AccessKey`, `Credentials`, ...).

use kmsd_core::iam::model::{
    group_arn, role_arn, user_arn, AccessKeyRec, GroupRec, PolicyVersionRec, RoleRec, UserRec,
};
use kmsd_core::iam::PolicyView;

use super::xml::Xml;

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
