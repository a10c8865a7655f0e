//! AWS managed policies (`arn:aws:iam::aws:policy/NAME`): a small built-in catalog that
//! every account can attach to users, groups and roles, use as a permissions boundary or
//! pass as a session policy ARN, and read with GetPolicy / GetPolicyVersion /
//! ListPolicyVersions / ListPolicies (Scope `AWS` or `All`). They cannot be changed or
//! deleted. Only policies whose documents are short and well known are included.

use std::sync::LazyLock;

use super::model::{PolicyRec, PolicyVersionRec};

/// The account part of an AWS managed policy ARN.
pub const AWS_ACCOUNT: &str = "aws";

/// ARN prefix of AWS managed policies (path `/`).
pub const ARN_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// 2015-02-06T18:39:46Z, when AWS published its first managed policies.
const CREATED: i64 = 1_423_248_386;

const CATALOG: &[(&str, &str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "PowerUserAccess",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        "ANPAJNPP7PPPPMJRV2SA4",
        "Provides access to AWS Key Management Service (KMS).",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    ),
];

static POLICIES: LazyLock<Vec<PolicyRec>> = LazyLock::new(|| {
    CATALOG
        .iter()
        .map(|(name, id, description, document)| PolicyRec {
            account: AWS_ACCOUNT.to_string(),
            name: (*name).to_string(),
            path: "/".to_string(),
            policy_id: (*id).to_string(),
            created: CREATED,
            updated: CREATED,
            description: Some((*description).to_string()),
            default_version: "v1".to_string(),
            versions: vec![PolicyVersionRec {
                id: "v1".to_string(),
                document: (*document).to_string(),
                created: CREATED,
            }],
            next_version: 2,
            tags: Vec::new(),
        })
        .collect()
});

/// The AWS managed policy with this ARN, if it is in the catalog.
pub fn by_arn(arn: &str) -> Option<&'static PolicyRec> {
    let name = arn.strip_prefix(ARN_PREFIX)?;
    POLICIES.iter().find(|p| p.name == name)
}

/// Every AWS managed policy of the catalog.
pub fn all() -> &'static [PolicyRec] {
    &POLICIES
}

/// Is this an AWS managed policy ARN (in the catalog or not)?
pub fn is_aws_managed_arn(arn: &str) -> bool {
    arn.starts_with(ARN_PREFIX)
}
