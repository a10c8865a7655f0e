//! The grant view against a rebuilt reference.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::collections::BTreeMap;

use super::*;

const GRANTEES: &[&str] = &[
    "111122223333",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:sts::111122223333:assumed-role/app/s1",
    "arn:aws:sts::111122223333:assumed-role/app/s2",
    "444455556666",
    "arn:aws:iam::444455556666:root",
    "arn:aws:iam::444455556666:user/carol",
    "acct-x",
    "arn:aws:iam::acct-x:root",
    "arn:aws:iam::acct-x:user/dave",
];

fn callers() -> Vec<Caller> {
    let role = |account: &str, session: &str| Caller::AssumedRole {
        account: account.into(),
        role_arn: format!("arn:aws:iam::{account}:role/app"),
        role_name: "app".into(),
        role_unique_id: "AROAAPP".into(),
        session_name: session.into(),
    };
    vec![
        Caller::Root {
            account: "111122223333".into(),
        },
        Caller::Root {
            account: "444455556666".into(),
        },
        Caller::Root {
            account: "acct-x".into(),
        },
        Caller::User {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            name: "alice".into(),
            unique_id: "AIDAALICE".into(),
        },
        Caller::User {
            account: "acct-x".into(),
            arn: "arn:aws:iam::acct-x:user/dave".into(),
            name: "dave".into(),
            unique_id: "AIDADAVE".into(),
        },
        role("111122223333", "s1"),
        role("111122223333", "s3"),
        role("444455556666", "s1"),
    ]
}

/// A small deterministic generator (xorshift64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

fn grant(rng: &mut Rng) -> Grant {
    let id = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        rng.next(),
        rng.next(),
        rng.next(),
        rng.next()
    );
    Grant {
        grant_id: id,
        name: (rng.below(3) == 0).then(|| format!("name-{}", rng.below(4))),
        grantee_principal: GRANTEES[rng.below(GRANTEES.len())].to_string(),
        operations: vec!["Decrypt".into()],
        constraints: None,
    }
}

/// The selection as it was made before the grantee groups: every grant whose grantee is
/// one of the caller's four names, in grant-id order, from the whole list.
fn reference_for_caller(all: &[Grant], caller: &Caller) -> Vec<Grant> {
    if all.len() <= SCAN_ALL_GRANTS {
        return all.to_vec();
    }
    let account = caller.account();
    let names = [
        caller.arn(),
        caller.principal_arn(),
        account.to_string(),
        format!("arn:aws:iam::{account}:root"),
    ];
    all.iter()
        .filter(|g| names.contains(&g.grantee_principal))
        .cloned()
        .collect()
}

/// Grown grant by grant (with removals), the view equals the one built whole from the
/// surviving grants: same order, same per-caller selections (equal to the reference
/// selection), same name index.
#[test]
fn incremental_view_equals_rebuilt_view() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..40 {
        let mut live: BTreeMap<String, Grant> = BTreeMap::new();
        let mut view = GrantView::default();
        let steps = 5 + round * 3;
        for _ in 0..steps {
            if !live.is_empty() && rng.below(4) == 0 {
                let pick = rng.below(live.len());
                let id = live.keys().nth(pick).unwrap().clone();
                let g = live.remove(&id).unwrap();
                assert!(view.remove(&id, &g.grantee_principal, g.name.as_deref()));
                assert!(!view.remove(&id, &g.grantee_principal, g.name.as_deref()));
            } else {
                let g = grant(&mut rng);
                live.insert(g.grant_id.clone(), g.clone());
                view.insert(g);
            }
            let rebuilt = GrantView::new(live.values().rev().cloned());
            let expected: Vec<Grant> = live.values().cloned().collect();
            assert_eq!(view.all(), expected.as_slice());
            assert_eq!(rebuilt.all(), expected.as_slice());
            assert_eq!(&*view, expected.as_slice());
            for c in callers() {
                let want = reference_for_caller(&expected, &c);
                assert_eq!(view.for_caller(&c).as_ref(), want.as_slice(), "{c:?}");
                assert_eq!(rebuilt.for_caller(&c).as_ref(), want.as_slice(), "{c:?}");
            }
            for n in 0..4 {
                let name = format!("name-{n}");
                let want: Vec<String> = expected
                    .iter()
                    .filter(|g| g.name.as_deref() == Some(name.as_str()))
                    .map(|g| g.grant_id.clone())
                    .collect();
                assert_eq!(view.named(&name), want.as_slice());
                assert_eq!(rebuilt.named(&name), want.as_slice());
            }
            assert_eq!(view.len, live.len());
        }
    }
}

/// Cost of picking a caller's grants on a key with 50,000 grants (45,000 to the caller),
/// against the selection as it was made before the grantee groups (`reference_for_caller`,
/// which copies them). Run: `cargo test -p kmsd-core --lib for_caller_cost -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn for_caller_cost() {
    let mut rng = Rng(7);
    let mut view = GrantView::default();
    for i in 0..50_000 {
        let mut g = grant(&mut rng);
        g.grantee_principal = if i % 10 == 9 {
            "arn:aws:iam::111122223333:user/bob".into()
        } else {
            "arn:aws:iam::111122223333:user/alice".into()
        };
        view.insert(g);
    }
    let alice = &callers()[3];
    let all = view.all().to_vec();
    let rounds = 20u32;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        assert_eq!(view.for_caller(alice).len(), 45_000);
    }
    let new = t.elapsed() / rounds;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        assert_eq!(reference_for_caller(&all, alice).len(), 45_000);
    }
    let old = t.elapsed() / rounds;
    eprintln!("for_caller, 45,000 of 50,000 grants: {new:?} per call; copying selection: {old:?}");
}

/// A caller whose grants sit in one grantee group gets them without a copy.
#[test]
fn one_group_is_borrowed() {
    let mut view = GrantView::default();
    for i in 0..40 {
        view.insert(Grant {
            grant_id: format!("{i:064x}"),
            name: None,
            grantee_principal: if i % 2 == 0 {
                "arn:aws:iam::111122223333:user/alice".into()
            } else {
                "arn:aws:iam::111122223333:user/bob".into()
            },
            operations: vec!["Decrypt".into()],
            constraints: None,
        });
    }
    let alice = Caller::User {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:user/alice".into(),
        name: "alice".into(),
        unique_id: "AIDAALICE".into(),
    };
    let got = view.for_caller(&alice);
    assert!(matches!(got, Cow::Borrowed(_)));
    assert_eq!(got.len(), 20);
    // Adding an account-wide grant makes two groups: merged in grant-id order.
    view.insert(Grant {
        grant_id: format!("{:064x}", 7),
        name: None,
        grantee_principal: "arn:aws:iam::111122223333:root".into(),
        operations: vec!["Decrypt".into()],
        constraints: None,
    });
    let got = view.for_caller(&alice);
    assert!(matches!(got, Cow::Owned(_)));
    let ids: Vec<&str> = got.iter().map(|g| g.grant_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 21);
}
