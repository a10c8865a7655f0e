//! Tests of the awsQuery codec: parameter decoding, dispatch, AWS's XML shapes (golden
//! envelopes, `member` lists, URL-encoded policy documents), error responses and statuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

use kmsd_core::bootstrap::World;
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_core::service::Service;
use kmsd_policy::Decision;
use quick_xml::events::Event;

use super::{handle, QueryOutcome};

const SEED: &str = include_str!("../../../../examples/seed-world.json");
const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// One error case: caller, parameters, expected code, expected status.
type Case<'a> = (&'a Principal, Vec<(&'a str, &'a str)>, &'a str, u16);

const RID: &str = "11111111-2222-4333-8444-555555555555";

fn service() -> Service {
    let world = World::from_str(SEED, "seed-world.json").unwrap();
    Service::from_world_in_memory(&world, "us-west-2").unwrap()
}

fn meta() -> RequestMeta {
    RequestMeta {
        source_ip: None,
        secure_transport: true,
        time_millis: 1_767_225_600_000,
        region: "us-east-1".into(),
        user_agent: None,
        request_id: RID.into(),
    }
}

fn who(svc: &Service, akid: &str) -> Principal {
    svc.iam.lookup_access_key(akid).unwrap().principal
}

fn call(svc: &Service, p: &Principal, service: &str, params: &[(&str, &str)]) -> QueryOutcome {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = handle(svc, p, &meta(), service, &pairs);
    well_formed(&out.body);
    out
}

/// Parse the whole document; return (path, text) of every text node.
fn well_formed(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut roots = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Ok(Event::End(e)) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                assert_eq!(stack.pop(), Some(name), "unbalanced XML: {xml}");
            }
            Ok(Event::Text(t)) => {
                let text = t.unescape().unwrap().to_string();
                if !text.trim().is_empty() {
                    out.push((stack.join("/"), text));
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("malformed XML ({e}): {xml}"),
        }
    }
    assert!(
        stack.is_empty() && roots == 1,
        "not one root element: {xml}"
    );
    out
}

fn text(xml: &str, path: &str) -> Option<String> {
    well_formed(xml)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t)
}

#[test]
fn create_user_golden() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", "carol"),
            ("Path", "/team/"),
            ("Tags.member.1.Key", "dept"),
            ("Tags.member.1.Value", "blue team"),
        ],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(out.action, "CreateUser");
    assert_eq!(out.audit.decision, Some(Decision::Allow));
    let id = text(&out.body, "CreateUserResponse/CreateUserResult/User/UserId").unwrap();
    let date = text(
        &out.body,
        "CreateUserResponse/CreateUserResult/User/CreateDate",
    )
    .unwrap();
    assert!(id.starts_with("AIDA") && id.len() == 21);
    let expected = format!(
        "<CreateUserResponse xmlns=\"{IAM_NS}\">\n  <CreateUserResult><User><Path>/team/</Path><UserName>carol</UserName><UserId>{id}</UserId><Arn>arn:aws:iam::111122223333:user/team/carol</Arn><CreateDate>{date}</CreateDate><Tags><member><Key>dept</Key><Value>blue team</Value></member></Tags></User></CreateUserResult>\n  <ResponseMetadata>\n    <RequestId>{RID}</RequestId>\n  </ResponseMetadata>\n</CreateUserResponse>\n"
    );
    assert_eq!(out.body, expected);
    assert!(date.ends_with('Z') && date.len() == 20);
    assert_eq!(out.audit.request_parameters["userName"], "carol");
    assert!(out.audit.request_parameters.get("action").is_none());
}

#[test]
fn no_output_operations_omit_result() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    call(
        &svc,
        &root,
        "iam",
        &[("Action", "CreateUser"), ("UserName", "dave")],
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "DeleteUser"), ("UserName", "dave")],
    );
    assert_eq!(out.status, 200);
    assert_eq!(
        out.body,
        format!("<DeleteUserResponse xmlns=\"{IAM_NS}\">\n  <ResponseMetadata>\n    <RequestId>{RID}</RequestId>\n  </ResponseMetadata>\n</DeleteUserResponse>\n")
    );
}

#[test]
fn errors_have_aws_codes_statuses_and_shape() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let alice = who(&svc, "AKIAALICE00000000001");
    let cases: Vec<Case<'_>> = vec![
        (
            &root,
            vec![("Action", "GetUser"), ("UserName", "nobody")],
            "NoSuchEntity",
            404,
        ),
        (
            &root,
            vec![("Action", "CreateUser"), ("UserName", "alice")],
            "EntityAlreadyExists",
            409,
        ),
        (
            &root,
            vec![("Action", "CreateUser")],
            "ValidationError",
            400,
        ),
        (&root, vec![("Action", "Frobnicate")], "InvalidAction", 400),
        (&root, vec![("Action", "AssumeRole")], "InvalidAction", 400),
        (
            &root,
            vec![("Action", "CreateAccessKey"), ("UserName", "alice")],
            "",
            200,
        ),
        (
            &root,
            vec![("Action", "CreateAccessKey"), ("UserName", "alice")],
            "LimitExceeded",
            409,
        ),
        (
            &root,
            vec![("Action", "DeleteUser"), ("UserName", "alice")],
            "DeleteConflict",
            409,
        ),
        (
            &root,
            vec![
                ("Action", "PutUserPolicy"),
                ("UserName", "alice"),
                ("PolicyName", "p"),
                ("PolicyDocument", "{oops"),
            ],
            "MalformedPolicyDocument",
            400,
        ),
        (
            &root,
            vec![
                ("Action", "CreatePolicyVersion"),
                ("PolicyArn", "arn:aws:iam::111122223333:policy/x"),
                ("PolicyDocument", "{}"),
                ("SetAsDefault", "maybe"),
            ],
            "ValidationError",
            400,
        ),
        (
            &root,
            vec![("Action", "SimulatePrincipalPolicy")],
            "ValidationError",
            400,
        ),
        (&alice, vec![("Action", "ListUsers")], "AccessDenied", 403),
    ];
    for (p, params, code, status) in cases {
        let out = call(&svc, p, "iam", &params);
        assert_eq!(out.status, status, "{params:?}: {}", out.body);
        if status == 200 {
            continue;
        }
        assert_eq!(out.error_code.map(|c| c.as_str()), Some(code), "{params:?}");
        assert!(out
            .body
            .starts_with(&format!("<ErrorResponse xmlns=\"{IAM_NS}\">")));
        assert_eq!(
            text(&out.body, "ErrorResponse/Error/Code").as_deref(),
            Some(code)
        );
        assert_eq!(
            text(&out.body, "ErrorResponse/Error/Type").as_deref(),
            Some("Sender")
        );
        assert_eq!(
            text(&out.body, "ErrorResponse/RequestId").as_deref(),
            Some(RID)
        );
        assert_eq!(
            text(&out.body, "ErrorResponse/Error/Message"),
            out.error_message
        );
    }
    let denied = call(&svc, &alice, "iam", &[("Action", "ListUsers")]);
    assert_eq!(denied.audit.decision, Some(Decision::ImplicitDeny));
    assert_eq!(
        denied.error_message.as_deref(),
        Some("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::111122223333:user/ because no identity-based policy allows the iam:ListUsers action")
    );
}

#[test]
fn roles_policies_and_lists() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "GetRole"), ("RoleName", "ExampleRole")],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let enc = text(
        &out.body,
        "GetRoleResponse/GetRoleResult/Role/AssumeRolePolicyDocument",
    )
    .unwrap();
    assert!(enc.starts_with("%7B%22Version%22"), "{enc}");
    let decoded = percent_encoding::percent_decode_str(&enc)
        .decode_utf8()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(
        doc["Statement"]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:user/bob"
    );
    assert_eq!(
        text(
            &out.body,
            "GetRoleResponse/GetRoleResult/Role/MaxSessionDuration"
        )
        .as_deref(),
        Some("3600")
    );

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "CreatePolicy"),
            ("PolicyName", "Dec"),
            ("PolicyDocument", policy),
        ],
    );
    assert_eq!(
        text(
            &out.body,
            "CreatePolicyResponse/CreatePolicyResult/Policy/DefaultVersionId"
        )
        .as_deref(),
        Some("v1")
    );
    assert_eq!(
        text(
            &out.body,
            "CreatePolicyResponse/CreatePolicyResult/Policy/IsAttachable"
        )
        .as_deref(),
        Some("true")
    );
    let arn = "arn:aws:iam::111122223333:policy/Dec";
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "CreatePolicyVersion"),
            ("PolicyArn", arn),
            ("PolicyDocument", policy),
            ("SetAsDefault", "true"),
        ],
    );
    assert_eq!(
        text(
            &out.body,
            "CreatePolicyVersionResponse/CreatePolicyVersionResult/PolicyVersion/VersionId"
        )
        .as_deref(),
        Some("v2")
    );
    assert_eq!(
        text(
            &out.body,
            "CreatePolicyVersionResponse/CreatePolicyVersionResult/PolicyVersion/IsDefaultVersion"
        )
        .as_deref(),
        Some("true")
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", arn),
            ("VersionId", "v1"),
        ],
    );
    let enc = text(
        &out.body,
        "GetPolicyVersionResponse/GetPolicyVersionResult/PolicyVersion/Document",
    )
    .unwrap();
    assert_eq!(
        percent_encoding::percent_decode_str(&enc)
            .decode_utf8()
            .unwrap(),
        policy
    );
    call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "ExampleRole"),
            ("PolicyArn", arn),
        ],
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "ListAttachedRolePolicies"),
            ("RoleName", "ExampleRole"),
        ],
    );
    let nodes = well_formed(&out.body);
    assert!(nodes.contains(&("ListAttachedRolePoliciesResponse/ListAttachedRolePoliciesResult/AttachedPolicies/member/PolicyArn".into(), arn.into())));
    assert!(nodes.contains(&(
        "ListAttachedRolePoliciesResponse/ListAttachedRolePoliciesResult/IsTruncated".into(),
        "false".into()
    )));
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListRolePolicies"), ("RoleName", "ExampleRole")],
    );
    assert_eq!(
        text(
            &out.body,
            "ListRolePoliciesResponse/ListRolePoliciesResult/PolicyNames/member"
        )
        .as_deref(),
        Some("UseKeyInAccount2")
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
    assert_eq!(
        text(
            &out.body,
            "GetRolePolicyResponse/GetRolePolicyResult/RoleName"
        )
        .as_deref(),
        Some("ExampleRole")
    );
    let out = call(&svc, &root, "iam", &[("Action", "ListUsers")]);
    let users: Vec<String> = well_formed(&out.body)
        .into_iter()
        .filter(|(p, _)| p == "ListUsersResponse/ListUsersResult/Users/member/UserName")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(users, vec!["alice", "bob"]);
    call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "TagUser"),
            ("UserName", "bob"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ],
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "UntagUser"),
            ("UserName", "bob"),
            ("TagKeys.member.1", "k"),
        ],
    );
    assert_eq!(out.status, 200);
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "TagUser"), ("UserName", "bob")],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("ValidationError"));
}

#[test]
fn access_keys_render_secret_once() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "CreateAccessKey"), ("UserName", "bob")],
    );
    let secret = text(
        &out.body,
        "CreateAccessKeyResponse/CreateAccessKeyResult/AccessKey/SecretAccessKey",
    )
    .unwrap();
    assert_eq!(secret.len(), 40);
    assert!(!out.audit.request_parameters.to_string().contains(&secret));
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListAccessKeys"), ("UserName", "bob")],
    );
    assert!(!out.body.contains(&secret));
    let ids: Vec<String> = well_formed(&out.body)
        .into_iter()
        .filter(|(p, _)| p.ends_with("AccessKeyMetadata/member/AccessKeyId"))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(ids.len(), 2);
}

#[test]
fn sts_caller_identity_and_assume_role() {
    let svc = service();
    let bob = who(&svc, "AKIABOB0000000000001");
    let out = call(
        &svc,
        &bob,
        "sts",
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    );
    assert_eq!(out.status, 200);
    assert!(out
        .body
        .starts_with(&format!("<GetCallerIdentityResponse xmlns=\"{STS_NS}\">")));
    assert_eq!(
        text(
            &out.body,
            "GetCallerIdentityResponse/GetCallerIdentityResult/Arn"
        )
        .as_deref(),
        Some("arn:aws:iam::111122223333:user/bob")
    );
    assert_eq!(
        text(
            &out.body,
            "GetCallerIdentityResponse/GetCallerIdentityResult/Account"
        )
        .as_deref(),
        Some("111122223333")
    );

    let out = call(
        &svc,
        &bob,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/ExampleRole"),
            ("RoleSessionName", "demo"),
            ("DurationSeconds", "900"),
            (
                "Policy",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#,
            ),
        ],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let r = "AssumeRoleResponse/AssumeRoleResult";
    assert_eq!(
        text(&out.body, &format!("{r}/AssumedRoleUser/Arn")).as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/ExampleRole/demo")
    );
    let akid = text(&out.body, &format!("{r}/Credentials/AccessKeyId")).unwrap();
    assert!(akid.starts_with("ASIA"));
    assert!(text(&out.body, &format!("{r}/Credentials/SessionToken")).is_some());
    assert!(text(&out.body, &format!("{r}/Credentials/Expiration"))
        .unwrap()
        .ends_with('Z'));
    assert!(text(&out.body, &format!("{r}/PackedPolicySize")).is_some());
    let session = svc.iam.lookup_access_key(&akid).unwrap();
    assert_eq!(
        session.principal.policies.session.as_ref().map(Vec::len),
        Some(1)
    );

    let out = call(
        &svc,
        &bob,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/ExampleRole"),
            ("RoleSessionName", "demo"),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::111122223333:policy/Missing",
            ),
        ],
    );
    assert_eq!(
        out.error_code.map(|c| c.as_str()),
        Some("MalformedPolicyDocument")
    );
    assert!(out
        .body
        .starts_with(&format!("<ErrorResponse xmlns=\"{STS_NS}\">")));
    let alice = who(&svc, "AKIAALICE00000000001");
    let out = call(
        &svc,
        &alice,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/ExampleRole"),
            ("RoleSessionName", "demo"),
        ],
    );
    assert_eq!(
        (out.status, out.error_code.map(|c| c.as_str())),
        (403, Some("AccessDenied"))
    );
    let out = call(&svc, &alice, "sts", &[("Action", "CreateUser")]);
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("InvalidAction"));
}

const KEY1: &str = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const KEY2: &str = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn results(xml: &str) -> Vec<(String, String)> {
    well_formed(xml)
        .into_iter()
        .filter(|(p, _)| p.contains("EvaluationResults/member/"))
        .map(|(p, t)| {
            (
                p.rsplit("EvaluationResults/member/")
                    .next()
                    .unwrap()
                    .to_string(),
                t,
            )
        })
        .collect()
}

#[test]
fn simulate_principal_policy() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
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
            ("ActionNames.member.2", "kms:CreateKey"),
            ("ResourceArns.member.1", KEY2),
        ],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let r = results(&out.body);
    let decisions: Vec<&str> = r
        .iter()
        .filter(|(p, _)| p == "EvalDecision")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(decisions, vec!["allowed", "implicitDeny"]);
    assert!(r.contains(&(
        "MatchedStatements/member/SourcePolicyId".into(),
        "UseKeyInAccount2".into()
    )));
    assert!(r.contains(&(
        "MatchedStatements/member/SourcePolicyType".into(),
        "role".into()
    )));

    // alice: the key policy only delegates to the account; no IAM policy allows her.
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", "arn:aws:iam::111122223333:user/alice"),
            ("ActionNames.member.1", "kms:Decrypt"),
            ("ResourceArns.member.1", KEY1),
        ],
    );
    let r = results(&out.body);
    assert!(
        r.contains(&("EvalDecision".into(), "implicitDeny".into())),
        "{}",
        out.body
    );

    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", "arn:aws:iam::111122223333:user/nobody"),
            ("ActionNames.member.1", "kms:Decrypt"),
        ],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("NoSuchEntity"));
    let alice = who(&svc, "AKIAALICE00000000001");
    let out = call(
        &svc,
        &alice,
        "iam",
        &[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", "arn:aws:iam::111122223333:user/alice"),
            ("ActionNames.member.1", "kms:Decrypt"),
        ],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("AccessDenied"));
}

#[test]
fn simulate_custom_policy() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "SimulateCustomPolicy"),
            (
                "PolicyInputList.member.1",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
            ),
            ("ActionNames.member.1", "kms:Decrypt"),
            ("ContextEntries.member.1.ContextKeyName", "aws:SourceIp"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                "10.1.2.3",
            ),
            ("ContextEntries.member.1.ContextKeyType", "ip"),
        ],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let r = results(&out.body);
    assert!(
        r.contains(&("EvalDecision".into(), "allowed".into())),
        "{}",
        out.body
    );
    assert!(r.contains(&(
        "MatchedStatements/member/SourcePolicyId".into(),
        "PolicyInputList.1".into()
    )));
    assert!(r.contains(&(
        "MatchedStatements/member/StartPosition/Line".into(),
        "1".into()
    )));
    // Without the context the statement does not apply and the key is reported missing.
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "SimulateCustomPolicy"),
            (
                "PolicyInputList.member.1",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
            ),
            ("ActionNames.member.1", "kms:Decrypt"),
        ],
    );
    let r = results(&out.body);
    assert!(r.contains(&("EvalDecision".into(), "implicitDeny".into())));
    assert!(
        r.contains(&("MissingContextValues/member".into(), "aws:SourceIp".into())),
        "{}",
        out.body
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "SimulateCustomPolicy"),
            ("ActionNames.member.1", "kms:Decrypt"),
        ],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("ValidationError"));
    let out = call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "SimulateCustomPolicy"),
            ("PolicyInputList.member.1", "{bad"),
            ("ActionNames.member.1", "kms:Decrypt"),
        ],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("InvalidInput"));
}

/// A signed awsQuery POST through the whole wire handler (routing, SigV4 gate, query).
fn signed_post(
    svc: &Service,
    form: &[(&str, &str)],
    creds: (&str, &str, Option<&str>),
    service: &str,
) -> crate::WireResponse {
    use kmsd_core::clock::Clock;
    let now_millis = kmsd_core::clock::SystemClock.now_millis();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "localhost:4599".into()),
        (
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        ),
    ];
    let view_headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let signed = kmsd_sigv4::sign(
        &kmsd_sigv4::HttpRequest {
            method: "POST",
            uri: "/",
            headers: &view_headers,
            payload: kmsd_sigv4::Payload::Bytes(body.as_bytes()),
        },
        &kmsd_sigv4::SigningParams {
            access_key_id: creds.0,
            secret_access_key: creds.1,
            session_token: creds.2,
            region: "us-east-1",
            service,
            time: now_millis / 1000,
            settings: kmsd_sigv4::SigningSettings::default(),
        },
    )
    .unwrap();
    for (n, v) in signed.headers {
        headers.push((n.to_string(), v));
    }
    let mut map = http::HeaderMap::new();
    for (n, v) in &headers {
        map.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    crate::handle(
        svc,
        crate::WireRequest {
            method: http::Method::POST,
            uri: "/".parse().unwrap(),
            headers: map,
            body: bytes::Bytes::from(body),
            source_ip: None,
            secure: false,
            now_millis,
        },
    )
}

#[test]
fn end_to_end_assume_role_then_call_with_session_credentials() {
    let svc = service();
    let bob = (
        "AKIABOB0000000000001",
        "seed-bob-secret-000000000000000000000001",
        None,
    );
    let resp = signed_post(
        &svc,
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::111122223333:role/ExampleRole"),
            ("RoleSessionName", "e2e"),
        ],
        bob,
        "sts",
    );
    let xml = String::from_utf8(resp.body.clone()).unwrap();
    assert_eq!(resp.status, 200, "{xml}");
    assert_eq!(resp.audit.event_name, "AssumeRole");
    let c = "AssumeRoleResponse/AssumeRoleResult/Credentials";
    let akid = text(&xml, &format!("{c}/AccessKeyId")).unwrap();
    let secret = text(&xml, &format!("{c}/SecretAccessKey")).unwrap();
    let token = text(&xml, &format!("{c}/SessionToken")).unwrap();
    let resp = signed_post(
        &svc,
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        (&akid, &secret, Some(&token)),
        "sts",
    );
    let xml = String::from_utf8(resp.body.clone()).unwrap();
    assert_eq!(resp.status, 200, "{xml}");
    assert_eq!(
        text(
            &xml,
            "GetCallerIdentityResponse/GetCallerIdentityResult/Arn"
        )
        .as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/ExampleRole/e2e")
    );
    // The session may not administer IAM.
    let resp = signed_post(
        &svc,
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", "x1"),
        ],
        (&akid, &secret, Some(&token)),
        "iam",
    );
    assert_eq!(resp.status, 403);
    // A wrong token is refused by the gate.
    let resp = signed_post(
        &svc,
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        (&akid, &secret, Some("forged")),
        "sts",
    );
    assert_eq!(resp.status, 403);
}

#[test]
fn list_shapes() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(&svc, &root, "iam", &[("Action", "ListRoles")]);
    assert_eq!(
        text(
            &out.body,
            "ListRolesResponse/ListRolesResult/Roles/member/RoleName"
        )
        .as_deref(),
        Some("ExampleRole")
    );
    call(
        &svc,
        &root,
        "iam",
        &[("Action", "CreateGroup"), ("GroupName", "g1")],
    );
    call(
        &svc,
        &root,
        "iam",
        &[
            ("Action", "AddUserToGroup"),
            ("GroupName", "g1"),
            ("UserName", "bob"),
        ],
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "GetGroup"), ("GroupName", "g1")],
    );
    assert_eq!(
        text(&out.body, "GetGroupResponse/GetGroupResult/Group/GroupName").as_deref(),
        Some("g1")
    );
    assert_eq!(
        text(
            &out.body,
            "GetGroupResponse/GetGroupResult/Users/member/UserName"
        )
        .as_deref(),
        Some("bob")
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListUserTags"), ("UserName", "alice")],
    );
    assert_eq!(
        text(
            &out.body,
            "ListUserTagsResponse/ListUserTagsResult/Tags/member/Key"
        )
        .as_deref(),
        Some("example")
    );
    let out = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListPolicies"), ("Scope", "Local")],
    );
    assert_eq!(out.status, 200);
    assert!(out.body.contains("<Policies></Policies>"));
}

#[test]
fn get_session_token_gives_user_temporary_credentials() {
    let svc = service();
    let alice = who(&svc, "AKIAALICE00000000001");
    let out = call(
        &svc,
        &alice,
        "sts",
        &[("Action", "GetSessionToken"), ("DurationSeconds", "900")],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    let c = "GetSessionTokenResponse/GetSessionTokenResult/Credentials";
    let akid = text(&out.body, &format!("{c}/AccessKeyId")).unwrap();
    let token = text(&out.body, &format!("{c}/SessionToken")).unwrap();
    let cred = svc.iam.lookup_access_key(&akid).unwrap();
    assert!(akid.starts_with("ASIA"));
    assert!(cred.session_token_matches(Some(&token)));
    assert_eq!(
        cred.principal.caller.arn(),
        "arn:aws:iam::111122223333:user/alice"
    );
    assert!(cred.principal.token_issue_time.is_some());
    assert_eq!(
        cred.expires_at.unwrap() - cred.principal.token_issue_time.unwrap(),
        900
    );
    // Not with temporary credentials.
    let out = call(
        &svc,
        &cred.principal,
        "sts",
        &[("Action", "GetSessionToken")],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("AccessDenied"));
    let out = call(
        &svc,
        &alice,
        "sts",
        &[("Action", "GetSessionToken"), ("DurationSeconds", "10")],
    );
    assert_eq!(out.error_code.map(|c| c.as_str()), Some("ValidationError"));
}

#[test]
fn lists_page_with_max_items_and_marker() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    for name in ["u1", "u2", "u3"] {
        call(
            &svc,
            &root,
            "iam",
            &[("Action", "CreateUser"), ("UserName", name)],
        );
    }
    let names = |xml: &str| -> Vec<String> {
        well_formed(xml)
            .into_iter()
            .filter(|(p, _)| p == "ListUsersResponse/ListUsersResult/Users/member/UserName")
            .map(|(_, t)| t)
            .collect()
    };
    let all = names(&call(&svc, &root, "iam", &[("Action", "ListUsers")]).body);
    assert!(all.len() >= 3, "{all:?}");
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("Action", "ListUsers"), ("MaxItems", "2")];
        if let Some(m) = &marker {
            params.push(("Marker", m.as_str()));
        }
        let out = call(&svc, &root, "iam", &params);
        assert_eq!(out.status, 200, "{}", out.body);
        let page = names(&out.body);
        assert!(page.len() <= 2);
        seen.extend(page);
        pages += 1;
        let truncated = text(&out.body, "ListUsersResponse/ListUsersResult/IsTruncated");
        marker = text(&out.body, "ListUsersResponse/ListUsersResult/Marker");
        if truncated.as_deref() == Some("false") {
            assert!(marker.is_none());
            break;
        }
        assert_eq!(truncated.as_deref(), Some("true"));
        assert!(marker.is_some());
    }
    assert_eq!(seen, all);
    assert_eq!(pages, all.len().div_ceil(2));
    let bad = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListUsers"), ("Marker", "not-a-marker")],
    );
    assert_eq!(bad.status, 400);
    let zero = call(
        &svc,
        &root,
        "iam",
        &[("Action", "ListUsers"), ("MaxItems", "0")],
    );
    assert_eq!(zero.error_code.map(|c| c.as_str()), Some("ValidationError"));
}

mod shapes;
