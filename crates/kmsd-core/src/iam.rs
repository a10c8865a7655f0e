//! IAM: accounts, users, groups, roles, managed and inline policies, access keys, and
//! resolving credentials to a [`crate::principal::Principal`].
