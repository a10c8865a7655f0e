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
    /// An IAM operation kmsd serves.
    IamOp, IAM_OPS, "iam", [
        AddUserToGroup: false, true, true;
        AttachGroupPolicy: false, true, true;
        AttachRolePolicy: false, true, true;
        AttachUserPolicy: false, true, true;
        CreateAccessKey: false, true, true;
        CreateGroup: false, true, true;
        CreatePolicy: false, true, true;
        CreatePolicyVersion: false, true, true;
        CreateRole: false, true, true;
        CreateUser: false, true, true;
        DeleteAccessKey: false, true, true;
        DeleteGroup: false, true, true;
        DeleteGroupPolicy: false, true, true;
        DeletePolicy: false, true, true;
        DeletePolicyVersion: false, true, true;
        DeleteRole: false, true, true;
        DeleteRolePermissionsBoundary: false, true, true;
        DeleteRolePolicy: false, true, true;
        DeleteUser: false, true, true;
        DeleteUserPermissionsBoundary: false, true, true;
        DeleteUserPolicy: false, true, true;
        DetachGroupPolicy: false, true, true;
        DetachRolePolicy: false, true, true;
        DetachUserPolicy: false, true, true;
        GetGroup: true, false, true;
        GetGroupPolicy: true, false, true;
        GetPolicy: true, false, true;
        GetPolicyVersion: true, false, true;
        GetRole: true, false, true;
        GetRolePolicy: true, false, true;
        GetUser: true, false, true;
        GetUserPolicy: true, false, true;
        ListAccessKeys: true, false, true;
        ListAttachedGroupPolicies: true, false, true;
        ListAttachedRolePolicies: true, false, true;
        ListAttachedUserPolicies: true, false, true;
        ListGroupPolicies: true, false, true;
        ListGroups: true, false, true;
        ListGroupsForUser: true, false, true;
        ListPolicies: true, false, true;
        ListPolicyVersions: true, false, true;
        ListRolePolicies: true, false, true;
        ListRoleTags: true, false, true;
        ListRoles: true, false, true;
        ListUserPolicies: true, false, true;
        ListUserTags: true, false, true;
        ListUsers: true, false, true;
        PutGroupPolicy: false, true, true;
        PutRolePermissionsBoundary: false, true, true;
        PutRolePolicy: false, true, true;
        PutUserPermissionsBoundary: false, true, true;
        PutUserPolicy: false, true, true;
        RemoveUserFromGroup: false, true, true;
        SetDefaultPolicyVersion: false, true, true;
        SimulateCustomPolicy: true, false, true;
        SimulatePrincipalPolicy: true, false, true;
        TagRole: false, true, true;
        TagUser: false, true, true;
        UntagRole: false, true, true;
        UntagUser: false, true, true;
        UpdateAccessKey: false, true, true;
        UpdateAssumeRolePolicy: false, true, true;
        UpdateRole: false, true, true;
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
