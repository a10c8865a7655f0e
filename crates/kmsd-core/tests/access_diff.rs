//! The access diff on a world: identity policies (user, group, managed), trust policies
//! (known principals and the classes the world does not know, with the role's KMS access
//! reached through it), encryption-context conditions (open: a new Allow under some context is
//! new access), and CheckNoNewAccess cross-checked against brute force — every principal of
//! the world, every key action and a set of encryption contexts decided with the world as it
//! is and with the proposal in place — for key policies and identity policies, both
//! directions (a diff that says PASS has no new request; one that says FAIL has one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use std::collections::BTreeMap;

use kmsd_core::access_diff::{
    access_diff, identity_diff, key_actions, trust_diff, PrincipalClass, Proposal,
};
use kmsd_core::bootstrap::World;
use kmsd_core::service::Service;
use kmsd_policy::{Decision, RequestContext};
use proptest::prelude::*;
use serde_json::{json, Value};

const A: &str = "111122223333";
const B: &str = "444455556666";
const K1: &str = "arn:aws:kms:us-west-2:111122223333:key/11111111-2222-3333-4444-555555555555";
const K2: &str = "arn:aws:kms:us-west-2:111122223333:key/22222222-2222-3333-4444-555555555555";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const ROLE: &str = "arn:aws:iam::111122223333:role/App";
const GROUP: &str = "arn:aws:iam::111122223333:group/devs";
const MANAGED: &str = "arn:aws:iam::111122223333:policy/Shared";

fn delegate() -> Value {
    json!({"Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{A}:root")},"Action":"kms:*","Resource":"*"})
}

fn doc(statements: Vec<Value>) -> Value {
    json!({"Version":"2012-10-17","Statement": statements})
}

/// Account A: alice (inline `alice_inline`), bob (group devs, managed Shared), role App
/// (trusted by bob, may Decrypt with K1), keys K1 (delegates to IAM) and K2 (`k2_policy`);
/// account B: carol.
fn world(alice_inline: Option<Value>, k2_policy: Value) -> Service {
    let mut alice = json!({"name":"alice"});
    if let Some(p) = alice_inline {
        alice["inline_policies"] = json!({ "AlicePolicy": p });
    }
    let w = json!({"accounts":[
        {"id": A, "root_access_key":{"access_key_id":"AKIAROOTA00000000001","secret_access_key":"s"},
         "policies":[{"name":"Shared","document": doc(vec![json!({"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"})])}],
         "groups":[{"name":"devs","managed_policies":[MANAGED]}],
         "users":[alice, {"name":"bob","groups":["devs"]}],
         "roles":[{"name":"App","assume_role_policy": doc(vec![json!({"Effect":"Allow","Principal":{"AWS":BOB},"Action":"sts:AssumeRole"})]),
                   "inline_policies":{"Use": doc(vec![json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":K1})])}}],
         "keys":[{"id":"11111111-2222-3333-4444-555555555555","region":"us-west-2","policy": doc(vec![delegate()])},
                 {"id":"22222222-2222-3333-4444-555555555555","region":"us-west-2","policy": k2_policy}]},
        {"id": B, "root_access_key":{"access_key_id":"AKIAROOTB00000000001","secret_access_key":"s"},
         "users":[{"name":"carol"}]}
    ]});
    let world = World::from_str(&w.to_string(), "world.json").unwrap();
    Service::from_world_in_memory(&world, "us-west-2").unwrap()
}

fn plain() -> Service {
    world(None, doc(vec![delegate()]))
}

fn granted(diff: &kmsd_core::access_diff::AccessDiff) -> Vec<(String, String, String)> {
    diff.new_access()
        .map(|c| (c.principal.clone(), c.action.clone(), c.resource.clone()))
        .collect()
}

#[test]
fn identity_policy_added_to_a_user_grants_exactly_what_it_allows() {
    let svc = plain();
    let p = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":K1}),
    ])
    .to_string();
    let diff = identity_diff(&svc, ALICE, None, &p).unwrap();
    assert!(!diff.no_new_access());
    assert_eq!(
        granted(&diff),
        vec![(ALICE.into(), "kms:Decrypt".into(), K1.into())]
    );
    // Only alice is touched.
    assert_eq!(diff.principals.len(), 1);
    assert!(diff.access_not_granted(&["kms:Encrypt".into()]));
    assert!(!diff.access_not_granted(&["kms:decrypt".into()]));
}

#[test]
fn replacing_an_inline_policy_with_a_narrower_one_only_revokes() {
    let before = doc(vec![
        json!({"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}),
    ]);
    let svc = world(Some(before), doc(vec![delegate()]));
    let narrower = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":K1}),
    ])
    .to_string();
    let diff = identity_diff(&svc, ALICE, Some("AlicePolicy"), &narrower).unwrap();
    assert!(diff.no_new_access(), "{:?}", granted(&diff));
    let revoked: Vec<_> = diff.changes.iter().filter(|c| !c.after.allowed).collect();
    assert!(revoked
        .iter()
        .any(|c| c.action == "kms:Encrypt" && c.resource == K1));
    assert!(revoked
        .iter()
        .any(|c| c.action == "kms:Decrypt" && c.resource == K2));
    // The same policy under another name is added beside it: nothing changes.
    let same = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}),
    ])
    .to_string();
    let diff = identity_diff(&svc, ALICE, Some("Other"), &same).unwrap();
    assert!(diff.changes.is_empty());
}

#[test]
fn group_policy_reaches_its_members_and_managed_policy_every_attachment() {
    let svc = plain();
    let p = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}),
    ])
    .to_string();
    let diff = identity_diff(&svc, GROUP, Some("DevsInline"), &p).unwrap();
    let g = granted(&diff);
    assert!(g.contains(&(BOB.into(), "kms:Encrypt".into(), K1.into())));
    assert!(g.iter().all(|(who, _, _)| who == BOB));
    // Replacing the managed policy bob has through his group, named from alice.
    let diff = identity_diff(&svc, ALICE, Some(MANAGED), &p).unwrap();
    let who: std::collections::BTreeSet<String> =
        granted(&diff).into_iter().map(|(w, _, _)| w).collect();
    assert!(who.contains(BOB) && who.contains(ALICE), "{who:?}");
    // DescribeKey (the old document) is revoked for bob.
    assert!(diff
        .changes
        .iter()
        .any(|c| c.principal == BOB && c.action == "kms:DescribeKey" && !c.after.allowed));
}

#[test]
fn encryption_context_conditions_are_open() {
    let svc = plain();
    // Granted only under Dept=IT: still new access, and the diff names the context.
    let p = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
        "Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}),
    ])
    .to_string();
    let diff = identity_diff(&svc, ALICE, None, &p).unwrap();
    let c = diff
        .new_access()
        .find(|c| c.action == "kms:Decrypt" && c.resource == K1)
        .expect("new access under Dept=IT");
    assert!(
        c.context.contains("kms:EncryptionContext:Dept=IT"),
        "{}",
        c.context
    );
    // A Deny that holds only under some contexts does not hide an Allow reachable under others.
    let p = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}),
        json!({"Effect":"Deny","Action":"kms:Decrypt","Resource":"*",
            "Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Secret"]}}}),
    ])
    .to_string();
    assert!(!identity_diff(&svc, ALICE, None, &p)
        .unwrap()
        .no_new_access());
    // ForAllValues over the key set: a context with a key the policy does not list is denied,
    // so moving from "keys within {Dept}" to "any keys" is new access.
    let before = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
        "Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}}),
    ]);
    let svc = world(Some(before), doc(vec![delegate()]));
    let any = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}),
    ])
    .to_string();
    let diff = identity_diff(&svc, ALICE, Some("AlicePolicy"), &any).unwrap();
    assert!(!diff.no_new_access());
    assert!(diff.witnesses_complete);
}

#[test]
fn trust_policy_diff_names_who_gains_the_role_and_what_it_reaches() {
    let svc = plain();
    let t = doc(vec![
        json!({"Effect":"Allow","Principal":{"AWS":[BOB, ALICE]},"Action":"sts:AssumeRole"}),
    ])
    .to_string();
    let diff = trust_diff(&svc, ROLE, &t).unwrap();
    let g: Vec<_> = diff.new_access().collect();
    assert_eq!(g.len(), 1, "{:?}", granted(&diff));
    assert_eq!(g[0].principal, ALICE);
    assert_eq!(g[0].action, "sts:AssumeRole");
    assert!(g[0]
        .via_role
        .contains(&("kms:Decrypt".to_string(), K1.to_string())));
    assert!(!diff.access_not_granted(&["kms:Decrypt".into()]));

    // Any principal of another account: the class, not a world entity.
    let t = doc(vec![
        json!({"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}),
    ])
    .to_string();
    let diff = trust_diff(&svc, ROLE, &t).unwrap();
    assert!(diff
        .new_access()
        .any(|c| c.class == PrincipalClass::OtherAccount));
    // carol (account B) has no identity policy: across accounts her own policies must allow
    // sts:AssumeRole too, so the trust policy alone gives her nothing.
    assert!(!diff
        .new_access()
        .any(|c| c.principal.contains(":user/carol")));
    assert!(!diff
        .new_access()
        .any(|c| c.class == PrincipalClass::Anonymous));

    // Removing bob only revokes.
    let t = doc(vec![
        json!({"Effect":"Allow","Principal":{"AWS":ALICE},"Action":"sts:AssumeRole",
        "Condition":{"StringEquals":{"sts:ExternalId":"x1"}}}),
    ])
    .to_string();
    let diff = trust_diff(&svc, ROLE, &t).unwrap();
    assert!(diff
        .changes
        .iter()
        .any(|c| c.principal == BOB && !c.after.allowed));
    // alice gains it under the external id (an open key).
    let c = diff.new_access().find(|c| c.principal == ALICE).unwrap();
    assert!(c.context.contains("sts:ExternalId=x1"), "{}", c.context);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let svc = plain();
    let ok = doc(vec![
        json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}),
    ])
    .to_string();
    for (who, text) in [
        (ALICE, "{not json"),
        (
            ALICE,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#,
        ),
        ("arn:aws:iam::111122223333:user/nobody", ok.as_str()),
        ("arn:aws:iam::111122223333:policy/Shared", ok.as_str()),
        ("not an arn", ok.as_str()),
    ] {
        assert!(
            identity_diff(&svc, who, None, text).is_err(),
            "{who} {text}"
        );
    }
    assert!(trust_diff(&svc, "arn:aws:iam::111122223333:role/Nope", &ok).is_err());
    assert!(trust_diff(&svc, ROLE, "[]").is_err());
}

// Brute force: every known principal, every key action, these encryption contexts.

fn contexts() -> Vec<Option<BTreeMap<String, String>>> {
    let ec = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    vec![
        None,
        ec(&[("Dept", "IT")]),
        ec(&[("Dept", "HR")]),
        ec(&[("Dept", "IT"), ("Secret", "x")]),
        ec(&[("Dept", "IT"), ("Other", "y")]),
        ec(&[("Secret", "x")]),
        ec(&[("Other", "y")]),
    ]
}

/// Some (principal, action, key, context) allowed after and not before. `after`: the world
/// with the proposal applied (built from its own world description).
fn brute_new_access(before: &Service, after: &Service) -> Option<String> {
    let none = RequestContext::new();
    for arn in before.iam.list_principal_arns() {
        let Ok(pb) = before.iam.principal_for_arn(&arn, None) else {
            continue;
        };
        let pa = after.iam.principal_for_arn(&arn, None).unwrap();
        for key in [K1, K2] {
            for action in key_actions() {
                for e in contexts() {
                    let d = |svc: &Service, p| {
                        svc.kms
                            .explain(p, action, key, "us-west-2", &none, e.as_ref())
                            .unwrap()
                            .outcome
                            .decision
                    };
                    if d(after, &pa) == Decision::Allow && d(before, &pb) != Decision::Allow {
                        return Some(format!("{arn} {action} {key} {e:?}"));
                    }
                }
            }
        }
    }
    None
}

const KEY_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:GenerateDataKey","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}}"#,
    r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Secret"]}}}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/carol"},"Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"HR"}}}"#,
    r#"{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#,
];

const IDENTITY_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-west-2:111122223333:key/11111111-2222-3333-4444-555555555555"}"#,
    r#"{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}}"#,
    r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Secret"]}}}"#,
    r#"{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","NotAction":"kms:Decrypt","Resource":"*"}"#,
];

fn pick(pool: &[&str], idx: &[usize]) -> Value {
    doc(idx
        .iter()
        .map(|i| serde_json::from_str(pool[*i]).unwrap())
        .collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn key_policy_diff_agrees_with_brute_force(
        before in prop::collection::vec(0..KEY_POOL.len(), 1..4),
        after in prop::collection::vec(0..KEY_POOL.len(), 1..4),
    ) {
        let (kb, ka) = (pick(KEY_POOL, &before), pick(KEY_POOL, &after));
        let svc = world(None, kb.clone());
        let diff = access_diff(&svc, K2, &Proposal::KeyPolicy(ka.to_string())).unwrap();
        let brute = brute_new_access(&svc, &world(None, ka.clone()));
        let known_new = diff.new_access().any(|c| c.class == PrincipalClass::Known);
        prop_assert_eq!(!known_new, brute.is_none(),
            "diff {:?} vs brute {:?}\nbefore {}\nafter {}", granted(&diff), brute, kb, ka);
    }

    #[test]
    fn identity_policy_diff_agrees_with_brute_force(
        before in prop::collection::vec(0..IDENTITY_POOL.len(), 1..4),
        after in prop::collection::vec(0..IDENTITY_POOL.len(), 1..4),
    ) {
        let (pb, pa) = (pick(IDENTITY_POOL, &before), pick(IDENTITY_POOL, &after));
        let kp = doc(vec![delegate()]);
        let svc = world(Some(pb.clone()), kp.clone());
        let diff = identity_diff(&svc, ALICE, Some("AlicePolicy"), &pa.to_string()).unwrap();
        let brute = brute_new_access(&svc, &world(Some(pa.clone()), kp));
        prop_assert_eq!(diff.no_new_access(), brute.is_none(),
            "diff {:?} vs brute {:?}\nbefore {}\nafter {}", granted(&diff), brute, pb, pa);
    }
}
