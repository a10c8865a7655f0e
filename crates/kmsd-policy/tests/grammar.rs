//! Policy grammar and validation (§1): every malformed-policy rule, with the error naming the
//! statement and element; positions, principals and condition keys of valid policies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod common;

use common::*;
use kmsd_policy::{Policy, PolicyError, PolicyKind};

fn err(text: &str, kind: PolicyKind) -> PolicyError {
    match Policy::parse(text, kind) {
        Ok(_) => panic!("should be rejected as {kind:?}: {text}"),
        Err(e) => e,
    }
}

fn ok(text: &str, kind: PolicyKind) -> Policy {
    Policy::parse(text, kind).unwrap_or_else(|e| panic!("should parse as {kind:?}: {e}\n{text}"))
}

/// Assert the error names this statement label and element.
fn names(e: &PolicyError, statement: Option<&str>, element: Option<&str>) {
    assert_eq!(e.statement.as_deref(), statement, "{e}");
    assert_eq!(e.element.as_deref(), element, "{e}");
}

const KEY: PolicyKind = PolicyKind::Key;
const IDN: PolicyKind = PolicyKind::Identity;

#[test]
fn document_level_rules() {
    // K1: size.
    let big = doc(&[KP_DEFAULT]).replace(
        "\"Statement\"",
        &format!("\"Id\":\"{}\",\"Statement\"", "x".repeat(33_000)),
    );
    let e = err(&big, KEY);
    names(&e, None, None);
    assert!(e.message.contains("32768"), "{e}");
    let big_id = doc(&[&allow(r#""kms:*""#, "*")]).replace(
        "\"Statement\"",
        &format!("\"Id\":\"{}\",\"Statement\"", "x".repeat(33_000)),
    );
    assert!(
        Policy::parse(&big_id, IDN).is_ok(),
        "identity policy sizes are checked by IAM quotas, not here"
    );
    // K2: characters.
    let e = err(
        &doc(&[KP_DEFAULT]).replace("Enable", "Enable \u{2603}"),
        KEY,
    );
    assert!(e.message.contains("U+2603"), "{e}");
    let e = err(&doc(&[KP_DEFAULT]).replace("Enable", "Enable \u{85}"), KEY);
    assert!(e.message.contains("U+0085"), "{e}");
    assert!(Policy::parse(
        &doc(&[KP_DEFAULT])
            .replace("Enable", "Enable é")
            .replace(",", ",\t"),
        KEY
    )
    .is_ok());
    // K3: JSON and structure.
    for bad in [
        "",
        "not json",
        "[]",
        "{\"Statement\":[]",
        "{\"Version\":\"2012-10-17\"}",
        "{\"Statement\":\"x\"}",
    ] {
        let e = err(bad, KEY);
        names(&e, None, e.element.as_deref());
    }
    let e = err(r#"{"Version":"2012-10-18","Statement":[]}"#, IDN);
    names(&e, None, Some("Version"));
    let e = err(r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#, IDN);
    names(&e, None, Some("Extra"));
    let e = err(r#"{"Version":"2012-10-17","Statement":[]}"#, KEY);
    names(&e, None, Some("Statement"));
    assert!(Policy::parse(r#"{"Version":"2012-10-17","Statement":[]}"#, IDN).is_ok());
    let e = err(r#"{"Statement":[],"Statement":[]}"#, IDN);
    assert!(e.message.contains("duplicate"), "{e}");
    let e = err(r#"{"Statement":[1]}"#, IDN);
    names(&e, None, Some("Statement"));
}

#[test]
fn statement_level_rules() {
    let e = err(
        &doc(&[r#"{"Sid":"S1","Effect":"Permit","Action":"kms:*","Resource":"*"}"#]),
        IDN,
    );
    names(&e, Some("S1"), Some("Effect"));
    let e = err(&doc(&[r#"{"Action":"kms:*","Resource":"*"}"#]), IDN);
    names(&e, Some("#0"), Some("Effect"));
    assert_eq!(
        e.to_string(),
        "statement #0: Effect: the element is required"
    );
    let e = err(
        &doc(&[r#"{"Sid":"S1","Effect":"Allow","Action":"kms:*","Resource":"*","Foo":1}"#]),
        IDN,
    );
    names(&e, Some("S1"), Some("Foo"));
    assert!(e.to_string().starts_with("statement \"S1\": Foo: "), "{e}");
    let e = err(&doc(&[r#"{"Effect":"Allow","Resource":"*"}"#]), IDN);
    names(&e, Some("#0"), Some("Action"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*","NotAction":"iam:*","Resource":"*"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Action"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":"Decrypt","Resource":"*"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Action"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Action"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":[1],"Resource":"*"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Action"));
    let e = err(&doc(&[r#"{"Effect":"Allow","Action":"kms:*"}"#]), IDN);
    names(&e, Some("#0"), Some("Resource"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*","Resource":"key/abc"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Resource"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*","NotResource":"bad"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("NotResource"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*","Resource":"*","NotResource":"*"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Resource"));
    // The second statement is named by index.
    let e = err(
        &doc(&[&allow(r#""kms:*""#, "*"), r#"{"Effect":"Allow"}"#]),
        IDN,
    );
    names(&e, Some("#1"), Some("Action"));
}

#[test]
fn principal_rules_per_kind() {
    // K4: key policy statements need a principal.
    let e = err(
        &doc(&[r#"{"Sid":"No principal","Effect":"Allow","Action":"kms:*","Resource":"*"}"#]),
        KEY,
    );
    names(&e, Some("No principal"), Some("Principal"));
    assert!(e.message.contains("one or more principals"), "{e}");
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"}"#]),
        KEY,
    );
    names(&e, Some("#0"), Some("Principal"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"}"#]),
        KEY,
    );
    names(&e, Some("#0"), Some("Principal"));
    // Identity-grammar kinds reject Principal and NotPrincipal.
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Boundary,
        PolicyKind::Session,
        PolicyKind::Scp,
    ] {
        let e = err(
            &doc(&[r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}"#]),
            kind,
        );
        names(&e, Some("#0"), Some("Principal"));
        let e = err(
            &doc(&[
                r#"{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}"#,
            ]),
            kind,
        );
        names(&e, Some("#0"), Some("NotPrincipal"));
    }
    // Trust policies require Principal, reject NotPrincipal and Resource.
    let t = PolicyKind::Trust;
    ok(
        &doc(&[
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},"Action":"sts:AssumeRole"}"#,
        ]),
        t,
    );
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#]),
        t,
    );
    names(&e, Some("#0"), Some("Principal"));
    let e = err(
        &doc(&[
            r#"{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}"#,
        ]),
        t,
    );
    names(&e, Some("#0"), Some("NotPrincipal"));
    let e = err(
        &doc(&[r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}"#]),
        t,
    );
    names(&e, Some("#0"), Some("Resource"));
    // Key policies accept NotPrincipal (NP1) and a missing Resource (G8).
    ok(
        &doc(&[
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}"#,
        ]),
        KEY,
    );
    ok(
        &doc(&[r#"{"Effect":"Allow","Principal":"*","Action":"kms:*"}"#]),
        KEY,
    );
    // Invalid principal values.
    for bad in [
        r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#,
        r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/R/*"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:group/devs"}"#,
        r#"{"AWS":"bob"}"#,
        r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#,
        r#"{"Group":"x"}"#,
        r#""alice""#,
        r#"{"AWS":5}"#,
    ] {
        let e = err(
            &doc(&[&format!(
                r#"{{"Effect":"Allow","Principal":{bad},"Action":"kms:*","Resource":"*"}}"#
            )]),
            KEY,
        );
        names(&e, Some("#0"), Some("Principal"));
    }
}

#[test]
fn sid_rules() {
    // IAM: alphanumeric only; KMS: spaces allowed.
    let spaced = r#"{"Sid":"Allow use","Effect":"Allow","Action":"kms:*","Resource":"*"}"#;
    let e = err(&doc(&[spaced]), IDN);
    names(&e, Some("Allow use"), Some("Sid"));
    ok(&doc(&[KP_DEFAULT]), KEY);
    let e = err(
        &doc(&[r#"{"Sid":"A-1","Effect":"Allow","Action":"kms:*","Resource":"*"}"#]),
        PolicyKind::Boundary,
    );
    names(&e, Some("A-1"), Some("Sid"));
    let dup = r#"{"Sid":"S","Effect":"Allow","Action":"kms:*","Resource":"*"}"#;
    let e = err(&doc(&[dup, dup]), IDN);
    names(&e, Some("S"), Some("Sid"));
    let e = err(
        &doc(&[r#"{"Sid":5,"Effect":"Allow","Action":"kms:*","Resource":"*"}"#]),
        IDN,
    );
    names(&e, Some("#0"), Some("Sid"));
}

#[test]
fn condition_rules() {
    let with = |cond: &str| {
        doc(&[&format!(
            r#"{{"Sid":"C","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{cond}}}"#
        )])
    };
    // K7.
    for key in ["kms:EncryptionContext:Dept", "aws:RequestTag/team"] {
        let e = err(
            &with(&format!(
                r#"{{"ForAllValues:StringEquals":{{"{key}":"x"}}}}"#
            )),
            KEY,
        );
        names(&e, Some("C"), Some("Condition"));
        assert!(e.is_overly_permissive_condition(), "{e}");
        assert!(e.message.starts_with("OverlyPermissiveCondition"), "{e}");
    }
    ok(
        &with(r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":"x"}}"#),
        KEY,
    );
    ok(
        &with(r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContext:Dept":"x"}}"#),
        KEY,
    );
    for bad in [
        r#"{"StringFoo":{"a:b":"x"}}"#,
        r#"{"NullIfExists":{"a:b":"true"}}"#,
        r#"{"ForAllValues:Null":{"a:b":"true"}}"#,
        r#"{"StringEquals":"x"}"#,
        r#"{"StringEquals":{"nokey":"x"}}"#,
        r#"{"StringEquals":{"a:b":{"x":1}}}"#,
        r#"{"StringEquals":{"a:b":null}}"#,
        r#"[]"#,
        // C6: unreadable typed values are rejected in key policies.
        r#"{"NumericEquals":{"a:b":"abc"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"yesterday"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.300"}}"#,
        r#"{"BinaryEquals":{"a:b":"!!"}}"#,
        r#"{"Bool":{"aws:SecureTransport":"yes"}}"#,
        r#"{"Null":{"a:b":"maybe"}}"#,
    ] {
        let e = err(&with(bad), KEY);
        names(&e, Some("C"), Some("Condition"));
    }
}

#[test]
fn positions_principals_and_keys() {
    let text = "{\"Version\":\"2012-10-17\",\"Statement\":[\n  {\"Sid\":\"A\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"111122223333\",\"arn:aws:iam::444455556666:role/R\"]},\"Action\":\"kms:*\",\"Resource\":\"*\"},\n  {\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":\"arn:aws:sts::111122223333:assumed-role/R/s\"},\"Action\":\"kms:*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"kms:EncryptionContext:Dept\":\"${aws:PrincipalTag/dept}\"}}}\n]}";
    let p = ok(text, KEY);
    assert_eq!(p.statement_count(), 2);
    assert_eq!(p.statement_sid(0), Some("A"));
    assert_eq!(p.statement_sid(1), None);
    assert_eq!(p.statement_label(1), "#1");
    assert_eq!(p.statement_position(0).map(|(s, _)| s), Some((2, 3)));
    let line2_len = text.lines().nth(1).map(|l| l.chars().count()).unwrap_or(0);
    assert_eq!(
        p.statement_position(0).map(|(_, e)| e),
        Some((2, line2_len))
    );
    assert_eq!(p.statement_position(1).map(|(s, _)| s), Some((3, 3)));
    assert_eq!(p.statement_position(2), None);
    assert_eq!(
        p.aws_principals(),
        vec![
            "111122223333".to_string(),
            "arn:aws:iam::444455556666:role/R".to_string(),
            "arn:aws:sts::111122223333:assumed-role/R/s".to_string()
        ]
    );
    assert_eq!(
        p.condition_keys(),
        vec![
            "kms:encryptioncontext:dept".to_string(),
            "aws:principaltag/dept".to_string()
        ]
    );
    assert_eq!(p.version(), Some("2012-10-17"));
    assert!(p.substitutes_variables());
}

#[test]
fn parse_value_accepts_objects_and_strings() {
    let v: serde_json::Value = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]
    });
    let p = Policy::parse_value(&v, IDN).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.statement_count(), 1);
    assert_eq!(p.statement_position(0).map(|(s, _)| s.0), Some(4));
    let s = serde_json::Value::String(v.to_string());
    let p = Policy::parse_value(&s, IDN).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.statement_count(), 1);
    assert!(Policy::parse_value(&serde_json::json!([1]), IDN).is_err());
    assert!(Policy::parse_value(&serde_json::Value::String("{".into()), IDN).is_err());
    // A single statement object (not an array) is accepted (G4).
    ok(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
        IDN,
    );
}
