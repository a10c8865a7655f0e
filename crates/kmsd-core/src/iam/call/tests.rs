//! Tests of [`Iam::call`]: dispatch from `Action` to a typed [`Reply`], the decision and
//! request parameters in the audit facts, IAM's rule for GetSessionToken credentials,
//! unknown actions, paging. The XML each reply renders to is tested in `kmsd-wire`.

use kmsd_policy::Decision;

use super::*;
use crate::bootstrap::World;
use crate::error::{ErrorCode, StsError};
use crate::service::Service;

const SEED: &str = include_str!("../../../../../examples/seed-world.json");

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
        request_id: "r-1".into(),
    }
}

fn who(svc: &Service, akid: &str) -> Principal {
    svc.iam.lookup_access_key(akid).unwrap().principal
}

fn call(svc: &Service, p: &Principal, api: QueryApi, params: &[(&str, &str)]) -> Outcome<Reply> {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    svc.iam.call(Some(&svc.kms), p, &meta(), api, &pairs)
}

fn code(out: &Outcome<Reply>) -> Option<ErrorCode> {
    out.result.as_ref().err().map(|e| e.code)
}

#[test]
fn an_operation_answers_its_reply_and_decision() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    let out = call(
        &svc,
        &root,
        QueryApi::Iam,
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", "carol"),
            ("Path", "/team/"),
        ],
    );
    match &out.result {
        Ok(Reply::User(u)) => assert_eq!((u.name.as_str(), u.path.as_str()), ("carol", "/team/")),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.audit.decision, Some(Decision::Allow));
    // Every parameter but Action and Version, lowerCamel.
    assert_eq!(
        out.audit.request_parameters,
        serde_json::json!({"path": "/team/", "userName": "carol"})
    );

    let out = call(
        &svc,
        &root,
        QueryApi::Iam,
        &[("Action", "DeleteUser"), ("UserName", "carol")],
    );
    assert!(matches!(out.result, Ok(Reply::Empty)), "{:?}", out.result);
    let out = call(
        &svc,
        &root,
        QueryApi::Iam,
        &[
            ("Action", "UpdateRole"),
            ("RoleName", "ExampleRole"),
            ("Description", "d"),
        ],
    );
    assert!(
        matches!(out.result, Ok(Reply::EmptyResult)),
        "{:?}",
        out.result
    );
    let out = call(
        &svc,
        &root,
        QueryApi::Iam,
        &[("Action", "GetRole"), ("RoleName", "ExampleRole")],
    );
    assert!(
        matches!(
            out.result,
            Ok(Reply::Role {
                last_used: true,
                ..
            })
        ),
        "{:?}",
        out.result
    );
}

#[test]
fn denials_and_input_errors_carry_their_decision() {
    let svc = service();
    let alice = who(&svc, "AKIAALICE00000000001");
    let out = call(
        &svc,
        &alice,
        QueryApi::Iam,
        &[("Action", "CreateUser"), ("UserName", "x")],
    );
    assert_eq!(
        code(&out),
        Some(ErrorCode::IamError(IamError::AccessDenied))
    );
    assert_eq!(out.audit.decision, Some(Decision::ImplicitDeny));
    assert!(svc.iam.lookup_access_key("AKIAALICE00000000001").is_some());
    // A missing required member is refused before any authorization: no decision.
    let out = call(&svc, &alice, QueryApi::Iam, &[("Action", "CreateUser")]);
    assert_eq!(
        code(&out),
        Some(ErrorCode::IamError(IamError::ValidationError))
    );
    assert_eq!(out.audit.decision, None);
    // STS: bob may assume ExampleRole, alice may not.
    let bob = who(&svc, "AKIABOB0000000000001");
    let assume = [
        ("Action", "AssumeRole"),
        ("RoleArn", "arn:aws:iam::111122223333:role/ExampleRole"),
        ("RoleSessionName", "demo"),
    ];
    let out = call(&svc, &bob, QueryApi::Sts, &assume);
    assert!(matches!(out.result, Ok(Reply::AssumedRole(_))));
    assert_eq!(out.audit.decision, Some(Decision::Allow));
    let out = call(&svc, &alice, QueryApi::Sts, &assume);
    assert_eq!(
        code(&out),
        Some(ErrorCode::StsError(StsError::AccessDenied))
    );
    assert_eq!(out.audit.decision, Some(Decision::ImplicitDeny));
}

#[test]
fn unknown_and_unserved_actions_are_invalid_action() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    for (api, action, version) in [
        (QueryApi::Iam, "CreateKey", IAM_VERSION),
        (QueryApi::Iam, "", IAM_VERSION),
        (QueryApi::Iam, "GetCallerIdentity", IAM_VERSION),
        (QueryApi::Sts, "CreateUser", STS_VERSION),
        (QueryApi::Sts, "GetFederationToken", STS_VERSION),
    ] {
        let out = call(&svc, &root, api, &[("Action", action)]);
        let err = out.result.unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::IamError(IamError::InvalidAction),
            "{action}"
        );
        assert_eq!(
            err.message.as_deref(),
            Some(format!("Could not find operation {action} for version {version}").as_str())
        );
        assert_eq!(out.audit.decision, None);
    }
}

#[test]
fn session_token_credentials_cannot_call_iam() {
    let svc = service();
    let alice = who(&svc, "AKIAALICE00000000001");
    let out = call(
        &svc,
        &alice,
        QueryApi::Sts,
        &[("Action", "GetSessionToken")],
    );
    let Ok(Reply::SessionToken(c)) = out.result else {
        panic!("{:?}", out.result.err());
    };
    let session = who(&svc, &c.access_key_id);
    assert!(is_session_token_caller(&session));
    assert!(!is_session_token_caller(&alice));
    let out = call(&svc, &session, QueryApi::Iam, &[("Action", "GetUser")]);
    assert_eq!(
        code(&out),
        Some(ErrorCode::IamError(IamError::InvalidClientTokenId))
    );
    assert_eq!(out.audit.decision, None);
    // STS still answers them.
    let out = call(
        &svc,
        &session,
        QueryApi::Sts,
        &[("Action", "GetCallerIdentity")],
    );
    assert!(matches!(out.result, Ok(Reply::CallerIdentity(_))));
    // A role session is not a GetSessionToken caller.
    let bob = who(&svc, "AKIABOB0000000000001");
    let out = call(
        &svc,
        &bob,
        QueryApi::Sts,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/ExampleRole"),
            ("RoleSessionName", "demo"),
        ],
    );
    let Ok(Reply::AssumedRole(r)) = out.result else {
        panic!("{:?}", out.result.err());
    };
    assert!(!is_session_token_caller(&who(&svc, &r.access_key_id)));
}

#[test]
fn lists_are_paged_and_the_simulator_needs_kms() {
    let svc = service();
    let root = who(&svc, "AKIA111122223333ROOT");
    for name in ["u1", "u2", "u3"] {
        call(
            &svc,
            &root,
            QueryApi::Iam,
            &[("Action", "CreateUser"), ("UserName", name)],
        );
    }
    let out = call(
        &svc,
        &root,
        QueryApi::Iam,
        &[("Action", "ListUsers"), ("MaxItems", "2")],
    );
    let Ok(Reply::Users(first)) = out.result else {
        panic!("{:?}", out.result.err());
    };
    assert_eq!(first.items.len(), 2);
    let marker = first.marker.unwrap();
    let out = call(
        &svc,
        &root,
        QueryApi::Iam,
        &[
            ("Action", "ListUsers"),
            ("MaxItems", "1000"),
            ("Marker", &marker),
        ],
    );
    let Ok(Reply::Users(rest)) = out.result else {
        panic!("{:?}", out.result.err());
    };
    assert!(rest.marker.is_none());
    assert!(first
        .items
        .iter()
        .chain(&rest.items)
        .any(|u| u.name == "u3"));

    let pairs: Vec<(String, String)> = [
        ("Action", "SimulateCustomPolicy"),
        ("ActionNames.member.1", "kms:Decrypt"),
        (
            "PolicyInputList.member.1",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = svc.iam.call(None, &root, &meta(), QueryApi::Iam, &pairs);
    assert_eq!(
        code(&out),
        Some(ErrorCode::IamError(IamError::ServiceFailure))
    );
    let out = svc
        .iam
        .call(Some(&svc.kms), &root, &meta(), QueryApi::Iam, &pairs);
    let Ok(Reply::Simulation(results)) = out.result else {
        panic!("{:?}", out.result.err());
    };
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].result.decision,
        kmsd_policy::EvalDecision::Allowed
    );
    assert_eq!(results[0].details, None);
    assert_eq!(out.audit.decision, Some(Decision::Allow));
}
