//! Validation findings: a table of policies, each check with a policy that trips it and a
//! corrected one that does not; plus locations and hostile input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use kmsd_policy::validate::{codes, validate_policy, FindingType, PathElement, ValidateOptions};
use kmsd_policy::PolicyKind;

const ROOT: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;

/// A key policy: the root statement plus `extra` statements.
fn key(extra: &str) -> String {
    if extra.is_empty() {
        format!(r#"{{"Version":"2012-10-17","Statement":[{ROOT}]}}"#)
    } else {
        format!(r#"{{"Version":"2012-10-17","Statement":[{ROOT},{extra}]}}"#)
    }
}

fn identity(stmt: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{stmt}]}}"#)
}

fn trust(stmt: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{stmt}]}}"#)
}

fn codes_of(text: &str, kind: PolicyKind) -> Vec<(FindingType, &'static str)> {
    validate_policy(text, kind, &ValidateOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|f| (f.finding_type, f.issue_code))
        .collect()
}

struct Case {
    code: &'static str,
    ty: FindingType,
    kind: PolicyKind,
    bad: String,
    good: String,
}

fn case(code: &'static str, ty: FindingType, kind: PolicyKind, bad: String, good: String) -> Case {
    Case {
        code,
        ty,
        kind,
        bad,
        good,
    }
}

fn table() -> Vec<Case> {
    use FindingType::*;
    use PolicyKind::*;
    let id_ok = r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#;
    let trust_ok = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}"#;
    vec![
        case(codes::JSON_SYNTAX_ERROR, Error, Key, r#"{"Version":"2012-10-17","Statement":[}"#.into(), key("")),
        case(codes::MISSING_VERSION, Warning, Key,
            format!(r#"{{"Statement":[{ROOT}]}}"#), key("")),
        case(codes::OUTDATED_VERSION, Warning, Key,
            format!(r#"{{"Version":"2008-10-17","Statement":[{ROOT}]}}"#), key("")),
        case(codes::INVALID_VERSION, Error, Key,
            format!(r#"{{"Version":"2012-10-18","Statement":[{ROOT}]}}"#), key("")),
        case(codes::INVALID_POLICY_ELEMENT, Error, Key,
            format!(r#"{{"Version":"2012-10-17","Statment":[],"Statement":[{ROOT}]}}"#), key("")),
        case(codes::MISSING_STATEMENT, Error, Key,
            r#"{"Version":"2012-10-17"}"#.into(), key("")),
        case(codes::DATA_TYPE_MISMATCH, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":["kms:Decrypt", 7],"Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":["kms:Decrypt"],"Resource":"*"}"#)),
        case(codes::MISSING_EFFECT, Error, Identity,
            identity(r#"{"Action":"kms:Decrypt","Resource":"*"}"#), identity(id_ok)),
        case(codes::INVALID_EFFECT, Error, Identity,
            identity(r#"{"Effect":"allow","Action":"kms:Decrypt","Resource":"*"}"#), identity(id_ok)),
        case(codes::MISSING_ACTION, Error, Identity,
            identity(r#"{"Effect":"Allow","Resource":"*"}"#), identity(id_ok)),
        case(codes::MISSING_RESOURCE, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt"}"#), identity(id_ok)),
        case(codes::MISSING_PRINCIPAL, Error, Key,
            key(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::UNSUPPORTED_PRINCIPAL, Error, Identity,
            identity(r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#), identity(id_ok)),
        case(codes::UNSUPPORTED_PRINCIPAL, Error, Session,
            identity(r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#), identity(id_ok)),
        case(codes::UNSUPPORTED_ELEMENT_COMBINATION, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","NotAction":"kms:Encrypt","Resource":"*"}"#), identity(id_ok)),
        case(codes::INVALID_PRINCIPAL_FORMAT, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/*"},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::INVALID_PRINCIPAL_KEY, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"Aws":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::INVALID_ACTION, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decryptt","Resource":"*"}"#), identity(id_ok)),
        case(codes::INVALID_ACTION, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Nothing*","Resource":"*"}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Gen*","Resource":"*"}"#)),
        case(codes::UNSUPPORTED_ACTION_IN_POLICY, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::UNSUPPORTED_ACTION_IN_POLICY, Error, Trust,
            trust(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Decrypt"}"#), trust(trust_ok)),
        case(codes::INVALID_ARN_PREFIX, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"key/1234"}"#), identity(id_ok)),
        case(codes::INVALID_OPERATOR, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqual":{"kms:CallerAccount":"111122223333"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#)),
        case(codes::NULL_WITH_IF_EXISTS, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"NullIfExists":{"kms:EncryptionContextKeys":"false"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"Null":{"kms:EncryptionContextKeys":"false"}}}"#)),
        case(codes::INVALID_CONDITION_KEY_FORMAT, Error, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"CallerAccount":"111122223333"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#)),
        case(codes::INVALID_SERVICE_CONDITION_KEY, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAcount":"111122223333"}}}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#)),
        case(codes::INVALID_GLOBAL_CONDITION_KEY, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAcount":"111122223333"}}}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}"#)),
        case(codes::UNIQUE_SIDS_REQUIRED, Error, Identity,
            identity(r#"{"Sid":"A","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#),
            identity(r#"{"Sid":"A","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Sid":"B","Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#)),
        case(codes::UNIQUE_SIDS_RECOMMENDED, Warning, Key,
            key(r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Sid":"Use","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::UNSUPPORTED_SID, Error, Identity,
            identity(r#"{"Sid":"allow decrypt","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#),
            identity(r#"{"Sid":"AllowDecrypt","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL, Error, Trust,
            trust(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}"#), trust(trust_ok)),
        case(codes::ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE, Error, Trust,
            trust(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Resource":"*"}"#), trust(trust_ok)),
        case(codes::ALLOW_WITH_NOT_PRINCIPAL, SecurityWarning, Key,
            key(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::FORALLVALUES_WITH_SINGLE_VALUED_KEY, SecurityWarning, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContext:dept":"hr"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":"dept"}}}"#)),
        case(codes::TYPE_MISMATCH_NUMBER, Warning, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:ScheduleKeyDeletion","Resource":"*","Condition":{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"seven"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:ScheduleKeyDeletion","Resource":"*","Condition":{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}}"#)),
        case(codes::TYPE_MISMATCH_IP_RANGE, Warning, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#)),
        case(codes::UNSUPPORTED_ACTION_FOR_CONDITION_KEY, Warning, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"home/"}}}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}"#)),
        case(codes::POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA, Error, Key,
            key(&format!(r#"{{"Sid":"{}","Effect":"Allow","Principal":{{"AWS":"111122223333"}},"Action":"kms:Decrypt","Resource":"*"}}"#, "x".repeat(33000))),
            key(r#"{"Sid":"Short","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::EMPTY_ARRAY_ACTION, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), identity(id_ok)),
        case(codes::EMPTY_ARRAY_RESOURCE, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":[]}"#), identity(id_ok)),
        case(codes::EMPTY_ARRAY_PRINCIPAL, Suggestion, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":["111122223333"]},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::EMPTY_OBJECT_PRINCIPAL, Suggestion, Key,
            key(r#"{"Effect":"Allow","Principal":{},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::EMPTY_ARRAY_CONDITION, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":[]}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":["111122223333"]}}}"#)),
        case(codes::EMPTY_OBJECT_CONDITION, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{}}"#), identity(id_ok)),
        case(codes::EMPTY_SID_VALUE, Suggestion, Identity,
            identity(r#"{"Sid":"","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#), identity(id_ok)),
        case(codes::REDUNDANT_ACTION, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":["kms:Decrypt","kms:*"],"Resource":"*"}"#),
            identity(r#"{"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt"],"Resource":"*"}"#)),
        case(codes::REDUNDANT_ACTION, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":["kms:Decrypt","kms:decrypt"],"Resource":"*"}"#), identity(id_ok)),
        case(codes::REDUNDANT_RESOURCE, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":["arn:aws:kms:us-east-1:111122223333:key/a","arn:aws:kms:us-east-1:111122223333:key/a"]}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":["arn:aws:kms:us-east-1:111122223333:key/a","arn:aws:kms:us-east-1:111122223333:key/b"]}"#)),
        case(codes::REDUNDANT_STATEMENT, Suggestion, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":"kms:Decrypt","Resource":"*"}"#)),
        case(codes::REDUNDANT_STATEMENT, Suggestion, Identity,
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}"#)),
        case(codes::KMS_MALFORMED_POLICY_DOCUMENT, Error, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:RequestTag/team":"a"}}}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"a"}}}"#)),
        case(codes::KMS_KEY_POLICY_LOCKOUT, Error, Key,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}"#.into(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:PutKeyPolicy","Resource":"*"}]}"#.into()),
        case(codes::KMS_KEY_POLICY_LOCKOUT, Error, Key,
            key(r#"{"Effect":"Deny","Principal":"*","Action":"kms:Put*","Resource":"*"}"#),
            key(r#"{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}"#)),
        case(codes::PUBLIC_ACCESS_WITHOUT_CONDITION, SecurityWarning, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}"#)),
        case(codes::PUBLIC_ACCESS_WITHOUT_CONDITION, SecurityWarning, Trust,
            trust(r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}"#),
            trust(r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}"#)),
        case(codes::KMS_FULL_ACCESS_TO_OTHER_ACCOUNT, SecurityWarning, Key,
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}"#),
            key(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}"#)),
        case(codes::DENY_NEVER_APPLIES, Warning, Key,
            key(r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"x"}}}"#),
            key(r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}}"#)),
        case(codes::DENY_NEVER_APPLIES, Warning, Key,
            key(r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt"}"#),
            key(r#"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#)),
        case(codes::DENY_NEVER_APPLIES, Warning, Key,
            key(r#"{"Effect":"Deny","NotPrincipal":"*","Action":"kms:Decrypt","Resource":"*"}"#),
            key(r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Decrypt","Resource":"*"}"#)),
    ]
}

#[test]
fn every_check_fires_on_its_bad_policy_and_not_on_the_fixed_one() {
    let mut failures = Vec::new();
    for (i, c) in table().iter().enumerate() {
        let bad = codes_of(&c.bad, c.kind);
        if !bad.contains(&(c.ty, c.code)) {
            failures.push(format!("#{i} {}: bad policy gave {bad:?}", c.code));
        }
        let good = codes_of(&c.good, c.kind);
        if good.iter().any(|(_, code)| *code == c.code) {
            failures.push(format!("#{i} {}: fixed policy gave {good:?}", c.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn clean_policies_have_no_findings() {
    for (text, kind) in [
        (key(""), PolicyKind::Key),
        (
            identity(
                r#"{"Sid":"Use","Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"arn:aws:kms:us-east-1:111122223333:key/*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"web"}}}"#,
            ),
            PolicyKind::Identity,
        ),
        (
            trust(
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"x"}}}"#,
            ),
            PolicyKind::Trust,
        ),
    ] {
        assert_eq!(codes_of(&text, kind), vec![], "{text}");
    }
}

#[test]
fn locations_name_the_path_and_span() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": [\"kms:Encrypt\", \"kms:Decryptt\"], \"Resource\": \"*\"}\n  ]\n}";
    let f = validate_policy(text, PolicyKind::Identity, &ValidateOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].issue_code, "INVALID_ACTION");
    assert!(
        f[0].details.contains("Did you mean kms:Decrypt?"),
        "{}",
        f[0].details
    );
    let loc = &f[0].locations[0];
    assert_eq!(
        loc.path,
        vec![
            PathElement::Key("Statement".into()),
            PathElement::Index(0),
            PathElement::Key("Action".into()),
            PathElement::Index(1),
            PathElement::Value("kms:Decryptt".into()),
        ]
    );
    assert_eq!((loc.start.line, loc.start.column), (4, 50));
    assert_eq!((loc.end.line, loc.end.column), (4, 64));
    assert_eq!(&text[loc.start.offset..loc.end.offset], "\"kms:Decryptt\"");
}

#[test]
fn json_syntax_error_points_at_the_fault() {
    let f = validate_policy(
        "{\n \"Version\": 1,,\n}",
        PolicyKind::Key,
        &ValidateOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f[0].issue_code, "JSON_SYNTAX_ERROR");
    assert_eq!(f[0].locations[0].start.line, 2);
}

#[test]
fn hostile_documents_are_bad_input_or_findings_never_a_panic() {
    let huge = "x".repeat(kmsd_policy::validate::MAX_DOCUMENT_BYTES + 1);
    assert!(validate_policy(&huge, PolicyKind::Key, &ValidateOptions::default()).is_err());
    let deep = "[".repeat(5000) + &"]".repeat(5000);
    let f = validate_policy(&deep, PolicyKind::Key, &ValidateOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f[0].issue_code, "JSON_SYNTAX_ERROR");
    for text in [
        "",
        "null",
        "[]",
        "\"x\"",
        "{\"Statement\":{}}",
        "{\"Statement\":[1,[],null]}",
        "{\"Statement\":[{\"Principal\":[],\"Action\":{},\"Resource\":7,\"Condition\":[]}]}",
        "{\"Statement\":[{\"Condition\":{\"StringEquals\":[]}}]}",
        "{\"Statement\":[{\"Condition\":{\"StringEquals\":{\"a:b\":{}}}}]}",
    ] {
        for kind in [
            PolicyKind::Key,
            PolicyKind::Identity,
            PolicyKind::Trust,
            PolicyKind::Session,
        ] {
            let f = validate_policy(text, kind, &ValidateOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                f.iter().any(|x| x.finding_type == FindingType::Error),
                "{text}: {f:?}"
            );
        }
    }
}

#[test]
fn the_account_option_decides_what_is_cross_account() {
    let text = key(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"}"#,
    );
    let opts = ValidateOptions {
        account: Some("444455556666".into()),
    };
    let f = validate_policy(&text, PolicyKind::Key, &opts).unwrap_or_else(|e| panic!("{e}"));
    let flagged: Vec<_> = f
        .iter()
        .filter(|f| f.issue_code == codes::KMS_FULL_ACCESS_TO_OTHER_ACCOUNT)
        .collect();
    assert_eq!(flagged.len(), 1);
    assert!(
        flagged[0].details.contains("111122223333"),
        "{}",
        flagged[0].details
    );
}

/// The fuzz target's invariants (fuzz/policy/fuzz_targets/policy_validate.rs) on mutations of
/// real policies: never a panic, locations inside the document, and every policy kmsd's
/// parser refuses has an ERROR finding.
fn check_invariants(text: &str) {
    let chars = text.chars().count();
    for kind in [
        PolicyKind::Key,
        PolicyKind::Identity,
        PolicyKind::Trust,
        PolicyKind::Session,
    ] {
        let Ok(findings) = validate_policy(text, kind, &ValidateOptions::default()) else {
            continue;
        };
        for f in &findings {
            for l in &f.locations {
                assert!(
                    l.start.offset <= l.end.offset && l.end.offset <= chars,
                    "{f:?}"
                );
            }
        }
        if kmsd_policy::Policy::parse(text, kind).is_err() {
            assert!(
                findings
                    .iter()
                    .any(|f| f.finding_type == FindingType::Error),
                "{kind:?} refused but no ERROR: {text}\n{findings:?}"
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    #[test]
    fn mutated_policies_keep_the_invariants(
        which in 0usize..6,
        at in 0usize..400,
        cut in 0usize..8,
        insert in "[\\[\\]{}\",:*a-zA-Z0-9 ]{0,6}",
    ) {
        let seeds = [
            key(""),
            key(r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/R"},"Action":["kms:Decrypt","kms:*"],"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"},"Null":{"kms:EncryptionContextKeys":"true"}}}"#),
            identity(r#"{"Sid":"A","Effect":"Allow","Action":["kms:Decrypt","kms:Gen*"],"Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#),
            trust(r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root","Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}"#),
            identity(r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":["a*","b"]},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}"#),
            key(r#"{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"NumericLessThanEquals":{"kms:RotationPeriodInDays":90}}}"#),
        ];
        let seed = &seeds[which];
        let at = at.min(seed.len());
        let end = (at + cut).min(seed.len());
        let text = format!("{}{}{}", &seed[..at], insert, &seed[end..]);
        check_invariants(&text);
    }
}
