//! Behaviours pinned to AWS's documentation during the conformance review.
//!
//! - Key policy statements without `Action` or `Resource` are accepted by CreateKey and
//!   PutKeyPolicy but have no effect (KMS API reference, PutKeyPolicy `Policy`: "If either of
//!   the required Resource or Action elements are missing from a key policy statement, the
//!   policy statement has no effect ... the PutKeyPolicy API request succeeds").
//! - IAM identity policies still need both elements.

mod common;

use common::*;
use kmsd_policy::{simulate, EvalDecision, Policy, PolicyKind, RequestContext, SimulationRequest};

const ALICE_ALL_NO_ACTION: &str = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Resource":"*"}"#;
const ALICE_ALL_NO_RESOURCE: &str = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*"}"#;

fn key_policy_decision(statement: &str, action: &str) -> EvalDecision {
    let kp = key_policy(&[statement]);
    let alice = user(A, "alice");
    let ctx = RequestContext::new();
    simulate(&SimulationRequest {
        policies: &[],
        resource_policy: Some(&kp),
        boundary: None,
        caller: Some(&alice),
        action,
        resource: K,
        context: &ctx,
    })
    .decision
}

#[test]
fn key_policy_statement_without_action_is_accepted_and_ineffective() {
    assert!(Policy::parse(&doc(&[KP_DEFAULT, ALICE_ALL_NO_ACTION]), PolicyKind::Key).is_ok());
    for action in ["kms:Decrypt", "kms:Encrypt", "kms:PutKeyPolicy"] {
        assert_eq!(
            key_policy_decision(ALICE_ALL_NO_ACTION, action),
            EvalDecision::ImplicitDeny,
            "{action}"
        );
    }
    // A Deny without Action denies nothing either.
    let deny_no_action = ALICE_ALL_NO_ACTION.replace("Allow", "Deny");
    let kp = key_policy(&[
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}"#,
        &deny_no_action,
    ]);
    let alice = user(A, "alice");
    let ctx = RequestContext::new();
    let r = simulate(&SimulationRequest {
        policies: &[],
        resource_policy: Some(&kp),
        boundary: None,
        caller: Some(&alice),
        action: "kms:Decrypt",
        resource: K,
        context: &ctx,
    });
    assert_eq!(r.decision, EvalDecision::Allowed);
}

#[test]
fn key_policy_statement_without_resource_is_accepted_and_ineffective() {
    assert!(Policy::parse(&doc(&[KP_DEFAULT, ALICE_ALL_NO_RESOURCE]), PolicyKind::Key).is_ok());
    assert_eq!(
        key_policy_decision(ALICE_ALL_NO_RESOURCE, "kms:Decrypt"),
        EvalDecision::ImplicitDeny
    );
    // The same statement with Resource "*" does allow: the element is what matters.
    let with_resource = ALICE_ALL_NO_RESOURCE.replace(r#""kms:*""#, r#""kms:*","Resource":"*""#);
    assert_eq!(
        key_policy_decision(&with_resource, "kms:Decrypt"),
        EvalDecision::Allowed
    );
}

#[test]
fn identity_policies_still_need_action_and_resource() {
    for st in [
        r#"{"Effect":"Allow","Resource":"*"}"#,
        r#"{"Effect":"Allow","Action":"kms:*"}"#,
    ] {
        assert!(
            Policy::parse(&doc(&[st]), PolicyKind::Identity).is_err(),
            "{st}"
        );
    }
    // A trust policy statement still needs an Action.
    let trust = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"}}"#;
    assert!(Policy::parse(&doc(&[trust]), PolicyKind::Trust).is_err());
}

/// IAM CreateRole/UpdateAssumeRolePolicy: "AssumeRole policy may only specify STS AssumeRole
/// actions." (MalformedPolicyDocument).
#[test]
fn trust_policy_actions_must_be_sts_actions() {
    let trust = |action: &str| {
        doc(&[&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":{action}}}"#
        )])
    };
    for ok in [
        r#""sts:AssumeRole""#,
        r#"["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]"#,
        r#""STS:assumerole""#,
        r#""sts:*""#,
        r#""*""#,
    ] {
        assert!(Policy::parse(&trust(ok), PolicyKind::Trust).is_ok(), "{ok}");
    }
    for bad in [r#""kms:Decrypt""#, r#"["sts:AssumeRole","iam:PassRole"]"#] {
        let e = Policy::parse(&trust(bad), PolicyKind::Trust).expect_err(bad);
        assert!(
            e.message
                .contains("may only specify STS AssumeRole actions"),
            "{e}"
        );
    }
    // Other policy kinds keep accepting any service prefix.
    assert!(Policy::parse(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#]),
        PolicyKind::Identity
    )
    .is_ok());
}
