//! Every worked case of §8 of the evaluation spec: decision, flowchart path and deny reason.

mod common;

use std::collections::BTreeMap;

use common::*;
use kmsd_policy::{
    decide_kms, explain_kms, Caller, Decision, DenyReason, Grant, GrantConstraints, KmsRequest,
    PolicyKind, PolicySet, PolicySourceType, SourcedPolicy,
};

use Decision::{Allow as A_, ExplicitDeny as ED, ImplicitDeny as ID};

struct Case {
    name: &'static str,
    caller: Caller,
    key_arn: &'static str,
    key_policy: SourcedPolicy,
    set: PolicySet,
    grants: Vec<Grant>,
    action: &'static str,
    ec: Option<BTreeMap<String, String>>,
    decision: Decision,
    /// Steps that must appear in this order; the last one must be the final step.
    path: &'static str,
    reason: Option<DenyReason>,
}

fn case(name: &'static str, caller: Caller, key_policy: SourcedPolicy, set: PolicySet) -> Case {
    Case {
        name,
        caller,
        key_arn: K,
        key_policy,
        set,
        grants: Vec::new(),
        action: "kms:Decrypt",
        ec: None,
        decision: ID,
        path: "",
        reason: None,
    }
}

impl Case {
    fn expect(
        mut self,
        decision: Decision,
        path: &'static str,
        reason: Option<DenyReason>,
    ) -> Self {
        self.decision = decision;
        self.path = path;
        self.reason = reason;
        self
    }
    fn action(mut self, a: &'static str) -> Self {
        self.action = a;
        self
    }
    fn grants(mut self, g: Vec<Grant>) -> Self {
        self.grants = g;
        self
    }
    fn ec(mut self, pairs: &[(&str, &str)]) -> Self {
        self.ec = Some(ec(pairs));
        self
    }
}

fn alice() -> Caller {
    user(A, "Alice")
}
fn s1() -> Caller {
    session(A, "ExampleRole", "s1")
}
fn carol() -> Caller {
    user(B, "Carol")
}

fn stmt(effect: &str, principal: &str, action: &str, extra: &str) -> String {
    format!(
        r#"{{"Effect":"{effect}","Principal":{principal},"Action":{action},"Resource":"*"{extra}}}"#
    )
}

fn aws(arn: &str) -> String {
    format!(r#"{{"AWS":"{arn}"}}"#)
}

fn iam(statements: &[&str]) -> PolicySet {
    policies(vec![identity("IamPolicy", statements)])
}

fn none() -> PolicySet {
    PolicySet::default()
}

fn cases() -> Vec<Case> {
    let alice_arn = "arn:aws:iam::111122223333:user/Alice";
    let role_arn = "arn:aws:iam::111122223333:role/ExampleRole";
    let s1_arn = "arn:aws:sts::111122223333:assumed-role/ExampleRole/s1";
    let kms_all = allow(r#""kms:*""#, "*");
    let decrypt_k = allow(r#""kms:Decrypt""#, K);
    let mut v = Vec::new();

    v.push(
        case("1", alice(), key_policy(&[KP_DEFAULT]), none()).expect(
            ID,
            "N0N N1N N2N N3N N4N N5Y N6N",
            Some(DenyReason::IdentityBased),
        ),
    );

    // 2: Bob's role session in A, key in B.
    let kp2 = key_policy(&[
        &stmt(
            "Allow",
            &aws("arn:aws:iam::444455556666:root"),
            r#""kms:*""#,
            "",
        ),
        &stmt(
            "Allow",
            &aws("arn:aws:iam::111122223333:root"),
            r#"["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"]"#,
            "",
        ),
    ]);
    let role_policy = allow(
        r#"["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"]"#,
        K2,
    );
    let mut c2 = case(
        "2",
        session(A, "Engineering", "bob"),
        kp2,
        iam(&[&role_policy]),
    )
    .expect(A_, "N0N N1N N2N N3N N4N N5Y N6Y T1N T2Y", None);
    c2.key_arn = K2;
    v.push(c2);

    v.push(
        case("3", alice(), key_policy(&[KP_DEFAULT]), iam(&[&decrypt_k])).expect(
            A_,
            "N3N N4N N5Y N6Y T1Y",
            None,
        ),
    );
    v.push(
        case(
            "4",
            alice(),
            key_policy(&[&stmt("Allow", &aws(alice_arn), r#""kms:Decrypt""#, "")]),
            none(),
        )
        .expect(A_, "N3Y T1Y", None),
    );
    v.push(
        case(
            "5",
            alice(),
            key_policy(&[KP_DEFAULT]),
            iam(&[
                &kms_all,
                r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#,
            ]),
        )
        .expect(ED, "N2Y", Some(DenyReason::IdentityBased)),
    );
    v.push(
        case(
            "6",
            alice(),
            key_policy(&[
                KP_DEFAULT,
                &stmt("Deny", &aws(alice_arn), r#""kms:Decrypt""#, ""),
            ]),
            iam(&[&kms_all]),
        )
        .expect(ED, "N1Y", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "7",
            alice(),
            key_policy(&[&stmt(
                "Allow",
                &aws("arn:aws:iam::111122223333:user/Bob"),
                r#""kms:*""#,
                "",
            )]),
            iam(&[&allow(r#""*""#, "*")]),
        )
        .expect(ID, "N3N N4N N5N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "8",
            s1(),
            key_policy(&[&stmt("Allow", &aws(role_arn), r#""kms:Decrypt""#, "")]),
            none(),
        )
        .expect(A_, "N3Y T1Y", None),
    );
    let kp9 = || key_policy(&[&stmt("Allow", &aws(s1_arn), r#""kms:Decrypt""#, "")]);
    v.push(case("9a", s1(), kp9(), none()).expect(A_, "N3Y T1Y", None));
    v.push(
        case("9b", session(A, "ExampleRole", "s2"), kp9(), none()).expect(
            ID,
            "N3N N4N N5N",
            Some(DenyReason::ResourceBased),
        ),
    );

    let np = |list: &str| {
        format!(
            r#"{{"Effect":"Deny","NotPrincipal":{{"AWS":{list}}},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}}"#
        )
    };
    let admins = r#"["arn:aws:iam::111122223333:user/Admin","arn:aws:iam::111122223333:root"]"#;
    v.push(
        case(
            "10a",
            alice(),
            key_policy(&[KP_DEFAULT, &np(admins)]),
            iam(&[&kms_all]),
        )
        .action("kms:ScheduleKeyDeletion")
        .expect(ED, "N1Y", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "10b",
            user(A, "Admin"),
            key_policy(&[KP_DEFAULT, &np(admins)]),
            iam(&[&kms_all]),
        )
        .action("kms:ScheduleKeyDeletion")
        .expect(A_, "N1N N5Y N6Y T1Y", None),
    );
    v.push(
        case(
            "10c",
            user(A, "Admin"),
            key_policy(&[
                KP_DEFAULT,
                &np(r#"["arn:aws:iam::111122223333:user/Admin"]"#),
            ]),
            iam(&[&kms_all]),
        )
        .action("kms:ScheduleKeyDeletion")
        .expect(ED, "N1Y", Some(DenyReason::ResourceBased)),
    );

    v.push(
        case(
            "11",
            session(B, "AppRole", "x"),
            key_policy(&[KP_DEFAULT]),
            none(),
        )
        .grants(vec![grant(
            "g11",
            "arn:aws:iam::444455556666:role/AppRole",
            &["Decrypt"],
            None,
        )])
        .expect(A_, "N3N N4Y", None),
    );

    let kp12 = || {
        key_policy(&[&stmt(
            "Allow",
            &aws("arn:aws:iam::111122223333:user/KeyAdmin"),
            r#""kms:*""#,
            "",
        )])
    };
    let subset = || {
        Some(GrantConstraints {
            encryption_context_equals: None,
            encryption_context_subset: Some(ec(&[("Department", "IT")])),
        })
    };
    let g12 = || vec![grant("g12", alice_arn, &["Decrypt"], subset())];
    v.push(
        case("12a", alice(), kp12(), none())
            .grants(g12())
            .ec(&[("Department", "IT"), ("Purpose", "Test")])
            .expect(A_, "N4Y", None),
    );
    v.push(
        case("12b", alice(), kp12(), none())
            .grants(g12())
            .ec(&[("Purpose", "Test")])
            .expect(ID, "N4N N5N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case("12c", alice(), kp12(), none())
            .grants(g12())
            .ec(&[("Department", "it")])
            .expect(ID, "N4N N5N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case("13", alice(), kp12(), none())
            .grants(vec![grant(
                "g13",
                alice_arn,
                &["Decrypt"],
                Some(GrantConstraints {
                    encryption_context_equals: Some(ec(&[("Department", "IT")])),
                    encryption_context_subset: None,
                }),
            )])
            .ec(&[("Department", "IT"), ("Purpose", "Test")])
            .expect(ID, "N4N N5N", Some(DenyReason::ResourceBased)),
    );

    let cond_kp = |op: &str, key: &str, val: &str| {
        key_policy(&[&stmt(
            "Allow",
            &aws(alice_arn),
            r#""kms:Decrypt""#,
            &format!(r#","Condition":{{"{op}":{{"{key}":{val}}}}}"#),
        )])
    };
    v.push(
        case(
            "14",
            alice(),
            cond_kp(
                "StringEquals",
                "kms:EncryptionContext:Department",
                r#""IT""#,
            ),
            none(),
        )
        .expect(ID, "N3N N4N N5N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "15a",
            alice(),
            cond_kp(
                "StringEqualsIfExists",
                "kms:EncryptionContext:Department",
                r#""IT""#,
            ),
            none(),
        )
        .expect(A_, "N3Y T1Y", None),
    );
    v.push(
        case(
            "15b",
            alice(),
            cond_kp(
                "StringEqualsIfExists",
                "kms:EncryptionContext:Department",
                r#""IT""#,
            ),
            none(),
        )
        .ec(&[("Department", "HR")])
        .expect(ID, "N3N N4N N5N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "16a",
            alice(),
            cond_kp(
                "ForAnyValue:StringEquals",
                "kms:EncryptionContextKeys",
                r#"["Department"]"#,
            ),
            none(),
        )
        .expect(ID, "N3N N4N N5N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "16b",
            alice(),
            cond_kp(
                "ForAllValues:StringEquals",
                "kms:EncryptionContextKeys",
                r#"["Department"]"#,
            ),
            none(),
        )
        .expect(A_, "N3Y T1Y", None),
    );
    v.push(
        case(
            "17",
            alice(),
            key_policy(&[
                KP_DEFAULT,
                &stmt(
                    "Deny",
                    r#""*""#,
                    r#""kms:Decrypt""#,
                    r#","Condition":{"ForAllValues:StringNotEquals":{"kms:EncryptionContextKeys":["AppName"]}}"#,
                ),
            ]),
            iam(&[&allow(r#""kms:Decrypt""#, "*")]),
        )
        .expect(ED, "N1Y", Some(DenyReason::ResourceBased)),
    );

    let boundary = |mut set: PolicySet| {
        set.boundary = Some(sourced(
            "arn:aws:iam::111122223333:policy/Boundary",
            &doc(&[&allow(r#""s3:*""#, "*")]),
            PolicyKind::Boundary,
            PolicySourceType::PermissionsBoundary,
        ));
        set
    };
    v.push(
        case(
            "18",
            alice(),
            key_policy(&[KP_DEFAULT]),
            boundary(iam(&[&kms_all])),
        )
        .expect(ID, "N5Y N6N", Some(DenyReason::PermissionsBoundary)),
    );
    v.push(
        case(
            "19a",
            alice(),
            key_policy(&[
                KP_DEFAULT,
                &stmt("Allow", &aws(alice_arn), r#""kms:Decrypt""#, ""),
            ]),
            boundary(iam(&[&kms_all])),
        )
        .expect(A_, "N3Y T1Y", None),
    );
    v.push(
        case(
            "19b",
            s1(),
            key_policy(&[
                KP_DEFAULT,
                &stmt("Allow", &aws(role_arn), r#""kms:Decrypt""#, ""),
            ]),
            boundary(iam(&[&kms_all])),
        )
        .expect(ID, "N3N N4N N5Y N6N", Some(DenyReason::PermissionsBoundary)),
    );

    let with_session = |mut set: PolicySet| {
        set.session = Some(vec![sourced(
            "session-policy",
            &doc(&[&allow(r#""kms:Encrypt""#, "*")]),
            PolicyKind::Session,
            PolicySourceType::Session,
        )]);
        set
    };
    v.push(
        case(
            "20a",
            s1(),
            key_policy(&[KP_DEFAULT]),
            with_session(iam(&[&kms_all])),
        )
        .expect(ID, "N5Y N6N", Some(DenyReason::SessionPolicy)),
    );
    v.push(
        case(
            "20b",
            s1(),
            key_policy(&[KP_DEFAULT]),
            with_session(iam(&[&kms_all])),
        )
        .action("kms:Encrypt")
        .expect(A_, "N5Y N6Y T1Y", None),
    );
    v.push(
        case(
            "21",
            s1(),
            key_policy(&[
                KP_DEFAULT,
                &stmt("Allow", &aws(s1_arn), r#""kms:Decrypt""#, ""),
            ]),
            with_session(iam(&[&kms_all])),
        )
        .expect(A_, "N3Y T1Y", None),
    );
    v.push(
        case(
            "22",
            session(B, "AppRole", "x"),
            key_policy(&[
                KP_DEFAULT,
                &stmt(
                    "Allow",
                    &aws("arn:aws:iam::444455556666:role/AppRole"),
                    r#""kms:Decrypt""#,
                    "",
                ),
            ]),
            none(),
        )
        .expect(ID, "N3Y T1N T2N", Some(DenyReason::IdentityBased)),
    );
    v.push(
        case("23", carol(), key_policy(&[KP_DEFAULT]), iam(&[&decrypt_k])).expect(
            ID,
            "N3N N4N N5N",
            Some(DenyReason::ResourceNotVisible),
        ),
    );
    let kp24 = || {
        key_policy(&[&stmt(
            "Allow",
            r#""*""#,
            r#""kms:Decrypt""#,
            r#","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
        )])
    };
    v.push(case("24a", alice(), kp24(), none()).expect(A_, "N3Y T1Y", None));
    v.push(case("24b", carol(), kp24(), iam(&[&decrypt_k])).expect(
        ID,
        "N3N N4N N5N",
        Some(DenyReason::ResourceBased),
    ));
    v.push(case("25a", root(A), key_policy(&[KP_DEFAULT]), none()).expect(A_, "N5Y N6Y T1Y", None));
    v.push(
        case(
            "25b",
            root(A),
            key_policy(&[&stmt("Allow", &aws(alice_arn), r#""kms:*""#, "")]),
            none(),
        )
        .expect(ID, "N3N N4N N5N", Some(DenyReason::ResourceBased)),
    );
    let mut set26 = iam(&[&kms_all]);
    set26.scps = vec![sourced(
        "p-scp",
        &doc(&[r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#]),
        PolicyKind::Scp,
        PolicySourceType::ServiceControl,
    )];
    v.push(
        case("26", alice(), key_policy(&[KP_DEFAULT]), set26).expect(
            ED,
            "N0Y",
            Some(DenyReason::ServiceControlPolicy),
        ),
    );
    v.push(
        case(
            "27",
            alice(),
            key_policy(&[
                KP_DEFAULT,
                &stmt(
                    "Deny",
                    r#""*""#,
                    r#""kms:*""#,
                    r#","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b"}}"#,
                ),
            ]),
            iam(&[&kms_all]),
        )
        .expect(ED, "N1Y", Some(DenyReason::ResourceBased)),
    );
    let owner = r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}"#;
    v.push(
        case("28a", alice(), key_policy(&[KP_DEFAULT]), iam(&[owner]))
            .ec(&[("owner", "Alice")])
            .expect(A_, "N5Y N6Y T1Y", None),
    );
    v.push(
        case("28b", s1(), key_policy(&[KP_DEFAULT]), iam(&[owner]))
            .ec(&[("owner", "Alice")])
            .expect(ID, "N6N", Some(DenyReason::IdentityBased)),
    );
    v.push(
        case(
            "28c",
            alice(),
            key_policy(&[KP_DEFAULT]),
            policies(vec![sourced(
                "NoVersion",
                &format!(r#"{{"Statement":[{owner}]}}"#),
                PolicyKind::Identity,
                PolicySourceType::User,
            )]),
        )
        .ec(&[("owner", "Alice")])
        .expect(ID, "N6N", Some(DenyReason::IdentityBased)),
    );
    let kp29 = || {
        key_policy(&[
            KP_DEFAULT,
            &stmt(
                "Deny",
                r#""*""#,
                r#""kms:*""#,
                r#","Condition":{"StringNotEquals":{"aws:PrincipalAccount":["111122223333","444455556666"]}}"#,
            ),
            &stmt(
                "Allow",
                &aws("arn:aws:iam::444455556666:root"),
                r#""kms:Decrypt""#,
                "",
            ),
        ])
    };
    v.push(case("29a", carol(), kp29(), iam(&[&decrypt_k])).expect(
        A_,
        "N1N N5Y N6Y T1N T2Y",
        None,
    ));
    v.push(
        case("29b", user(C, "Dave"), kp29(), iam(&[&decrypt_k])).expect(
            ED,
            "N1Y",
            Some(DenyReason::ResourceBased),
        ),
    );
    v.push(
        case(
            "30",
            carol(),
            key_policy(&[
                KP_DEFAULT,
                &stmt(
                    "Allow",
                    &aws("arn:aws:iam::444455556666:root"),
                    r#""kms:*""#,
                    "",
                ),
            ]),
            iam(&[&allow(r#""kms:ScheduleKeyDeletion""#, K)]),
        )
        .action("kms:ScheduleKeyDeletion")
        .expect(ID, "T1N T2N", Some(DenyReason::ResourceBased)),
    );
    v.push(
        case(
            "31",
            alice(),
            key_policy(&[KP_DEFAULT]),
            iam(&[&allow(
                r#""kms:Decrypt""#,
                "arn:aws:kms:us-west-2:111122223333:alias/app",
            )]),
        )
        .expect(ID, "N6N", Some(DenyReason::IdentityBased)),
    );
    v
}

fn run(c: &Case) -> kmsd_policy::Explanation {
    let ctx = kms_context(&c.caller, c.ec.as_ref());
    let req = KmsRequest {
        caller: &c.caller,
        caller_policies: &c.set,
        action: c.action,
        key_arn: c.key_arn,
        key_policy: &c.key_policy,
        grants: &c.grants,
        context: &ctx,
        encryption_context: c.ec.as_ref(),
    };
    let e = explain_kms(&req);
    assert_eq!(
        decide_kms(&req),
        e.outcome,
        "case {}: traced and untraced differ",
        c.name
    );
    e
}

#[test]
fn worked_cases_of_section_8() {
    let all = cases();
    assert_eq!(all.len(), 45);
    for c in &all {
        let e = run(c);
        let path = e.path_string();
        assert_eq!(
            e.outcome.decision, c.decision,
            "case {}: decision (path {path})",
            c.name
        );
        assert_eq!(
            e.outcome.denied_by, c.reason,
            "case {}: reason (path {path})",
            c.name
        );
        // The expected steps appear in order, and the last is the final step.
        let actual: Vec<&str> = path.split(' ').collect();
        let mut pos = 0;
        for want in c.path.split(' ') {
            match actual[pos..].iter().position(|s| *s == want) {
                Some(i) => pos += i + 1,
                None => panic!(
                    "case {}: step {want} missing or out of order in {path}",
                    c.name
                ),
            }
        }
        assert_eq!(
            pos,
            actual.len(),
            "case {}: path continues after {}: {path}",
            c.name,
            c.path
        );
        // Every path starts at N0 and each node appears at most once.
        assert!(path.starts_with("N0"), "case {}: {path}", c.name);
        let mut seen = std::collections::HashSet::new();
        assert!(
            e.path.iter().all(|s| seen.insert(s.node)),
            "case {}: repeated node",
            c.name
        );
        assert_eq!(
            e.message.is_some(),
            c.decision != Decision::Allow,
            "case {}",
            c.name
        );
    }
}

#[test]
fn complete_paths_for_the_documented_examples() {
    let all = cases();
    let get = |n: &str| {
        all.iter()
            .find(|c| c.name == n)
            .map(run)
            .map(|e| e.path_string())
    };
    assert_eq!(get("1").as_deref(), Some("N0N N1N N2N N3N N4N N5Y N6N"));
    assert_eq!(
        get("2").as_deref(),
        Some("N0N N1N N2N N3N N4N N5Y N6Y T1N T2Y")
    );
    assert_eq!(get("4").as_deref(), Some("N0N N1N N2N N3Y T1Y"));
    assert_eq!(get("22").as_deref(), Some("N0N N1N N2N N3Y T1N T2N"));
    assert_eq!(get("30").as_deref(), Some("N0N N1N N2N T1N T2N"));
}

#[test]
fn explicit_denies_name_the_deny_statement() {
    for c in cases().iter().filter(|c| c.decision == ED) {
        let e = run(c);
        let last = e
            .path
            .last()
            .unwrap_or_else(|| panic!("case {}: empty path", c.name));
        assert!(last.answer);
        assert!(!last.because.is_empty(), "case {}: no evidence", c.name);
        for b in &last.because {
            if let kmsd_policy::Because::Statement {
                policy_id, index, ..
            } = b
            {
                let pol = if policy_id == "key-policy" {
                    c.key_policy.policy.clone()
                } else {
                    c.set
                        .identity
                        .iter()
                        .chain(c.set.scps.iter())
                        .find(|p| &p.id == policy_id)
                        .map(|p| p.policy.clone())
                        .unwrap_or_else(|| panic!("case {}: unknown policy {policy_id}", c.name))
                };
                assert_eq!(
                    pol.statement_effect(*index),
                    Some(kmsd_policy::Effect::Deny),
                    "case {}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn access_denied_messages() {
    let all = cases();
    let msg = |n: &str| {
        all.iter()
            .find(|c| c.name == n)
            .map(run)
            .and_then(|e| e.message)
            .unwrap_or_default()
    };
    let k = K;
    assert_eq!(
        msg("1"),
        format!("User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:Decrypt on resource: {k} because no identity-based policy allows the kms:Decrypt action")
    );
    assert_eq!(
        msg("5"),
        format!("User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:Decrypt on resource: {k} with an explicit deny in an identity-based policy")
    );
    assert_eq!(
        msg("6"),
        format!("User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:Decrypt on resource: {k} with an explicit deny in a resource-based policy")
    );
    assert_eq!(
        msg("7"),
        format!("User: arn:aws:iam::111122223333:user/Alice is not authorized to perform: kms:Decrypt on resource: {k} because no resource-based policy allows the kms:Decrypt action")
    );
    assert!(msg("18").ends_with("because no permissions boundary allows the kms:Decrypt action"));
    assert!(msg("20a").starts_with(
        "User: arn:aws:sts::111122223333:assumed-role/ExampleRole/s1 is not authorized to perform: kms:Decrypt"
    ));
    assert!(msg("20a").ends_with("because no session policy allows the kms:Decrypt action"));
    assert_eq!(
        msg("23"),
        "User: arn:aws:iam::444455556666:user/Carol is not authorized to perform: kms:Decrypt on this resource because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access"
    );
    assert!(msg("26").ends_with("with an explicit deny in a service control policy"));
}

#[test]
fn reencrypt_is_decided_per_half() {
    let alice = alice();
    let kp = key_policy(&[KP_DEFAULT]);
    let set = iam(&[&allow(r#""kms:ReEncrypt*""#, "*")]);
    let ctx = kms_context(&alice, None);
    for action in ["kms:ReEncryptFrom", "kms:ReEncryptTo"] {
        let req = KmsRequest {
            caller: &alice,
            caller_policies: &set,
            action,
            key_arn: K,
            key_policy: &kp,
            grants: &[],
            context: &ctx,
            encryption_context: None,
        };
        assert!(decide_kms(&req).is_allowed(), "{action}");
    }
}
