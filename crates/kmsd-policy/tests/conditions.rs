//! Condition operators (§3), set operators, policy variables (§3.5) and matching edge cases (§2).

mod common;

use common::*;
use kmsd_policy::{
    simulate, EvalDecision, Policy, PolicyKind, PolicySourceType, RequestContext,
    SimulationRequest, SourcedPolicy,
};

const RES: &str = "arn:aws:kms:us-west-2:111122223333:key/k1";

fn eval(policy_text: &str, action: &str, resource: &str, ctx: &RequestContext) -> bool {
    let p = sourced(
        "p",
        policy_text,
        PolicyKind::Identity,
        PolicySourceType::User,
    );
    let list = [p];
    let r = simulate(&SimulationRequest {
        policies: &list,
        resource_policy: None,
        boundary: None,
        caller: None,
        action,
        resource,
        context: ctx,
    });
    r.decision == EvalDecision::Allowed
}

/// Does an Allow statement with this condition block apply?
fn holds(condition: &str, ctx: &RequestContext) -> bool {
    let text = doc(&[&format!(
        r#"{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{condition}}}"#
    )]);
    eval(&text, "kms:Decrypt", RES, ctx)
}

fn ctx(pairs: &[(&str, &str)]) -> RequestContext {
    let mut c = RequestContext::new();
    for (k, v) in pairs {
        c.set(k, *v);
    }
    c
}

fn multi(key: &str, vals: &[&str]) -> RequestContext {
    let mut c = RequestContext::new();
    c.set_multi(key, vals.iter().map(|s| s.to_string()).collect());
    c
}

#[test]
fn string_operators() {
    let c = ctx(&[
        ("aws:PrincipalAccount", "111122223333"),
        ("aws:UserAgent", "Boto3/1.2"),
    ]);
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":"1111"}}"#,
        &c
    ));
    // OR across values.
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":["x","111122223333"]}}"#,
        &c
    ));
    // Negated: none of the values (C2).
    assert!(!holds(
        r#"{"StringNotEquals":{"aws:PrincipalAccount":["x","111122223333"]}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringNotEquals":{"aws:PrincipalAccount":["x","y"]}}"#,
        &c
    ));
    // Case.
    assert!(!holds(
        r#"{"StringEquals":{"aws:UserAgent":"boto3/1.2"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringEqualsIgnoreCase":{"aws:UserAgent":"BOTO3/1.2"}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"StringNotEqualsIgnoreCase":{"aws:UserAgent":"BOTO3/1.2"}}"#,
        &c
    ));
    assert!(holds(r#"{"StringLike":{"aws:UserAgent":"Boto3/*"}}"#, &c));
    assert!(holds(r#"{"StringLike":{"aws:UserAgent":"Boto?/1.?"}}"#, &c));
    assert!(!holds(r#"{"StringLike":{"aws:UserAgent":"boto3/*"}}"#, &c));
    assert!(!holds(
        r#"{"StringNotLike":{"aws:UserAgent":["x*","Boto3/*"]}}"#,
        &c
    ));
    assert!(holds(r#"{"StringNotLike":{"aws:UserAgent":"x*"}}"#, &c));
    // Key names are case-insensitive (operator names are exact: see spec_rules.rs, G7).
    assert!(holds(
        r#"{"StringEquals":{"AWS:principalaccount":"111122223333"}}"#,
        &c
    ));
}

#[test]
fn numeric_operators() {
    let c = ctx(&[("aws:MultiFactorAuthAge", "300")]);
    let k = "aws:MultiFactorAuthAge";
    assert!(holds(
        &format!(r#"{{"NumericEquals":{{"{k}":"300"}}}}"#),
        &c
    ));
    assert!(holds(&format!(r#"{{"NumericEquals":{{"{k}":300}}}}"#), &c));
    assert!(!holds(
        &format!(r#"{{"NumericNotEquals":{{"{k}":300}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"NumericLessThan":{{"{k}":301}}}}"#),
        &c
    ));
    assert!(!holds(
        &format!(r#"{{"NumericLessThan":{{"{k}":300}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"NumericLessThanEquals":{{"{k}":300}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"NumericGreaterThan":{{"{k}":299.5}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"NumericGreaterThanEquals":{{"{k}":"300.0"}}}}"#),
        &c
    ));
    assert!(!holds(
        &format!(r#"{{"NumericGreaterThan":{{"{k}":300}}}}"#),
        &c
    ));
    // Unreadable request value: no match.
    let bad = ctx(&[(k, "abc")]);
    assert!(!holds(&format!(r#"{{"NumericEquals":{{"{k}":1}}}}"#), &bad));
    // Unreadable policy value in an identity policy: accepted, never matches (C6).
    assert!(!holds(
        &format!(r#"{{"NumericEquals":{{"{k}":"abc"}}}}"#),
        &c
    ));
    // Missing key.
    let none = RequestContext::new();
    assert!(!holds(
        &format!(r#"{{"NumericLessThan":{{"{k}":1}}}}"#),
        &none
    ));
    assert!(holds(
        &format!(r#"{{"NumericNotEquals":{{"{k}":1}}}}"#),
        &none
    ));
}

#[test]
fn date_operators() {
    let c = ctx(&[("aws:CurrentTime", "2026-01-01T00:00:00Z")]);
    let k = "aws:CurrentTime";
    assert!(holds(
        &format!(r#"{{"DateEquals":{{"{k}":"2026-01-01T00:00:00Z"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"DateEquals":{{"{k}":"2026-01-01"}}}}"#),
        &c
    ));
    assert!(!holds(
        &format!(r#"{{"DateNotEquals":{{"{k}":"2026-01-01T00:00:00Z"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"DateLessThan":{{"{k}":"2026-01-01T00:00:01Z"}}}}"#),
        &c
    ));
    // Epoch seconds: 1767225601 = 2026-01-01T00:00:01Z.
    assert!(holds(
        &format!(r#"{{"DateLessThan":{{"{k}":"1767225601"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"DateLessThan":{{"{k}":1767225601}}}}"#),
        &c
    ));
    assert!(!holds(
        &format!(r#"{{"DateLessThan":{{"{k}":"1767225600"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"DateLessThanEquals":{{"{k}":"1767225600"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"DateGreaterThan":{{"{k}":"2025-12-31T23:59:59Z"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"DateGreaterThanEquals":{{"{k}":"2026-01-01T01:00:00+01:00"}}}}"#),
        &c
    ));
    // Request value as epoch seconds.
    let e = ctx(&[("aws:EpochTime", "1767225600")]);
    assert!(holds(
        r#"{"DateEquals":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}"#,
        &e
    ));
}

#[test]
fn bool_binary_ip_arn_operators() {
    let c = ctx(&[
        ("aws:SecureTransport", "true"),
        ("aws:SourceIp", "10.0.0.1"),
        ("aws:SourceArn", "arn:aws:s3:::bucket/key"),
        ("test:Bin", "aGVsbG8="),
    ]);
    assert!(holds(r#"{"Bool":{"aws:SecureTransport":"TRUE"}}"#, &c));
    assert!(holds(r#"{"Bool":{"aws:SecureTransport":true}}"#, &c));
    assert!(!holds(r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &c));
    assert!(holds(r#"{"BinaryEquals":{"test:Bin":"aGVsbG8="}}"#, &c));
    assert!(!holds(r#"{"BinaryEquals":{"test:Bin":"aGVsbG9v"}}"#, &c));
    assert!(holds(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.1"}}"#, &c));
    assert!(!holds(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.2"}}"#, &c));
    assert!(holds(
        r#"{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","10.0.0.0/8"]}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}"#,
        &c
    ));
    let v6 = ctx(&[("aws:SourceIp", "2001:db8::1")]);
    assert!(holds(
        r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
        &v6
    ));
    assert!(!holds(
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &v6
    ));
    assert!(holds(
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::bucket/*"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket/key"}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::*"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::other"}}"#,
        &c
    ));
    // The ArnLike vs StringLike example of §3.2.
    let ex = ctx(&[(
        "aws:SourceArn",
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
    )]);
    let pat = "arn:aws:someservice:*:111122223333:finance/*";
    assert!(holds(
        &format!(r#"{{"StringLike":{{"aws:SourceArn":"{pat}"}}}}"#),
        &ex
    ));
    assert!(!holds(
        &format!(r#"{{"ArnLike":{{"aws:SourceArn":"{pat}"}}}}"#),
        &ex
    ));
}

#[test]
fn missing_keys_if_exists_and_null() {
    let none = RequestContext::new();
    let k = "kms:EncryptionContext:Department";
    // C3: positive false, negated true.
    assert!(!holds(
        &format!(r#"{{"StringEquals":{{"{k}":"IT"}}}}"#),
        &none
    ));
    assert!(holds(
        &format!(r#"{{"StringNotEquals":{{"{k}":"IT"}}}}"#),
        &none
    ));
    assert!(holds(
        r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &none
    ));
    // C4.
    assert!(holds(
        &format!(r#"{{"StringEqualsIfExists":{{"{k}":"IT"}}}}"#),
        &none
    ));
    assert!(holds(
        &format!(r#"{{"StringNotEqualsIfExists":{{"{k}":"IT"}}}}"#),
        &none
    ));
    let hr = ctx(&[(k, "HR")]);
    assert!(!holds(
        &format!(r#"{{"StringEqualsIfExists":{{"{k}":"IT"}}}}"#),
        &hr
    ));
    assert!(holds(
        &format!(r#"{{"StringNotEqualsIfExists":{{"{k}":"IT"}}}}"#),
        &hr
    ));
    assert!(holds(
        r#"{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"10"}}"#,
        &none
    ));
    // C5.
    assert!(holds(&format!(r#"{{"Null":{{"{k}":"true"}}}}"#), &none));
    assert!(!holds(&format!(r#"{{"Null":{{"{k}":"false"}}}}"#), &none));
    assert!(!holds(&format!(r#"{{"Null":{{"{k}":"true"}}}}"#), &hr));
    assert!(holds(&format!(r#"{{"Null":{{"{k}":false}}}}"#), &hr));
    // An empty multi-valued key counts as absent.
    let empty = multi("aws:TagKeys", &[]);
    assert!(holds(r#"{"Null":{"aws:TagKeys":"true"}}"#, &empty));
    // AND across operators and keys.
    let both = ctx(&[("a:x", "1"), ("a:y", "2")]);
    assert!(holds(r#"{"StringEquals":{"a:x":"1","a:y":"2"}}"#, &both));
    assert!(!holds(r#"{"StringEquals":{"a:x":"1","a:y":"3"}}"#, &both));
    assert!(holds(
        r#"{"StringEquals":{"a:x":"1"},"NumericEquals":{"a:y":2}}"#,
        &both
    ));
    assert!(!holds(
        r#"{"StringEquals":{"a:x":"1"},"NumericEquals":{"a:y":3}}"#,
        &both
    ));
}

#[test]
fn set_operators() {
    let k = "aws:TagKeys";
    let none = RequestContext::new();
    let empty = multi(k, &[]);
    let ab = multi(k, &["a", "b"]);
    let ac = multi(k, &["a", "c"]);
    let fa = |op: &str, vals: &str| format!(r#"{{"{op}":{{"{k}":{vals}}}}}"#);
    // ForAllValues: true on missing and empty.
    assert!(holds(
        &fa("ForAllValues:StringEquals", r#"["a","b"]"#),
        &none
    ));
    assert!(holds(
        &fa("ForAllValues:StringEquals", r#"["a","b"]"#),
        &empty
    ));
    assert!(holds(&fa("ForAllValues:StringEquals", r#"["a","b"]"#), &ab));
    assert!(!holds(
        &fa("ForAllValues:StringEquals", r#"["a","b"]"#),
        &ac
    ));
    // ForAnyValue: false on missing and empty.
    assert!(!holds(&fa("ForAnyValue:StringEquals", r#"["a"]"#), &none));
    assert!(!holds(&fa("ForAnyValue:StringEquals", r#"["a"]"#), &empty));
    assert!(holds(&fa("ForAnyValue:StringEquals", r#"["c"]"#), &ac));
    assert!(!holds(&fa("ForAnyValue:StringEquals", r#"["d"]"#), &ac));
    // IfExists on set operators: true when missing.
    assert!(holds(
        &fa("ForAnyValue:StringEqualsIfExists", r#"["a"]"#),
        &none
    ));
    assert!(!holds(
        &fa("ForAnyValue:StringEqualsIfExists", r#"["a"]"#),
        &empty
    ));
    // Negated set operators (§3.3 examples).
    assert!(!holds(
        &fa("ForAllValues:StringNotEquals", r#"["a","b"]"#),
        &ac
    ));
    assert!(holds(
        &fa("ForAllValues:StringNotEquals", r#"["x","y"]"#),
        &ac
    ));
    assert!(holds(
        &fa("ForAllValues:StringNotEquals", r#"["a","b"]"#),
        &none
    ));
    assert!(holds(
        &fa("ForAnyValue:StringNotEquals", r#"["a","b"]"#),
        &ac
    ));
    assert!(!holds(
        &fa("ForAnyValue:StringNotEquals", r#"["a","b"]"#),
        &ab
    ));
    assert!(holds(&fa("ForAnyValue:StringLike", r#"["c*"]"#), &ac));
    // Single-valued operator on a multi-valued key (CHOICE): false with >= 2 values, even negated.
    assert!(!holds(&fa("StringEquals", r#"["a","c"]"#), &ac));
    assert!(!holds(&fa("StringNotEquals", r#"["x"]"#), &ac));
    let one = multi(k, &["a"]);
    assert!(holds(&fa("StringEquals", r#""a""#), &one));
    // Set operator on a single-valued key: R = {v}.
    let single = ctx(&[("aws:PrincipalTag/team", "blue")]);
    assert!(holds(
        r#"{"ForAnyValue:StringEquals":{"aws:PrincipalTag/team":["blue"]}}"#,
        &single
    ));
}

#[test]
fn policy_variables() {
    let c = ctx(&[
        ("aws:username", "Alice"),
        ("kms:EncryptionContext:owner", "Alice"),
        ("aws:PrincipalTag/team", "blue"),
        ("test:star", "*"),
        ("test:lit", "a*b?$"),
    ]);
    assert!(holds(
        r#"{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringEquals":{"kms:EncryptionContext:owner":"${AWS:UserName}"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringLike":{"kms:EncryptionContext:owner":"${aws:username}*"}}"#,
        &c
    ));
    // Default values (V4).
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/missing, 'blue'}"}}"#,
        &c
    ));
    // Missing variable without default: positive false, negated true (V5).
    assert!(!holds(
        r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/missing}"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringNotEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/missing}"}}"#,
        &c
    ));
    // ${*} in StringEquals matches a literal * (V3).
    assert!(holds(r#"{"StringEquals":{"test:star":"${*}"}}"#, &c));
    assert!(holds(
        r#"{"StringEquals":{"test:lit":"a${*}b${?}${$}"}}"#,
        &c
    ));
    // In StringLike, ${*} is a literal star, not a wildcard.
    assert!(holds(r#"{"StringLike":{"test:star":"${*}"}}"#, &c));
    assert!(!holds(
        r#"{"StringLike":{"kms:EncryptionContext:owner":"${*}"}}"#,
        &c
    ));
    // Substituted text is literal (V6): "a*b?$" does not act as a wildcard pattern.
    let c2 = ctx(&[("test:lit", "a*"), ("test:v", "abc")]);
    assert!(!holds(r#"{"StringLike":{"test:v":"${test:lit}"}}"#, &c2));
    // Version 2008-10-17 / absent: no substitution (G2).
    let legacy = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}}"#;
    assert!(!eval(legacy, "kms:Decrypt", RES, &c));
    let literal = ctx(&[("kms:EncryptionContext:owner", "${aws:username}")]);
    assert!(eval(legacy, "kms:Decrypt", RES, &literal));
    // Variables in the Resource element.
    let home = doc(&[
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"}"#,
    ]);
    assert!(eval(
        &home,
        "s3:GetObject",
        "arn:aws:s3:::bucket/home/Alice/f.txt",
        &c
    ));
    assert!(!eval(
        &home,
        "s3:GetObject",
        "arn:aws:s3:::bucket/home/Bob/f.txt",
        &c
    ));
    assert!(!eval(
        &home,
        "s3:GetObject",
        "arn:aws:s3:::bucket/home/Alice/f.txt",
        &RequestContext::new()
    ));
}

#[test]
fn action_and_resource_matching() {
    let c = RequestContext::new();
    let p = |a: &str, r: &str| {
        doc(&[&format!(
            r#"{{"Effect":"Allow","Action":{a},"Resource":{r}}}"#
        )])
    };
    assert!(eval(
        &p(r#""KMS:decrypt""#, r#""*""#),
        "kms:Decrypt",
        RES,
        &c
    ));
    assert!(eval(
        &p(r#""kms:ReEncrypt*""#, r#""*""#),
        "kms:ReEncryptFrom",
        RES,
        &c
    ));
    assert!(eval(
        &p(r#""kms:ReEncrypt*""#, r#""*""#),
        "kms:ReEncryptTo",
        RES,
        &c
    ));
    assert!(eval(
        &p(r#""kms:*Grant*""#, r#""*""#),
        "kms:ListGrants",
        RES,
        &c
    ));
    assert!(!eval(
        &p(r#""kms:Decrypt""#, r#""*""#),
        "kms:Encrypt",
        RES,
        &c
    ));
    assert!(eval(&p(r#""*""#, r#""*""#), "iam:CreateUser", RES, &c));
    // NotAction with Allow grants everything else.
    let not_iam = doc(&[r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#]);
    assert!(eval(&not_iam, "kms:Decrypt", RES, &c));
    assert!(!eval(&not_iam, "iam:CreateUser", RES, &c));
    // Resource part globs are case-sensitive and per part.
    assert!(eval(
        &p(r#""kms:*""#, r#""arn:aws:kms:*:111122223333:key/*""#),
        "kms:Decrypt",
        RES,
        &c
    ));
    assert!(!eval(
        &p(r#""kms:*""#, r#""arn:aws:kms:*:111122223333:KEY/*""#),
        "kms:Decrypt",
        RES,
        &c
    ));
    assert!(!eval(
        &p(r#""kms:*""#, r#""arn:aws:kms:*:444455556666:key/*""#),
        "kms:Decrypt",
        RES,
        &c
    ));
    // NotResource.
    let nr =
        doc(&[r#"{"Effect":"Allow","Action":"kms:*","NotResource":"arn:aws:kms:*:*:key/k1"}"#]);
    assert!(!eval(&nr, "kms:Decrypt", RES, &c));
    assert!(eval(
        &nr,
        "kms:Decrypt",
        "arn:aws:kms:us-west-2:111122223333:key/k2",
        &c
    ));
}

#[test]
fn simulator_reports_matches_positions_and_missing_keys() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"AllowDecrypt\",\n      \"Effect\": \"Allow\",\n      \"Action\": \"kms:Decrypt\",\n      \"Resource\": \"*\",\n      \"Condition\": {\"StringEquals\": {\"kms:EncryptionContext:Dept\": \"IT\"}}\n    },\n    {\"Effect\": \"Deny\", \"Action\": \"kms:Encrypt\", \"Resource\": \"*\", \"Condition\": {\"Bool\": {\"aws:SecureTransport\": \"false\"}}}\n  ]\n}";
    let p = SourcedPolicy::new(
        "MyPolicy",
        PolicySourceType::UserManaged,
        std::sync::Arc::new(
            Policy::parse(text, PolicyKind::Identity).unwrap_or_else(|e| panic!("{e}")),
        ),
    );
    let list = [p];
    let empty = RequestContext::new();
    let run = |action: &str, ctx: &RequestContext| {
        simulate(&SimulationRequest {
            policies: &list,
            resource_policy: None,
            boundary: None,
            caller: None,
            action,
            resource: "*",
            context: ctx,
        })
    };
    let r = run("kms:Decrypt", &empty);
    assert_eq!(r.decision, EvalDecision::ImplicitDeny);
    assert_eq!(
        r.missing_context_values,
        vec!["kms:EncryptionContext:Dept".to_string()]
    );
    assert!(r.matched_statements.is_empty());
    let ok = ctx(&[("kms:EncryptionContext:Dept", "IT")]);
    let r = run("kms:Decrypt", &ok);
    assert_eq!(r.decision, EvalDecision::Allowed);
    assert!(r.missing_context_values.is_empty());
    assert_eq!(r.matched_statements.len(), 1);
    let m = &r.matched_statements[0];
    assert_eq!(
        (m.source_policy_id.as_str(), m.sid.as_deref(), m.index),
        ("MyPolicy", Some("AllowDecrypt"), 0)
    );
    assert_eq!((m.start, m.end), ((4, 5), (10, 6)));
    let insecure = ctx(&[("aws:SecureTransport", "false")]);
    let r = run("kms:Encrypt", &insecure);
    assert_eq!(r.decision, EvalDecision::ExplicitDeny);
    assert_eq!(r.matched_statements.len(), 1);
    assert_eq!(r.matched_statements[0].index, 1);
    assert_eq!(r.matched_statements[0].start, (11, 5));
}
