//! One IAM or STS call, from the awsQuery form pairs the wire layer parsed to a typed
//! [`Reply`]: the operation from `Action` ([`IamOp`] / [`StsOp`], an unknown one is
//! `InvalidAction`), IAM's rule for GetSessionToken credentials, the parameters decoded
//! ([`Params`]) and paged ([`page`]), the operation run (retried after a shared store's
//! conflict), and the audit facts: the authorization decision the operation reached and the
//! request parameters. [`Iam::call`] is the entry; the exhaustive `match` over the operation
//! tables is here. No XML: the wire layer renders the [`Reply`].

use kmsd_policy::Caller;

use super::model::{AccessKeyRec, GroupRec, KeyOwner, PolicyVersionRec, RoleRec, UserRec};
use super::op::{IamOp, StsOp};
use super::paging::{page, Page};
use super::params::Params;
use super::simulate::EvaluationResult;
use super::sts::{AssumeRoleInput, AssumeRoleOutput, CallerIdentity, SessionCredentials};
use super::{Actor, CreateRoleInput, EntityKind, Iam, PolicyView};
use crate::audit::{AuditFacts, Outcome};
use crate::error::{ApiError, IamError};
use crate::kms::Kms;
use crate::principal::{Principal, RequestMeta};

/// IAM API version.
pub const IAM_VERSION: &str = "2010-05-08";
/// STS API version.
pub const STS_VERSION: &str = "2011-06-15";

/// The awsQuery API a call is addressed to (the credential scope's service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryApi {
    Iam,
    Sts,
}

/// What an IAM or STS operation answers, by shape. Secrets (a new access key's secret, a
/// session's secret and token) are in the reply for the caller only; the audit facts
/// never hold them.
#[derive(Debug, Clone)]
pub enum Reply {
    /// No output (`DeleteUser`, `PutUserPolicy`, ...): the response has no `Result` element.
    Empty,
    /// An output structure with no members (`UpdateRole`): an empty `Result` element.
    EmptyResult,
    /// `User` with its boundary and tags (CreateUser, GetUser; the root user has no name).
    User(UserRec),
    /// `Users` (ListUsers).
    Users(Page<UserRec>),
    /// `AccessKey` with its secret (CreateAccessKey); `user_name` empty for the root's key.
    AccessKey {
        user_name: String,
        key: AccessKeyRec,
    },
    /// `AccessKeyMetadata` (ListAccessKeys), without secrets.
    AccessKeys {
        user_name: String,
        page: Page<AccessKeyRec>,
    },
    /// `Group` (CreateGroup).
    Group(GroupRec),
    /// `Group` and its `Users` (GetGroup).
    GroupWithUsers {
        group: GroupRec,
        users: Page<UserRec>,
    },
    /// `Groups` (ListGroups, ListGroupsForUser).
    Groups(Page<GroupRec>),
    /// `Role`; `last_used` adds `RoleLastUsed` (GetRole, not CreateRole).
    Role { role: RoleRec, last_used: bool },
    /// `Roles` (ListRoles).
    Roles(Page<RoleRec>),
    /// An inline policy (Get{User,Group,Role}Policy): the entity's name member, the policy
    /// name and its document.
    InlinePolicy {
        kind: EntityKind,
        entity: String,
        name: String,
        document: String,
    },
    /// `PolicyNames` (List{User,Group,Role}Policies).
    PolicyNames(Page<String>),
    /// `Policy` (CreatePolicy, GetPolicy).
    Policy(PolicyView),
    /// `Policies` (ListPolicies).
    Policies(Page<PolicyView>),
    /// `PolicyVersion`; `with_document` false for CreatePolicyVersion, as AWS.
    PolicyVersion {
        version: PolicyVersionRec,
        is_default: bool,
        with_document: bool,
    },
    /// `Versions`: each version and whether it is the default (ListPolicyVersions).
    PolicyVersions(Page<(PolicyVersionRec, bool)>),
    /// `AttachedPolicies`: (name, ARN) (ListAttached{User,Group,Role}Policies).
    AttachedPolicies(Page<(String, String)>),
    /// `Tags` (ListUserTags, ListRoleTags).
    Tags(Page<(String, String)>),
    /// `EvaluationResults` (SimulatePrincipalPolicy, SimulateCustomPolicy; never truncated).
    Simulation(Vec<EvaluationResult>),
    /// GetCallerIdentity.
    CallerIdentity(CallerIdentity),
    /// GetSessionToken's `Credentials`.
    SessionToken(SessionCredentials),
    /// AssumeRole's `AssumedRoleUser`, `Credentials`, `PackedPolicySize`, `SourceIdentity`.
    AssumedRole(AssumeRoleOutput),
}

fn invalid_action(action: &str, version: &str) -> ApiError {
    ApiError::new(
        IamError::InvalidAction,
        format!("Could not find operation {action} for version {version}"),
    )
}

/// A user or the account root calling with GetSessionToken credentials (role sessions are
/// `AssumedRole` callers): such credentials cannot call IAM API operations (without MFA,
/// which kmsd does not have).
pub fn is_session_token_caller(principal: &Principal) -> bool {
    principal.token_issue_time.is_some()
        && matches!(principal.caller, Caller::User { .. } | Caller::Root { .. })
}

impl Iam {
    /// One IAM or STS call on the form pairs of its request (`Action` names the operation).
    /// `kms` is the KMS state the policy simulator reads key policies from; without it the
    /// simulator answers `ServiceFailure`. The outcome's facts hold the decision the
    /// operation's authorization reached and every parameter but `Action` and `Version`
    /// (awsQuery IAM/STS inputs hold no secrets).
    pub fn call(
        &self,
        kms: Option<&Kms>,
        principal: &Principal,
        meta: &RequestMeta,
        api: QueryApi,
        pairs: &[(String, String)],
    ) -> Outcome<Reply> {
        let p = Params::new(pairs);
        let action = p.get("Action").unwrap_or_default();
        let mut actor = Actor::new(principal, meta);
        let result = match api {
            // GetSessionToken credentials (a user's or the root's temporary keys, no MFA in
            // kmsd) cannot call IAM API operations.
            QueryApi::Iam if is_session_token_caller(principal) => Err(ApiError::new(
                IamError::InvalidClientTokenId,
                "The security token included in the request is invalid.",
            )),
            QueryApi::Iam => match IamOp::from_name(action) {
                Some(op) if op.spec().implemented => {
                    self.run_op(|| self.iam_op(kms, &mut actor, op, &p))
                }
                _ => Err(invalid_action(action, IAM_VERSION)),
            },
            QueryApi::Sts => match StsOp::from_name(action) {
                Some(op) if op.spec().implemented => {
                    self.run_op(|| self.sts_op(&mut actor, op, &p))
                }
                _ => Err(invalid_action(action, STS_VERSION)),
            },
        };
        Outcome::new(
            result,
            AuditFacts {
                decision: actor.decision(),
                request_parameters: p.to_json(),
                ..AuditFacts::default()
            },
        )
    }

    fn iam_op(
        &self,
        kms: Option<&Kms>,
        actor: &mut Actor<'_>,
        op: IamOp,
        p: &Params,
    ) -> Result<Reply, ApiError> {
        use IamOp as O;
        let kind = kind_of(op);
        let entity = || p.required(name_param(kind));
        Ok(match op {
            O::CreateUser => Reply::User(self.create_user(
                actor,
                p.required("UserName")?,
                p.get("Path"),
                p.get("PermissionsBoundary"),
                p.tags("Tags")?,
            )?),
            O::GetUser => Reply::User(self.get_user(actor, p.get("UserName"))?),
            O::DeleteUser => {
                self.delete_user(actor, p.required("UserName")?)?;
                Reply::Empty
            }
            O::ListUsers => Reply::Users(page(self.list_users(actor, p.get("PathPrefix"))?, p)?),
            O::CreateAccessKey => {
                let key = self.create_access_key(actor, p.get("UserName"))?;
                let user_name = match &key.owner {
                    KeyOwner::User(n) => n.clone(),
                    KeyOwner::Root => String::new(),
                };
                Reply::AccessKey { user_name, key }
            }
            O::DeleteAccessKey => {
                self.delete_access_key(actor, p.get("UserName"), p.required("AccessKeyId")?)?;
                Reply::Empty
            }
            O::ListAccessKeys => {
                let (user_name, keys) = self.list_access_keys(actor, p.get("UserName"))?;
                Reply::AccessKeys {
                    user_name,
                    page: page(keys, p)?,
                }
            }
            O::UpdateAccessKey => {
                self.update_access_key(
                    actor,
                    p.get("UserName"),
                    p.required("AccessKeyId")?,
                    p.required("Status")?,
                )?;
                Reply::Empty
            }
            O::CreateGroup => {
                Reply::Group(self.create_group(actor, p.required("GroupName")?, p.get("Path"))?)
            }
            O::GetGroup => {
                let (group, users) = self.get_group(actor, p.required("GroupName")?)?;
                Reply::GroupWithUsers {
                    group,
                    users: page(users, p)?,
                }
            }
            O::DeleteGroup => {
                self.delete_group(actor, p.required("GroupName")?)?;
                Reply::Empty
            }
            O::ListGroups => Reply::Groups(page(self.list_groups(actor, p.get("PathPrefix"))?, p)?),
            O::ListGroupsForUser => Reply::Groups(page(
                self.list_groups_for_user(actor, p.required("UserName")?)?,
                p,
            )?),
            O::AddUserToGroup | O::RemoveUserFromGroup => {
                self.set_group_membership(
                    actor,
                    p.required("GroupName")?,
                    p.required("UserName")?,
                    op == O::AddUserToGroup,
                )?;
                Reply::Empty
            }
            O::CreateRole => {
                let input = CreateRoleInput {
                    name: p.required("RoleName")?.to_string(),
                    path: p.get("Path").map(str::to_string),
                    assume_role_policy: p.required("AssumeRolePolicyDocument")?.to_string(),
                    description: p.get("Description").map(str::to_string),
                    max_session_duration: p.int("MaxSessionDuration")?,
                    permissions_boundary: p.get("PermissionsBoundary").map(str::to_string),
                    tags: p.tags("Tags")?,
                };
                Reply::Role {
                    role: self.create_role(actor, input)?,
                    last_used: false,
                }
            }
            O::GetRole => Reply::Role {
                role: self.get_role(actor, p.required("RoleName")?)?,
                last_used: true,
            },
            O::DeleteRole => {
                self.delete_role(actor, p.required("RoleName")?)?;
                Reply::Empty
            }
            O::ListRoles => Reply::Roles(page(self.list_roles(actor, p.get("PathPrefix"))?, p)?),
            O::UpdateRole => {
                self.update_role(
                    actor,
                    p.required("RoleName")?,
                    p.get("Description"),
                    p.int("MaxSessionDuration")?,
                )?;
                // The model's output is an empty UpdateRoleResponse structure (botocore
                // looks for its element).
                Reply::EmptyResult
            }
            O::UpdateAssumeRolePolicy => {
                self.update_assume_role_policy(
                    actor,
                    p.required("RoleName")?,
                    p.required("PolicyDocument")?,
                )?;
                Reply::Empty
            }
            O::PutUserPolicy | O::PutGroupPolicy | O::PutRolePolicy => {
                self.put_inline_policy(
                    actor,
                    kind,
                    entity()?,
                    p.required("PolicyName")?,
                    p.required("PolicyDocument")?,
                )?;
                Reply::Empty
            }
            O::GetUserPolicy | O::GetGroupPolicy | O::GetRolePolicy => {
                let (entity, name, document) =
                    self.get_inline_policy(actor, kind, entity()?, p.required("PolicyName")?)?;
                Reply::InlinePolicy {
                    kind,
                    entity,
                    name,
                    document,
                }
            }
            O::DeleteUserPolicy | O::DeleteGroupPolicy | O::DeleteRolePolicy => {
                self.delete_inline_policy(actor, kind, entity()?, p.required("PolicyName")?)?;
                Reply::Empty
            }
            O::ListUserPolicies | O::ListGroupPolicies | O::ListRolePolicies => {
                Reply::PolicyNames(page(self.list_inline_policies(actor, kind, entity()?)?, p)?)
            }
            O::CreatePolicy => Reply::Policy(self.create_policy(
                actor,
                p.required("PolicyName")?,
                p.get("Path"),
                p.required("PolicyDocument")?,
                p.get("Description"),
                p.tags("Tags")?,
            )?),
            O::GetPolicy => Reply::Policy(self.get_policy(actor, p.required("PolicyArn")?)?),
            O::DeletePolicy => {
                self.delete_policy(actor, p.required("PolicyArn")?)?;
                Reply::Empty
            }
            O::ListPolicies => Reply::Policies(page(
                self.list_policies_in_scope(actor, p.get("PathPrefix"), p.get("Scope"))?,
                p,
            )?),
            O::CreatePolicyVersion => {
                let (version, is_default) = self.create_policy_version(
                    actor,
                    p.required("PolicyArn")?,
                    p.required("PolicyDocument")?,
                    p.bool("SetAsDefault")?.unwrap_or(false),
                )?;
                Reply::PolicyVersion {
                    version,
                    is_default,
                    with_document: false,
                }
            }
            O::GetPolicyVersion => {
                let (version, is_default) = self.get_policy_version(
                    actor,
                    p.required("PolicyArn")?,
                    p.required("VersionId")?,
                )?;
                Reply::PolicyVersion {
                    version,
                    is_default,
                    with_document: true,
                }
            }
            O::DeletePolicyVersion => {
                self.delete_policy_version(
                    actor,
                    p.required("PolicyArn")?,
                    p.required("VersionId")?,
                )?;
                Reply::Empty
            }
            O::SetDefaultPolicyVersion => {
                self.set_default_policy_version(
                    actor,
                    p.required("PolicyArn")?,
                    p.required("VersionId")?,
                )?;
                Reply::Empty
            }
            O::ListPolicyVersions => Reply::PolicyVersions(page(
                self.list_policy_versions(actor, p.required("PolicyArn")?)?,
                p,
            )?),
            O::AttachUserPolicy
            | O::AttachGroupPolicy
            | O::AttachRolePolicy
            | O::DetachUserPolicy
            | O::DetachGroupPolicy
            | O::DetachRolePolicy => {
                let attach = matches!(
                    op,
                    O::AttachUserPolicy | O::AttachGroupPolicy | O::AttachRolePolicy
                );
                self.set_attached_policy(actor, kind, entity()?, p.required("PolicyArn")?, attach)?;
                Reply::Empty
            }
            O::ListAttachedUserPolicies
            | O::ListAttachedGroupPolicies
            | O::ListAttachedRolePolicies => Reply::AttachedPolicies(page(
                self.list_attached_policies(actor, kind, entity()?)?,
                p,
            )?),
            O::PutUserPermissionsBoundary | O::PutRolePermissionsBoundary => {
                let name = entity()?;
                let boundary = p.required("PermissionsBoundary")?;
                self.set_permissions_boundary(actor, kind, name, Some(boundary))?;
                Reply::Empty
            }
            O::DeleteUserPermissionsBoundary | O::DeleteRolePermissionsBoundary => {
                self.set_permissions_boundary(actor, kind, entity()?, None)?;
                Reply::Empty
            }
            O::TagUser | O::TagRole => {
                let tags = p.tags("Tags")?;
                if tags.is_empty() {
                    return Err(p.required("Tags").err().unwrap_or_else(|| {
                        ApiError::new(IamError::ValidationError, "Tags must not be empty")
                    }));
                }
                self.tag_entity(actor, kind, entity()?, tags)?;
                Reply::Empty
            }
            O::UntagUser | O::UntagRole => {
                let keys = p.list("TagKeys");
                if keys.is_empty() {
                    return Err(p.required("TagKeys").err().unwrap_or_else(|| {
                        ApiError::new(IamError::ValidationError, "TagKeys must not be empty")
                    }));
                }
                self.untag_entity(actor, kind, entity()?, &keys)?;
                Reply::Empty
            }
            O::ListUserTags | O::ListRoleTags => {
                Reply::Tags(page(self.list_entity_tags(actor, kind, entity()?)?, p)?)
            }
            O::SimulatePrincipalPolicy | O::SimulateCustomPolicy => match kms {
                Some(kms) => Reply::Simulation(self.simulate(kms, actor, op, p)?),
                None => {
                    return Err(ApiError::new(
                        IamError::ServiceFailure,
                        format!("{op} needs the KMS state, which this handler was not given."),
                    ))
                }
            },
            // Operations of the model kmsd does not serve.
            O::AcceptDelegationRequest
            | O::AcquireRole
            | O::AddClientIDToOpenIDConnectProvider
            | O::AddRoleToInstanceProfile
            | O::AssociateDelegationRequest
            | O::ChangePassword
            | O::CreateAccountAlias
            | O::CreateDelegationRequest
            | O::CreateInstanceProfile
            | O::CreateLoginProfile
            | O::CreateOpenIDConnectProvider
            | O::CreateSAMLProvider
            | O::CreateServiceLinkedRole
            | O::CreateServiceSpecificCredential
            | O::CreateVirtualMFADevice
            | O::DeactivateMFADevice
            | O::DeleteAccountAlias
            | O::DeleteAccountPasswordPolicy
            | O::DeleteInstanceProfile
            | O::DeleteLoginProfile
            | O::DeleteOpenIDConnectProvider
            | O::DeleteSAMLProvider
            | O::DeleteSSHPublicKey
            | O::DeleteServerCertificate
            | O::DeleteServiceLinkedRole
            | O::DeleteServiceSpecificCredential
            | O::DeleteSigningCertificate
            | O::DeleteVirtualMFADevice
            | O::DisableOrganizationsRootCredentialsManagement
            | O::DisableOrganizationsRootSessions
            | O::DisableOutboundWebIdentityFederation
            | O::EnableMFADevice
            | O::EnableOrganizationsRootCredentialsManagement
            | O::EnableOrganizationsRootSessions
            | O::EnableOutboundWebIdentityFederation
            | O::GenerateCredentialReport
            | O::GenerateOrganizationsAccessReport
            | O::GenerateServiceLastAccessedDetails
            | O::GetAccessKeyLastUsed
            | O::GetAccountAuthorizationDetails
            | O::GetAccountPasswordPolicy
            | O::GetAccountProperties
            | O::GetAccountSummary
            | O::GetContextKeysForCustomPolicy
            | O::GetContextKeysForPrincipalPolicy
            | O::GetCredentialReport
            | O::GetDelegationRequest
            | O::GetHumanReadableSummary
            | O::GetInstanceProfile
            | O::GetLoginProfile
            | O::GetMFADevice
            | O::GetOpenIDConnectProvider
            | O::GetOrganizationsAccessReport
            | O::GetOutboundWebIdentityFederationInfo
            | O::GetRoleTemplateVersion
            | O::GetSAMLProvider
            | O::GetSSHPublicKey
            | O::GetServerCertificate
            | O::GetServiceLastAccessedDetails
            | O::GetServiceLastAccessedDetailsWithEntities
            | O::GetServiceLinkedRoleDeletionStatus
            | O::ListAccountAliases
            | O::ListDelegationRequests
            | O::ListEntitiesForPolicy
            | O::ListInstanceProfileTags
            | O::ListInstanceProfiles
            | O::ListInstanceProfilesForRole
            | O::ListMFADeviceTags
            | O::ListMFADevices
            | O::ListOpenIDConnectProviderTags
            | O::ListOpenIDConnectProviders
            | O::ListOrganizationsFeatures
            | O::ListPoliciesGrantingServiceAccess
            | O::ListPolicyTags
            | O::ListSAMLProviderTags
            | O::ListSAMLProviders
            | O::ListSSHPublicKeys
            | O::ListServerCertificateTags
            | O::ListServerCertificates
            | O::ListServiceSpecificCredentials
            | O::ListSigningCertificates
            | O::ListVirtualMFADevices
            | O::PutAccountProperties
            | O::RejectDelegationRequest
            | O::RemoveClientIDFromOpenIDConnectProvider
            | O::RemoveRoleFromInstanceProfile
            | O::ResetServiceSpecificCredential
            | O::ResyncMFADevice
            | O::SendDelegationToken
            | O::SetSecurityTokenServicePreferences
            | O::TagInstanceProfile
            | O::TagMFADevice
            | O::TagOpenIDConnectProvider
            | O::TagPolicy
            | O::TagSAMLProvider
            | O::TagServerCertificate
            | O::UntagInstanceProfile
            | O::UntagMFADevice
            | O::UntagOpenIDConnectProvider
            | O::UntagPolicy
            | O::UntagSAMLProvider
            | O::UntagServerCertificate
            | O::UpdateAccountPasswordPolicy
            | O::UpdateDelegationRequest
            | O::UpdateGroup
            | O::UpdateLoginProfile
            | O::UpdateOpenIDConnectProvider
            | O::UpdateOpenIDConnectProviderThumbprint
            | O::UpdateRoleDescription
            | O::UpdateSAMLProvider
            | O::UpdateSSHPublicKey
            | O::UpdateServerCertificate
            | O::UpdateServiceSpecificCredential
            | O::UpdateSigningCertificate
            | O::UpdateUser
            | O::UploadSSHPublicKey
            | O::UploadServerCertificate
            | O::UploadSigningCertificate => return Err(invalid_action(op.name(), IAM_VERSION)),
        })
    }

    fn sts_op(&self, actor: &mut Actor<'_>, op: StsOp, p: &Params) -> Result<Reply, ApiError> {
        Ok(match op {
            StsOp::GetCallerIdentity => Reply::CallerIdentity(self.get_caller_identity(actor)),
            StsOp::GetSessionToken => {
                Reply::SessionToken(self.get_session_token(actor, p.int("DurationSeconds")?)?)
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
                Reply::AssumedRole(self.assume_role(actor, &input)?)
            }
            StsOp::AssumeRoleWithSAML
            | StsOp::AssumeRoleWithWebIdentity
            | StsOp::AssumeRoot
            | StsOp::DecodeAuthorizationMessage
            | StsOp::GetAccessKeyInfo
            | StsOp::GetDelegatedAccessToken
            | StsOp::GetFederationToken
            | StsOp::GetScopedCredentials
            | StsOp::GetWebIdentityToken => return Err(invalid_action(op.name(), STS_VERSION)),
        })
    }
}

/// The kind of entity an operation on users, groups or roles addresses, from its name
/// (`PutGroupPolicy` → group); `User` for the others, which do not read it.
fn kind_of(op: IamOp) -> EntityKind {
    let name = op.name();
    if name.contains("Group") {
        EntityKind::Group
    } else if name.contains("Role") {
        EntityKind::Role
    } else {
        EntityKind::User
    }
}

/// The parameter naming the entity of a kind (`UserName`, `GroupName`, `RoleName`).
pub fn name_param(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "UserName",
        EntityKind::Group => "GroupName",
        EntityKind::Role => "RoleName",
    }
}

#[cfg(test)]
mod tests;
