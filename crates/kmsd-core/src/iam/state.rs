//! What IAM holds in memory (`State`: accounts, users, groups, roles, policies, access
//! keys, sessions by account and lower-cased name) and the decoding of a stored record.

use std::collections::BTreeMap;

use super::aws_managed;
use super::model::{
    self, AccessKeyRec, AccountRec, GroupRec, ParsedArn, PolicyRec, RoleRec, SessionRec, UserRec,
};
use crate::error::{ApiError, IamError};

/// Everything IAM holds, keyed by (account, lower-cased name): IAM names are unique
/// regardless of case.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub accounts: BTreeMap<String, AccountRec>,
    pub users: BTreeMap<(String, String), UserRec>,
    pub groups: BTreeMap<(String, String), GroupRec>,
    pub roles: BTreeMap<(String, String), RoleRec>,
    pub policies: BTreeMap<(String, String), PolicyRec>,
    pub keys: BTreeMap<String, AccessKeyRec>,
    pub sessions: BTreeMap<String, SessionRec>,
}

pub(crate) fn key(account: &str, name: &str) -> (String, String) {
    (account.to_string(), name.to_ascii_lowercase())
}

impl State {
    pub fn user(&self, account: &str, name: &str) -> Option<&UserRec> {
        self.users.get(&key(account, name))
    }
    pub fn group(&self, account: &str, name: &str) -> Option<&GroupRec> {
        self.groups.get(&key(account, name))
    }
    pub fn role(&self, account: &str, name: &str) -> Option<&RoleRec> {
        self.roles.get(&key(account, name))
    }
    /// A customer managed policy by ARN (path and name must match), or an AWS managed
    /// policy of the built-in catalog (`arn:aws:iam::aws:policy/NAME`).
    pub fn policy_by_arn(&self, arn: &str) -> Option<&PolicyRec> {
        if aws_managed::is_aws_managed_arn(arn) {
            return aws_managed::by_arn(arn);
        }
        match model::parse_arn(arn)? {
            ParsedArn::Policy {
                account,
                path,
                name,
            } => self
                .policies
                .get(&key(&account, &name))
                .filter(|p| p.path == path && p.name == name),
            _ => None,
        }
    }
    /// True if an account id, root, user, role or session-of-an-existing-role ARN exists.
    pub fn principal_exists(&self, arn: &str) -> bool {
        match model::parse_arn(arn) {
            Some(ParsedArn::Root { account }) => self.accounts.contains_key(&account),
            Some(ParsedArn::User {
                account,
                path,
                name,
            }) => self
                .user(&account, &name)
                .is_some_and(|u| u.path == path && u.name == name),
            Some(ParsedArn::Role { .. }) => self.role_by_arn(arn).is_some(),
            Some(ParsedArn::AssumedRole { account, role, .. }) => {
                self.role(&account, &role).is_some_and(|r| r.name == role)
            }
            _ => false,
        }
    }

    /// A role by ARN (path and name must match).
    pub fn role_by_arn(&self, arn: &str) -> Option<&RoleRec> {
        match model::parse_arn(arn)? {
            ParsedArn::Role {
                account,
                path,
                name,
            } => self
                .role(&account, &name)
                .filter(|r| r.path == path && r.name == name),
            _ => None,
        }
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    table: &str,
    key: &str,
    bytes: &[u8],
) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            IamError::ServiceFailure,
            format!("corrupt record {table}/{key}: {e}"),
        )
    })
}
