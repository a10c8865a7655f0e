//! CheckNoNewAccess (`validate::custom`, which reasons over the two policies alone) cross-checked
//! against brute force over random worlds: the world's callers, every KMS action and each
//! encryption context are decided with `decide_kms` before and after the key policy changes,
//! once with identity policies that allow everything and once with none (an account
//! principal delegates to IAM; a direct grant does not need it).
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
        session(A, "ExampleRole", "s1"),
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
    let ecs = [
        None,
        Some(ec(&[("Dept", "IT")])),
        Some(ec(&[("Dept", "HR"), ("Secret", "x")])),
    ];
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
