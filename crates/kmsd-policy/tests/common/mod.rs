//! Shared fixtures for the integration tests: the accounts, key and callers of §8.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test support shared by several test binaries, each using part of it; test code panics on failure"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_policy::{
    Caller, Grant, GrantConstraints, Policy, PolicyKind, PolicySet, PolicySourceType,
    RequestContext, SourcedPolicy,
};

pub const A: &str = "111122223333";
pub const B: &str = "444455556666";
pub const C: &str = "777788889999";
pub const K: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const K2: &str = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";

pub const KP_DEFAULT: &str = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;

pub fn user(account: &str, name: &str) -> Caller {
    Caller::User {
        account: account.into(),
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        name: name.into(),
        unique_id: format!("AIDA{}{}", account, name.to_ascii_uppercase()),
    }
}

pub fn session(account: &str, role: &str, name: &str) -> Caller {
    Caller::AssumedRole {
        account: account.into(),
        role_arn: format!("arn:aws:iam::{account}:role/{role}"),
        role_name: role.into(),
        role_unique_id: format!("AROA{}{}", account, role.to_ascii_uppercase()),
        session_name: name.into(),
    }
}

pub fn root(account: &str) -> Caller {
    Caller::Root {
        account: account.into(),
    }
}

pub fn must(text: &str, kind: PolicyKind) -> Arc<Policy> {
    match Policy::parse(text, kind) {
        Ok(p) => Arc::new(p),
        Err(e) => panic!("policy should parse: {e}\n{text}"),
    }
}

/// A document from statements, `Version` 2012-10-17.
pub fn doc(statements: &[&str]) -> String {
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
        statements.join(",")
    )
}

pub fn key_policy(statements: &[&str]) -> SourcedPolicy {
    SourcedPolicy {
        id: "key-policy".into(),
        source_type: PolicySourceType::Resource,
        policy: must(&doc(statements), PolicyKind::Key),
    }
}

pub fn sourced(id: &str, text: &str, kind: PolicyKind, st: PolicySourceType) -> SourcedPolicy {
    SourcedPolicy {
        id: id.into(),
        source_type: st,
        policy: must(text, kind),
    }
}

pub fn identity(id: &str, statements: &[&str]) -> SourcedPolicy {
    sourced(
        id,
        &doc(statements),
        PolicyKind::Identity,
        PolicySourceType::User,
    )
}

pub fn allow(actions: &str, resource: &str) -> String {
    format!(r#"{{"Effect":"Allow","Action":{actions},"Resource":"{resource}"}}"#)
}

pub fn policies(identity: Vec<SourcedPolicy>) -> PolicySet {
    PolicySet {
        identity,
        ..PolicySet::default()
    }
}

/// The request context core would build for a KMS call (§4): principal keys and encryption context.
pub fn kms_context(caller: &Caller, ec: Option<&BTreeMap<String, String>>) -> RequestContext {
    let mut ctx = RequestContext::new();
    ctx.set("aws:PrincipalArn", caller.principal_arn());
    ctx.set("aws:PrincipalAccount", caller.account());
    ctx.set("aws:PrincipalType", caller.principal_type());
    ctx.set("aws:userid", caller.userid());
    if let Some(n) = caller.username() {
        ctx.set("aws:username", n);
    }
    ctx.set("kms:CallerAccount", caller.account());
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", "2026-01-01T00:00:00Z");
    if let Some(ec) = ec {
        for (k, v) in ec {
            ctx.set(&format!("kms:EncryptionContext:{k}"), v.clone());
        }
        ctx.set_multi("kms:EncryptionContextKeys", ec.keys().cloned().collect());
    }
    ctx
}

pub fn ec(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn grant(
    id: &str,
    grantee: &str,
    ops: &[&str],
    constraints: Option<GrantConstraints>,
) -> Grant {
    Grant {
        grant_id: id.into(),
        name: None,
        grantee_principal: grantee.into(),
        operations: ops.iter().map(|s| s.to_string()).collect(),
        constraints,
    }
}
