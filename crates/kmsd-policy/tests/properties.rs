//! Property tests over random worlds built from pools of statements, policies, grants and callers:
//! order independence, monotonicity of Deny and Allow, explicit denies naming an applying Deny,
//! trace/decision agreement, traced/untraced agreement, and that a request whose policies read
//! no context key is decided the same without its context.

mod common;

use std::collections::BTreeMap;

use common::*;
use kmsd_policy::{
    decide_kms, explain_kms, Because, Caller, Decision, Effect, Grant, GrantConstraints,
    KmsRequest, Node, PolicyKind, PolicySet, PolicySourceType, RequestContext, SourcedPolicy,
};
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

const ID_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}"#,
    r#"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#,
    r#"{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Dept":"IT"}}}"#,
    r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"Null":{"kms:EncryptionContextKeys":"true"}}}"#,
    r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:us-west-2:444455556666:key/*"}"#,
    r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":["kms:ReEncrypt*","kms:DescribeKey"],"NotResource":"arn:aws:kms:*:*:alias/*"}"#,
];

const BOUNDARY_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#,
];

const SESSION_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
];

const SCP_POOL: &[&str] = &[
    r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
    r#"{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#,
];

const ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:ScheduleKeyDeletion",
    "kms:DescribeKey",
    "kms:ReEncryptFrom",
];

fn callers() -> Vec<Caller> {
    vec![
        user(A, "Alice"),
        user(A, "Bob"),
        session(A, "ExampleRole", "s1"),
        session(A, "ExampleRole", "s2"),
        user(B, "Carol"),
        session(B, "AppRole", "x"),
        root(A),
        user(C, "Dave"),
    ]
}

fn grant_pool() -> Vec<Grant> {
    let sub = |k: &str, v: &str| {
        Some(GrantConstraints {
            encryption_context_equals: None,
            encryption_context_subset: Some(ec(&[(k, v)])),
        })
    };
    vec![
        grant(
            "g0",
            "arn:aws:iam::111122223333:user/Alice",
            &["Decrypt"],
            None,
        ),
        grant(
            "g1",
            "arn:aws:iam::111122223333:role/ExampleRole",
            &["Decrypt"],
            sub("Dept", "IT"),
        ),
        grant("g2", "arn:aws:iam::111122223333:root", &["Encrypt"], None),
        grant(
            "g3",
            "arn:aws:iam::444455556666:role/AppRole",
            &["Decrypt", "ReEncrypt*"],
            None,
        ),
        grant(
            "g4",
            "arn:aws:sts::111122223333:assumed-role/ExampleRole/s1",
            &["Encrypt"],
            Some(GrantConstraints {
                encryption_context_equals: Some(ec(&[("Dept", "IT")])),
                encryption_context_subset: None,
            }),
        ),
    ]
}

fn ecs() -> Vec<Option<BTreeMap<String, String>>> {
    vec![
        None,
        Some(ec(&[("Dept", "IT")])),
        Some(ec(&[("Dept", "HR"), ("Secret", "x")])),
    ]
}

/// A world described by pool indices.
#[derive(Debug, Clone)]
struct World {
    caller: usize,
    action: usize,
    ec: usize,
    key: Vec<usize>,
    identity: Vec<Vec<usize>>,
    boundary: Option<usize>,
    session: Option<usize>,
    scp: Vec<usize>,
    grants: Vec<usize>,
}

fn world() -> impl Strategy<Value = World> {
    (
        (0..8usize, 0..ACTIONS.len(), 0..3usize),
        prop::collection::vec(0..KEY_POOL.len(), 1..5),
        prop::collection::vec(prop::collection::vec(0..ID_POOL.len(), 0..4), 0..4),
        prop::option::of(0..BOUNDARY_POOL.len()),
        prop::option::of(0..SESSION_POOL.len()),
        prop::collection::vec(0..SCP_POOL.len(), 0..3),
        prop::collection::vec(0..5usize, 0..4),
    )
        .prop_map(
            |((caller, action, ec), key, identity, boundary, session, scp, grants)| World {
                caller,
                action,
                ec,
                key,
                identity,
                boundary,
                session,
                scp,
                grants,
            },
        )
}

struct Built {
    caller: Caller,
    set: PolicySet,
    kp: SourcedPolicy,
    grants: Vec<Grant>,
    ec: Option<BTreeMap<String, String>>,
    action: &'static str,
}

fn texts(pool: &[&str], idx: &[usize]) -> Vec<String> {
    idx.iter().map(|i| pool[*i].to_string()).collect()
}

fn build(w: &World, extra_key: &[String], extra_id: &[String]) -> Built {
    let mut key: Vec<String> = texts(KEY_POOL, &w.key);
    key.extend(extra_key.iter().cloned());
    let key_refs: Vec<&str> = key.iter().map(String::as_str).collect();
    let mut identity: Vec<SourcedPolicy> = w
        .identity
        .iter()
        .enumerate()
        .map(|(i, idx)| {
            let t = texts(ID_POOL, idx);
            let r: Vec<&str> = t.iter().map(String::as_str).collect();
            identity_named(&format!("id{i}"), &r)
        })
        .collect();
    if !extra_id.is_empty() {
        let r: Vec<&str> = extra_id.iter().map(String::as_str).collect();
        identity.push(identity_named("extra", &r));
    }
    let set = PolicySet {
        identity,
        boundary: w.boundary.map(|b| {
            sourced(
                "boundary",
                &doc(&[BOUNDARY_POOL[b]]),
                PolicyKind::Boundary,
                PolicySourceType::PermissionsBoundary,
            )
        }),
        session: w.session.map(|s| {
            vec![sourced(
                "session",
                &doc(&[SESSION_POOL[s]]),
                PolicyKind::Session,
                PolicySourceType::Session,
            )]
        }),
        scps: if w.scp.is_empty() {
            Vec::new()
        } else {
            let t = texts(SCP_POOL, &w.scp);
            let r: Vec<&str> = t.iter().map(String::as_str).collect();
            vec![sourced(
                "scp",
                &doc(&r),
                PolicyKind::Scp,
                PolicySourceType::ServiceControl,
            )]
        },
    };
    let pool = grant_pool();
    Built {
        caller: callers()[w.caller].clone(),
        set,
        kp: key_policy(&key_refs),
        grants: w.grants.iter().map(|g| pool[*g].clone()).collect(),
        ec: ecs()[w.ec].clone(),
        action: ACTIONS[w.action],
    }
}

fn identity_named(id: &str, statements: &[&str]) -> SourcedPolicy {
    sourced(
        id,
        &doc(statements),
        PolicyKind::Identity,
        PolicySourceType::User,
    )
}

fn explain(b: &Built) -> kmsd_policy::Explanation {
    let ctx = kms_context(&b.caller, b.ec.as_ref());
    let req = KmsRequest {
        caller: &b.caller,
        caller_policies: &b.set,
        action: b.action,
        key_arn: K,
        key_policy: &b.kp,
        grants: &b.grants,
        context: &ctx,
        encryption_context: b.ec.as_ref(),
    };
    let e = explain_kms(&req);
    assert_eq!(decide_kms(&req), e.outcome, "traced and untraced differ");
    let d = kmsd_policy::decision::decide_kms_because(&req);
    let path_because: Vec<Because> = e.path.iter().flat_map(|s| s.because.clone()).collect();
    assert_eq!(
        (d.outcome, d.because),
        (e.outcome, path_because),
        "because-only differs"
    );
    e
}

/// Deterministic shuffle from a seed.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let j = (s % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn order_does_not_matter(w in world(), seed in any::<u64>()) {
        let before = explain(&build(&w, &[], &[])).outcome;
        let mut w2 = w.clone();
        shuffle(&mut w2.key, seed);
        shuffle(&mut w2.identity, seed.rotate_left(7));
        for p in w2.identity.iter_mut() {
            shuffle(p, seed.rotate_left(13));
        }
        shuffle(&mut w2.scp, seed.rotate_left(17));
        shuffle(&mut w2.grants, seed.rotate_left(23));
        let after = explain(&build(&w2, &[], &[])).outcome;
        prop_assert_eq!(before, after);
    }

    #[test]
    fn adding_a_deny_never_allows(w in world(), k in 0..KEY_POOL.len(), i in 0..ID_POOL.len(), to_key in any::<bool>()) {
        let before = explain(&build(&w, &[], &[])).outcome.decision;
        let (extra_key, extra_id): (Vec<String>, Vec<String>) = if to_key {
            let s = KEY_POOL[k].replace("\"Allow\"", "\"Deny\"");
            (vec![s], vec![])
        } else {
            (vec![], vec![ID_POOL[i].replace("\"Allow\"", "\"Deny\"")])
        };
        let after = explain(&build(&w, &extra_key, &extra_id)).outcome.decision;
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
    }

    #[test]
    fn adding_an_allow_never_denies(w in world(), k in 0..KEY_POOL.len(), i in 0..ID_POOL.len(), to_key in any::<bool>()) {
        let before = explain(&build(&w, &[], &[])).outcome.decision;
        let (extra_key, extra_id): (Vec<String>, Vec<String>) = if to_key {
            (vec![KEY_POOL[k].replace("\"Deny\"", "\"Allow\"")], vec![])
        } else {
            (vec![], vec![ID_POOL[i].replace("\"Deny\"", "\"Allow\"")])
        };
        let after = explain(&build(&w, &extra_key, &extra_id)).outcome.decision;
        if before == Decision::Allow {
            prop_assert_eq!(after, Decision::Allow);
        }
    }

    #[test]
    fn trace_agrees_with_decision(w in world()) {
        let b = build(&w, &[], &[]);
        let e = explain(&b);
        let last = e.path.last().cloned();
        prop_assert!(last.is_some());
        let last = last.unwrap_or_else(|| unreachable!());
        prop_assert_eq!(e.path.first().map(|s| s.node), Some(Node::N0));
        match e.outcome.decision {
            Decision::Allow => {
                prop_assert!(last.answer);
                prop_assert!(matches!(last.node, Node::T1 | Node::T2 | Node::N4));
                prop_assert!(e.message.is_none());
                prop_assert!(e.outcome.denied_by.is_none());
            }
            Decision::ExplicitDeny => {
                prop_assert!(last.answer);
                prop_assert!(matches!(last.node, Node::N0 | Node::N1 | Node::N2));
                prop_assert!(e.message.is_some());
            }
            Decision::ImplicitDeny => {
                prop_assert!(!last.answer);
                prop_assert!(e.message.is_some());
            }
        }
    }

    #[test]
    fn explicit_deny_names_an_applying_deny(w in world()) {
        let b = build(&w, &[], &[]);
        let e = explain(&b);
        if e.outcome.decision == Decision::ExplicitDeny {
            let last = e.path.last().cloned().unwrap_or_else(|| unreachable!());
            prop_assert!(!last.because.is_empty());
            for because in &last.because {
                match because {
                    Because::Statement { policy_id, index, .. } => {
                        let policy = std::iter::once(&b.kp)
                            .chain(b.set.identity.iter())
                            .chain(b.set.scps.iter())
                            .chain(b.set.boundary.iter())
                            .chain(b.set.session.iter().flatten())
                            .find(|p| &p.id == policy_id)
                            .map(|p| p.policy.clone());
                        let policy = policy.unwrap_or_else(|| panic!("unknown policy {policy_id}"));
                        prop_assert_eq!(policy.statement_effect(*index), Some(Effect::Deny));
                        // Cut the statement out of the document by its position and decide again
                        // with that statement alone in its slot: it must still deny explicitly.
                        let ((l1, c1), (l2, c2)) = policy.statement_position(*index).unwrap_or_default();
                        prop_assert_eq!((l1, l2), (1, 1));
                        let text = policy.text().get(c1 - 1..c2 - 1).unwrap_or_default().to_string();
                        prop_assert!(text.starts_with('{') && text.ends_with('}'), "{}", text);
                        let mut alone = Built {
                            caller: b.caller.clone(),
                            set: PolicySet::default(),
                            kp: key_policy(&[KP_DEFAULT]),
                            grants: Vec::new(),
                            ec: b.ec.clone(),
                            action: b.action,
                        };
                        let node = if policy_id == "key-policy" {
                            alone.kp = key_policy(&[&text]);
                            Node::N1
                        } else if policy_id == "scp" {
                            alone.set.scps = vec![sourced(
                                "scp",
                                &doc(&[&text, SCP_POOL[0]]),
                                PolicyKind::Scp,
                                PolicySourceType::ServiceControl,
                            )];
                            Node::N0
                        } else {
                            alone.set.identity = vec![identity_named("alone", &[&text])];
                            Node::N2
                        };
                        let again = explain(&alone);
                        prop_assert_eq!(again.outcome.decision, Decision::ExplicitDeny);
                        prop_assert_eq!(again.path.last().map(|s| s.node), Some(node));
                    }
                    Because::Note(n) => prop_assert!(n.contains("service control policy")),
                    Because::Grant { .. } => prop_assert!(false, "a grant cannot deny"),
                }
            }
        }
    }

    #[test]
    fn unread_context_decides_the_same_when_no_policy_reads_it(w in world()) {
        let b = build(&w, &[], &[]);
        let reads = b.kp.policy.reads_context() || b.set.reads_context();
        let full = explain(&b);
        let unread = RequestContext::unread();
        let lazy = explain_kms(&KmsRequest {
            caller: &b.caller,
            caller_policies: &b.set,
            action: b.action,
            key_arn: K,
            key_policy: &b.kp,
            grants: &b.grants,
            context: &unread,
            encryption_context: b.ec.as_ref(),
        });
        if !reads {
            prop_assert_eq!(full.outcome, lazy.outcome);
            prop_assert_eq!(full.path, lazy.path);
        }
    }
}
