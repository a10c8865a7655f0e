//! Result shapes the other tests do not pin: an empty output structure (`UpdateRole`), an
//! inline policy, policy versions with and without their document, and the simulator's
//! `EvalDecisionDetails` (absent for `*`, empty within one account, per policy type across
//! accounts).

use super::*;

#[test]
fn empty_result_inline_policy_and_policy_versions() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "UpdateRole"),
            ("RoleName", "ExampleRole"),
            ("Description", "d"),
        ],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(
        out.body
            .contains("\n  <UpdateRoleResult></UpdateRoleResult>\n"),
        "{}",
        out.body
    );

    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "GetRolePolicy"),
            ("RoleName", "ExampleRole"),
            ("PolicyName", "UseKeyInAccount2"),
        ],
    );
    let r = "GetRolePolicyResponse/GetRolePolicyResult";
    assert_eq!(
        text(&out.body, &format!("{r}/RoleName")).as_deref(),
        Some("ExampleRole")
    );
    assert_eq!(
        text(&out.body, &format!("{r}/PolicyName")).as_deref(),
        Some("UseKeyInAccount2")
    );
    assert!(text(&out.body, &format!("{r}/PolicyDocument"))
        .unwrap()
        .starts_with("%7B"));

    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "CreatePolicy"),
            ("PolicyName", "Shapes"),
            ("PolicyDocument", doc),
        ],
    );
    let arn = text(
        &out.body,
        "CreatePolicyResponse/CreatePolicyResult/Policy/Arn",
    )
    .unwrap();
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "CreatePolicyVersion"),
            ("PolicyArn", &arn),
            ("PolicyDocument", doc),
        ],
    );
    let v = "CreatePolicyVersionResponse/CreatePolicyVersionResult/PolicyVersion";
    assert_eq!(
        text(&out.body, &format!("{v}/VersionId")).as_deref(),
        Some("v2")
    );
    assert_eq!(
        text(&out.body, &format!("{v}/IsDefaultVersion")).as_deref(),
        Some("false")
    );
    assert!(text(&out.body, &format!("{v}/Document")).is_none());
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", &arn),
            ("VersionId", "v1"),
        ],
    );
    let v = "GetPolicyVersionResponse/GetPolicyVersionResult/PolicyVersion";
    assert!(text(&out.body, &format!("{v}/Document")).is_some());
    assert_eq!(
        text(&out.body, &format!("{v}/IsDefaultVersion")).as_deref(),
        Some("true")
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListPolicyVersions"), ("PolicyArn", &arn)],
    );
    let nodes = well_formed(&out.body);
    let l = "ListPolicyVersionsResponse/ListPolicyVersionsResult";
    let mut ids: Vec<&str> = nodes
        .iter()
        .filter(|(p, _)| *p == format!("{l}/Versions/member/VersionId"))
        .map(|(_, t)| t.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["v1", "v2"]);
    assert!(!nodes.iter().any(|(p, _)| p.ends_with("/Document")));
    assert_eq!(
        text(&out.body, &format!("{l}/IsTruncated")).as_deref(),
        Some("false")
    );
}

#[test]
fn eval_decision_details_by_resource_account() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let simulate = |resource: &str| {
        call(
            &svc,
            &root,
            "iam",
            &[
                ("Action", "SimulatePrincipalPolicy"),
                (
                    "PolicySourceArn",
                    "arn:aws:iam::111122223333:role/ExampleRole",
                ),
                ("ActionNames.member.1", "kms:Decrypt"),
                ("ResourceArns.member.1", resource),
            ],
        )
    };
    // Across accounts: one entry per policy type, in this order.
    let out = simulate(KEY2);
    assert_eq!(out.status, 200, "{}", out.body);
    let keys: Vec<String> = results(&out.body)
        .into_iter()
        .filter(|(p, _)| p == "EvalDecisionDetails/entry/key")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(keys, vec!["IAM Policy", "Resource Policy"]);
    for (p, t) in results(&out.body) {
        if p == "EvalDecisionDetails/entry/value" {
            assert!(
                ["allowed", "implicitDeny", "explicitDeny"].contains(&t.as_str()),
                "{t}"
            );
        }
    }
    // Within the account: present and empty.
    let out = simulate(KEY1);
    assert!(
        out.body
            .contains("<EvalDecisionDetails></EvalDecisionDetails>"),
        "{}",
        out.body
    );
    // For `*`: absent.
    let out = simulate("*");
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(!out.body.contains("EvalDecisionDetails"), "{}", out.body);
}
