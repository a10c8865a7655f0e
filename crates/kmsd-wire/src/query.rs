//! awsQuery (IAM and STS): form parameters in, XML out.
//!
//! [`handle`] decodes the parameters of one call, dispatches it to the IAM/STS domain
//! ([`kmsd_core::iam::Iam`]) with the authenticated caller, and renders AWS's XML:
//! `<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata>…`, `member` lists,
//! URL-encoded policy documents, ISO-8601 dates — or an `<ErrorResponse>` with AWS's wire
//! error code and HTTP status. Submodules: `params` (form decoding), `xml` (writer,
//! envelope), `render` (result shapes), `simulate` (IAM's policy simulator).
//!
//! IAM actions: users (Create/Get/Delete/ListUsers, Tag/Untag/ListUserTags), access keys
//! (Create/Delete/Update/ListAccessKeys), groups (Create/Get/Delete/ListGroups,
//! Add/RemoveUserFromGroup, ListGroupsForUser), roles (Create/Get/Delete/ListRoles,
//! UpdateRole, UpdateAssumeRolePolicy, Tag/Untag/ListRoleTags), inline policies
//! (Put/Get/Delete/List{User,Group,Role}Policy), managed policies (Create/Get/Delete/
//! ListPolicies, Create/Get/Delete/ListPolicyVersion(s), SetDefaultPolicyVersion,
//! Attach/Detach/ListAttached{User,Group,Role}Policies), permissions boundaries
//! (Put/Delete{User,Role}PermissionsBoundary), SimulatePrincipalPolicy, SimulateCustomPolicy.
//! STS actions: GetCallerIdentity, AssumeRole, GetSessionToken. Anything else is
//! `InvalidAction`.

pub mod params;
pub mod render;
pub mod simulate;
pub mod xml;

use kmsd_core::audit::AuditFacts;
use kmsd_core::error::ApiError;
use kmsd_core::error::IamError;
use kmsd_core::iam::op::{IamOp, StsOp};
use kmsd_core::iam::{Actor, AssumeRoleInput, CreateRoleInput, EntityKind, Iam};
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_core::service::Service;

use crate::error::{xml_error_body, QueryService, WireError};
use params::Params;
use xml::{envelope, Xml};

/// The result of one IAM or STS call.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    pub status: u16,
    /// XML body.
    pub body: String,
    pub action: String,
    pub error_code: Option<kmsd_core::error::ErrorCode>,
    pub error_message: Option<String>,
    /// The decision and request parameters (without secrets) for the audit event.
    pub audit: AuditFacts,
}

/// IAM API version.
pub const IAM_VERSION: &str = "2010-05-08";
/// STS API version.
pub const STS_VERSION: &str = "2011-06-15";

/// One IAM (`service_name == "iam"`) or STS (`"sts"`) call.
pub fn handle(
    service: &Service,
    principal: &Principal,
    meta: &RequestMeta,
    service_name: &str,
    params: &[(String, String)],
) -> QueryOutcome {
    dispatch(
        &service.iam,
        Some(service),
        principal,
        meta,
        service_name,
        params,
    )
}

/// [`handle`] over the IAM/STS state alone (the simulator, which needs KMS key policies,
/// answers `ServiceFailure`).
pub fn handle_iam(
    iam: &Iam,
    principal: &Principal,
    meta: &RequestMeta,
    service_name: &str,
    pairs: &[(String, String)],
) -> QueryOutcome {
    dispatch(iam, None, principal, meta, service_name, pairs)
}

fn dispatch(
    iam: &Iam,
    service_ref: Option<&Service>,
    principal: &Principal,
    meta: &RequestMeta,
    service_name: &str,
    pairs: &[(String, String)],
) -> QueryOutcome {
    let p = Params::new(pairs);
    let action = p.get("Action").unwrap_or_default().to_string();
    let service = if service_name == "sts" {
        QueryService::Sts
    } else {
        QueryService::Iam
    };
    let actor = Actor::new(principal, meta);
    let result = match service {
        // GetSessionToken credentials (a user's or the root's temporary keys, no MFA in
        // kmsd) cannot call IAM API operations.
        QueryService::Iam if kmsd_core::admin_authz::is_session_token_caller(principal) => {
            Err(ApiError::new(
                IamError::InvalidClientTokenId,
                "The security token included in the request is invalid.",
            ))
        }
        QueryService::Iam => iam.run_op(|| iam_call(iam, service_ref, &actor, &action, &p)),
        QueryService::Sts => iam.run_op(|| sts_call(iam, &actor, &action, &p)),
    };
    let request_parameters = p.to_json();
    match result {
        Ok(body) => QueryOutcome {
            status: 200,
            body: envelope(
                &action,
                service.xml_namespace(),
                body.as_deref(),
                &meta.request_id,
            ),
            action,
            error_code: None,
            error_message: None,
            audit: AuditFacts {
                decision: actor.decision(),
                request_parameters,
                ..AuditFacts::default()
            },
        },
        Err(e) => {
            let err = WireError::from_api(&e);
            let body = String::from_utf8_lossy(&xml_error_body(&err, service, &meta.request_id))
                .into_owned();
            QueryOutcome {
                status: err.status,
                body,
                action,
                error_code: Some(err.code),
                error_message: err.message,
                audit: AuditFacts {
                    decision: actor.decision(),
                    request_parameters,
                    ..AuditFacts::default()
                },
            }
        }
    }
}

fn invalid_action(action: &str, version: &str) -> ApiError {
    ApiError::new(
        IamError::InvalidAction,
        format!("Could not find operation {action} for version {version}"),
    )
}

type CallResult = Result<Option<String>, ApiError>;

fn done(x: Xml) -> CallResult {
    Ok(Some(x.finish()))
}

fn kind_of(action: &str) -> EntityKind {
    if action.contains("Group") {
        EntityKind::Group
    } else if action.contains("Role") {
        EntityKind::Role
    } else {
        EntityKind::User
    }
}

fn name_param(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "UserName",
        EntityKind::Group => "GroupName",
        EntityKind::Role => "RoleName",
    }
}

fn not_truncated(x: &mut Xml) {
    x.boolean("IsTruncated", false);
}

/// The prefix of kmsd's opaque IAM pagination markers.
const MARKER_PREFIX: &str = "kmsd-page-";

/// One page of a list, as IAM pages: `MaxItems` (1–1000, default 100) and the opaque
/// `Marker` from the previous page. Returns the page and the next marker, if any.
fn page<'a, T>(items: &'a [T], p: &Params) -> Result<(&'a [T], Option<String>), ApiError> {
    let max = match p.int("MaxItems")? {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(100),
        Some(n) => {
            return Err(ApiError::new(
                IamError::ValidationError,
                format!("1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"),
            ))
        }
    };
    let start = match p.get("Marker") {
        None => 0,
        Some(m) => m
            .strip_prefix(MARKER_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::new(IamError::InvalidInput, "Invalid Marker."))?,
    };
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| format!("{MARKER_PREFIX}{end}"));
    Ok((items.get(start..end).unwrap_or(&[]), next))
}

/// `IsTruncated` and, when there is a next page, `Marker`.
fn truncation(x: &mut Xml, next: Option<String>) {
    match next {
        Some(marker) => {
            x.boolean("IsTruncated", true);
            x.text("Marker", &marker);
        }
        None => not_truncated(x),
    }
}

fn iam_call(
    iam: &Iam,
    service: Option<&Service>,
    actor: &Actor<'_>,
    action: &str,
    p: &Params,
) -> CallResult {
    let Some(op) = IamOp::from_name(action) else {
        return Err(invalid_action(action, IAM_VERSION));
    };
    let mut x = Xml::new();
    match op {
        IamOp::CreateUser => {
            let u = iam.create_user(
                actor,
                p.required("UserName")?,
                p.get("Path"),
                p.get("PermissionsBoundary"),
                p.tags("Tags")?,
            )?;
            render::user(&mut x, &u, true);
            done(x)
        }
        IamOp::GetUser => {
            let u = iam.get_user(actor, p.get("UserName"))?;
            render::user(&mut x, &u, true);
            done(x)
        }
        IamOp::DeleteUser => {
            iam.delete_user(actor, p.required("UserName")?)?;
            Ok(None)
        }
        IamOp::ListUsers => {
            let users = iam.list_users(actor, p.get("PathPrefix"))?;
            let (page_items, next) = page(&users, p)?;
            x.members("Users", page_items, |x, u| render::user_fields(x, u, false));
            truncation(&mut x, next);
            done(x)
        }
        IamOp::CreateAccessKey => {
            let k = iam.create_access_key(actor, p.get("UserName"))?;
            let name = match &k.owner {
                kmsd_core::iam::model::KeyOwner::User(n) => n.clone(),
                kmsd_core::iam::model::KeyOwner::Root => String::new(),
            };
            render::access_key(&mut x, &name, &k);
            done(x)
        }
        IamOp::DeleteAccessKey => {
            iam.delete_access_key(actor, p.get("UserName"), p.required("AccessKeyId")?)?;
            Ok(None)
        }
        IamOp::ListAccessKeys => {
            let (name, keys) = iam.list_access_keys(actor, p.get("UserName"))?;
            let (page_items, next) = page(&keys, p)?;
            x.members("AccessKeyMetadata", page_items, |x, k| {
                render::access_key_metadata(x, &name, k);
            });
            truncation(&mut x, next);
            done(x)
        }
        IamOp::CreateGroup => {
            let g = iam.create_group(actor, p.required("GroupName")?, p.get("Path"))?;
            render::group(&mut x, &g);
            done(x)
        }
        IamOp::AddUserToGroup | IamOp::RemoveUserFromGroup => {
            iam.set_group_membership(
                actor,
                p.required("GroupName")?,
                p.required("UserName")?,
                action == "AddUserToGroup",
            )?;
            Ok(None)
        }
        IamOp::CreateRole => {
            let input = CreateRoleInput {
                name: p.required("RoleName")?.to_string(),
                path: p.get("Path").map(str::to_string),
                assume_role_policy: p.required("AssumeRolePolicyDocument")?.to_string(),
                description: p.get("Description").map(str::to_string),
                max_session_duration: p.int("MaxSessionDuration")?,
                permissions_boundary: p.get("PermissionsBoundary").map(str::to_string),
                tags: p.tags("Tags")?,
            };
            let r = iam.create_role(actor, input)?;
            render::role(&mut x, &r, false);
            done(x)
        }
        IamOp::GetRole => {
            let r = iam.get_role(actor, p.required("RoleName")?)?;
            render::role(&mut x, &r, true);
            done(x)
        }
        IamOp::DeleteRole => {
            iam.delete_role(actor, p.required("RoleName")?)?;
            Ok(None)
        }
        IamOp::UpdateRole => {
            iam.update_role(
                actor,
                p.required("RoleName")?,
                p.get("Description"),
                p.int("MaxSessionDuration")?,
            )?;
            // The model's output is an empty UpdateRoleResponse structure: an empty
            // <UpdateRoleResult/> (botocore looks for it).
            done(x)
        }
        IamOp::UpdateAssumeRolePolicy => {
            iam.update_assume_role_policy(
                actor,
                p.required("RoleName")?,
                p.required("PolicyDocument")?,
            )?;
            Ok(None)
        }
        IamOp::PutUserPolicy | IamOp::PutGroupPolicy | IamOp::PutRolePolicy => {
            let kind = kind_of(action);
            iam.put_inline_policy(
                actor,
                kind,
                p.required(name_param(kind))?,
                p.required("PolicyName")?,
                p.required("PolicyDocument")?,
            )?;
            Ok(None)
        }
        IamOp::GetUserPolicy | IamOp::GetGroupPolicy | IamOp::GetRolePolicy => {
            let kind = kind_of(action);
            let (entity, name, doc) = iam.get_inline_policy(
                actor,
                kind,
                p.required(name_param(kind))?,
                p.required("PolicyName")?,
            )?;
            x.text(name_param(kind), &entity)
                .text("PolicyName", &name)
                .document("PolicyDocument", &doc);
            done(x)
        }
        IamOp::DeleteUserPolicy | IamOp::DeleteGroupPolicy | IamOp::DeleteRolePolicy => {
            let kind = kind_of(action);
            iam.delete_inline_policy(
                actor,
                kind,
                p.required(name_param(kind))?,
                p.required("PolicyName")?,
            )?;
            Ok(None)
        }
        IamOp::ListUserPolicies | IamOp::ListGroupPolicies | IamOp::ListRolePolicies => {
            let kind = kind_of(action);
            let names = iam.list_inline_policies(actor, kind, p.required(name_param(kind))?)?;
            let (page_items, next) = page(&names, p)?;
            x.open("PolicyNames");
            for n in page_items {
                x.text("member", n);
            }
            x.close("PolicyNames");
            truncation(&mut x, next);
            done(x)
        }
        IamOp::CreatePolicy => {
            let v = iam.create_policy(
                actor,
                p.required("PolicyName")?,
                p.get("Path"),
                p.required("PolicyDocument")?,
                p.get("Description"),
                p.tags("Tags")?,
            )?;
            render::policy(&mut x, &v);
            done(x)
        }
        IamOp::GetPolicy => {
            let v = iam.get_policy(actor, p.required("PolicyArn")?)?;
            render::policy(&mut x, &v);
            done(x)
        }
        IamOp::CreatePolicyVersion => {
            let (v, is_default) = iam.create_policy_version(
                actor,
                p.required("PolicyArn")?,
                p.required("PolicyDocument")?,
                p.bool("SetAsDefault")?.unwrap_or(false),
            )?;
            render::policy_version(&mut x, &v, is_default, false);
            done(x)
        }
        IamOp::GetPolicyVersion => {
            let (v, is_default) =
                iam.get_policy_version(actor, p.required("PolicyArn")?, p.required("VersionId")?)?;
            render::policy_version(&mut x, &v, is_default, true);
            done(x)
        }
        IamOp::DeletePolicy => {
            iam.delete_policy(actor, p.required("PolicyArn")?)?;
            Ok(None)
        }
        IamOp::AttachUserPolicy
        | IamOp::AttachGroupPolicy
        | IamOp::AttachRolePolicy
        | IamOp::DetachUserPolicy
        | IamOp::DetachGroupPolicy
        | IamOp::DetachRolePolicy => {
            let kind = kind_of(action);
            iam.set_attached_policy(
                actor,
                kind,
                p.required(name_param(kind))?,
                p.required("PolicyArn")?,
                action.starts_with("Attach"),
            )?;
            Ok(None)
        }
        IamOp::ListAttachedUserPolicies
        | IamOp::ListAttachedGroupPolicies
        | IamOp::ListAttachedRolePolicies => {
            let kind = kind_of(action);
            let list = iam.list_attached_policies(actor, kind, p.required(name_param(kind))?)?;
            let (page_items, next) = page(&list, p)?;
            x.members("AttachedPolicies", page_items, |x, (name, arn)| {
                x.text("PolicyName", name).text("PolicyArn", arn);
            });
            truncation(&mut x, next);
            done(x)
        }
        IamOp::PutUserPermissionsBoundary | IamOp::PutRolePermissionsBoundary => {
            let kind = kind_of(action);
            iam.set_permissions_boundary(
                actor,
                kind,
                p.required(name_param(kind))?,
                Some(p.required("PermissionsBoundary")?),
            )?;
            Ok(None)
        }
        IamOp::DeleteUserPermissionsBoundary | IamOp::DeleteRolePermissionsBoundary => {
            let kind = kind_of(action);
            iam.set_permissions_boundary(actor, kind, p.required(name_param(kind))?, None)?;
            Ok(None)
        }
        IamOp::TagUser | IamOp::TagRole => {
            let kind = kind_of(action);
            let tags = p.tags("Tags")?;
            if tags.is_empty() {
                return Err(p.required("Tags").err().unwrap_or_else(|| {
                    ApiError::new(IamError::ValidationError, "Tags must not be empty")
                }));
            }
            iam.tag_entity(actor, kind, p.required(name_param(kind))?, tags)?;
            Ok(None)
        }
        IamOp::UntagUser | IamOp::UntagRole => {
            let kind = kind_of(action);
            let keys = p.list("TagKeys");
            if keys.is_empty() {
                return Err(p.required("TagKeys").err().unwrap_or_else(|| {
                    ApiError::new(IamError::ValidationError, "TagKeys must not be empty")
                }));
            }
            iam.untag_entity(actor, kind, p.required(name_param(kind))?, &keys)?;
            Ok(None)
        }
        IamOp::DeletePolicyVersion => {
            iam.delete_policy_version(actor, p.required("PolicyArn")?, p.required("VersionId")?)?;
            Ok(None)
        }
        IamOp::SetDefaultPolicyVersion => {
            iam.set_default_policy_version(
                actor,
                p.required("PolicyArn")?,
                p.required("VersionId")?,
            )?;
            Ok(None)
        }
        IamOp::ListPolicyVersions => {
            let versions = iam.list_policy_versions(actor, p.required("PolicyArn")?)?;
            let (page_items, next) = page(&versions, p)?;
            x.members("Versions", page_items, |x, (v, d)| {
                render::policy_version_fields(x, v, *d, false)
            });
            truncation(&mut x, next);
            done(x)
        }
        IamOp::ListPolicies => {
            let list = iam.list_policies_in_scope(actor, p.get("PathPrefix"), p.get("Scope"))?;
            let (page_items, next) = page(&list, p)?;
            x.members("Policies", page_items, render::policy_fields);
            truncation(&mut x, next);
            done(x)
        }
        IamOp::DeleteGroup => {
            iam.delete_group(actor, p.required("GroupName")?)?;
            Ok(None)
        }
        IamOp::GetGroup => {
            let (g, users) = iam.get_group(actor, p.required("GroupName")?)?;
            render::group(&mut x, &g);
            let (page_items, next) = page(&users, p)?;
            x.members("Users", page_items, |x, u| render::user_fields(x, u, false));
            truncation(&mut x, next);
            done(x)
        }
        IamOp::ListGroups => {
            let groups = iam.list_groups(actor, p.get("PathPrefix"))?;
            let (page_items, next) = page(&groups, p)?;
            x.members("Groups", page_items, render::group_fields);
            truncation(&mut x, next);
            done(x)
        }
        IamOp::ListGroupsForUser => {
            let groups = iam.list_groups_for_user(actor, p.required("UserName")?)?;
            let (page_items, next) = page(&groups, p)?;
            x.members("Groups", page_items, render::group_fields);
            truncation(&mut x, next);
            done(x)
        }
        IamOp::ListRoles => {
            let roles = iam.list_roles(actor, p.get("PathPrefix"))?;
            let (page_items, next) = page(&roles, p)?;
            x.members("Roles", page_items, |x, r| render::role_fields(x, r, false));
            truncation(&mut x, next);
            done(x)
        }
        IamOp::ListUserTags | IamOp::ListRoleTags => {
            let kind = kind_of(action);
            let tags = iam.list_entity_tags(actor, kind, p.required(name_param(kind))?)?;
            let (page_items, next) = page(&tags, p)?;
            x.members("Tags", page_items, |x, (k, v)| {
                x.text("Key", k).text("Value", v);
            });
            truncation(&mut x, next);
            done(x)
        }
        IamOp::UpdateAccessKey => {
            iam.update_access_key(
                actor,
                p.get("UserName"),
                p.required("AccessKeyId")?,
                p.required("Status")?,
            )?;
            Ok(None)
        }
        IamOp::SimulatePrincipalPolicy | IamOp::SimulateCustomPolicy => match service {
            Some(svc) => simulate::run(svc, actor, action, p),
            None => Err(ApiError::new(
                IamError::ServiceFailure,
                format!("{action} needs the KMS state, which this handler was not given."),
            )),
        },
    }
}

fn sts_call(iam: &Iam, actor: &Actor<'_>, action: &str, p: &Params) -> CallResult {
    let op = match StsOp::from_name(action) {
        Some(op) if op.spec().implemented => op,
        _ => return Err(invalid_action(action, STS_VERSION)),
    };
    let mut x = Xml::new();
    match op {
        StsOp::GetCallerIdentity => {
            let id = iam.get_caller_identity(actor);
            x.text("Arn", &id.arn)
                .text("UserId", &id.user_id)
                .text("Account", &id.account);
            done(x)
        }
        StsOp::GetSessionToken => {
            let c = iam.get_session_token(actor, p.int("DurationSeconds")?)?;
            x.open("Credentials")
                .text("AccessKeyId", &c.access_key_id)
                .text("SecretAccessKey", c.secret_access_key.as_str())
                .text("SessionToken", c.session_token.as_str())
                .date("Expiration", c.expiration)
                .close("Credentials");
            done(x)
        }
        StsOp::AssumeRole => {
            let input = AssumeRoleInput {
                role_arn: p.required("RoleArn")?.to_string(),
                role_session_name: p.required("RoleSessionName")?.to_string(),
                duration_seconds: p.int("DurationSeconds")?,
                policy: p.get("Policy").map(str::to_string),
                policy_arns: p.struct_list("PolicyArns", "arn"),
                tags: p.tags("Tags")?,
                transitive_tag_keys: p.list("TransitiveTagKeys"),
                external_id: p.get("ExternalId").map(str::to_string),
                source_identity: p.get("SourceIdentity").map(str::to_string),
            };
            let out = iam.assume_role(actor, &input)?;
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
            done(x)
        }
        StsOp::AssumeRoleWithSAML
        | StsOp::AssumeRoleWithWebIdentity
        | StsOp::AssumeRoot
        | StsOp::DecodeAuthorizationMessage
        | StsOp::GetAccessKeyInfo
        | StsOp::GetDelegatedAccessToken
        | StsOp::GetFederationToken
        | StsOp::GetScopedCredentials
        | StsOp::GetWebIdentityToken => Err(invalid_action(action, STS_VERSION)),
    }
}

#[cfg(test)]
mod tests;
