//! STS AssumeRole (§6) and identity-only IAM/STS decisions.

mod common;

use common::*;
use kmsd_policy::{
    decide_assume_role, decide_identity, explain_assume_role, explain_identity, AssumeRoleRequest,
    Caller, Decision, DenyReason, IdentityRequest, PolicyKind, PolicySet, PolicySourceType,
    RequestContext, SourcedPolicy,
};

const ROLE: &str = "arn:aws:iam::111122223333:role/ExampleRole";

fn trust(principal: &str, extra: &str) -> SourcedPolicy {
    sourced(
        "trust-policy",
        &doc(&[&format!(
            r#"{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"{extra}}}"#
        )]),
        PolicyKind::Trust,
        PolicySourceType::Resource,
    )
}

fn assume(
    caller: &Caller,
    set: &PolicySet,
    tp: &SourcedPolicy,
    ctx: &RequestContext,
) -> (Decision, Option<DenyReason>, String) {
    let req = AssumeRoleRequest {
        caller,
        caller_policies: set,
        role_arn: ROLE,
        trust_policy: tp,
        context: ctx,
    };
    let e = explain_assume_role(&req);
    assert_eq!(decide_assume_role(&req), e.outcome);
    (e.outcome.decision, e.outcome.denied_by, e.path_string())
}

fn assume_allowed() -> String {
    allow(r#""sts:AssumeRole""#, ROLE)
}

#[test]
fn same_account_trust_naming_the_user_needs_no_iam_policy() {
    let bob = user(A, "Bob");
    let tp = trust(r#"{"AWS":"arn:aws:iam::111122223333:user/Bob"}"#, "");
    let ctx = kms_context(&bob, None);
    let (d, _, path) = assume(&bob, &PolicySet::default(), &tp, &ctx);
    assert_eq!((d, path.as_str()), (Decision::Allow, "N0N N1N N2N N3Y T1Y"));
    // Another user of the account is not named.
    let alice = user(A, "Alice");
    let (d, r, _) = assume(
        &alice,
        &PolicySet::default(),
        &tp,
        &kms_context(&alice, None),
    );
    assert_eq!(
        (d, r),
        (Decision::ImplicitDeny, Some(DenyReason::ResourceBased))
    );
}

#[test]
fn trust_naming_the_account_delegates_to_iam() {
    let bob = user(A, "Bob");
    let tp = trust(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#, "");
    let ctx = kms_context(&bob, None);
    let (d, r, path) = assume(&bob, &PolicySet::default(), &tp, &ctx);
    assert_eq!(
        (d, r),
        (Decision::ImplicitDeny, Some(DenyReason::IdentityBased))
    );
    assert_eq!(path, "N0N N1N N2N N3N N5Y N6N");
    let set = policies(vec![identity("AssumeIt", &[&assume_allowed()])]);
    let (d, _, path) = assume(&bob, &set, &tp, &ctx);
    assert_eq!(
        (d, path.as_str()),
        (Decision::Allow, "N0N N1N N2N N3N N5Y N6Y T1Y")
    );
}

#[test]
fn cross_account_needs_both_sides() {
    let carol = user(B, "Carol");
    let ctx = kms_context(&carol, None);
    let named = trust(r#"{"AWS":"arn:aws:iam::444455556666:user/Carol"}"#, "");
    let (d, r, path) = assume(&carol, &PolicySet::default(), &named, &ctx);
    assert_eq!(
        (d, r),
        (Decision::ImplicitDeny, Some(DenyReason::IdentityBased))
    );
    assert_eq!(path, "N0N N1N N2N N3Y T1N T2N");
    let set = policies(vec![identity("AssumeIt", &[&assume_allowed()])]);
    assert_eq!(assume(&carol, &set, &named, &ctx).0, Decision::Allow);
    let account = trust(r#"{"AWS":"444455556666"}"#, "");
    let (d, _, path) = assume(&carol, &set, &account, &ctx);
    assert_eq!(
        (d, path.as_str()),
        (Decision::Allow, "N0N N1N N2N N3N N5Y N6Y T1N T2Y")
    );
    let other = trust(r#"{"AWS":"777788889999"}"#, "");
    assert_eq!(
        assume(&carol, &set, &other, &ctx).1,
        Some(DenyReason::ResourceBased)
    );
}

#[test]
fn external_id_deny_boundary_and_root() {
    let carol = user(B, "Carol");
    let set = policies(vec![identity("AssumeIt", &[&assume_allowed()])]);
    let tp = trust(
        r#"{"AWS":"444455556666"}"#,
        r#","Condition":{"StringEquals":{"sts:ExternalId":"ext-123"}}"#,
    );
    let mut ctx = kms_context(&carol, None);
    assert_eq!(assume(&carol, &set, &tp, &ctx).0, Decision::ImplicitDeny);
    ctx.set("sts:ExternalId", "ext-123");
    assert_eq!(assume(&carol, &set, &tp, &ctx).0, Decision::Allow);
    // Explicit deny in the caller's identity policy.
    let denied = policies(vec![identity(
        "AssumeIt",
        &[
            &assume_allowed(),
            r#"{"Effect":"Deny","Action":"sts:*","Resource":"*"}"#,
        ],
    )]);
    let (d, r, path) = assume(&carol, &denied, &tp, &ctx);
    assert_eq!(
        (d, r, path.as_str()),
        (
            Decision::ExplicitDeny,
            Some(DenyReason::IdentityBased),
            "N0N N1N N2Y"
        )
    );
    // Explicit deny in the trust policy.
    let tp_deny = sourced(
        "trust-policy",
        &doc(&[
            r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole"}"#,
            r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::444455556666:user/Carol"},"Action":"sts:AssumeRole"}"#,
        ]),
        PolicyKind::Trust,
        PolicySourceType::Resource,
    );
    let (d, r, _) = assume(&carol, &set, &tp_deny, &ctx);
    assert_eq!(
        (d, r),
        (Decision::ExplicitDeny, Some(DenyReason::ResourceBased))
    );
    // Boundary cuts the identity allow.
    let mut bounded = set.clone();
    bounded.boundary = Some(sourced(
        "b",
        &doc(&[&allow(r#""s3:*""#, "*")]),
        PolicyKind::Boundary,
        PolicySourceType::PermissionsBoundary,
    ));
    let (d, r, _) = assume(&carol, &bounded, &tp, &ctx);
    assert_eq!(
        (d, r),
        (
            Decision::ImplicitDeny,
            Some(DenyReason::PermissionsBoundary)
        )
    );
    // The root user cannot assume roles.
    let r00t = root(A);
    let tp_root = trust(r#"{"AWS":"111122223333"}"#, "");
    assert_eq!(
        assume(
            &r00t,
            &PolicySet::default(),
            &tp_root,
            &kms_context(&r00t, None)
        )
        .0,
        Decision::ImplicitDeny
    );
}

fn ident(
    caller: &Caller,
    set: &PolicySet,
    action: &str,
    resource: &str,
) -> (Decision, Option<DenyReason>, Option<String>) {
    let ctx = kms_context(caller, None);
    let req = IdentityRequest {
        caller,
        caller_policies: set,
        action,
        resource,
        context: &ctx,
    };
    let e = explain_identity(&req);
    assert_eq!(decide_identity(&req), e.outcome);
    (e.outcome.decision, e.outcome.denied_by, e.message)
}

#[test]
fn identity_only_decisions() {
    let user_arn = "arn:aws:iam::111122223333:user/Bob";
    let r00t = root(A);
    assert_eq!(
        ident(&r00t, &PolicySet::default(), "iam:CreateUser", user_arn).0,
        Decision::Allow
    );
    let alice = user(A, "Alice");
    let (d, r, m) = ident(&alice, &PolicySet::default(), "iam:CreateUser", user_arn);
    assert_eq!(
        (d, r),
        (Decision::ImplicitDeny, Some(DenyReason::IdentityBased))
    );
    assert_eq!(
        m.as_deref(),
        Some("User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::111122223333:user/Bob because no identity-based policy allows the iam:CreateUser action")
    );
    let set = policies(vec![identity("Admin", &[&allow(r#""iam:*""#, "*")])]);
    assert_eq!(
        ident(&alice, &set, "iam:CreateUser", user_arn).0,
        Decision::Allow
    );
    let scoped = policies(vec![identity(
        "Users",
        &[&allow(r#""iam:*User""#, "arn:aws:iam::111122223333:user/*")],
    )]);
    assert_eq!(
        ident(&alice, &scoped, "iam:CreateUser", user_arn).0,
        Decision::Allow
    );
    assert_eq!(
        ident(&alice, &scoped, "iam:CreateRole", ROLE).0,
        Decision::ImplicitDeny
    );
    let mut scp = set.clone();
    scp.scps = vec![sourced(
        "scp",
        &doc(&[&allow(r#""kms:*""#, "*")]),
        PolicyKind::Scp,
        PolicySourceType::ServiceControl,
    )];
    let (d, r, m) = ident(&alice, &scp, "iam:CreateUser", user_arn);
    assert_eq!(
        (d, r),
        (
            Decision::ExplicitDeny,
            Some(DenyReason::ServiceControlPolicy)
        )
    );
    assert!(m
        .unwrap_or_default()
        .ends_with("with an explicit deny in a service control policy"));
    // SCPs cap the root user too.
    assert_eq!(
        ident(&r00t, &scp, "iam:CreateUser", user_arn).0,
        Decision::ExplicitDeny
    );
    let mut sess = set.clone();
    sess.session = Some(vec![sourced(
        "s",
        &doc(&[&allow(r#""iam:Get*""#, "*")]),
        PolicyKind::Session,
        PolicySourceType::Session,
    )]);
    let s1 = session(A, "ExampleRole", "s1");
    assert_eq!(
        ident(&s1, &sess, "iam:CreateUser", user_arn).1,
        Some(DenyReason::SessionPolicy)
    );
    assert_eq!(
        ident(&s1, &sess, "iam:GetUser", user_arn).0,
        Decision::Allow
    );
}
