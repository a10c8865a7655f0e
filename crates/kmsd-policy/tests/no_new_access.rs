//! CheckNoNewAccess (`validate::custom`, which reasons over the two policies alone) cross-checked
//! against brute force over random worlds: the world's callers, every KMS action and each
//! encryption context are decided with `decide_kms` before and after the key policy changes,
//! once with identity policies that allow everything and once with none (an account
//! principal delegates to IAM; a direct grant does not need it). The same for identity
//! policies (a user on two keys that delegate to IAM) and for role trust policies
//! (`decide_assume_role` over the world's callers). Both directions: PASS means brute force
//! finds no new request, FAIL means it finds one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod common;

use common::*;
use kmsd_policy::validate::catalog::KMS_ACTIONS;
use kmsd_policy::validate::custom::check_no_new_access;
use kmsd_policy::{decide_kms, Decision, KmsRequest, PolicySet};
use proptest::prelude::*;

const KEY_POOL: &[&str] = &[
    KP_DEFAULT,
    r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/ExampleRole"},"Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/ExampleRole/s1"},"Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#,
    r#"{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/Alice"]},"Action":"kms:Encrypt","Resource":"*"}"#,
    r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Secret"]}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/AppRole"},"Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Carol"},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"NotAction":"kms:Decrypt","Resource":"*"}"#,
];

fn callers() -> Vec<kmsd_policy::Caller> {
    vec![
        user(A, "Alice"),
        user(A, "Bob"),
        user(A, "Erin"),
        session(A, "ExampleRole", "s1"),
        session(A, "OtherRole", "s2"),
        root(A),
        user(B, "Carol"),
        session(B, "AppRole", "x"),
        root(B),
        user(C, "Dave"),
        root(C),
    ]
}

fn sets() -> Vec<PolicySet> {
    let none = PolicySet {
        identity: Vec::new(),
        boundary: None,
        session: None,
        scps: Vec::new(),
    };
    let all = PolicySet {
        identity: vec![identity(
            "all",
            &[r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#],
        )],
        ..none.clone()
    };
    vec![none, all]
}

/// Some request of the world is allowed after and not before.
fn world_new_access(before: &[usize], after: &[usize]) -> Option<String> {
    let t = |idx: &[usize]| -> Vec<&str> { idx.iter().map(|i| KEY_POOL[*i]).collect() };
    let (kb, ka) = (key_policy(&t(before)), key_policy(&t(after)));
    // Contexts with two pairs and with a key no policy names as well: a check that tried one
    // condition key at a time would miss new access under {Dept=IT, Secret=x}.
    let mut ecs = identity_ecs();
    ecs.push(Some(ec(&[("Dept", "HR"), ("Secret", "x")])));
    for set in sets() {
        for caller in callers() {
            for e in &ecs {
                let ctx = kms_context(&caller, e.as_ref());
                for action in KMS_ACTIONS {
                    let decide = |kp| {
                        decide_kms(&KmsRequest {
                            caller: &caller,
                            caller_policies: &set,
                            action,
                            key_arn: K,
                            key_policy: kp,
                            grants: &[],
                            context: &ctx,
                            encryption_context: e.as_ref(),
                        })
                        .decision
                    };
                    if decide(&ka) == Decision::Allow && decide(&kb) != Decision::Allow {
                        return Some(format!(
                            "{} {action} ec={e:?} iam={}",
                            caller.arn(),
                            set.identity.len()
                        ));
                    }
                }
            }
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn check_no_new_access_agrees_with_brute_force(
        before in prop::collection::vec(0..KEY_POOL.len(), 1..5),
        after in prop::collection::vec(0..KEY_POOL.len(), 1..5),
    ) {
        let t = |idx: &[usize]| -> Vec<&str> { idx.iter().map(|i| KEY_POOL[*i]).collect() };
        let old = must(&doc(&t(&before)), kmsd_policy::PolicyKind::Key);
        let new = must(&doc(&t(&after)), kmsd_policy::PolicyKind::Key);
        let check = check_no_new_access(&old, &new, Some(A));
        let world = world_new_access(&before, &after);
        prop_assert_eq!(
            check.pass,
            world.is_none(),
            "check {:?} vs world {:?}\nbefore {:?}\nafter {:?}",
            check.reasons,
            world,
            t(&before),
            t(&after)
        );
    }
}

// Identity policies: the same check on two identity documents, against brute force over a
// user of the key's account deciding on three keys of that account (two the policies name,
// one they do not; their key policies delegate to IAM), every KMS action and each encryption
// context.

const K_OTHER: &str = "arn:aws:kms:us-west-2:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
/// A key of the account that no policy names.
const K_ANY: &str = "arn:aws:kms:eu-west-1:111122223333:key/9999ffff-12ab-34cd-56ef-1234567890ab";

const IDENTITY_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#,
    r#"{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}}"#,
    r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Secret"]}}}"#,
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-west-2:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab"}"#,
    r#"{"Effect":"Allow","Action":"kms:Describe*","Resource":"arn:aws:kms:*:111122223333:key/*"}"#,
    r#"{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#,
    r#"{"Effect":"Allow","NotAction":"kms:Decrypt","Resource":"*"}"#,
    r#"{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
];

fn identity_ecs() -> Vec<Option<std::collections::BTreeMap<String, String>>> {
    vec![
        None,
        Some(ec(&[("Dept", "IT")])),
        Some(ec(&[("Dept", "HR")])),
        Some(ec(&[("Dept", "IT"), ("Secret", "x")])),
        Some(ec(&[("Dept", "IT"), ("Other", "y")])),
        Some(ec(&[("Secret", "x")])),
    ]
}

/// Some request of the world is allowed with the `after` identity policy and not `before`.
fn identity_world_new_access(before: &[usize], after: &[usize]) -> Option<String> {
    let t = |idx: &[usize]| -> Vec<&str> { idx.iter().map(|i| IDENTITY_POOL[*i]).collect() };
    let (pb, pa) = (
        policies(vec![identity("p", &t(before))]),
        policies(vec![identity("p", &t(after))]),
    );
    let kp = key_policy(&[KP_DEFAULT]);
    let caller = user(A, "Alice");
    for key in [K, K_OTHER, K_ANY] {
        for e in identity_ecs() {
            let ctx = kms_context(&caller, e.as_ref());
            for action in KMS_ACTIONS {
                let decide = |set: &PolicySet| {
                    decide_kms(&KmsRequest {
                        caller: &caller,
                        caller_policies: set,
                        action,
                        key_arn: key,
                        key_policy: &kp,
                        grants: &[],
                        context: &ctx,
                        encryption_context: e.as_ref(),
                    })
                    .decision
                };
                if decide(&pa) == Decision::Allow && decide(&pb) != Decision::Allow {
                    return Some(format!("{action} on {key} ec={e:?}"));
                }
            }
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    #[test]
    fn identity_check_no_new_access_agrees_with_brute_force(
        before in prop::collection::vec(0..IDENTITY_POOL.len(), 1..4),
        after in prop::collection::vec(0..IDENTITY_POOL.len(), 1..4),
    ) {
        let t = |idx: &[usize]| -> Vec<&str> { idx.iter().map(|i| IDENTITY_POOL[*i]).collect() };
        let old = must(&doc(&t(&before)), kmsd_policy::PolicyKind::Identity);
        let new = must(&doc(&t(&after)), kmsd_policy::PolicyKind::Identity);
        let check = check_no_new_access(&old, &new, None);
        let world = identity_world_new_access(&before, &after);
        prop_assert_eq!(
            check.pass,
            world.is_none(),
            "check {:?} vs world {:?}\nbefore {:?}\nafter {:?}",
            check.reasons,
            world,
            t(&before),
            t(&after)
        );
    }
}

// Trust policies: the check on two trust documents of a role of account A, against brute
// force over the world's callers deciding sts:AssumeRole (with identity policies that allow
// everything and with none) with and without an external id.

const ROLE: &str = "arn:aws:iam::111122223333:role/Target";

const TRUST_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"sts:AssumeRole"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Carol"},"Action":"sts:AssumeRole"}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/ExampleRole"},"Action":"sts:AssumeRole"}"#,
    r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalAccount":"444455556666"}}}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"777788889999"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"xyz"}}}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"sts:AssumeRole"}"#,
    r#"{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"sts:ExternalId":"xyz"}}}"#,
];

fn trust_world_new_access(before: &[usize], after: &[usize]) -> Option<String> {
    let t = |idx: &[usize]| -> Vec<&str> { idx.iter().map(|i| TRUST_POOL[*i]).collect() };
    let tp = |idx: &[usize]| {
        sourced(
            "trust",
            &doc(&t(idx)),
            kmsd_policy::PolicyKind::Trust,
            kmsd_policy::PolicySourceType::Resource,
        )
    };
    let (tb, ta) = (tp(before), tp(after));
    for set in sets() {
        for caller in callers() {
            for external in [None, Some("xyz"), Some("other")] {
                let mut ctx = kms_context(&caller, None);
                if let Some(x) = external {
                    ctx.set("sts:ExternalId", x);
                }
                let decide = |trust| {
                    kmsd_policy::decide_assume_role(&kmsd_policy::AssumeRoleRequest {
                        caller: &caller,
                        caller_policies: &set,
                        role_arn: ROLE,
                        trust_policy: trust,
                        context: &ctx,
                    })
                    .decision
                };
                if decide(&ta) == Decision::Allow && decide(&tb) != Decision::Allow {
                    return Some(format!(
                        "{} external={external:?} iam={}",
                        caller.arn(),
                        set.identity.len()
                    ));
                }
            }
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    #[test]
    fn trust_check_no_new_access_agrees_with_brute_force(
        before in prop::collection::vec(0..TRUST_POOL.len(), 1..4),
        after in prop::collection::vec(0..TRUST_POOL.len(), 1..4),
    ) {
        let t = |idx: &[usize]| -> Vec<&str> { idx.iter().map(|i| TRUST_POOL[*i]).collect() };
        let old = must(&doc(&t(&before)), kmsd_policy::PolicyKind::Trust);
        let new = must(&doc(&t(&after)), kmsd_policy::PolicyKind::Trust);
        let check = check_no_new_access(&old, &new, Some(A));
        let world = trust_world_new_access(&before, &after);
        prop_assert_eq!(
            check.pass,
            world.is_none(),
            "check {:?} vs world {:?}\nbefore {:?}\nafter {:?}",
            check.reasons,
            world,
            t(&before),
            t(&after)
        );
    }
}

/// CheckNoPublicAccess: each case with its expected result.
#[test]
fn no_public_access_cases() {
    use kmsd_policy::validate::custom::check_no_public_access;
    use kmsd_policy::PolicyKind::{Key, Trust};
    let cases: &[(&str, kmsd_policy::PolicyKind, bool)] = &[
        (KP_DEFAULT, Key, true),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#,
            Key,
            false,
        ),
        (
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}"#,
            Key,
            false,
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#,
            Key,
            true,
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}"#,
            Key,
            true,
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}"#,
            Key,
            true,
        ),
        // An encryption context condition does not keep anyone out.
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"web"}}}"#,
            Key,
            false,
        ),
        // A negated limiting condition does not limit.
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}"#,
            Key,
            false,
        ),
        // Another account named: not public.
        (
            r#"{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:Decrypt","Resource":"*"}"#,
            Key,
            true,
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}"#,
            Trust,
            false,
        ),
        (
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}"#,
            Trust,
            true,
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}"#,
            Trust,
            true,
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}"#,
            Trust,
            true,
        ),
    ];
    for (statement, kind, pass) in cases {
        let p = must(&doc(&[statement]), *kind);
        let r = check_no_public_access(&p);
        assert_eq!(r.pass, *pass, "{statement}: {:?}", r.reasons);
        assert_eq!(r.reasons.is_empty(), *pass);
    }
    // A Deny for everyone outside the account cuts an open Allow.
    let p = must(
        &doc(&[
            r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#,
            r#"{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}"#,
        ]),
        Key,
    );
    assert!(check_no_public_access(&p).pass);
}
