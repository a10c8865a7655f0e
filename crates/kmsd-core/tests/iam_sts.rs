//! STS through the domain API: GetCallerIdentity and AssumeRole (trust policy, caller's
//! identity policy, cross account, ExternalId, durations and role chaining, session
//! policies, session tags, expiry on a ManualClock, persistence of sessions).
//! The allow paths depend on real decisions from kmsd-policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod iam_support;

use iam_support::*;
use kmsd_core::bootstrap::World;
use kmsd_core::clock::Clock;
use kmsd_core::iam::{AssumeRoleInput, AssumeRoleOutput};
use kmsd_core::principal::Principal;
use kmsd_policy::{Caller, Decision};

const EXAMPLE_ROLE: &str = "arn:aws:iam::111122223333:role/ExampleRole";

/// The seed world plus roles for chaining, ExternalId, tags and cross-account cases.
fn world() -> World {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seed_path()).unwrap()).unwrap();
    let extra_roles = serde_json::json!([
        { "name": "Chained", "max_session_duration": 7200,
          "assume_role_policy": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": EXAMPLE_ROLE }, "Action": "sts:AssumeRole" } ] } },
        { "name": "Long", "max_session_duration": 7200,
          "assume_role_policy": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::111122223333:user/bob" }, "Action": "sts:AssumeRole" } ] } },
        { "name": "ThirdParty",
          "assume_role_policy": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::111122223333:user/bob" }, "Action": "sts:AssumeRole",
              "Condition": { "StringEquals": { "sts:ExternalId": "ext-123" } } } ] } },
        { "name": "Tagged", "tags": { "team": "blue", "env": "prod" },
          "assume_role_policy": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::111122223333:user/bob" },
              "Action": ["sts:AssumeRole", "sts:TagSession"] } ] } }
    ]);
    let roles = v["accounts"][0]["roles"].as_array_mut().unwrap();
    roles.extend(extra_roles.as_array().unwrap().iter().cloned());
    v["accounts"][0]["policies"] = serde_json::json!([
        { "name": "SessionCut", "document": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*" } ] } }
    ]);
    v["accounts"][1]["roles"] = serde_json::json!([
        { "name": "CrossRole",
          "assume_role_policy": { "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Principal": { "AWS": "arn:aws:iam::111122223333:root" }, "Action": "sts:AssumeRole" } ] } }
    ]);
    World::from_str(&v.to_string(), "sts-test-world.json").unwrap()
}

fn input(role: &str, session: &str) -> AssumeRoleInput {
    AssumeRoleInput {
        role_arn: role.into(),
        role_session_name: session.into(),
        ..Default::default()
    }
}

fn assume(
    fx: &Fixture,
    who: &Principal,
    inp: &AssumeRoleInput,
) -> Result<AssumeRoleOutput, kmsd_core::error::ApiError> {
    with_actor(fx, who, |a| fx.svc.iam.assume_role(a, inp))
}

#[test]
fn caller_identity_for_every_kind() {
    let fx = fixture_with(&world());
    let iam = &fx.svc.iam;
    let root = fx.principal(ROOT1);
    let id = with_actor(&fx, &root, |a| iam.get_caller_identity(a));
    assert_eq!(
        (id.user_id.as_str(), id.account.as_str(), id.arn.as_str()),
        (
            "111122223333",
            "111122223333",
            "arn:aws:iam::111122223333:root"
        )
    );
    let alice = fx.principal(ALICE);
    let id = with_actor(&fx, &alice, |a| {
        let id = iam.get_caller_identity(a);
        assert_eq!(a.decision(), Some(Decision::Allow));
        id
    });
    assert_eq!(id.arn, "arn:aws:iam::111122223333:user/alice");
    assert!(id.user_id.starts_with("AIDA"));
}

#[test]
fn bob_assumes_example_role_and_session_expires() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let out = assume(&fx, &bob, &input(EXAMPLE_ROLE, "bob-session")).unwrap();
    assert!(out.access_key_id.starts_with("ASIA") && out.access_key_id.len() == 20);
    assert_eq!(
        out.arn,
        "arn:aws:sts::111122223333:assumed-role/ExampleRole/bob-session"
    );
    assert!(
        out.assumed_role_id.starts_with("AROA") && out.assumed_role_id.ends_with(":bob-session")
    );
    assert_eq!(out.expiration, fx.clock.now_secs() + 3600);
    assert!(out.packed_policy_size.is_none());

    let cred = fx.svc.iam.lookup_access_key(&out.access_key_id).unwrap();
    assert_eq!(cred.secret.as_str(), out.secret_access_key.as_str());
    assert!(cred.session_token_matches(Some(out.session_token.as_str())));
    assert!(!cred.session_token_matches(Some("forged")));
    assert!(!cred.session_token_matches(None));
    assert_eq!(cred.expires_at, Some(out.expiration));
    let p = &cred.principal;
    assert_eq!(p.caller.arn(), out.arn);
    assert_eq!(p.caller.principal_arn(), EXAMPLE_ROLE);
    assert_eq!(p.caller.userid(), out.assumed_role_id);
    assert_eq!(p.token_issue_time, Some(fx.clock.now_secs()));
    assert_eq!(p.policies.identity.len(), 1);
    assert!(p.policies.session.is_none());
    let id = with_actor(&fx, p, |a| fx.svc.iam.get_caller_identity(a));
    assert_eq!(id.arn, out.arn);

    // Expiry follows the clock.
    assert!(!cred.is_expired(fx.clock.now_secs()));
    fx.clock.advance_secs(3599);
    assert!(!fx
        .svc
        .iam
        .lookup_access_key(&out.access_key_id)
        .unwrap()
        .is_expired(fx.clock.now_secs()));
    fx.clock.advance_secs(1);
    assert!(fx
        .svc
        .iam
        .lookup_access_key(&out.access_key_id)
        .unwrap()
        .is_expired(fx.clock.now_secs()));

    // Sessions survive a restart.
    let svc2 = fx.reopen();
    let again = svc2.iam.lookup_access_key(&out.access_key_id).unwrap();
    assert!(again.session_token_matches(Some(out.session_token.as_str())));
    assert_eq!(again.principal.caller.arn(), out.arn);
}

#[test]
fn denials() {
    let fx = fixture_with(&world());
    let alice = fx.principal(ALICE);
    let err = assume(&fx, &alice, &input(EXAMPLE_ROLE, "s1")).unwrap_err();
    assert_eq!(err.code, "AccessDenied");
    assert!(err.message.as_deref().unwrap().starts_with(
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/ExampleRole"
    ));
    let root = fx.principal(ROOT1);
    let err = assume(&fx, &root, &input(EXAMPLE_ROLE, "s1")).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_deref()),
        (
            "AccessDenied",
            Some("Roles may not be assumed by root accounts.")
        )
    );
    let bob = fx.principal(BOB);
    let err = assume(
        &fx,
        &bob,
        &input("arn:aws:iam::111122223333:role/Missing", "s1"),
    )
    .unwrap_err();
    assert_eq!(err.code, "AccessDenied");
}

#[test]
fn input_validation() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let check = |inp: AssumeRoleInput, code: &str| {
        let err = assume(&fx, &bob, &inp).unwrap_err();
        assert_eq!(err.code, code, "{inp:?}: {err:?}");
    };
    check(input(EXAMPLE_ROLE, "x"), "ValidationError");
    check(input(EXAMPLE_ROLE, "bad name!"), "ValidationError");
    check(input("arn:short", "s1"), "ValidationError");
    check(
        AssumeRoleInput {
            duration_seconds: Some(899),
            ..input(EXAMPLE_ROLE, "s1")
        },
        "ValidationError",
    );
    check(
        AssumeRoleInput {
            duration_seconds: Some(43201),
            ..input(EXAMPLE_ROLE, "s1")
        },
        "ValidationError",
    );
    check(
        AssumeRoleInput {
            policy: Some("x".repeat(2049)),
            ..input(EXAMPLE_ROLE, "s1")
        },
        "ValidationError",
    );
    check(
        AssumeRoleInput {
            policy: Some("{nope".into()),
            ..input(EXAMPLE_ROLE, "s1")
        },
        "MalformedPolicyDocument",
    );
    let arns: Vec<String> = (0..11)
        .map(|i| format!("arn:aws:iam::111122223333:policy/P{i}"))
        .collect();
    check(
        AssumeRoleInput {
            policy_arns: arns,
            ..input(EXAMPLE_ROLE, "s1")
        },
        "ValidationError",
    );
    check(
        AssumeRoleInput {
            policy_arns: vec!["arn:aws:iam::111122223333:policy/Missing".into()],
            ..input(EXAMPLE_ROLE, "s1")
        },
        "MalformedPolicyDocument",
    );
    check(
        AssumeRoleInput {
            external_id: Some("x".into()),
            ..input(EXAMPLE_ROLE, "s1")
        },
        "ValidationError",
    );
}

#[test]
fn durations_and_role_chaining() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let ok = assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            duration_seconds: Some(900),
            ..input(EXAMPLE_ROLE, "short")
        },
    )
    .unwrap();
    assert_eq!(ok.expiration, fx.clock.now_secs() + 900);
    let err = assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            duration_seconds: Some(3601),
            ..input(EXAMPLE_ROLE, "long")
        },
    )
    .unwrap_err();
    assert_eq!(
        err.message.as_deref(),
        Some("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    );
    // bob has no identity policy for Long, but the trust policy names him directly.
    let long = assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            duration_seconds: Some(7200),
            ..input("arn:aws:iam::111122223333:role/Long", "long")
        },
    )
    .unwrap();
    assert_eq!(long.expiration, fx.clock.now_secs() + 7200);

    // Role chaining: ExampleRole's session assumes Chained (max 7200), capped at one hour.
    let session = fx
        .svc
        .iam
        .lookup_access_key(&ok.access_key_id)
        .unwrap()
        .principal;
    let chained = "arn:aws:iam::111122223333:role/Chained";
    let err = assume(
        &fx,
        &session,
        &AssumeRoleInput {
            duration_seconds: Some(3601),
            ..input(chained, "c1")
        },
    )
    .unwrap_err();
    assert_eq!(err.message.as_deref(), Some("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."));
    let c = assume(&fx, &session, &input(chained, "c1")).unwrap();
    assert_eq!(c.arn, "arn:aws:sts::111122223333:assumed-role/Chained/c1");
}

#[test]
fn external_id() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let role = "arn:aws:iam::111122223333:role/ThirdParty";
    assert_eq!(
        assume(&fx, &bob, &input(role, "s1")).unwrap_err().code,
        "AccessDenied"
    );
    assert_eq!(
        assume(
            &fx,
            &bob,
            &AssumeRoleInput {
                external_id: Some("ext-999".into()),
                ..input(role, "s1")
            }
        )
        .unwrap_err()
        .code,
        "AccessDenied"
    );
    assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            external_id: Some("ext-123".into()),
            ..input(role, "s1")
        },
    )
    .unwrap();
}

#[test]
fn cross_account_needs_both_sides() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let role = "arn:aws:iam::444455556666:role/CrossRole";
    // The trust policy allows account 111122223333, but bob's own policies do not allow him.
    let err = assume(&fx, &bob, &input(role, "x1")).unwrap_err();
    assert_eq!(err.code, "AccessDenied");
    let root = fx.principal(ROOT1);
    with_actor(&fx, &root, |a| {
        fx.svc.iam.put_inline_policy(a, kmsd_core::iam::EntityKind::User, "bob", "Cross",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::444455556666:role/CrossRole"}]}"#).unwrap();
    });
    let bob = fx.principal(BOB);
    let out = assume(&fx, &bob, &input(role, "x1")).unwrap();
    assert_eq!(
        out.arn,
        "arn:aws:sts::444455556666:assumed-role/CrossRole/x1"
    );
    let p = fx
        .svc
        .iam
        .lookup_access_key(&out.access_key_id)
        .unwrap()
        .principal;
    assert_eq!(p.caller.account(), "444455556666");
    // The role of another account cannot be assumed by a user the trust policy does not cover.
    let alice = fx.principal(ALICE);
    assert_eq!(
        assume(&fx, &alice, &input(role, "x1")).unwrap_err().code,
        "AccessDenied"
    );
}

#[test]
fn session_policies_cut_the_session() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let out = assume(&fx, &bob, &AssumeRoleInput {
        policy: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}"#.into()),
        policy_arns: vec!["arn:aws:iam::111122223333:policy/SessionCut".into()],
        ..input(EXAMPLE_ROLE, "cut")
    }).unwrap();
    assert!(out.packed_policy_size.is_some_and(|n| n > 0 && n <= 100));
    let p = fx
        .svc
        .iam
        .lookup_access_key(&out.access_key_id)
        .unwrap()
        .principal;
    let session = p.policies.session.as_ref().unwrap();
    let ids: Vec<&str> = session.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "session-policy",
            "arn:aws:iam::111122223333:policy/SessionCut"
        ]
    );
    assert_eq!(p.policies.identity.len(), 1);
}

#[test]
fn session_tags_need_tag_session_and_override_role_tags() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let tags = vec![
        ("Team".to_string(), "red".to_string()),
        ("project".to_string(), "x".to_string()),
    ];
    // ExampleRole's trust policy does not allow sts:TagSession.
    let err = assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            tags: tags.clone(),
            ..input(EXAMPLE_ROLE, "t1")
        },
    )
    .unwrap_err();
    assert_eq!(err.code, "AccessDenied");
    assert!(err.message.unwrap().contains("sts:TagSession"));
    let out = assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            tags,
            ..input("arn:aws:iam::111122223333:role/Tagged", "t1")
        },
    )
    .unwrap();
    let p = fx
        .svc
        .iam
        .lookup_access_key(&out.access_key_id)
        .unwrap()
        .principal;
    let mut ctx = kmsd_policy::RequestContext::new();
    p.add_to_context(&mut ctx);
    let tag = |k: &str| match ctx.get(&format!("aws:PrincipalTag/{k}")) {
        Some(kmsd_policy::ContextValue::Single(v)) => Some(v.clone()),
        _ => None,
    };
    assert_eq!(tag("team").as_deref(), Some("red"));
    assert_eq!(tag("env").as_deref(), Some("prod"));
    assert_eq!(tag("project").as_deref(), Some("x"));
    assert!(matches!(p.caller, Caller::AssumedRole { .. }));
}

#[test]
fn trust_entries_are_bound_to_unique_ids() {
    // P8: a re-created user of the same name is not the user the trust policy named.
    let fx = fixture_with(&world());
    let iam = &fx.svc.iam;
    let root = fx.principal(ROOT1);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"sts:AssumeRole"}]}"#;
    let role = "arn:aws:iam::111122223333:role/CarolRole";
    let (key, old_id) = with_actor(&fx, &root, |a| {
        let u = iam.create_user(a, "carol", None, None, vec![]).unwrap();
        iam.create_role(
            a,
            kmsd_core::iam::CreateRoleInput {
                name: "CarolRole".into(),
                assume_role_policy: trust.into(),
                ..Default::default()
            },
        )
        .unwrap();
        (iam.create_access_key(a, Some("carol")).unwrap(), u.user_id)
    });
    let carol = fx.principal(&key.id);
    assume(&fx, &carol, &input(role, "c1")).unwrap();
    let key2 = with_actor(&fx, &root, |a| {
        iam.delete_access_key(a, Some("carol"), &key.id).unwrap();
        iam.delete_user(a, "carol").unwrap();
        iam.create_user(a, "carol", None, None, vec![]).unwrap();
        iam.create_access_key(a, Some("carol")).unwrap()
    });
    let carol2 = fx.principal(&key2.id);
    assert_eq!(
        assume(&fx, &carol2, &input(role, "c2")).unwrap_err().code,
        "AccessDenied"
    );
    let shown = with_actor(&fx, &root, |a| iam.get_role(a, "CarolRole").unwrap().trust);
    assert!(
        shown.contains(&old_id) && !shown.contains("user/carol"),
        "{shown}"
    );
    // Saving the trust policy again binds it to the new carol.
    with_actor(&fx, &root, |a| {
        iam.update_assume_role_policy(a, "CarolRole", trust)
            .unwrap()
    });
    assume(&fx, &carol2, &input(role, "c3")).unwrap();
}

#[test]
fn packed_policy_too_large() {
    let fx = fixture_with(&world());
    let bob = fx.principal(BOB);
    let tags: Vec<(String, String)> = (0..30)
        .map(|i| (format!("key{i:0>100}"), "v".repeat(200)))
        .collect();
    let err = assume(
        &fx,
        &bob,
        &AssumeRoleInput {
            tags,
            ..input("arn:aws:iam::111122223333:role/Tagged", "big")
        },
    )
    .unwrap_err();
    assert_eq!(err.code, "PackedPolicyTooLarge");
}
