//! Who is making a request: the identity chain of §2.3 (account, user or role, session).

/// An authenticated caller. The identity chain is account → user, or account → role → session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The root user of an account (`arn:aws:iam::ACCT:root`).
    Root { account: String },
    /// An IAM user.
    User {
        account: String,
        /// `arn:aws:iam::ACCT:user/PATH/NAME`
        arn: String,
        name: String,
        /// `AIDA…`
        unique_id: String,
    },
    /// A role session made by AssumeRole.
    AssumedRole {
        account: String,
        /// `arn:aws:iam::ACCT:role/PATH/NAME` (this is `aws:PrincipalArn`)
        role_arn: String,
        role_name: String,
        /// `AROA…`
        role_unique_id: String,
        session_name: String,
    },
}

impl Caller {
    /// The caller's account id.
    pub fn account(&self) -> &str {
        match self {
            Caller::Root { account }
            | Caller::User { account, .. }
            | Caller::AssumedRole { account, .. } => account,
        }
    }

    /// The ARN AWS prints in messages and returns from GetCallerIdentity
    /// (the session ARN for role sessions).
    pub fn arn(&self) -> String {
        match self {
            Caller::Root { account } => format!("arn:aws:iam::{account}:root"),
            Caller::User { arn, .. } => arn.clone(),
            Caller::AssumedRole {
                account,
                role_name,
                session_name,
                ..
            } => format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"),
        }
    }

    /// `aws:PrincipalArn`: the role ARN (with path) for sessions.
    pub fn principal_arn(&self) -> String {
        match self {
            Caller::AssumedRole { role_arn, .. } => role_arn.clone(),
            other => other.arn(),
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Caller::Root { .. } => "Account",
            Caller::User { .. } => "User",
            Caller::AssumedRole { .. } => "AssumedRole",
        }
    }

    /// `aws:userid`.
    pub fn userid(&self) -> String {
        match self {
            Caller::Root { account } => account.clone(),
            Caller::User { unique_id, .. } => unique_id.clone(),
            Caller::AssumedRole {
                role_unique_id,
                session_name,
                ..
            } => format!("{role_unique_id}:{session_name}"),
        }
    }

    /// `aws:username` (users only).
    pub fn username(&self) -> Option<&str> {
        match self {
            Caller::User { name, .. } => Some(name),
            _ => None,
        }
    }

    /// True for the account root user.
    pub fn is_root(&self) -> bool {
        matches!(self, Caller::Root { .. })
    }
}
