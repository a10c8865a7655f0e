//! IAM operations through the domain API: success paths, AWS's errors and limits,
//! authorization of non-root callers, persistence and cache invalidation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod iam_support;

use iam_support::*;
use kmsd_core::iam::{CreateRoleInput, EntityKind};
use kmsd_policy::{Caller, Decision};

const TRUST_BOB: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}]}"#;
const ALLOW_DESCRIBE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}]}"#;

fn code<T: std::fmt::Debug>(r: Result<T, kmsd_core::error::ApiError>) -> &'static str {
    r.expect_err("expected an error").code.as_str()
}

#[test]
fn users_create_get_list_delete() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        let u = iam
            .create_user(
                a,
                "carol",
                Some("/team/"),
                None,
                vec![("dept".into(), "x".into())],
            )
            .unwrap();
        assert_eq!(a.decision(), Some(Decision::Allow));
        assert!(u.user_id.starts_with("AIDA") && u.user_id.len() == 21);
        assert_eq!(u.path, "/team/");
        assert_eq!(
            code(iam.create_user(a, "carol", None, None, vec![])),
            "EntityAlreadyExists"
        );
        // Names are unique regardless of case.
        assert_eq!(
            code(iam.create_user(a, "CAROL", None, None, vec![])),
            "EntityAlreadyExists"
        );
        assert_eq!(
            code(iam.create_user(a, "bad name", None, None, vec![])),
            "ValidationError"
        );
        assert_eq!(
            code(iam.create_user(a, "dave", Some("nopath"), None, vec![])),
            "ValidationError"
        );
        assert_eq!(
            code(iam.create_user(
                a,
                "dave",
                None,
                Some("arn:aws:iam::111122223333:policy/Nope"),
                vec![]
            )),
            "NoSuchEntity"
        );
        let got = iam.get_user(a, Some("carol")).unwrap();
        assert_eq!(got, u);
        let err = iam.get_user(a, Some("nobody")).unwrap_err();
        assert_eq!(err.code, "NoSuchEntity");
        assert_eq!(
            err.message.as_deref(),
            Some("The user with name nobody cannot be found.")
        );
        let names: Vec<String> = iam
            .list_users(a, None)
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, vec!["alice", "bob", "carol"]);
        let team: Vec<String> = iam
            .list_users(a, Some("/team/"))
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(team, vec!["carol"]);
        // GetUser without a name by the root user describes the root.
        let me = iam.get_user(a, None).unwrap();
        assert_eq!(me.user_id, "111122223333");
        iam.delete_user(a, "carol").unwrap();
        assert_eq!(code(iam.delete_user(a, "carol")), "NoSuchEntity");
    });
    // Other accounts do not see the user.
    let root2 = fx.principal(ROOT2);
    with_actor(&fx, &root2, |a| {
        assert!(iam.list_users(a, None).unwrap().is_empty());
        assert_eq!(code(iam.get_user(a, Some("alice"))), "NoSuchEntity");
    });
}

#[test]
fn access_keys_resolve_and_limit() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        iam.create_user(a, "erin", None, None, vec![]).unwrap();
        let k1 = iam.create_access_key(a, Some("erin")).unwrap();
        assert!(k1.id.starts_with("AKIA") && k1.id.len() == 20);
        assert_eq!(k1.secret.len(), 40);
        let k2 = iam.create_access_key(a, Some("erin")).unwrap();
        let err = iam.create_access_key(a, Some("erin")).unwrap_err();
        assert_eq!(err.code, "LimitExceeded");
        let cred = iam.lookup_access_key(&k1.id).unwrap();
        assert_eq!(cred.secret.as_str(), k1.secret.as_str());
        assert!(cred.session_token.is_none() && cred.expires_at.is_none());
        assert!(cred.session_token_matches(None));
        match &cred.principal.caller {
            Caller::User { name, arn, .. } => {
                assert_eq!(name, "erin");
                assert_eq!(arn, "arn:aws:iam::111122223333:user/erin");
            }
            other => panic!("unexpected caller {other:?}"),
        }
        let (owner, keys) = iam.list_access_keys(a, Some("erin")).unwrap();
        assert_eq!(owner, "erin");
        assert_eq!(keys.len(), 2);
        let err = iam.delete_user(a, "erin").unwrap_err();
        assert_eq!(err.code, "DeleteConflict");
        assert_eq!(
            code(iam.delete_access_key(a, Some("erin"), "AKIANOTAKEY000000000")),
            "NoSuchEntity"
        );
        iam.delete_access_key(a, Some("erin"), &k1.id).unwrap();
        iam.delete_access_key(a, Some("erin"), &k2.id).unwrap();
        assert!(iam.lookup_access_key(&k1.id).is_none());
        iam.delete_user(a, "erin").unwrap();
    });
    assert!(iam.lookup_access_key("AKIAUNKNOWN000000000").is_none());
}

#[test]
fn groups_contribute_policies() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        let g = iam.create_group(a, "devs", None).unwrap();
        assert!(g.group_id.starts_with("AGPA"));
        assert_eq!(
            code(iam.create_group(a, "DEVS", None)),
            "EntityAlreadyExists"
        );
        iam.put_inline_policy(a, EntityKind::Group, "devs", "Describe", ALLOW_DESCRIBE)
            .unwrap();
        iam.set_group_membership(a, "devs", "alice", true).unwrap();
        assert_eq!(
            code(iam.set_group_membership(a, "nogroup", "alice", true)),
            "NoSuchEntity"
        );
        assert_eq!(
            code(iam.set_group_membership(a, "devs", "nobody", true)),
            "NoSuchEntity"
        );
    });
    let alice = fx.principal(ALICE);
    let ids: Vec<&str> = alice
        .policies
        .identity
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, vec!["Describe"]);
    with_actor(&fx, &root, |a| {
        assert_eq!(
            code(iam.delete_user(a, "alice").map(|_| ())),
            "DeleteConflict"
        );
        iam.set_group_membership(a, "devs", "alice", false).unwrap();
        assert_eq!(
            code(iam.set_group_membership(a, "devs", "alice", false)),
            "NoSuchEntity"
        );
    });
    assert!(fx.principal(ALICE).policies.identity.is_empty());
}

#[test]
fn roles_trust_and_conflicts() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        let input = CreateRoleInput {
            name: "Deployer".into(),
            assume_role_policy: TRUST_BOB.into(),
            description: Some("deploys".into()),
            max_session_duration: Some(7200),
            tags: vec![("team".into(), "blue".into())],
            ..Default::default()
        };
        let r = iam.create_role(a, input.clone()).unwrap();
        assert!(r.role_id.starts_with("AROA"));
        assert_eq!(r.max_session, 7200);
        assert_eq!(
            code(iam.create_role(a, input.clone())),
            "EntityAlreadyExists"
        );
        let bad = CreateRoleInput {
            name: "Bad".into(),
            assume_role_policy: "{not json".into(),
            ..Default::default()
        };
        assert_eq!(code(iam.create_role(a, bad)), "MalformedPolicyDocument");
        let bad = CreateRoleInput {
            name: "Bad".into(),
            assume_role_policy: TRUST_BOB.into(),
            max_session_duration: Some(100),
            ..Default::default()
        };
        assert_eq!(code(iam.create_role(a, bad)), "ValidationError");
        // A trust policy without Principal is malformed.
        assert_eq!(
            code(iam.update_assume_role_policy(a, "Deployer", ALLOW_DESCRIBE)),
            "MalformedPolicyDocument"
        );
        let new_trust = TRUST_BOB.replace("user/bob", "root");
        iam.update_assume_role_policy(a, "Deployer", &new_trust)
            .unwrap();
        assert_eq!(iam.get_role(a, "Deployer").unwrap().trust, new_trust);
        iam.put_inline_policy(a, EntityKind::Role, "Deployer", "P", ALLOW_DESCRIBE)
            .unwrap();
        assert_eq!(code(iam.delete_role(a, "Deployer")), "DeleteConflict");
        iam.delete_inline_policy(a, EntityKind::Role, "Deployer", "P")
            .unwrap();
        iam.delete_role(a, "Deployer").unwrap();
        assert_eq!(code(iam.get_role(a, "Deployer")), "NoSuchEntity");
    });
}

#[test]
fn inline_policies_and_quota() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        iam.put_inline_policy(a, EntityKind::User, "alice", "D", ALLOW_DESCRIBE)
            .unwrap();
        let (user, name, doc) = iam
            .get_inline_policy(a, EntityKind::User, "alice", "D")
            .unwrap();
        assert_eq!(
            (user.as_str(), name.as_str(), doc.as_str()),
            ("alice", "D", ALLOW_DESCRIBE)
        );
        assert_eq!(
            iam.list_inline_policies(a, EntityKind::User, "alice")
                .unwrap(),
            vec!["D"]
        );
        assert_eq!(
            code(iam.put_inline_policy(a, EntityKind::User, "alice", "Bad", r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#)),
            "MalformedPolicyDocument"
        );
        assert_eq!(
            code(iam.put_inline_policy(a, EntityKind::User, "alice", "Bad", "[]")),
            "MalformedPolicyDocument"
        );
        let resources: Vec<String> = (0..80)
            .map(|i| format!("\"arn:aws:kms:us-west-2:111122223333:key/{i:036}\""))
            .collect();
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:Decrypt","Resource":[{}]}}]}}"#,
            resources.join(",")
        );
        assert_eq!(
            code(iam.put_inline_policy(a, EntityKind::User, "alice", "Big", &big)),
            "LimitExceeded"
        );
        assert_eq!(
            code(iam.get_inline_policy(a, EntityKind::User, "alice", "Big")),
            "NoSuchEntity"
        );
        iam.delete_inline_policy(a, EntityKind::User, "alice", "D")
            .unwrap();
        assert_eq!(
            code(iam.delete_inline_policy(a, EntityKind::User, "alice", "D")),
            "NoSuchEntity"
        );
    });
}

#[test]
fn managed_policies_versions_attachments_boundaries() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    let arn = "arn:aws:iam::111122223333:policy/ops/KmsDescribe";
    with_actor(&fx, &root, |a| {
        let v = iam
            .create_policy(
                a,
                "KmsDescribe",
                Some("/ops/"),
                ALLOW_DESCRIBE,
                Some("d"),
                vec![],
            )
            .unwrap();
        assert_eq!(v.policy.arn(), arn);
        assert_eq!(v.policy.default_version, "v1");
        assert!(v.policy.policy_id.starts_with("ANPA"));
        assert_eq!(v.attachment_count, 0);
        assert_eq!(
            code(iam.create_policy(a, "KmsDescribe", None, ALLOW_DESCRIBE, None, vec![])),
            "EntityAlreadyExists"
        );
        assert_eq!(
            code(iam.get_policy(a, "arn:aws:iam::111122223333:policy/Nope")),
            "NoSuchEntity"
        );
        for n in 2..=5 {
            let (ver, is_default) = iam
                .create_policy_version(a, arn, ALLOW_DESCRIBE, n == 3)
                .unwrap();
            assert_eq!(ver.id, format!("v{n}"));
            assert_eq!(is_default, n == 3);
        }
        assert_eq!(
            code(iam.create_policy_version(a, arn, ALLOW_DESCRIBE, false)),
            "LimitExceeded"
        );
        assert_eq!(iam.get_policy(a, arn).unwrap().policy.default_version, "v3");
        let (v2, d) = iam.get_policy_version(a, arn, "v2").unwrap();
        assert_eq!((v2.document.as_str(), d), (ALLOW_DESCRIBE, false));
        assert_eq!(code(iam.get_policy_version(a, arn, "v9")), "NoSuchEntity");
        assert_eq!(
            code(iam.get_policy_version(a, arn, "x1")),
            "ValidationError"
        );

        iam.set_attached_policy(a, EntityKind::User, "alice", arn, true)
            .unwrap();
        assert_eq!(
            code(iam.set_attached_policy(
                a,
                EntityKind::User,
                "alice",
                "arn:aws:iam::111122223333:policy/Nope",
                true
            )),
            "NoSuchEntity"
        );
        assert_eq!(iam.get_policy(a, arn).unwrap().attachment_count, 1);
        assert_eq!(
            iam.list_attached_policies(a, EntityKind::User, "alice")
                .unwrap(),
            vec![("KmsDescribe".to_string(), arn.to_string())]
        );
        assert_eq!(code(iam.delete_policy(a, arn)), "DeleteConflict");
        iam.set_permissions_boundary(a, EntityKind::User, "bob", Some(arn))
            .unwrap();
        assert_eq!(iam.get_policy(a, arn).unwrap().boundary_usage_count, 1);
    });
    let alice = fx.principal(ALICE);
    assert_eq!(alice.policies.identity.len(), 1);
    assert_eq!(alice.policies.identity[0].id, arn);
    let bob = fx.principal(BOB);
    assert_eq!(
        bob.policies.boundary.as_ref().map(|b| b.id.as_str()),
        Some(arn)
    );
    with_actor(&fx, &root, |a| {
        iam.set_permissions_boundary(a, EntityKind::User, "bob", None)
            .unwrap();
        assert_eq!(
            code(iam.set_permissions_boundary(a, EntityKind::User, "bob", None)),
            "NoSuchEntity"
        );
        iam.set_attached_policy(a, EntityKind::User, "alice", arn, false)
            .unwrap();
        assert_eq!(
            code(iam.set_attached_policy(a, EntityKind::User, "alice", arn, false)),
            "NoSuchEntity"
        );
        // Non-default versions must go first.
        assert_eq!(code(iam.delete_policy(a, arn)), "DeleteConflict");
    });
    assert!(fx.principal(BOB).policies.boundary.is_none());
}

#[test]
fn tags_feed_principal_tags() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        iam.tag_entity(
            a,
            EntityKind::User,
            "alice",
            vec![("Team".into(), "red".into()), ("cost".into(), "1".into())],
        )
        .unwrap();
        iam.tag_entity(
            a,
            EntityKind::User,
            "alice",
            vec![("team".into(), "blue".into())],
        )
        .unwrap();
        iam.untag_entity(a, EntityKind::User, "alice", &["COST".to_string()])
            .unwrap();
        let too_many: Vec<(String, String)> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            code(iam.tag_entity(a, EntityKind::User, "alice", too_many)),
            "LimitExceeded"
        );
        assert_eq!(
            code(iam.tag_entity(
                a,
                EntityKind::Role,
                "NoRole",
                vec![("a".into(), "b".into())]
            )),
            "NoSuchEntity"
        );
    });
    let alice = fx.principal(ALICE);
    assert_eq!(alice.tags.get("team").map(String::as_str), Some("blue"));
    assert_eq!(alice.tags.get("example").map(String::as_str), Some("1"));
    assert!(!alice.tags.contains_key("cost"));
}

#[test]
fn non_root_callers_need_identity_policies() {
    // Depends on real decisions from kmsd-policy.
    let fx = fixture();
    let iam = &fx.svc.iam;
    let alice = fx.principal(ALICE);
    with_actor(&fx, &alice, |a| {
        let err = iam
            .create_user(a, "mallory", None, None, vec![])
            .unwrap_err();
        assert_eq!(err.code, "AccessDenied");
        assert_eq!(
            err.message.as_deref(),
            Some("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::111122223333:user/mallory because no identity-based policy allows the iam:CreateUser action")
        );
        assert_eq!(a.decision(), Some(Decision::ImplicitDeny));
    });
    let root = fx.principal(ROOT1);
    with_actor(&fx, &root, |a| {
        iam.put_inline_policy(
            a,
            EntityKind::User,
            "alice",
            "Admin",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*User","Resource":"arn:aws:iam::111122223333:user/*"},{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#,
        )
        .unwrap();
    });
    // The cache was dropped: alice's new policy applies at once.
    let alice = fx.principal(ALICE);
    with_actor(&fx, &alice, |a| {
        iam.create_user(a, "mallory", None, None, vec![]).unwrap();
        assert_eq!(a.decision(), Some(Decision::Allow));
        let err = iam.delete_user(a, "mallory").unwrap_err();
        assert_eq!(err.code, "AccessDenied");
        assert!(err
            .message
            .unwrap()
            .ends_with("with an explicit deny in an identity-based policy"));
        assert_eq!(a.decision(), Some(Decision::ExplicitDeny));
        assert_eq!(
            iam.create_group(a, "g", None).unwrap_err().code,
            "AccessDenied"
        );
    });
    // A root user cannot act in another account's IAM: it only ever acts in its own.
    let root2 = fx.principal(ROOT2);
    with_actor(&fx, &root2, |a| {
        let u = iam.create_user(a, "alice", None, None, vec![]).unwrap();
        assert_eq!(u.account, "444455556666");
    });
}

#[test]
fn state_survives_restart() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    let key = with_actor(&fx, &root, |a| {
        iam.create_user(a, "frank", None, None, vec![("k".into(), "v".into())])
            .unwrap();
        iam.create_policy(a, "P", None, ALLOW_DESCRIBE, None, vec![])
            .unwrap();
        iam.set_attached_policy(
            a,
            EntityKind::User,
            "frank",
            "arn:aws:iam::111122223333:policy/P",
            true,
        )
        .unwrap();
        iam.create_access_key(a, Some("frank")).unwrap()
    });
    let before = iam.snapshot().unwrap();
    let svc2 = fx.reopen();
    assert_eq!(svc2.iam.snapshot().unwrap(), before);
    let cred = svc2.iam.lookup_access_key(&key.id).unwrap();
    assert_eq!(cred.secret.as_str(), key.secret.as_str());
    assert_eq!(cred.principal.policies.identity.len(), 1);
    assert_eq!(cred.principal.tags.get("k").map(String::as_str), Some("v"));
    let mut arns = svc2.iam.list_principal_arns();
    arns.sort();
    assert!(arns.contains(&"arn:aws:iam::111122223333:user/frank".to_string()));
    assert!(arns.contains(&"arn:aws:iam::444455556666:root".to_string()));
    assert!(arns.contains(&"arn:aws:iam::111122223333:role/ExampleRole".to_string()));
}

#[test]
fn principal_directory_and_principal_for_arn() {
    use kmsd_core::principal::PrincipalDirectory;
    let fx = fixture();
    let iam = &fx.svc.iam;
    assert!(iam.account_exists("111122223333"));
    assert!(!iam.account_exists("999999999999"));
    for arn in [
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:role/ExampleRole",
        "arn:aws:sts::111122223333:assumed-role/ExampleRole/any",
    ] {
        assert!(iam.principal_exists(arn), "{arn}");
    }
    for arn in [
        "arn:aws:iam::111122223333:user/nobody",
        "arn:aws:iam::111122223333:user/path/alice",
        "arn:aws:iam::999999999999:root",
        "arn:aws:sts::111122223333:assumed-role/NoRole/s",
    ] {
        assert!(!iam.principal_exists(arn), "{arn}");
    }
    let p = iam
        .principal_for_arn(
            "arn:aws:iam::111122223333:role/ExampleRole",
            Some(ALLOW_DESCRIBE),
        )
        .unwrap();
    assert_eq!(
        p.caller.arn(),
        "arn:aws:sts::111122223333:assumed-role/ExampleRole/kmsd-explain"
    );
    assert_eq!(p.policies.identity.len(), 1);
    assert_eq!(p.policies.session.as_ref().map(Vec::len), Some(1));
    let s = iam
        .principal_for_arn(
            "arn:aws:sts::111122223333:assumed-role/ExampleRole/s1",
            None,
        )
        .unwrap();
    assert_eq!(
        s.caller.userid(),
        format!(
            "{}:s1",
            match &s.caller {
                Caller::AssumedRole { role_unique_id, .. } => role_unique_id.clone(),
                _ => String::new(),
            }
        )
    );
    assert!(s.policies.session.is_none());
    let r = iam
        .principal_for_arn("arn:aws:iam::444455556666:root", None)
        .unwrap();
    assert!(r.caller.is_root());
    assert_eq!(
        iam.principal_for_arn("arn:aws:iam::111122223333:user/alice", Some(ALLOW_DESCRIBE))
            .unwrap_err()
            .code,
        "InvalidInput"
    );
    assert_eq!(
        iam.principal_for_arn("arn:aws:iam::111122223333:user/nobody", None)
            .unwrap_err()
            .code,
        "NoSuchEntity"
    );
    assert_eq!(
        iam.principal_for_arn("nonsense", None).unwrap_err().code,
        "InvalidInput"
    );
}

#[test]
fn housekeeping_operations() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    let arn = "arn:aws:iam::111122223333:policy/V";
    with_actor(&fx, &root, |a| {
        iam.create_policy(a, "V", None, ALLOW_DESCRIBE, None, vec![])
            .unwrap();
        iam.create_policy_version(a, arn, ALLOW_DESCRIBE, true)
            .unwrap();
        assert_eq!(
            code(iam.delete_policy_version(a, arn, "v2")),
            "DeleteConflict"
        );
        iam.set_default_policy_version(a, arn, "v1").unwrap();
        assert_eq!(
            code(iam.set_default_policy_version(a, arn, "v7")),
            "NoSuchEntity"
        );
        let versions: Vec<(String, bool)> = iam
            .list_policy_versions(a, arn)
            .unwrap()
            .into_iter()
            .map(|(v, d)| (v.id, d))
            .collect();
        assert_eq!(
            versions,
            vec![("v2".to_string(), false), ("v1".to_string(), true)]
        );
        iam.delete_policy_version(a, arn, "v2").unwrap();
        assert_eq!(iam.list_policies(a, None).unwrap().len(), 1);
        iam.delete_policy(a, arn).unwrap();
        assert!(iam.list_policies(a, None).unwrap().is_empty());

        iam.create_group(a, "ops", Some("/x/")).unwrap();
        iam.set_group_membership(a, "ops", "bob", true).unwrap();
        let (g, members) = iam.get_group(a, "ops").unwrap();
        assert_eq!(g.path, "/x/");
        assert_eq!(
            members.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            vec!["bob"]
        );
        assert_eq!(iam.list_groups_for_user(a, "bob").unwrap().len(), 1);
        assert_eq!(iam.list_groups(a, Some("/x/")).unwrap().len(), 1);
        assert_eq!(code(iam.delete_group(a, "ops")), "DeleteConflict");
        iam.set_group_membership(a, "ops", "bob", false).unwrap();
        iam.delete_group(a, "ops").unwrap();
        assert!(iam.list_groups(a, None).unwrap().is_empty());

        let roles: Vec<String> = iam
            .list_roles(a, None)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(roles, vec!["ExampleRole"]);
        assert_eq!(
            iam.list_entity_tags(a, EntityKind::User, "alice").unwrap(),
            vec![("example".to_string(), "1".to_string())]
        );
        assert_eq!(
            code(iam.update_access_key(a, Some("alice"), ALICE, "Paused")),
            "ValidationError"
        );
        iam.update_access_key(a, Some("alice"), ALICE, "Inactive")
            .unwrap();
    });
    // An inactive key no longer authenticates.
    assert!(iam.lookup_access_key(ALICE).is_none());
}

#[test]
fn trust_policy_principals_must_exist() {
    let fx = fixture();
    let root = fx.principal(ROOT1);
    let iam = &fx.svc.iam;
    with_actor(&fx, &root, |a| {
        let input = CreateRoleInput {
            name: "Ghost".into(),
            assume_role_policy: TRUST_BOB.replace("user/bob", "user/nobody"),
            ..Default::default()
        };
        let err = iam.create_role(a, input).unwrap_err();
        assert_eq!(err.code, "MalformedPolicyDocument");
        assert_eq!(
            err.message.as_deref(),
            Some("Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:user/nobody\"")
        );
        assert_eq!(
            code(iam.update_assume_role_policy(
                a,
                "ExampleRole",
                &TRUST_BOB.replace("user/bob", "role/Nope")
            )),
            "MalformedPolicyDocument"
        );
        // Another account on this server is a valid principal.
        iam.update_assume_role_policy(
            a,
            "ExampleRole",
            &TRUST_BOB.replace("111122223333:user/bob", "444455556666:root"),
        )
        .unwrap();
    });
}

#[test]
fn corrupt_records_fail_open_with_a_message() {
    use kmsd_core::store::{MemStore, Mutation, Store};
    let store = std::sync::Arc::new(MemStore::new());
    store
        .commit(&[Mutation::Put {
            table: "iam_users",
            key: "111122223333/alice".into(),
            value: b"not json".to_vec(),
        }])
        .unwrap();
    let clock = std::sync::Arc::new(kmsd_core::clock::ManualClock::new(T0_MILLIS));
    let err = kmsd_core::iam::Iam::open(store, clock).unwrap_err();
    assert_eq!(err.code, "ServiceFailure");
    assert!(err
        .message
        .unwrap()
        .contains("iam_users/111122223333/alice"));
}
