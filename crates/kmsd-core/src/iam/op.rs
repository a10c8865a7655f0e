//! The IAM and STS operation tables: one row per operation kmsd serves (IAM) or the STS
//! model has (STS), with its IAM action, CloudTrail `readOnly` and whether it may commit to
//! the store. [`Iam::call`](super::Iam::call) turns an `Action=` into [`IamOp`] / [`StsOp`]
//! and dispatches with an exhaustive `match`; the audit record reads `read_only` and the
//! wire layer's protocol guess reads the STS names. `action` and `commits` document each
//! operation (tests pin them); every awsQuery call runs on the server's blocking pool.

/// One row of an awsQuery operation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOpSpec {
    /// The `Action=` name and CloudTrail `eventName`.
    pub name: &'static str,
    /// The IAM action it is authorized with (`iam:CreateUser`, `sts:AssumeRole`).
    pub action: &'static str,
    /// CloudTrail `readOnly`.
    pub read_only: bool,
    /// May commit to the store (runs on the blocking pool).
    pub commits: bool,
    /// kmsd serves it (an operation of the model it does not serve is `InvalidAction`).
    pub implemented: bool,
}

macro_rules! query_ops {
    ($(#[$m:meta])* $name:ident, $table:ident, $service:literal, [$($op:ident: $ro:literal, $commits:literal, $implemented:literal;)+]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($op),+ }

        /// The table, in the enum's order (sorted by name: a test checks it).
        pub static $table: &[QueryOpSpec] = &[$(QueryOpSpec {
            name: stringify!($op),
            action: concat!($service, ":", stringify!($op)),
            read_only: $ro,
            commits: $commits,
            implemented: $implemented,
        }),+];

        impl $name {
            /// Every operation.
            pub const ALL: &'static [$name] = &[$($name::$op),+];

            /// The operation's row.
            pub fn spec(self) -> &'static QueryOpSpec {
                &$table[self as usize]
            }

            /// The wire name.
            pub fn name(self) -> &'static str {
                self.spec().name
            }

            /// The operation of an `Action=` name (exact spelling).
            pub fn from_name(name: &str) -> Option<$name> {
                $table
                    .binary_search_by(|s| s.name.cmp(name))
                    .ok()
                    .and_then(|i| Self::ALL.get(i).copied())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

query_ops!(
    /// An operation of IAM's model (`implemented`: kmsd serves it; any other answers
    /// `InvalidAction`, as an unknown name does).
    IamOp, IAM_OPS, "iam", [
        AcceptDelegationRequest: false, false, false;
        AcquireRole: false, false, false;
        AddClientIDToOpenIDConnectProvider: false, false, false;
        AddRoleToInstanceProfile: false, false, false;
        AddUserToGroup: false, true, true;
        AssociateDelegationRequest: false, false, false;
        AttachGroupPolicy: false, true, true;
        AttachRolePolicy: false, true, true;
        AttachUserPolicy: false, true, true;
        ChangePassword: false, false, false;
        CreateAccessKey: false, true, true;
        CreateAccountAlias: false, false, false;
        CreateDelegationRequest: false, false, false;
        CreateGroup: false, true, true;
        CreateInstanceProfile: false, false, false;
        CreateLoginProfile: false, false, false;
        CreateOpenIDConnectProvider: false, false, false;
        CreatePolicy: false, true, true;
        CreatePolicyVersion: false, true, true;
        CreateRole: false, true, true;
        CreateSAMLProvider: false, false, false;
        CreateServiceLinkedRole: false, false, false;
        CreateServiceSpecificCredential: false, false, false;
        CreateUser: false, true, true;
        CreateVirtualMFADevice: false, false, false;
        DeactivateMFADevice: false, false, false;
        DeleteAccessKey: false, true, true;
        DeleteAccountAlias: false, false, false;
        DeleteAccountPasswordPolicy: false, false, false;
        DeleteGroup: false, true, true;
        DeleteGroupPolicy: false, true, true;
        DeleteInstanceProfile: false, false, false;
        DeleteLoginProfile: false, false, false;
        DeleteOpenIDConnectProvider: false, false, false;
        DeletePolicy: false, true, true;
        DeletePolicyVersion: false, true, true;
        DeleteRole: false, true, true;
        DeleteRolePermissionsBoundary: false, true, true;
        DeleteRolePolicy: false, true, true;
        DeleteSAMLProvider: false, false, false;
        DeleteSSHPublicKey: false, false, false;
        DeleteServerCertificate: false, false, false;
        DeleteServiceLinkedRole: false, false, false;
        DeleteServiceSpecificCredential: false, false, false;
        DeleteSigningCertificate: false, false, false;
        DeleteUser: false, true, true;
        DeleteUserPermissionsBoundary: false, true, true;
        DeleteUserPolicy: false, true, true;
        DeleteVirtualMFADevice: false, false, false;
        DetachGroupPolicy: false, true, true;
        DetachRolePolicy: false, true, true;
        DetachUserPolicy: false, true, true;
        DisableOrganizationsRootCredentialsManagement: false, false, false;
        DisableOrganizationsRootSessions: false, false, false;
        DisableOutboundWebIdentityFederation: false, false, false;
        EnableMFADevice: false, false, false;
        EnableOrganizationsRootCredentialsManagement: false, false, false;
        EnableOrganizationsRootSessions: false, false, false;
        EnableOutboundWebIdentityFederation: false, false, false;
        GenerateCredentialReport: false, false, false;
        GenerateOrganizationsAccessReport: false, false, false;
        GenerateServiceLastAccessedDetails: false, false, false;
        GetAccessKeyLastUsed: true, false, false;
        GetAccountAuthorizationDetails: true, false, false;
        GetAccountPasswordPolicy: true, false, false;
        GetAccountProperties: true, false, false;
        GetAccountSummary: true, false, false;
        GetContextKeysForCustomPolicy: true, false, false;
        GetContextKeysForPrincipalPolicy: true, false, false;
        GetCredentialReport: true, false, false;
        GetDelegationRequest: true, false, false;
        GetGroup: true, false, true;
        GetGroupPolicy: true, false, true;
        GetHumanReadableSummary: true, false, false;
        GetInstanceProfile: true, false, false;
        GetLoginProfile: true, false, false;
        GetMFADevice: true, false, false;
        GetOpenIDConnectProvider: true, false, false;
        GetOrganizationsAccessReport: true, false, false;
        GetOutboundWebIdentityFederationInfo: true, false, false;
        GetPolicy: true, false, true;
        GetPolicyVersion: true, false, true;
        GetRole: true, false, true;
        GetRolePolicy: true, false, true;
        GetRoleTemplateVersion: true, false, false;
        GetSAMLProvider: true, false, false;
        GetSSHPublicKey: true, false, false;
        GetServerCertificate: true, false, false;
        GetServiceLastAccessedDetails: true, false, false;
        GetServiceLastAccessedDetailsWithEntities: true, false, false;
        GetServiceLinkedRoleDeletionStatus: true, false, false;
        GetUser: true, false, true;
        GetUserPolicy: true, false, true;
        ListAccessKeys: true, false, true;
        ListAccountAliases: true, false, false;
        ListAttachedGroupPolicies: true, false, true;
        ListAttachedRolePolicies: true, false, true;
        ListAttachedUserPolicies: true, false, true;
        ListDelegationRequests: true, false, false;
        ListEntitiesForPolicy: true, false, false;
        ListGroupPolicies: true, false, true;
        ListGroups: true, false, true;
        ListGroupsForUser: true, false, true;
        ListInstanceProfileTags: true, false, false;
        ListInstanceProfiles: true, false, false;
        ListInstanceProfilesForRole: true, false, false;
        ListMFADeviceTags: true, false, false;
        ListMFADevices: true, false, false;
        ListOpenIDConnectProviderTags: true, false, false;
        ListOpenIDConnectProviders: true, false, false;
        ListOrganizationsFeatures: true, false, false;
        ListPolicies: true, false, true;
        ListPoliciesGrantingServiceAccess: true, false, false;
        ListPolicyTags: true, false, false;
        ListPolicyVersions: true, false, true;
        ListRolePolicies: true, false, true;
        ListRoleTags: true, false, true;
        ListRoles: true, false, true;
        ListSAMLProviderTags: true, false, false;
        ListSAMLProviders: true, false, false;
        ListSSHPublicKeys: true, false, false;
        ListServerCertificateTags: true, false, false;
        ListServerCertificates: true, false, false;
        ListServiceSpecificCredentials: true, false, false;
        ListSigningCertificates: true, false, false;
        ListUserPolicies: true, false, true;
        ListUserTags: true, false, true;
        ListUsers: true, false, true;
        ListVirtualMFADevices: true, false, false;
        PutAccountProperties: false, false, false;
        PutGroupPolicy: false, true, true;
        PutRolePermissionsBoundary: false, true, true;
        PutRolePolicy: false, true, true;
        PutUserPermissionsBoundary: false, true, true;
        PutUserPolicy: false, true, true;
        RejectDelegationRequest: false, false, false;
        RemoveClientIDFromOpenIDConnectProvider: false, false, false;
        RemoveRoleFromInstanceProfile: false, false, false;
        RemoveUserFromGroup: false, true, true;
        ResetServiceSpecificCredential: false, false, false;
        ResyncMFADevice: false, false, false;
        SendDelegationToken: false, false, false;
        SetDefaultPolicyVersion: false, true, true;
        SetSecurityTokenServicePreferences: false, false, false;
        SimulateCustomPolicy: true, false, true;
        SimulatePrincipalPolicy: true, false, true;
        TagInstanceProfile: false, false, false;
        TagMFADevice: false, false, false;
        TagOpenIDConnectProvider: false, false, false;
        TagPolicy: false, false, false;
        TagRole: false, true, true;
        TagSAMLProvider: false, false, false;
        TagServerCertificate: false, false, false;
        TagUser: false, true, true;
        UntagInstanceProfile: false, false, false;
        UntagMFADevice: false, false, false;
        UntagOpenIDConnectProvider: false, false, false;
        UntagPolicy: false, false, false;
        UntagRole: false, true, true;
        UntagSAMLProvider: false, false, false;
        UntagServerCertificate: false, false, false;
        UntagUser: false, true, true;
        UpdateAccessKey: false, true, true;
        UpdateAccountPasswordPolicy: false, false, false;
        UpdateAssumeRolePolicy: false, true, true;
        UpdateDelegationRequest: false, false, false;
        UpdateGroup: false, false, false;
        UpdateLoginProfile: false, false, false;
        UpdateOpenIDConnectProvider: false, false, false;
        UpdateOpenIDConnectProviderThumbprint: false, false, false;
        UpdateRole: false, true, true;
        UpdateRoleDescription: false, false, false;
        UpdateSAMLProvider: false, false, false;
        UpdateSSHPublicKey: false, false, false;
        UpdateServerCertificate: false, false, false;
        UpdateServiceSpecificCredential: false, false, false;
        UpdateSigningCertificate: false, false, false;
        UpdateUser: false, false, false;
        UploadSSHPublicKey: false, false, false;
        UploadServerCertificate: false, false, false;
        UploadSigningCertificate: false, false, false;
    ]
);

query_ops!(
    /// An STS operation of the model.
    StsOp, STS_OPS, "sts", [
        AssumeRole: false, true, true;
        AssumeRoleWithSAML: false, false, false;
        AssumeRoleWithWebIdentity: false, false, false;
        AssumeRoot: false, false, false;
        DecodeAuthorizationMessage: true, false, false;
        GetAccessKeyInfo: true, false, false;
        GetCallerIdentity: true, false, true;
        GetDelegatedAccessToken: false, false, false;
        GetFederationToken: false, false, false;
        GetScopedCredentials: false, false, false;
        GetSessionToken: false, true, true;
        GetWebIdentityToken: false, false, false;
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_round_trip() {
        for (i, op) in IamOp::ALL.iter().enumerate() {
            assert_eq!(IAM_OPS[i].name, op.name());
            assert_eq!(IamOp::from_name(op.name()), Some(*op));
        }
        for (i, op) in StsOp::ALL.iter().enumerate() {
            assert_eq!(STS_OPS[i].name, op.name());
            assert_eq!(StsOp::from_name(op.name()), Some(*op));
        }
        assert!(IAM_OPS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(STS_OPS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(IamOp::from_name("createuser"), None);
        assert_eq!(IamOp::CreateUser.spec().action, "iam:CreateUser");
        assert!(IamOp::GetUser.spec().read_only);
        assert!(!StsOp::AssumeRoleWithSAML.spec().implemented);
    }
}
