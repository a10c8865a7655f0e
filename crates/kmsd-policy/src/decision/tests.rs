use super::grant::{grant_constraints_ok, grant_has_operation, grantee_kinds};
use super::*;
use crate::arn::split_arn;

#[test]
fn messages_for_every_reason() {
    let arn = "arn:aws:iam::111122223333:user/Alice";
    let key = "arn:aws:kms:us-west-2:111122223333:key/k";
    let msg = |o: Outcome| o.message(arn, "kms:Decrypt", key).unwrap_or_default();
    let head = format!("User: {arn} is not authorized to perform: kms:Decrypt on resource: {key}");
    assert_eq!(Outcome::ALLOW.message(arn, "kms:Decrypt", key), None);
    for (reason, ty) in [
        (DenyReason::IdentityBased, "an identity-based policy"),
        (DenyReason::ResourceBased, "a resource-based policy"),
        (DenyReason::PermissionsBoundary, "a permissions boundary"),
        (DenyReason::SessionPolicy, "a session policy"),
        (DenyReason::ServiceControlPolicy, "a service control policy"),
    ] {
        assert_eq!(
            msg(Outcome::explicit(reason)),
            format!("{head} with an explicit deny in {ty}")
        );
    }
    assert_eq!(
        msg(Outcome::implicit(DenyReason::PermissionsBoundary)),
        format!("{head} because no permissions boundary allows the kms:Decrypt action")
    );
    // An SCP denial is always worded as explicit.
    assert_eq!(
        msg(Outcome::implicit(DenyReason::ServiceControlPolicy)),
        format!("{head} with an explicit deny in a service control policy")
    );
    assert!(msg(Outcome::implicit(DenyReason::ResourceNotVisible))
        .contains("on this resource because the resource does not exist in this Region"));
    assert!(!msg(Outcome::implicit(DenyReason::ResourceNotVisible)).contains(key));
}

#[test]
fn node_ids_and_questions() {
    let all = [
        Node::N0,
        Node::N1,
        Node::N2,
        Node::N3,
        Node::N4,
        Node::N5,
        Node::N6,
        Node::T1,
        Node::T2,
    ];
    let ids: Vec<String> = all.iter().map(|n| n.to_string()).collect();
    assert_eq!(ids.join(" "), "N0 N1 N2 N3 N4 N5 N6 T1 T2");
    assert_eq!(
        Node::N5.kms_question(),
        "Does the key policy ALLOW the caller's account to use IAM policies to control access to the key?"
    );
    assert_eq!(
        Node::N6.kms_question(),
        "Does an IAM policy allow the caller to perform this action?"
    );
    assert!(Node::N1.assume_role_question().contains("trust policy"));
}

#[test]
fn cross_account_whitelist_and_grant_operations() {
    assert!(cross_account_capable("kms:Decrypt"));
    assert!(cross_account_capable("KMS:generatedatakey"));
    assert!(!cross_account_capable("kms:ScheduleKeyDeletion"));
    assert!(!cross_account_capable("kms:PutKeyPolicy"));
    assert!(!cross_account_capable("s3:GetObject"));
    let g = Grant {
        grant_id: "g".into(),
        name: None,
        grantee_principal: "arn:aws:iam::111122223333:user/Alice".into(),
        operations: vec!["ReEncrypt*".into(), "Decrypt".into()],
        constraints: None,
    };
    assert!(grant_has_operation(&g, "kms:ReEncryptFrom"));
    assert!(grant_has_operation(&g, "kms:ReEncryptTo"));
    assert!(grant_has_operation(&g, "kms:Decrypt"));
    assert!(!grant_has_operation(&g, "kms:Encrypt"));
    let s1 = Caller::AssumedRole {
        account: "111122223333".into(),
        role_arn: "arn:aws:iam::111122223333:role/path/R".into(),
        role_name: "R".into(),
        role_unique_id: "AROAEXAMPLE".into(),
        session_name: "s1".into(),
    };
    assert_eq!(
        grantee_kinds("arn:aws:iam::111122223333:role/path/R", &s1),
        M_ROLE
    );
    assert_eq!(
        grantee_kinds("arn:aws:sts::111122223333:assumed-role/R/s1", &s1),
        M_SESSION
    );
    assert_eq!(
        grantee_kinds("arn:aws:sts::111122223333:assumed-role/R/xs1", &s1),
        0
    );
    assert_eq!(
        grantee_kinds("arn:aws:iam::111122223333:root", &s1),
        M_ACCOUNT
    );
    assert_eq!(grantee_kinds("111122223333", &s1), M_ACCOUNT);
    assert_eq!(grantee_kinds("arn:aws:iam::444455556666:root", &s1), 0);
}

/// `decide_kms_because` equals `explain_kms` (outcome, and the path's evidence
/// concatenated) over callers, actions, key policies and grants that take every branch of
/// the flowchart (the property tests of tests/properties.rs check it over random worlds).
#[test]
fn because_only_equals_the_explained_path() {
    use crate::{Policy, PolicyKind, PolicySourceType};
    use std::sync::Arc;
    let a = "111122223333";
    let b = "444455556666";
    let key_arn = "arn:aws:kms:us-west-2:111122223333:key/k";
    let doc = |stmts: &[&str]| {
        format!(
            "{{\"Version\":\"2012-10-17\",\"Statement\":[{}]}}",
            stmts.join(",")
        )
    };
    let sourced = |id: &str, text: String, kind, st| -> Option<SourcedPolicy> {
        Policy::parse(&text, kind)
            .ok()
            .map(|p| SourcedPolicy::new(id, st, Arc::new(p)))
    };
    let root_deleg = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;
    let alice = r#"{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}"#;
    let alice_too = r#"{"Sid":"AliceToo","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/Alice","arn:aws:iam::111122223333:root"]},"Action":"kms:*","Resource":"*"}"#;
    let other_acct = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:Decrypt","Resource":"*"}"#;
    let deny_bob = r#"{"Sid":"NoBob","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"kms:*","Resource":"*"}"#;
    let key_policies: Vec<Vec<&str>> = vec![
        vec![root_deleg],
        vec![alice],
        vec![root_deleg, alice, other_acct, alice_too],
        vec![deny_bob, root_deleg],
        vec![
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::777788889999:root"},"Action":"kms:Encrypt","Resource":"*"}"#,
        ],
    ];
    let user = |acct: &str, name: &str| Caller::User {
        account: acct.into(),
        arn: format!("arn:aws:iam::{acct}:user/{name}"),
        name: name.into(),
        unique_id: format!("AIDA{acct}{name}"),
    };
    let callers = [
        Caller::Root { account: a.into() },
        user(a, "Alice"),
        user(a, "Bob"),
        user(b, "Carol"),
        Caller::AssumedRole {
            account: b.into(),
            role_arn: format!("arn:aws:iam::{b}:role/R"),
            role_name: "R".into(),
            role_unique_id: "AROAR".into(),
            session_name: "s".into(),
        },
    ];
    let id_allow = r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#;
    let id_deny = r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#;
    let sets = [
        PolicySet::default(),
        PolicySet {
            identity: sourced(
                "id",
                doc(&[id_allow]),
                PolicyKind::Identity,
                PolicySourceType::User,
            )
            .into_iter()
            .collect(),
            ..PolicySet::default()
        },
        PolicySet {
            identity: sourced(
                "id",
                doc(&[id_allow, id_deny, id_allow]),
                PolicyKind::Identity,
                PolicySourceType::User,
            )
            .into_iter()
            .collect(),
            ..PolicySet::default()
        },
    ];
    let grant = |grantee: &str, ops: &[&str]| Grant {
        grant_id: format!("g-{grantee}"),
        name: Some("n".into()),
        grantee_principal: grantee.into(),
        operations: ops.iter().map(|s| s.to_string()).collect(),
        constraints: None,
    };
    let grant_sets = [
        vec![],
        vec![
            grant("arn:aws:iam::444455556666:user/Carol", &["Decrypt"]),
            grant("arn:aws:iam::111122223333:user/Bob", &["Encrypt"]),
            grant("arn:aws:iam::444455556666:role/R", &["Decrypt", "Encrypt"]),
        ],
    ];
    let ctx = RequestContext::new();
    let mut cases = 0;
    let mut allowed = 0;
    for kp_stmts in &key_policies {
        let Some(kp) = sourced(
            "key-policy",
            doc(kp_stmts),
            PolicyKind::Key,
            PolicySourceType::Resource,
        ) else {
            panic!("key policy parses: {kp_stmts:?}");
        };
        for caller in &callers {
            for set in &sets {
                for grants in &grant_sets {
                    for action in ["kms:Encrypt", "kms:Decrypt", "kms:PutKeyPolicy"] {
                        let req = KmsRequest {
                            caller,
                            caller_policies: set,
                            action,
                            key_arn,
                            key_policy: &kp,
                            grants,
                            context: &ctx,
                            encryption_context: None,
                        };
                        let x = explain_kms(&req);
                        let d = decide_kms_because(&req);
                        let flat: Vec<Because> =
                            x.path.iter().flat_map(|s| s.because.clone()).collect();
                        assert_eq!(d.outcome, x.outcome, "{caller:?} {action}");
                        assert_eq!(d.because, flat, "{caller:?} {action}");
                        cases += 1;
                        allowed += usize::from(d.outcome.is_allowed());
                    }
                }
            }
        }
    }
    assert_eq!(cases, 5 * 5 * 3 * 2 * 3);
    assert!(allowed > 0 && allowed < cases, "{allowed}/{cases}");
}

proptest::proptest! {
    #[test]
    fn account_of_is_the_fifth_arn_part(arn in "[a-z0-9:/*-]{0,40}") {
        proptest::prop_assert_eq!(
            account_of(&arn),
            split_arn(&arn).map(|p| p[4]).unwrap_or("")
        );
    }
}

#[test]
fn account_of_examples() {
    assert_eq!(
        account_of("arn:aws:kms:us-west-2:111122223333:key/k"),
        "111122223333"
    );
    assert_eq!(account_of("arn:aws:iam::111122223333:root"), "111122223333");
    assert_eq!(account_of("arn:aws:iam::111122223333"), "");
    assert_eq!(account_of("arn:aws:s3:::b:c:d"), "");
    assert_eq!(account_of(""), "");
}

#[test]
fn grant_constraints() {
    let ec = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let g = Grant {
        grant_id: "g".into(),
        name: None,
        grantee_principal: "x".into(),
        operations: vec!["Decrypt".into(), "DescribeKey".into()],
        constraints: Some(crate::GrantConstraints {
            encryption_context_equals: Some(ec(&[("a", "1")])),
            encryption_context_subset: None,
        }),
    };
    assert!(grant_constraints_ok(
        &g,
        "kms:Decrypt",
        Some(&ec(&[("a", "1")]))
    ));
    assert!(!grant_constraints_ok(
        &g,
        "kms:Decrypt",
        Some(&ec(&[("a", "1"), ("b", "2")]))
    ));
    // Keys without regard to case, values exactly (API reference, GrantConstraints).
    assert!(grant_constraints_ok(
        &g,
        "kms:Decrypt",
        Some(&ec(&[("A", "1")]))
    ));
    let upper_value = Grant {
        constraints: Some(crate::GrantConstraints {
            encryption_context_equals: Some(ec(&[("a", "x")])),
            encryption_context_subset: None,
        }),
        ..g.clone()
    };
    assert!(!grant_constraints_ok(
        &upper_value,
        "kms:Decrypt",
        Some(&ec(&[("a", "X")]))
    ));
    assert!(!grant_constraints_ok(&g, "kms:Decrypt", None));
    // Ignored for DescribeKey and RetireGrant.
    assert!(grant_constraints_ok(&g, "kms:DescribeKey", None));
    assert!(grant_constraints_ok(&g, "kms:RetireGrant", None));
}
