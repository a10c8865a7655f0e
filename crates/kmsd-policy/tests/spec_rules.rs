//! Rule-by-rule checks of the IAM evaluation spec (`iam-evaluation.md`): one test per numbered
//! rule or small group of rules (G*, K*, M*, P*, NP*, GP*, C*, the operator table, §3.3 set
//! operators, §3.4 case table, V*, E*, §7.1 messages). Each test is named after its rule and
//! asserts the behaviour that would change if the rule were broken.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod common;

use std::collections::BTreeMap;

use common::*;
use kmsd_policy::{
    decide_kms, explain_kms, simulate, Caller, Decision, DenyReason, EvalDecision, Grant,
    GrantConstraints, KmsRequest, Outcome, Policy, PolicyError, PolicyKind, PolicySet,
    PolicySourceType, RequestContext, SimulationRequest, SourcedPolicy,
};

const RES: &str = "arn:aws:kms:us-west-2:111122223333:key/k1";
const ALICE: &str = "arn:aws:iam::111122223333:user/Alice";
const ROLE: &str = "arn:aws:iam::111122223333:role/ExampleRole";
const S1: &str = "arn:aws:sts::111122223333:assumed-role/ExampleRole/s1";
const A_ROOT: &str = "arn:aws:iam::111122223333:root";
const B_ROOT: &str = "arn:aws:iam::444455556666:root";

// ---------------------------------------------------------------------------------------------
// Helpers

fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    Policy::parse(text, kind)
}

fn rejected(text: &str, kind: PolicyKind) -> PolicyError {
    match parse(text, kind) {
        Ok(_) => panic!("should be rejected as {kind:?}: {text}"),
        Err(e) => e,
    }
}

fn accepted(text: &str, kind: PolicyKind) -> Policy {
    parse(text, kind).unwrap_or_else(|e| panic!("should parse as {kind:?}: {e}\n{text}"))
}

/// A document with the given Version (or none) and statements.
fn versioned(version: Option<&str>, statements: &[&str]) -> String {
    match version {
        Some(v) => format!(
            "{{\"Version\":\"{v}\",\"Statement\":[{}]}}",
            statements.join(",")
        ),
        None => format!("{{\"Statement\":[{}]}}", statements.join(",")),
    }
}

/// Is `action` on `resource` allowed by this identity policy document (IAM simulator)?
fn sim(text: &str, action: &str, resource: &str, ctx: &RequestContext) -> EvalDecision {
    let list = [sourced(
        "p",
        text,
        PolicyKind::Identity,
        PolicySourceType::User,
    )];
    simulate(&SimulationRequest {
        policies: &list,
        resource_policy: None,
        boundary: None,
        caller: None,
        action,
        resource,
        context: ctx,
    })
    .decision
}

fn allowed(text: &str, action: &str, resource: &str, ctx: &RequestContext) -> bool {
    sim(text, action, resource, ctx) == EvalDecision::Allowed
}

/// Does an Allow statement (Version 2012-10-17) with this condition block apply?
fn holds(condition: &str, ctx: &RequestContext) -> bool {
    holds_v(Some("2012-10-17"), condition, ctx)
}

fn holds_v(version: Option<&str>, condition: &str, ctx: &RequestContext) -> bool {
    let st = format!(
        r#"{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{condition}}}"#
    );
    allowed(&versioned(version, &[&st]), "kms:Decrypt", RES, ctx)
}

/// Does an Allow statement for `kms:Decrypt` on `resource_json` apply to `resource`?
fn resource_applies(resource_json: &str, resource: &str, ctx: &RequestContext) -> bool {
    let st = format!(r#"{{"Effect":"Allow","Action":"kms:Decrypt","Resource":{resource_json}}}"#);
    allowed(&doc(&[&st]), "kms:Decrypt", resource, ctx)
}

/// Does an Allow statement with `action_json` cover `action`?
fn action_applies(action_json: &str, action: &str) -> bool {
    let st = format!(r#"{{"Effect":"Allow","Action":{action_json},"Resource":"*"}}"#);
    allowed(&doc(&[&st]), action, RES, &RequestContext::new())
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

fn kst(effect: &str, principal: &str, action: &str, extra: &str) -> String {
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

fn kms_all() -> String {
    allow(r#""kms:*""#, "*")
}

struct Call<'a> {
    caller: &'a Caller,
    key: &'a str,
    kp: &'a SourcedPolicy,
    set: &'a PolicySet,
    grants: &'a [Grant],
    action: &'a str,
    ec: Option<&'a BTreeMap<String, String>>,
}

impl Call<'_> {
    fn outcome(&self) -> Outcome {
        let context = kms_context(self.caller, self.ec);
        let req = KmsRequest {
            caller: self.caller,
            caller_policies: self.set,
            action: self.action,
            key_arn: self.key,
            key_policy: self.kp,
            grants: self.grants,
            context: &context,
            encryption_context: self.ec,
        };
        let o = decide_kms(&req);
        assert_eq!(explain_kms(&req).outcome, o, "decide and explain agree");
        o
    }
}

/// Decide `action` on key K (account A) with no grants and no encryption context.
fn decide(caller: &Caller, kp: &SourcedPolicy, set: &PolicySet, action: &str) -> Outcome {
    Call {
        caller,
        key: K,
        kp,
        set,
        grants: &[],
        action,
        ec: None,
    }
    .outcome()
}

fn decision(caller: &Caller, kp: &SourcedPolicy, set: &PolicySet, action: &str) -> Decision {
    decide(caller, kp, set, action).decision
}

fn kp_default() -> SourcedPolicy {
    key_policy(&[KP_DEFAULT])
}

// ---------------------------------------------------------------------------------------------
// §1 Grammar

#[test]
fn g1_element_order_is_irrelevant() {
    let forward = r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"S","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:username":"${aws:username}x"}}}]}"#;
    let backward = r#"{"Statement":[{"Condition":{"StringEquals":{"aws:username":"${aws:username}x"}},"Resource":"*","Action":"kms:Decrypt","Effect":"Allow","Sid":"S"}],"Id":"x","Version":"2012-10-17"}"#;
    // Version after Statement still turns variables on.
    let c = ctx(&[("aws:username", "a")]);
    assert!(!allowed(forward, "kms:Decrypt", RES, &c));
    assert!(!allowed(backward, "kms:Decrypt", RES, &c));
    let c = ctx(&[("aws:username", "${aws:username}x")]);
    assert!(!allowed(backward, "kms:Decrypt", RES, &c));
    for text in [forward, backward] {
        let p = accepted(text, PolicyKind::Identity);
        assert_eq!(p.version(), Some("2012-10-17"));
        assert!(p.substitutes_variables());
        assert_eq!(p.id(), Some("x"));
    }
}

#[test]
fn g2_version_values_and_variables_only_under_2012() {
    for v in ["2012-10-17", "2008-10-17"] {
        accepted(&versioned(Some(v), &[&kms_all()]), PolicyKind::Identity);
        accepted(&versioned(Some(v), &[KP_DEFAULT]), PolicyKind::Key);
    }
    for v in ["2012-10-18", "2012-10-17 ", "", "latest"] {
        let e = rejected(&versioned(Some(v), &[KP_DEFAULT]), PolicyKind::Key);
        assert_eq!(e.element.as_deref(), Some("Version"), "{e}");
    }
    let cond = r#"{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}"#;
    let c = ctx(&[
        ("aws:username", "Alice"),
        ("kms:EncryptionContext:owner", "Alice"),
    ]);
    assert!(holds_v(Some("2012-10-17"), cond, &c));
    assert!(!holds_v(Some("2008-10-17"), cond, &c));
    assert!(!holds_v(None, cond, &c));
    // Without substitution the variable is literal text...
    let lit = ctx(&[("kms:EncryptionContext:owner", "${aws:username}")]);
    assert!(holds_v(None, cond, &lit));
    assert!(holds_v(Some("2008-10-17"), cond, &lit));
    assert!(!holds_v(Some("2012-10-17"), cond, &lit));
    // ...in which `*` is still a wildcard for StringLike.
    let like = r#"{"StringLike":{"kms:EncryptionContext:owner":"a${*}b"}}"#;
    let c = ctx(&[("kms:EncryptionContext:owner", "a${xyz}b")]);
    assert!(holds_v(None, like, &c));
    assert!(!holds_v(Some("2012-10-17"), like, &c));
    let c = ctx(&[("kms:EncryptionContext:owner", "a*b")]);
    assert!(holds_v(Some("2012-10-17"), like, &c));
}

#[test]
fn g3_id_is_a_free_string() {
    let text = r#"{"Version":"2012-10-17","Id":"key-consolepolicy 3 / anything","Statement":[]}"#;
    assert_eq!(
        accepted(text, PolicyKind::Identity).id(),
        Some("key-consolepolicy 3 / anything")
    );
    let e = rejected(
        r#"{"Version":"2012-10-17","Id":3,"Statement":[]}"#,
        PolicyKind::Identity,
    );
    assert_eq!(e.element.as_deref(), Some("Id"));
}

#[test]
fn g4_statement_object_or_array_and_element_table() {
    // One object or an array.
    let one = format!(r#"{{"Version":"2012-10-17","Statement":{KP_DEFAULT}}}"#);
    assert_eq!(accepted(&one, PolicyKind::Key).statement_count(), 1);
    assert_eq!(
        accepted(&doc(&[KP_DEFAULT, KP_DEFAULT]), PolicyKind::Key).statement_count(),
        2
    );
    // A key policy needs a statement.
    rejected(
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        PolicyKind::Key,
    );
    // Principal forbidden in identity grammar; required in key and trust policies.
    let with_principal = kst("Allow", "\"*\"", r#""kms:*""#, "");
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Boundary,
        PolicyKind::Session,
        PolicyKind::Scp,
    ] {
        let e = rejected(&doc(&[&with_principal]), kind);
        assert_eq!(e.element.as_deref(), Some("Principal"), "{kind:?}: {e}");
    }
    rejected(&doc(&[&kms_all()]), PolicyKind::Key);
    // Action/NotAction: exactly one (identity grammar requires one).
    rejected(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}"#]),
        PolicyKind::Identity,
    );
    rejected(
        &doc(&[r#"{"Effect":"Allow","Resource":"*"}"#]),
        PolicyKind::Identity,
    );
    // Resource/NotResource: exactly one in identity policies.
    rejected(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*"}"#]),
        PolicyKind::Identity,
    );
    rejected(
        &doc(&[r#"{"Effect":"Allow","Action":"kms:*","Resource":"*","NotResource":"*"}"#]),
        PolicyKind::Identity,
    );
    // Sid: spaces allowed in key policies only.
    let spaced =
        r#"{"Sid":"Allow use of the key","Effect":"Allow","Action":"kms:*","Resource":"*"}"#;
    rejected(&doc(&[spaced]), PolicyKind::Identity);
    let kspaced = kst("Allow", "\"*\"", r#""kms:*""#, "").replacen(
        '{',
        r#"{"Sid":"Allow use of the key","#,
        1,
    );
    assert_eq!(
        accepted(&doc(&[&kspaced]), PolicyKind::Key).statement_sid(0),
        Some("Allow use of the key")
    );
    // Effect is required and is exactly Allow or Deny.
    rejected(
        &doc(&[r#"{"Action":"kms:*","Resource":"*"}"#]),
        PolicyKind::Identity,
    );
}

#[test]
fn g5_a_string_equals_a_one_element_list() {
    let c = RequestContext::new();
    for (a, r) in [
        (r#""kms:Decrypt""#, r#""*""#),
        (r#"["kms:Decrypt"]"#, r#"["*"]"#),
    ] {
        let st = format!(r#"{{"Effect":"Allow","Action":{a},"Resource":{r}}}"#);
        assert!(allowed(&doc(&[&st]), "kms:Decrypt", RES, &c));
        assert!(!allowed(&doc(&[&st]), "kms:Encrypt", RES, &c));
    }
    let alice = user(A, "Alice");
    for p in [aws(ALICE), format!(r#"{{"AWS":["{ALICE}"]}}"#)] {
        let kp = key_policy(&[&kst("Allow", &p, r#"["kms:Decrypt"]"#, "")]);
        assert_eq!(
            decision(&alice, &kp, &PolicySet::default(), "kms:Decrypt"),
            Decision::Allow
        );
    }
    // Condition values: a string and a one-element array.
    let c = ctx(&[("aws:PrincipalAccount", A)]);
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":["111122223333"]}}"#,
        &c
    ));
}

#[test]
fn g6_principal_map_forms() {
    let alice = user(A, "Alice");
    let none = PolicySet::default();
    // "*" ≡ {"AWS":"*"}.
    for p in [r#""*""#, r#"{"AWS":"*"}"#] {
        let kp = key_policy(&[&kst("Allow", p, r#""kms:Decrypt""#, "")]);
        assert_eq!(
            decision(&alice, &kp, &none, "kms:Decrypt"),
            Decision::Allow,
            "{p}"
        );
    }
    // Account id ≡ root ARN (delegation: IAM must allow).
    let set = iam(&[&kms_all()]);
    for p in [aws(A), aws(A_ROOT)] {
        let kp = key_policy(&[&kst("Allow", &p, r#""kms:*""#, "")]);
        assert_eq!(decision(&alice, &kp, &set, "kms:Decrypt"), Decision::Allow);
        assert_eq!(
            decision(&alice, &kp, &none, "kms:Decrypt"),
            Decision::ImplicitDeny
        );
    }
    // No partial wildcards, no groups, no unknown types; CanonicalUser rejected in key policies.
    for p in [
        aws("arn:aws:iam::111122223333:user/*"),
        aws("arn:aws:iam::111122223333:role/Ex*"),
        aws("arn:aws:sts::111122223333:assumed-role/ExampleRole/*"),
        aws("arn:aws:iam::111122223333:group/Admins"),
        aws("1111-2222-3333"),
        r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#
            .to_string(),
        r#"{"Group":"x"}"#.to_string(),
        r#""111122223333""#.to_string(),
    ] {
        let e = rejected(
            &doc(&[&kst("Allow", &p, r#""kms:*""#, "")]),
            PolicyKind::Key,
        );
        assert!(
            matches!(e.element.as_deref(), Some("Principal")),
            "{p}: {e}"
        );
    }
    // Service and Federated entries are valid but never name an IAM caller.
    for p in [
        r#"{"Service":"logs.us-west-2.amazonaws.com"}"#,
        r#"{"Service":["ec2.amazonaws.com","s3.amazonaws.com"]}"#,
        r#"{"Federated":"arn:aws:iam::111122223333:saml-provider/IdP"}"#,
    ] {
        let kp = key_policy(&[KP_DEFAULT, &kst("Allow", p, r#""kms:Decrypt""#, "")]);
        assert_eq!(
            decision(&alice, &kp, &none, "kms:Decrypt"),
            Decision::ImplicitDeny,
            "{p}"
        );
    }
    // OR across types and values.
    let p = format!(r#"{{"Service":"ec2.amazonaws.com","AWS":["{B_ROOT}","{ALICE}"]}}"#);
    let kp = key_policy(&[&kst("Allow", &p, r#""kms:Decrypt""#, "")]);
    assert_eq!(decision(&alice, &kp, &none, "kms:Decrypt"), Decision::Allow);
}

#[test]
fn g7_condition_key_names_are_case_insensitive_operator_names_exact() {
    let c = ctx(&[("aws:CurrentTime", "2026-01-01T00:00:00Z")]);
    assert!(holds(
        r#"{"DateGreaterThan":{"AWS:currenttime":"2025-01-01T00:00:00Z"}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"DateLessThan":{"aws:currentTIME":"2025-01-01T00:00:00Z"}}"#,
        &c
    ));
    // AWS rejects an operator whose case differs ("MalformedPolicyDocument: Invalid Condition
    // type : stringEquals", IAM CreateRole, GH ministryofjustice/modernisation-platform-
    // environments#8893); the spec's G7 CHOICE (case-insensitive) is not AWS's behaviour.
    for op in [
        "stringEquals",
        "dategreaterthan",
        "DATELESSTHAN",
        "forallvalues:StringEquals",
        "ForAnyValue:stringLike",
        "StringEqualsifexists",
    ] {
        for kind in [PolicyKind::Identity, PolicyKind::Key] {
            let st = kst(
                "Allow",
                "\"*\"",
                r#""kms:*""#,
                &format!(r#","Condition":{{"{op}":{{"aws:PrincipalAccount":"111122223333"}}}}"#),
            );
            let st = if kind == PolicyKind::Key {
                st
            } else {
                st.replace(r#""Principal":"*","#, "")
            };
            let e = rejected(&doc(&[&st]), kind);
            assert!(
                e.to_string()
                    .contains(&format!("Invalid Condition type : {op}")),
                "{e}"
            );
        }
    }
    // IfExists and set prefixes are never allowed on Null; unknown operators rejected.
    for op in [
        "NullIfExists",
        "ForAllValues:Null",
        "ForAnyValue:Null",
        "StringEqualz",
    ] {
        let st = format!(
            r#"{{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{{"{op}":{{"aws:SourceIp":"true"}}}}}}"#
        );
        let e = rejected(&doc(&[&st]), PolicyKind::Identity);
        assert_eq!(e.element.as_deref(), Some("Condition"), "{op}: {e}");
    }
}

#[test]
fn g8_key_policy_resource() {
    let alice = user(A, "Alice");
    let none = PolicySet::default();
    // No Resource: accepted, never applies (neither Allow nor Deny).
    let no_res = format!(
        r#"{{"Effect":"Allow","Principal":{},"Action":"kms:Decrypt"}}"#,
        aws(ALICE)
    );
    let kp = key_policy(&[&no_res]);
    assert_eq!(
        decision(&alice, &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let deny_no_res = no_res.replace("Allow", "Deny");
    let kp = key_policy(&[&kst("Allow", &aws(ALICE), r#""kms:*""#, ""), &deny_no_res]);
    assert_eq!(decision(&alice, &kp, &none, "kms:Decrypt"), Decision::Allow);
    // A Resource other than "*" is matched against the key ARN (CHOICE).
    for (res, want) in [
        (K, Decision::Allow),
        ("arn:aws:kms:us-west-2:111122223333:key/*", Decision::Allow),
        ("arn:aws:kms:*:111122223333:key/1234abcd-*", Decision::Allow),
        (
            "arn:aws:kms:us-west-2:111122223333:key/other",
            Decision::ImplicitDeny,
        ),
        (
            "arn:aws:kms:us-west-2:111122223333:alias/*",
            Decision::ImplicitDeny,
        ),
    ] {
        let st = format!(
            r#"{{"Effect":"Allow","Principal":{},"Action":"kms:Decrypt","Resource":"{res}"}}"#,
            aws(ALICE)
        );
        let kp = key_policy(&[&st]);
        assert_eq!(decision(&alice, &kp, &none, "kms:Decrypt"), want, "{res}");
    }
}

// ---------------------------------------------------------------------------------------------
// §1.3 Malformed key policies

#[test]
fn k1_key_policy_size_limit_is_32768_bytes() {
    let base = doc(&[KP_DEFAULT]);
    let pad = |n: usize| base.replacen("{", &format!("{{\"Id\":\"{}\",", "x".repeat(n)), 1);
    let overhead = pad(0).len();
    let exact = pad(32_768 - overhead);
    assert_eq!(exact.len(), 32_768);
    accepted(&exact, PolicyKind::Key);
    let over = pad(32_769 - overhead);
    assert_eq!(over.len(), 32_769);
    rejected(&over, PolicyKind::Key);
}

#[test]
fn k2_key_policy_characters() {
    let with = |c: char| doc(&[KP_DEFAULT]).replace("Enable", &format!("Enable{c}"));
    for ok in [' ', '~', '\u{A0}', 'é', '\u{FF}'] {
        accepted(&with(ok), PolicyKind::Key);
    }
    // TAB, LF and CR as JSON whitespace.
    accepted(
        &doc(&[KP_DEFAULT]).replace(",\"Effect\"", ",\t\r\n\"Effect\""),
        PolicyKind::Key,
    );
    for bad in ['\u{1}', '\u{7}', '\u{100}', '\u{2603}', '\u{1F600}'] {
        let text = with(bad);
        rejected(&text, PolicyKind::Key);
    }
}

#[test]
fn k3_grammar_failures_are_rejected() {
    for bad in [
        "{",
        "null",
        r#"{"Version":"2012-10-17","Statement":[1]}"#,
        r#"{"Version":"2012-10-17","Statement":"x"}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Foo":1}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":7,"Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"Decrypt","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":"x"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[],"Foo":"bar"}"#,
    ] {
        rejected(bad, PolicyKind::Key);
    }
}

#[test]
fn k4_every_key_policy_statement_needs_a_principal() {
    for st in [
        r#"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
        r#"{"Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*"}"#,
        r#"{"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*"}"#,
        r#"{"Effect":"Allow","NotPrincipal":{},"Action":"kms:*","Resource":"*"}"#,
    ] {
        let e = rejected(&doc(&[KP_DEFAULT, st]), PolicyKind::Key);
        assert_eq!(e.statement.as_deref(), Some("#1"), "{st}: {e}");
    }
}

#[test]
fn k7_forallvalues_with_single_valued_kms_keys_is_overly_permissive() {
    for (op, key) in [
        ("ForAllValues:StringEquals", "kms:EncryptionContext:app"),
        ("ForAllValues:StringLike", "KMS:encryptioncontext:App"),
        (
            "ForAllValues:StringEqualsIfExists",
            "kms:EncryptionContext:app",
        ),
        ("ForAllValues:StringEquals", "aws:RequestTag/team"),
    ] {
        let st = kst(
            "Allow",
            &aws(A_ROOT),
            r#""kms:Decrypt""#,
            &format!(r#","Condition":{{"{op}":{{"{key}":"x"}}}}"#),
        );
        let e = rejected(&doc(&[KP_DEFAULT, &st]), PolicyKind::Key);
        assert!(e.is_overly_permissive_condition(), "{op} {key}: {e}");
        // KMS's error text begins with the code (it is what the caller sees).
        assert!(
            e.to_string().starts_with("OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified"),
            "{e}"
        );
        // IAM does not apply this KMS check to identity policies.
        let ist = format!(
            r#"{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{{"{op}":{{"{key}":"x"}}}}}}"#
        );
        accepted(&doc(&[&ist]), PolicyKind::Identity);
    }
    // ForAnyValue, and ForAllValues on the multi-valued key, are accepted.
    for (op, key) in [
        ("ForAnyValue:StringEquals", "kms:EncryptionContext:app"),
        ("ForAllValues:StringEquals", "kms:EncryptionContextKeys"),
        ("ForAllValues:StringEquals", "aws:TagKeys"),
    ] {
        let st = kst(
            "Allow",
            &aws(A_ROOT),
            r#""kms:Decrypt""#,
            &format!(r#","Condition":{{"{op}":{{"{key}":"x"}}}}"#),
        );
        accepted(&doc(&[KP_DEFAULT, &st]), PolicyKind::Key);
    }
}

// ---------------------------------------------------------------------------------------------
// §2.1 Actions

#[test]
fn m1_action_match_is_case_insensitive_glob() {
    assert!(action_applies(r#""KMS:decrypt""#, "kms:Decrypt"));
    assert!(action_applies(r#""kms:Decrypt""#, "KMS:DECRYPT"));
    assert!(action_applies(r#""kms:*""#, "kms:ScheduleKeyDeletion"));
    assert!(action_applies(r#""*""#, "kms:Decrypt"));
    assert!(action_applies(r#""*""#, "iam:CreateUser"));
    assert!(action_applies(
        r#""kms:*Grant*""#,
        "kms:ListRetirableGrants"
    ));
    assert!(action_applies(r#""kms:*Grant*""#, "kms:CreateGrant"));
    assert!(!action_applies(r#""kms:*Grant*""#, "kms:Decrypt"));
    assert!(action_applies(r#""kms:?ecrypt""#, "kms:Decrypt"));
    assert!(action_applies(r#""kms:?ncrypt""#, "kms:Encrypt"));
    assert!(!action_applies(r#""kms:?crypt""#, "kms:Decrypt"));
    assert!(!action_applies(r#""kms:Decrypt""#, "kms:DecryptX"));
    assert!(!action_applies(r#""kms:Decrypt""#, "kmsx:Decrypt"));
    assert!(!action_applies(r#""kms:*""#, "iam:Decrypt"));
    assert!(action_applies(r#""km?:Dec*""#, "kms:Decrypt"));
}

#[test]
fn m1a_reencrypt_is_two_actions() {
    assert!(action_applies(r#""kms:ReEncrypt*""#, "kms:ReEncryptFrom"));
    assert!(action_applies(r#""kms:ReEncrypt*""#, "kms:ReEncryptTo"));
    assert!(!action_applies(r#""kms:ReEncrypt""#, "kms:ReEncryptFrom"));
    assert!(!action_applies(r#""kms:ReEncryptFrom""#, "kms:ReEncryptTo"));
    // Each half is decided on its own key: an allow for one half does not cover the other.
    let alice = user(A, "Alice");
    let kp = key_policy(&[&kst("Allow", &aws(ALICE), r#""kms:ReEncryptFrom""#, "")]);
    let none = PolicySet::default();
    assert_eq!(
        decision(&alice, &kp, &none, "kms:ReEncryptFrom"),
        Decision::Allow
    );
    assert_eq!(
        decision(&alice, &kp, &none, "kms:ReEncryptTo"),
        Decision::ImplicitDeny
    );
}

#[test]
fn m1b_not_action() {
    let c = RequestContext::new();
    let allow_not_iam = doc(&[r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#]);
    assert!(allowed(&allow_not_iam, "kms:Decrypt", RES, &c));
    assert!(!allowed(&allow_not_iam, "iam:CreateUser", RES, &c));
    assert!(!allowed(&allow_not_iam, "IAM:createuser", RES, &c));
    // Deny + NotAction denies everything else; still subject to Resource.
    let text = doc(&[
        &kms_all(),
        r#"{"Effect":"Deny","NotAction":["kms:Encrypt","kms:Decrypt"],"Resource":"arn:aws:kms:*:*:key/k1"}"#,
    ]);
    assert_eq!(sim(&text, "kms:Decrypt", RES, &c), EvalDecision::Allowed);
    assert_eq!(sim(&text, "kms:Sign", RES, &c), EvalDecision::ExplicitDeny);
    let other = "arn:aws:kms:us-west-2:111122223333:key/k2";
    assert_eq!(sim(&text, "kms:Sign", other, &c), EvalDecision::Allowed);
}

// ---------------------------------------------------------------------------------------------
// §2.2 Resources

#[test]
fn m2_resource_arn_parts_are_case_sensitive_globs() {
    let c = RequestContext::new();
    assert!(resource_applies(r#""*""#, RES, &c));
    assert!(resource_applies(&format!("\"{RES}\""), RES, &c));
    assert!(!resource_applies(
        r#""arn:aws:kms:us-west-2:111122223333:KEY/k1""#,
        RES,
        &c
    ));
    assert!(!resource_applies(
        r#""arn:aws:kms:US-WEST-2:111122223333:key/k1""#,
        RES,
        &c
    ));
    // `*` inside a part, including `/` in the resource part; `?` is one character.
    assert!(resource_applies(
        r#""arn:aws:kms:*:111122223333:key/*""#,
        RES,
        &c
    ));
    assert!(resource_applies(
        r#""arn:aws:kms:us-west-?:111122223333:*""#,
        RES,
        &c
    ));
    assert!(!resource_applies(
        r#""arn:aws:kms:us-west-??:111122223333:*""#,
        RES,
        &c
    ));
    assert!(resource_applies(r#""arn:aws:kms:*:*:*""#, RES, &c));
    assert!(resource_applies(
        r#""arn:aws:kms:us-west-2:1111*:key/k?""#,
        RES,
        &c
    ));
    assert!(!resource_applies(
        r#""arn:aws:kms:*:444455556666:*""#,
        RES,
        &c
    ));
    // The resource part keeps its colons and `*` may cover them there.
    let lg = "arn:aws:logs:us-east-1:111122223333:log-group:/app/x:log-stream:s";
    assert!(resource_applies(
        r#""arn:aws:logs:*:*:log-group:/app/*""#,
        lg,
        &c
    ));
    // In the first five parts a `*` cannot swallow a `:` (ArnLike vs StringLike example).
    let doc_res =
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
    assert!(!resource_applies(
        r#""arn:aws:someservice:*:111122223333:finance/*""#,
        doc_res,
        &c
    ));
    // OR over the list.
    assert!(resource_applies(
        &format!(r#"["arn:aws:kms:*:*:alias/*","{RES}"]"#),
        RES,
        &c
    ));
}

#[test]
fn m2_resource_star_ending_a_segment_may_cross_colons() {
    // AWS (IAM User Guide, Resource element): "If the * wildcard is the last character of a
    // resource ARN segment, it can expand to match beyond the colon boundaries."
    let c = RequestContext::new();
    let alias = "arn:aws:kms:us-west-2:111122223333:alias/app";
    assert!(resource_applies(r#""arn:aws:kms:*:key/*""#, RES, &c));
    assert!(!resource_applies(r#""arn:aws:kms:*:key/*""#, alias, &c));
    assert!(resource_applies(r#""arn:aws:kms:us-*:key/k1""#, RES, &c));
    assert!(!resource_applies(r#""arn:aws:kms:eu-*:key/k1""#, RES, &c));
    assert!(resource_applies(r#""arn:aws:kms:*:alias/*""#, alias, &c));
    // A `*` inside a segment (not its last character) and `?` still stop at colons.
    assert!(!resource_applies(r#""arn:aws:kms:u*2:key/*""#, RES, &c));
    assert!(!resource_applies(
        r#""arn:aws:kms:us-west-?:key/*""#,
        RES,
        &c
    ));
    // With variables too.
    let text = doc(&[
        r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:key/${aws:username}"}"#,
    ]);
    assert!(allowed(
        &text,
        "kms:Decrypt",
        RES,
        &ctx(&[("aws:username", "k1")])
    ));
    assert!(!allowed(
        &text,
        "kms:Decrypt",
        RES,
        &ctx(&[("aws:username", "k2")])
    ));
    // ArnLike compares part by part: the same pattern never matches there.
    let p = ctx(&[("aws:SourceArn", RES)]);
    assert!(!holds(
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:kms:*:key/*"}}"#,
        &p
    ));
    assert!(holds(
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:kms:*:key/*"}}"#,
        &p
    ));
    // Shapes that can never name an ARN are still rejected.
    for bad in ["arn:aws:kms:us-west-2:key/k1", "key/*", "arn"] {
        let st = format!(r#"{{"Effect":"Allow","Action":"kms:*","Resource":"{bad}"}}"#);
        rejected(&doc(&[&st]), PolicyKind::Identity);
    }
}

#[test]
fn m2a_kms_request_resource_is_the_key_arn() {
    let alice = user(A, "Alice");
    let kp = kp_default();
    let alias_only = iam(&[&allow(
        r#""kms:Decrypt""#,
        "arn:aws:kms:us-west-2:111122223333:alias/app",
    )]);
    assert_eq!(
        decision(&alice, &kp, &alias_only, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let key = iam(&[&allow(r#""kms:Decrypt""#, K)]);
    assert_eq!(decision(&alice, &kp, &key, "kms:Decrypt"), Decision::Allow);
}

#[test]
fn m2b_not_resource() {
    let c = RequestContext::new();
    let text = doc(&[
        r#"{"Effect":"Allow","Action":"kms:Decrypt","NotResource":["arn:aws:kms:*:*:key/k2","arn:aws:kms:*:*:key/k3"]}"#,
    ]);
    assert!(allowed(&text, "kms:Decrypt", RES, &c));
    assert!(!allowed(
        &text,
        "kms:Decrypt",
        "arn:aws:kms:us-west-2:111122223333:key/k3",
        &c
    ));
}

#[test]
fn m2c_policy_variables_in_the_resource_part() {
    let text = doc(&[
        r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/${aws:username}-*"}"#,
    ]);
    let c = ctx(&[("aws:username", "k1")]);
    assert!(allowed(
        &text,
        "kms:Decrypt",
        "arn:aws:kms:us-west-2:1:key/k1-x",
        &c
    ));
    assert!(!allowed(
        &text,
        "kms:Decrypt",
        "arn:aws:kms:us-west-2:1:key/k2-x",
        &c
    ));
    // Unresolved: matches nothing (V5).
    assert!(!allowed(
        &text,
        "kms:Decrypt",
        "arn:aws:kms:us-west-2:1:key/k1-x",
        &RequestContext::new()
    ));
}

// ---------------------------------------------------------------------------------------------
// §2.3 Principals

#[test]
fn p1_star_matches_every_caller() {
    let kp = key_policy(&[&kst("Allow", "\"*\"", r#""kms:Decrypt""#, "")]);
    let none = PolicySet::default();
    for c in [user(A, "Alice"), root(A), session(A, "ExampleRole", "s1")] {
        assert_eq!(
            decision(&c, &kp, &none, "kms:Decrypt"),
            Decision::Allow,
            "{c:?}"
        );
    }
}

#[test]
fn p2_account_entry_matches_every_principal_of_the_account_by_delegation() {
    let kp = key_policy(&[&kst("Allow", &aws(A), r#""kms:*""#, "")]);
    let allow_all = iam(&[&kms_all()]);
    let none = PolicySet::default();
    for c in [user(A, "Alice"), session(A, "ExampleRole", "s1")] {
        assert_eq!(
            decision(&c, &kp, &allow_all, "kms:Decrypt"),
            Decision::Allow
        );
        // Delegation only: no IAM allow, no access.
        let o = decide(&c, &kp, &none, "kms:Decrypt");
        assert_eq!(o.decision, Decision::ImplicitDeny);
        assert_eq!(o.denied_by, Some(DenyReason::IdentityBased));
    }
    // The account entry covers the root user, who needs no IAM policy.
    assert_eq!(
        decision(&root(A), &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
    // Another account's principals are not covered.
    assert_eq!(
        decision(&user(B, "Carol"), &kp, &allow_all, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // The account entry in a Deny hits every principal of the account.
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Deny", &aws(A_ROOT), r#""kms:Decrypt""#, ""),
    ]);
    for c in [user(A, "Alice"), root(A), session(A, "ExampleRole", "s1")] {
        assert_eq!(
            decision(&c, &kp, &allow_all, "kms:Decrypt"),
            Decision::ExplicitDeny
        );
    }
}

#[test]
fn p3_user_arn_matches_only_that_user_case_sensitively() {
    let none = PolicySet::default();
    let kp = key_policy(&[&kst("Allow", &aws(ALICE), r#""kms:Decrypt""#, "")]);
    assert_eq!(
        decision(&user(A, "Alice"), &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
    for c in [
        user(A, "alice"),
        user(A, "Bob"),
        user(B, "Alice"),
        root(A),
        session(A, "Alice", "Alice"),
    ] {
        assert_eq!(
            decision(&c, &kp, &none, "kms:Decrypt"),
            Decision::ImplicitDeny,
            "{c:?}"
        );
    }
    // With a path: the ARN must include it.
    let pathed = Caller::User {
        account: A.into(),
        arn: "arn:aws:iam::111122223333:user/dev/Alice".into(),
        name: "Alice".into(),
        unique_id: "AIDAPATHEDALICE00001".into(),
    };
    assert_eq!(
        decision(&pathed, &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let kp = key_policy(&[&kst(
        "Allow",
        &aws("arn:aws:iam::111122223333:user/dev/Alice"),
        r#""kms:Decrypt""#,
        "",
    )]);
    assert_eq!(
        decision(&pathed, &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
}

#[test]
fn p4_role_arn_matches_every_session_of_the_role() {
    let none = PolicySet::default();
    let kp = key_policy(&[&kst("Allow", &aws(ROLE), r#""kms:Decrypt""#, "")]);
    for s in ["s1", "s2", "anything"] {
        assert_eq!(
            decision(&session(A, "ExampleRole", s), &kp, &none, "kms:Decrypt"),
            Decision::Allow
        );
    }
    assert_eq!(
        decision(&session(A, "OtherRole", "s1"), &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decision(&user(A, "ExampleRole"), &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // A role with a path is named with its path.
    let pathed = Caller::AssumedRole {
        account: A.into(),
        role_arn: "arn:aws:iam::111122223333:role/svc/ExampleRole".into(),
        role_name: "ExampleRole".into(),
        role_unique_id: "AROAPATHEDROLE000001".into(),
        session_name: "s1".into(),
    };
    assert_eq!(
        decision(&pathed, &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    let kp = key_policy(&[&kst(
        "Allow",
        &aws("arn:aws:iam::111122223333:role/svc/ExampleRole"),
        r#""kms:Decrypt""#,
        "",
    )]);
    assert_eq!(
        decision(&pathed, &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
    // The session ARN has no path: it names the pathed role's session.
    let kp = key_policy(&[&kst("Allow", &aws(S1), r#""kms:Decrypt""#, "")]);
    assert_eq!(
        decision(&pathed, &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
}

#[test]
fn p5_session_arn_matches_only_that_session() {
    let none = PolicySet::default();
    let kp = key_policy(&[&kst("Allow", &aws(S1), r#""kms:Decrypt""#, "")]);
    assert_eq!(
        decision(&session(A, "ExampleRole", "s1"), &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
    for c in [
        session(A, "ExampleRole", "s2"),
        session(A, "ExampleRole", "S1"),
        session(A, "OtherRole", "s1"),
        session(B, "ExampleRole", "s1"),
    ] {
        assert_eq!(
            decision(&c, &kp, &none, "kms:Decrypt"),
            Decision::ImplicitDeny,
            "{c:?}"
        );
    }
}

#[test]
fn p6_p7_federated_user_and_service_entries_never_name_iam_callers() {
    let none = PolicySet::default();
    let p =
        r#"{"AWS":"arn:aws:sts::111122223333:federated-user/Alice","Service":"kms.amazonaws.com"}"#;
    let kp = key_policy(&[&kst("Allow", p, r#""kms:Decrypt""#, "")]);
    for c in [user(A, "Alice"), session(A, "Alice", "Alice"), root(A)] {
        assert_eq!(
            decision(&c, &kp, &none, "kms:Decrypt"),
            Decision::ImplicitDeny,
            "{c:?}"
        );
    }
}

#[test]
fn p8_unique_id_entries_match_by_id_not_by_name() {
    let none = PolicySet::default();
    let alice = user(A, "Alice");
    let Caller::User { unique_id, .. } = &alice else {
        panic!("user")
    };
    let kp = key_policy(&[&kst("Allow", &aws(unique_id), r#""kms:Decrypt""#, "")]);
    assert_eq!(decision(&alice, &kp, &none, "kms:Decrypt"), Decision::Allow);
    // Same name, new id (deleted and recreated): no match.
    let recreated = Caller::User {
        account: A.into(),
        arn: ALICE.into(),
        name: "Alice".into(),
        unique_id: "AIDANEWALICE00000001".into(),
    };
    assert_eq!(
        decision(&recreated, &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // A role's id matches its sessions.
    let s = session(A, "ExampleRole", "s1");
    let Caller::AssumedRole { role_unique_id, .. } = &s else {
        panic!("session")
    };
    let kp = key_policy(&[&kst("Allow", &aws(role_unique_id), r#""kms:Decrypt""#, "")]);
    assert_eq!(decision(&s, &kp, &none, "kms:Decrypt"), Decision::Allow);
    // Conditions on aws:PrincipalArn are not bound to ids: they survive delete/recreate.
    let kp = key_policy(&[&kst(
        "Allow",
        "\"*\"",
        r#""kms:Decrypt""#,
        &format!(r#","Condition":{{"ArnEquals":{{"aws:PrincipalArn":"{ALICE}"}}}}"#),
    )]);
    assert_eq!(
        decision(&recreated, &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
}

#[test]
fn p9_session_arns_are_accepted_and_listed_for_validation() {
    let p = accepted(
        &doc(&[&kst("Allow", &aws(S1), r#""kms:*""#, "")]),
        PolicyKind::Key,
    );
    assert_eq!(p.aws_principals(), vec![S1.to_string()]);
}

// ---------------------------------------------------------------------------------------------
// §2.4 NotPrincipal

#[test]
fn np1_not_principal_allowed_only_in_key_policies() {
    let st = r#"{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}"#;
    accepted(&doc(&[KP_DEFAULT, st]), PolicyKind::Key);
    rejected(&doc(&[st]), PolicyKind::Identity);
    let trust =
        r#"{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}"#;
    rejected(&doc(&[trust]), PolicyKind::Trust);
}

#[test]
fn np2_not_principal_deny_applies_unless_every_chain_element_is_named() {
    let all = iam(&[&kms_all()]);
    let deny = |names: &[&str]| {
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",");
        key_policy(&[
            KP_DEFAULT,
            &format!(
                r#"{{"Effect":"Deny","NotPrincipal":{{"AWS":[{list}]}},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}}"#
            ),
        ])
    };
    let admin = user(A, "Admin");
    let admin_arn = "arn:aws:iam::111122223333:user/Admin";
    let act = "kms:ScheduleKeyDeletion";
    // 10a / 10b
    let kp = deny(&[admin_arn, A_ROOT]);
    assert_eq!(
        decision(&user(A, "Alice"), &kp, &all, act),
        Decision::ExplicitDeny
    );
    assert_eq!(decision(&admin, &kp, &all, act), Decision::Allow);
    assert_eq!(decision(&root(A), &kp, &all, act), Decision::Allow);
    // 10c: the account element is not named.
    let kp = deny(&[admin_arn]);
    assert_eq!(decision(&admin, &kp, &all, act), Decision::ExplicitDeny);
    // A session is exempt only with account + role + session named.
    let s = session(A, "ExampleRole", "s1");
    assert_eq!(
        decision(&s, &deny(&[A_ROOT, ROLE]), &all, act),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decision(&s, &deny(&[A_ROOT, S1]), &all, act),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decision(&s, &deny(&[ROLE, S1]), &all, act),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decision(&s, &deny(&[A, ROLE, S1]), &all, act),
        Decision::Allow
    );
    // Other callers of another account are hit.
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(B_ROOT), r#""kms:Decrypt""#, ""),
        &format!(
            r#"{{"Effect":"Deny","NotPrincipal":{{"AWS":"{A_ROOT}"}},"Action":"kms:Decrypt","Resource":"*"}}"#
        ),
    ]);
    assert_eq!(
        decision(&user(B, "Carol"), &kp, &all, "kms:Decrypt"),
        Decision::ExplicitDeny
    );
}

// ---------------------------------------------------------------------------------------------
// §2.5 Grants

fn with_grants(
    caller: &Caller,
    kp: &SourcedPolicy,
    set: &PolicySet,
    grants: &[Grant],
    action: &str,
    ec: Option<&BTreeMap<String, String>>,
) -> Decision {
    Call {
        caller,
        key: K,
        kp,
        set,
        grants,
        action,
        ec,
    }
    .outcome()
    .decision
}

#[test]
fn gp1_grantee_principal_matching() {
    let kp = key_policy(&[&kst(
        "Allow",
        &aws("arn:aws:iam::111122223333:user/KeyAdmin"),
        r#""kms:*""#,
        "",
    )]);
    let none = PolicySet::default();
    let d = |c: &Caller, grantee: &str| {
        with_grants(
            c,
            &kp,
            &none,
            &[grant("g", grantee, &["Decrypt"], None)],
            "kms:Decrypt",
            None,
        )
    };
    let alice = user(A, "Alice");
    let s1 = session(A, "ExampleRole", "s1");
    assert_eq!(d(&alice, ALICE), Decision::Allow);
    assert_eq!(
        d(&alice, "arn:aws:iam::111122223333:user/Bob"),
        Decision::ImplicitDeny
    );
    assert_eq!(d(&s1, ROLE), Decision::Allow);
    assert_eq!(d(&s1, S1), Decision::Allow);
    assert_eq!(
        d(&session(A, "ExampleRole", "s2"), S1),
        Decision::ImplicitDeny
    );
    assert_eq!(d(&alice, "kms.amazonaws.com"), Decision::ImplicitDeny);
    // Account-root grantee: the account must delegate through IAM (E8 CHOICE).
    assert_eq!(d(&alice, A_ROOT), Decision::ImplicitDeny);
    let allow_decrypt = iam(&[&allow(r#""kms:Decrypt""#, "*")]);
    assert_eq!(
        with_grants(
            &alice,
            &kp,
            &allow_decrypt,
            &[grant("g", A_ROOT, &["Decrypt"], None)],
            "kms:Decrypt",
            None
        ),
        Decision::Allow
    );
}

#[test]
fn gp2_grants_allow_only_listed_operations_and_never_deny() {
    let kp = key_policy(&[KP_DEFAULT]);
    let none = PolicySet::default();
    let alice = user(A, "Alice");
    let g = [grant("g", ALICE, &["Encrypt", "ReEncrypt*"], None)];
    for (act, want) in [
        ("kms:Encrypt", Decision::Allow),
        ("kms:ReEncryptFrom", Decision::Allow),
        ("kms:ReEncryptTo", Decision::Allow),
        ("kms:Decrypt", Decision::ImplicitDeny),
        ("kms:GenerateDataKey", Decision::ImplicitDeny),
    ] {
        assert_eq!(
            with_grants(&alice, &kp, &none, &g, act, None),
            want,
            "{act}"
        );
    }
    // An explicit deny beats a grant (key policy or IAM).
    let kp_deny = key_policy(&[
        KP_DEFAULT,
        &kst("Deny", &aws(ALICE), r#""kms:Encrypt""#, ""),
    ]);
    assert_eq!(
        with_grants(&alice, &kp_deny, &none, &g, "kms:Encrypt", None),
        Decision::ExplicitDeny
    );
    let iam_deny = iam(&[r#"{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}"#]);
    assert_eq!(
        with_grants(&alice, &kp, &iam_deny, &g, "kms:Encrypt", None),
        Decision::ExplicitDeny
    );
}

#[test]
fn gp3_encryption_context_constraints() {
    let kp = key_policy(&[&kst(
        "Allow",
        &aws("arn:aws:iam::111122223333:user/KeyAdmin"),
        r#""kms:*""#,
        "",
    )]);
    let none = PolicySet::default();
    let alice = user(A, "Alice");
    let it = ec(&[("Department", "IT")]);
    let subset = [grant(
        "g",
        ALICE,
        &["Decrypt", "DescribeKey", "RetireGrant"],
        Some(GrantConstraints {
            encryption_context_subset: Some(it.clone()),
            ..GrantConstraints::default()
        }),
    )];
    let equals = [grant(
        "g",
        ALICE,
        &["Decrypt"],
        Some(GrantConstraints {
            encryption_context_equals: Some(it.clone()),
            ..GrantConstraints::default()
        }),
    )];
    let d = |g: &[Grant], act: &str, e: Option<&BTreeMap<String, String>>| {
        with_grants(&alice, &kp, &none, g, act, e)
    };
    let more = ec(&[("Department", "IT"), ("Purpose", "Test")]);
    let lower_value = ec(&[("Department", "it")]);
    let other = ec(&[("Purpose", "Test")]);
    assert_eq!(d(&subset, "kms:Decrypt", Some(&it)), Decision::Allow);
    assert_eq!(d(&subset, "kms:Decrypt", Some(&more)), Decision::Allow);
    assert_eq!(
        d(&subset, "kms:Decrypt", Some(&other)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d(&subset, "kms:Decrypt", Some(&lower_value)),
        Decision::ImplicitDeny
    );
    assert_eq!(d(&subset, "kms:Decrypt", None), Decision::ImplicitDeny);
    assert_eq!(d(&equals, "kms:Decrypt", Some(&it)), Decision::Allow);
    assert_eq!(
        d(&equals, "kms:Decrypt", Some(&more)),
        Decision::ImplicitDeny
    );
    assert_eq!(d(&equals, "kms:Decrypt", None), Decision::ImplicitDeny);
    // Ignored for operations without an encryption context.
    assert_eq!(d(&subset, "kms:DescribeKey", None), Decision::Allow);
    assert_eq!(d(&subset, "kms:RetireGrant", None), Decision::Allow);
    // "In a grant constraint, the key in each key-value pair is not case sensitive, but the
    // value is case sensitive" (KMS API reference, GrantConstraints).
    let lower_key = ec(&[("department", "IT")]);
    let lower_key_more = ec(&[("DEPARTMENT", "IT"), ("Purpose", "Test")]);
    let lower_both = ec(&[("department", "it")]);
    assert_eq!(d(&subset, "kms:Decrypt", Some(&lower_key)), Decision::Allow);
    assert_eq!(
        d(&subset, "kms:Decrypt", Some(&lower_key_more)),
        Decision::Allow
    );
    assert_eq!(d(&equals, "kms:Decrypt", Some(&lower_key)), Decision::Allow);
    assert_eq!(
        d(&equals, "kms:Decrypt", Some(&lower_key_more)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d(&subset, "kms:Decrypt", Some(&lower_both)),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d(&equals, "kms:Decrypt", Some(&lower_both)),
        Decision::ImplicitDeny
    );
    let unicode = [grant(
        "g",
        ALICE,
        &["Decrypt"],
        Some(GrantConstraints {
            encryption_context_subset: Some(ec(&[("Ärger", "x")])),
            ..GrantConstraints::default()
        }),
    )];
    assert_eq!(
        d(&unicode, "kms:Decrypt", Some(&ec(&[("äRGER", "x")]))),
        Decision::Allow
    );
}

// ---------------------------------------------------------------------------------------------
// §3.1 Condition structure

#[test]
fn c1_and_across_operators_and_keys_or_across_values() {
    let c = ctx(&[("aws:PrincipalAccount", A), ("aws:PrincipalType", "User")]);
    assert!(holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":["x",  "111122223333"],"aws:PrincipalType":"User"},"StringLike":{"aws:PrincipalType":"U*"}}"#,
        &c
    ));
    // One key false under one operator.
    assert!(!holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333","aws:PrincipalType":"Role"}}"#,
        &c
    ));
    // One operator false.
    assert!(!holds(
        r#"{"StringEquals":{"aws:PrincipalAccount":"111122223333"},"StringLike":{"aws:PrincipalType":"R*"}}"#,
        &c
    ));
}

#[test]
fn c2_negated_operator_with_several_values_matches_none() {
    let c = ctx(&[("aws:PrincipalAccount", B)]);
    let cond = r#"{"StringNotEquals":{"aws:PrincipalAccount":["111122223333","444455556666"]}}"#;
    assert!(!holds(cond, &c));
    assert!(holds(cond, &ctx(&[("aws:PrincipalAccount", C)])));
    assert!(!holds(
        r#"{"StringNotLike":{"aws:PrincipalAccount":["1*","4*"]}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#,
        &ctx(&[("aws:SourceIp", "192.168.1.1")])
    ));
    assert!(holds(
        r#"{"NumericNotEquals":{"aws:MultiFactorAuthAge":[1,2]}}"#,
        &ctx(&[("aws:MultiFactorAuthAge", "3")])
    ));
}

#[test]
fn c3_c4_missing_keys_and_if_exists() {
    let empty = RequestContext::new();
    let k = "aws:SourceVpce";
    for (op, want) in [
        ("StringEquals", false),
        ("StringNotEquals", true),
        ("StringEqualsIgnoreCase", false),
        ("StringNotEqualsIgnoreCase", true),
        ("StringLike", false),
        ("StringNotLike", true),
        ("ArnEquals", false),
        ("ArnLike", false),
        ("ArnNotEquals", true),
        ("ArnNotLike", true),
        ("StringEqualsIfExists", true),
        ("StringNotEqualsIfExists", true),
        ("ArnLikeIfExists", true),
    ] {
        assert_eq!(
            holds(&format!(r#"{{"{op}":{{"{k}":"vpce-1"}}}}"#), &empty),
            want,
            "{op}"
        );
    }
    for (op, want) in [
        ("NumericEquals", false),
        ("NumericNotEquals", true),
        ("NumericLessThan", false),
        ("NumericLessThanIfExists", true),
        ("DateEquals", false),
        ("DateNotEquals", true),
        ("DateGreaterThan", false),
        ("DateLessThanIfExists", true),
        ("Bool", false),
        ("BoolIfExists", true),
        ("IpAddress", false),
        ("NotIpAddress", true),
        ("IpAddressIfExists", true),
        ("BinaryEquals", false),
        ("BinaryEqualsIfExists", true),
    ] {
        let v = match op {
            o if o.starts_with("Numeric") => "1",
            o if o.starts_with("Date") => "2020-01-01T00:00:00Z",
            o if o.starts_with("Bool") => "true",
            o if o.contains("IpAddress") => "10.0.0.0/8",
            _ => "QmluYXJ5",
        };
        assert_eq!(
            holds(&format!(r#"{{"{op}":{{"aws:Missing":"{v}"}}}}"#), &empty),
            want,
            "{op}"
        );
    }
    // IfExists with the key present evaluates the base operator.
    let c = ctx(&[(k, "vpce-2")]);
    assert!(!holds(
        &format!(r#"{{"StringEqualsIfExists":{{"{k}":"vpce-1"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"StringEqualsIfExists":{{"{k}":"vpce-2"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"StringNotEqualsIfExists":{{"{k}":"vpce-1"}}}}"#),
        &c
    ));
    // Case 27: a negated Deny with the key absent applies.
    let alice = user(A, "Alice");
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst(
            "Deny",
            "\"*\"",
            r#""kms:*""#,
            r#","Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b"}}"#,
        ),
    ]);
    assert_eq!(
        decision(&alice, &kp, &iam(&[&kms_all()]), "kms:Decrypt"),
        Decision::ExplicitDeny
    );
}

#[test]
fn c5_null_tests_presence() {
    let present = ctx(&[("aws:TokenIssueTime", "2026-01-01T00:00:00Z")]);
    let empty = RequestContext::new();
    let t = r#"{"Null":{"aws:TokenIssueTime":"true"}}"#;
    let f = r#"{"Null":{"aws:TokenIssueTime":"false"}}"#;
    assert!(holds(t, &empty));
    assert!(!holds(t, &present));
    assert!(holds(f, &present));
    assert!(!holds(f, &empty));
    // JSON booleans and any case.
    assert!(holds(r#"{"Null":{"aws:TokenIssueTime":true}}"#, &empty));
    assert!(holds(r#"{"Null":{"aws:TokenIssueTime":"TRUE"}}"#, &empty));
    // An empty multi-valued key counts as absent (CHOICE).
    let none = multi("aws:TagKeys", &[]);
    assert!(holds(r#"{"Null":{"aws:TagKeys":"true"}}"#, &none));
    assert!(!holds(r#"{"Null":{"aws:TagKeys":"false"}}"#, &none));
    assert!(holds(
        r#"{"Null":{"aws:TagKeys":"false"}}"#,
        &multi("aws:TagKeys", &["a"])
    ));
    // Null takes only true/false.
    let st = r#"{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Null":{"aws:SourceIp":"maybe"}}}"#;
    rejected(&doc(&[KP_DEFAULT, st]), PolicyKind::Key);
}

#[test]
fn c6_value_typing() {
    // JSON numbers and booleans are read as their text.
    let c = ctx(&[
        ("aws:MultiFactorAuthAge", "300"),
        ("aws:SecureTransport", "true"),
    ]);
    assert!(holds(
        r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":3600}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringEquals":{"aws:MultiFactorAuthAge":300}}"#,
        &c
    ));
    assert!(holds(r#"{"Bool":{"aws:SecureTransport":true}}"#, &c));
    assert!(holds(
        r#"{"StringEquals":{"aws:SecureTransport":true}}"#,
        &c
    ));
    // Unreadable policy values: key policies reject them, other policies never match.
    for cond in [
        r#"{"NumericEquals":{"aws:MultiFactorAuthAge":"abc"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.300"}}"#,
        r#"{"Bool":{"aws:SecureTransport":"yes"}}"#,
        r#"{"BinaryEquals":{"aws:SecureTransport":"***"}}"#,
    ] {
        let st = kst(
            "Allow",
            "\"*\"",
            r#""kms:*""#,
            &format!(r#","Condition":{cond}"#),
        );
        rejected(&doc(&[KP_DEFAULT, &st]), PolicyKind::Key);
        let full = ctx(&[
            ("aws:MultiFactorAuthAge", "1"),
            ("aws:CurrentTime", "2026-01-01T00:00:00Z"),
            ("aws:SourceIp", "10.0.0.1"),
            ("aws:SecureTransport", "yes"),
        ]);
        assert!(!holds(cond, &full), "{cond}");
    }
}

// ---------------------------------------------------------------------------------------------
// §3.2 Operator table

#[test]
fn operators_table_string_family() {
    let c = ctx(&[("aws:UserAgent", "Boto3/1.2 Python")]);
    let k = "aws:UserAgent";
    let t = |op: &str, v: &str| holds(&format!(r#"{{"{op}":{{"{k}":"{v}"}}}}"#), &c);
    assert!(t("StringEquals", "Boto3/1.2 Python"));
    assert!(!t("StringEquals", "boto3/1.2 python"));
    assert!(
        !t("StringEquals", "Boto3/*"),
        "no wildcards in StringEquals"
    );
    assert!(t("StringNotEquals", "boto3/1.2 python"));
    assert!(t("StringEqualsIgnoreCase", "BOTO3/1.2 PYTHON"));
    assert!(!t("StringNotEqualsIgnoreCase", "BOTO3/1.2 PYTHON"));
    assert!(t("StringLike", "Boto3/*"));
    assert!(t("StringLike", "*Python"));
    assert!(t("StringLike", "Boto?/1.? *"));
    assert!(!t("StringLike", "boto3/*"), "StringLike is case-sensitive");
    assert!(
        !t("StringLike", "Boto3"),
        "StringLike matches the whole string"
    );
    assert!(t("StringNotLike", "boto3/*"));
    assert!(!t("StringNotLike", "*"));
}

#[test]
fn operators_table_numeric_date_bool_binary_ip_arn() {
    let c = ctx(&[
        ("aws:MultiFactorAuthAge", "300"),
        ("aws:CurrentTime", "2026-01-01T00:00:00Z"),
        ("aws:EpochTime", "1767225600"),
        ("aws:SecureTransport", "true"),
        ("aws:SourceIp", "203.0.113.7"),
        ("aws:VpcSourceIp", "2001:db8::5"),
        ("aws:PrincipalArn", ROLE),
        ("kms:RecipientAttestation:ImageSha384", "aGVsbG8="),
    ]);
    let t = |op: &str, k: &str, v: &str| holds(&format!(r#"{{"{op}":{{"{k}":{v}}}}}"#), &c);
    let age = "aws:MultiFactorAuthAge";
    assert!(t("NumericEquals", age, "300"));
    assert!(t("NumericEquals", age, "\"300.0\""));
    assert!(t("NumericNotEquals", age, "301"));
    assert!(t("NumericLessThan", age, "301"));
    assert!(!t("NumericLessThan", age, "300"));
    assert!(t("NumericLessThanEquals", age, "300"));
    assert!(t("NumericGreaterThan", age, "299"));
    assert!(!t("NumericGreaterThan", age, "300"));
    assert!(t("NumericGreaterThanEquals", age, "300"));
    let now = "aws:CurrentTime";
    assert!(t("DateEquals", now, "\"2026-01-01T00:00:00Z\""));
    assert!(t("DateEquals", now, "\"2026-01-01\""));
    assert!(t("DateEquals", now, "1767225600"), "epoch seconds");
    assert!(t("DateNotEquals", now, "\"2026-01-01T00:00:01Z\""));
    assert!(t("DateLessThan", now, "\"2026-01-01T00:00:01Z\""));
    assert!(!t("DateLessThan", now, "1767225600"));
    assert!(t("DateLessThanEquals", now, "1767225600"));
    assert!(t("DateGreaterThan", now, "\"2025-12-31T23:59:59Z\""));
    assert!(t(
        "DateGreaterThanEquals",
        now,
        "\"2026-01-01T01:00:00+01:00\""
    ));
    assert!(t(
        "DateGreaterThan",
        "aws:EpochTime",
        "\"2025-01-01T00:00:00Z\""
    ));
    assert!(t("Bool", "aws:SecureTransport", "\"TRUE\""));
    assert!(t("Bool", "aws:SecureTransport", "true"));
    assert!(!t("Bool", "aws:SecureTransport", "false"));
    let bin = "kms:RecipientAttestation:ImageSha384";
    assert!(t("BinaryEquals", bin, "\"aGVsbG8=\""));
    assert!(!t("BinaryEquals", bin, "\"aGVsbG9=\""));
    assert!(t("IpAddress", "aws:SourceIp", "\"203.0.113.0/24\""));
    assert!(
        t("IpAddress", "aws:SourceIp", "\"203.0.113.7\""),
        "bare address = /32"
    );
    assert!(!t("IpAddress", "aws:SourceIp", "\"203.0.113.8\""));
    assert!(t("NotIpAddress", "aws:SourceIp", "\"10.0.0.0/8\""));
    assert!(t("IpAddress", "aws:VpcSourceIp", "\"2001:db8::/32\""));
    assert!(!t("IpAddress", "aws:VpcSourceIp", "\"2001:db9::/32\""));
    let pa = "aws:PrincipalArn";
    assert!(t("ArnEquals", pa, &format!("\"{ROLE}\"")));
    assert!(
        t("ArnEquals", pa, "\"arn:aws:iam::*:role/*\""),
        "ArnEquals ≡ ArnLike"
    );
    assert!(t(
        "ArnLike",
        pa,
        "\"arn:aws:iam::111122223333:role/Example*\""
    ));
    assert!(!t(
        "ArnLike",
        pa,
        "\"arn:aws:iam::111122223333:role/example*\""
    ));
    assert!(!t("ArnLike", pa, "\"arn:aws:iam::111122223333:user/*\""));
    assert!(t(
        "ArnNotEquals",
        pa,
        "\"arn:aws:iam::111122223333:user/*\""
    ));
    assert!(!t("ArnNotLike", pa, "\"arn:aws:iam::*:role/*\""));
    // The documented ArnLike vs StringLike example.
    let d = ctx(&[(
        "aws:SourceArn",
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
    )]);
    let pat = "arn:aws:someservice:*:111122223333:finance/*";
    assert!(holds(
        &format!(r#"{{"StringLike":{{"aws:SourceArn":"{pat}"}}}}"#),
        &d
    ));
    assert!(!holds(
        &format!(r#"{{"ArnLike":{{"aws:SourceArn":"{pat}"}}}}"#),
        &d
    ));
}

// ---------------------------------------------------------------------------------------------
// §3.3 Set operators

#[test]
fn set_operators_on_undefined_empty_and_valued_keys() {
    let k = "aws:TagKeys";
    let undefined = RequestContext::new();
    let empty = multi(k, &[]);
    let ab = multi(k, &["a", "b"]);
    let ax = multi(k, &["a", "x"]);
    let t = |op: &str, c: &RequestContext| holds(&format!(r#"{{"{op}":{{"{k}":["a","b"]}}}}"#), c);
    assert!(t("ForAllValues:StringEquals", &undefined));
    assert!(t("ForAllValues:StringEquals", &empty));
    assert!(t("ForAllValues:StringEquals", &ab));
    assert!(!t("ForAllValues:StringEquals", &ax));
    assert!(!t("ForAnyValue:StringEquals", &undefined));
    assert!(!t("ForAnyValue:StringEquals", &empty));
    assert!(t("ForAnyValue:StringEquals", &ax));
    assert!(!t("ForAnyValue:StringEquals", &multi(k, &["x", "y"])));
    assert!(t("ForAnyValue:StringEqualsIfExists", &undefined));
    assert!(t("ForAllValues:StringEqualsIfExists", &undefined));
    // Negated set operators.
    assert!(t("ForAllValues:StringNotEquals", &multi(k, &["x", "y"])));
    assert!(!t("ForAllValues:StringNotEquals", &ax));
    assert!(t("ForAllValues:StringNotEquals", &undefined));
    assert!(t("ForAnyValue:StringNotEquals", &ax));
    assert!(!t("ForAnyValue:StringNotEquals", &ab));
    assert!(!t("ForAnyValue:StringNotEquals", &undefined));
    // Wildcards through StringLike.
    assert!(holds(
        &format!(r#"{{"ForAllValues:StringLike":{{"{k}":["a*","b?"]}}}}"#),
        &multi(k, &["abc", "bz"])
    ));
    // A set operator on a single-valued key treats it as a one-element set.
    let single = ctx(&[("aws:PrincipalAccount", A)]);
    assert!(holds(
        r#"{"ForAnyValue:StringEquals":{"aws:PrincipalAccount":"111122223333"}}"#,
        &single
    ));
    assert!(!holds(
        r#"{"ForAllValues:StringEquals":{"aws:PrincipalAccount":"444455556666"}}"#,
        &single
    ));
    // Plain operator on a multi-valued key (CHOICE): one value acts single-valued,
    // two or more never match (positive or negated).
    assert!(holds(
        &format!(r#"{{"StringEquals":{{"{k}":"a"}}}}"#),
        &multi(k, &["a"])
    ));
    assert!(!holds(
        &format!(r#"{{"StringEquals":{{"{k}":["a","b"]}}}}"#),
        &ab
    ));
    assert!(!holds(
        &format!(r#"{{"StringNotEquals":{{"{k}":"z"}}}}"#),
        &ab
    ));
}

#[test]
fn set_operators_and_null_on_a_null_dataset() {
    // AWS: ForAllValues "also returns true if ... the context key value resolves to a null
    // dataset, such as an empty string"; ForAnyValue returns false for "a null dataset"; Null
    // "false" checks that "the context key exists and its value is not null".
    let k = "aws:TagKeys";
    for c in [ctx(&[(k, "")]), multi(k, &[""])] {
        assert!(holds(
            &format!(r#"{{"ForAllValues:StringEquals":{{"{k}":"a"}}}}"#),
            &c
        ));
        assert!(!holds(
            &format!(r#"{{"ForAnyValue:StringEquals":{{"{k}":""}}}}"#),
            &c
        ));
        assert!(!holds(
            &format!(r#"{{"ForAnyValue:StringNotEquals":{{"{k}":"a"}}}}"#),
            &c
        ));
        assert!(holds(&format!(r#"{{"Null":{{"{k}":"true"}}}}"#), &c));
        assert!(!holds(&format!(r#"{{"Null":{{"{k}":"false"}}}}"#), &c));
    }
    // A non-empty value is data.
    let c = multi(k, &["", "a"]);
    assert!(!holds(
        &format!(r#"{{"ForAllValues:StringEquals":{{"{k}":"a"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"ForAnyValue:StringEquals":{{"{k}":"a"}}}}"#),
        &c
    ));
    assert!(holds(&format!(r#"{{"Null":{{"{k}":"false"}}}}"#), &c));
}

#[test]
fn cases_16_17_set_operators_on_missing_encryption_context() {
    let alice = user(A, "Alice");
    let none = PolicySet::default();
    let cond = |op: &str| {
        key_policy(&[&kst(
            "Allow",
            &aws(ALICE),
            r#""kms:Decrypt""#,
            &format!(r#","Condition":{{"{op}":{{"kms:EncryptionContextKeys":["Department"]}}}}"#),
        )])
    };
    assert_eq!(
        decision(
            &alice,
            &cond("ForAnyValue:StringEquals"),
            &none,
            "kms:Decrypt"
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decision(
            &alice,
            &cond("ForAllValues:StringEquals"),
            &none,
            "kms:Decrypt"
        ),
        Decision::Allow
    );
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst(
            "Deny",
            "\"*\"",
            r#""kms:Decrypt""#,
            r#","Condition":{"ForAllValues:StringNotEquals":{"kms:EncryptionContextKeys":["AppName"]}}"#,
        ),
    ]);
    let set = iam(&[&allow(r#""kms:Decrypt""#, "*")]);
    assert_eq!(
        decision(&alice, &kp, &set, "kms:Decrypt"),
        Decision::ExplicitDeny
    );
    let app = ec(&[("AppName", "x")]);
    let d = Call {
        caller: &alice,
        key: K,
        kp: &kp,
        set: &set,
        grants: &[],
        action: "kms:Decrypt",
        ec: Some(&app),
    }
    .outcome();
    assert_eq!(d.decision, Decision::Allow);
}

// ---------------------------------------------------------------------------------------------
// §3.4 Case sensitivity

#[test]
fn case_table_elements_exact_keys_insensitive() {
    // Element names and Effect values are exact.
    for st in [
        r#"{"effect":"Allow","Action":"kms:*","Resource":"*"}"#,
        r#"{"Effect":"allow","Action":"kms:*","Resource":"*"}"#,
        r#"{"Effect":"DENY","Action":"kms:*","Resource":"*"}"#,
        r#"{"Effect":"Allow","action":"kms:*","Resource":"*"}"#,
    ] {
        rejected(&doc(&[st]), PolicyKind::Identity);
    }
    rejected(
        r#"{"version":"2012-10-17","Statement":[]}"#,
        PolicyKind::Identity,
    );
    // The key part of kms:EncryptionContext:<k> and aws:PrincipalTag/<k> is case-insensitive;
    // the value is not (StringEquals).
    let alice = user(A, "Alice");
    let kp = key_policy(&[&kst(
        "Allow",
        &aws(ALICE),
        r#""kms:Decrypt""#,
        r#","Condition":{"StringEquals":{"kms:encryptioncontext:department":"IT"}}"#,
    )]);
    let none = PolicySet::default();
    let run = |pairs: &[(&str, &str)]| {
        let e = ec(pairs);
        Call {
            caller: &alice,
            key: K,
            kp: &kp,
            set: &none,
            grants: &[],
            action: "kms:Decrypt",
            ec: Some(&e),
        }
        .outcome()
        .decision
    };
    assert_eq!(run(&[("Department", "IT")]), Decision::Allow);
    assert_eq!(run(&[("DEPARTMENT", "IT")]), Decision::Allow);
    assert_eq!(run(&[("Department", "it")]), Decision::ImplicitDeny);
    let mut c = RequestContext::new();
    c.set("aws:PrincipalTag/Team", "Blue");
    assert!(holds(
        r#"{"StringEquals":{"aws:principaltag/team":"Blue"}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"StringEquals":{"aws:PrincipalTag/Team":"blue"}}"#,
        &c
    ));
}

// ---------------------------------------------------------------------------------------------
// §3.5 Policy variables

#[test]
fn v1_v2_variables_where_allowed() {
    let c = ctx(&[
        ("aws:username", "Alice"),
        ("aws:PrincipalArn", ALICE),
        ("aws:MultiFactorAuthAge", "5"),
        ("aws:SourceIp", "10.0.0.1"),
    ]);
    // Variable names are case-insensitive.
    assert!(holds(
        r#"{"StringEquals":{"aws:username":"${AWS:UserName}"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringEqualsIgnoreCase":{"aws:username":"${aws:username}"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"StringLike":{"aws:PrincipalArn":"*/${aws:username}"}}"#,
        &c
    ));
    assert!(holds(
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/${aws:username}"}}"#,
        &c
    ));
    assert!(!holds(
        r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/${aws:userid}"}}"#,
        &c
    ));
    // Multi-valued keys are not variables: no value.
    let mut m = multi("aws:TagKeys", &["Alice"]);
    m.set("aws:username", "Alice");
    assert!(!holds(
        r#"{"StringEquals":{"aws:username":"${aws:TagKeys}"}}"#,
        &m
    ));
}

#[test]
fn v3_special_characters_are_literal() {
    let c = ctx(&[("kms:EncryptionContext:p", "a*b?c$")]);
    let k = "kms:EncryptionContext:p";
    assert!(holds(
        &format!(r#"{{"StringEquals":{{"{k}":"a${{*}}b${{?}}c${{$}}"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"StringLike":{{"{k}":"a${{*}}b${{?}}c${{$}}"}}}}"#),
        &c
    ));
    // After substitution `*` is not a wildcard.
    let other = ctx(&[(k, "aXXbYc$")]);
    assert!(!holds(
        &format!(r#"{{"StringLike":{{"{k}":"a${{*}}b${{?}}c${{$}}"}}}}"#),
        &other
    ));
    assert!(holds(
        &format!(r#"{{"StringLike":{{"{k}":"a*b?c$"}}}}"#),
        &other
    ));
}

#[test]
fn v4_default_values() {
    let cond = r#"{"StringEquals":{"kms:EncryptionContext:team":"${aws:PrincipalTag/team, 'company-wide'}"}}"#;
    let c = ctx(&[("kms:EncryptionContext:team", "company-wide")]);
    assert!(holds(cond, &c));
    let mut tagged = c.clone();
    tagged.set("aws:PrincipalTag/team", "blue");
    assert!(!holds(cond, &tagged));
    tagged.set("kms:EncryptionContext:team", "blue");
    assert!(holds(cond, &tagged));
}

#[test]
fn v5_missing_variable_without_default() {
    let c = ctx(&[("kms:EncryptionContext:owner", "Alice")]);
    let k = "kms:EncryptionContext:owner";
    assert!(!holds(
        &format!(r#"{{"StringEquals":{{"{k}":"${{aws:username}}"}}}}"#),
        &c
    ));
    assert!(!holds(
        &format!(r#"{{"StringLike":{{"{k}":"${{aws:username}}*"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"StringNotEquals":{{"{k}":"${{aws:username}}"}}}}"#),
        &c
    ));
    assert!(holds(
        &format!(r#"{{"StringNotLike":{{"{k}":"${{aws:username}}"}}}}"#),
        &c
    ));
    // Case 28b: a role session has no aws:username.
    let s1 = session(A, "ExampleRole", "s1");
    let owner = ec(&[("owner", "Alice")]);
    let set = iam(&[
        r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:owner":"${aws:username}"}}}"#,
    ]);
    let kp = kp_default();
    let run = |c: &Caller| {
        Call {
            caller: c,
            key: K,
            kp: &kp,
            set: &set,
            grants: &[],
            action: "kms:Decrypt",
            ec: Some(&owner),
        }
        .outcome()
        .decision
    };
    assert_eq!(run(&user(A, "Alice")), Decision::Allow);
    assert_eq!(run(&s1), Decision::ImplicitDeny);
}

#[test]
fn v6_substituted_values_are_literal() {
    let k = "kms:EncryptionContext:owner";
    let mut c = ctx(&[("aws:username", "a*")]);
    c.set(k, "abc");
    assert!(!holds(
        &format!(r#"{{"StringLike":{{"{k}":"${{aws:username}}"}}}}"#),
        &c
    ));
    c.set(k, "a*");
    assert!(holds(
        &format!(r#"{{"StringLike":{{"{k}":"${{aws:username}}"}}}}"#),
        &c
    ));
    // Not re-scanned for variables.
    let mut c = ctx(&[("aws:username", "${aws:userid}"), ("aws:userid", "X")]);
    c.set(k, "${aws:userid}");
    assert!(holds(
        &format!(r#"{{"StringEquals":{{"{k}":"${{aws:username}}"}}}}"#),
        &c
    ));
    // In Resource too.
    let text = doc(&[
        r#"{"Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:*:key/${aws:username}"}"#,
    ]);
    let c = ctx(&[("aws:username", "*")]);
    assert!(!allowed(&text, "kms:Decrypt", RES, &c));
    assert!(allowed(
        &text,
        "kms:Decrypt",
        "arn:aws:kms:us-west-2:1:key/*",
        &c
    ));
}

// ---------------------------------------------------------------------------------------------
// §5 Evaluation

#[test]
fn e1_explicit_deny_wins_everywhere() {
    let alice = user(A, "Alice");
    let kp_allow = key_policy(&[KP_DEFAULT, &kst("Allow", &aws(ALICE), r#""kms:*""#, "")]);
    let deny = r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#;
    let o = decide(&alice, &kp_allow, &iam(&[&kms_all(), deny]), "kms:Decrypt");
    assert_eq!(o.decision, Decision::ExplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::IdentityBased));
    // A deny in another identity policy of the caller.
    let set = policies(vec![identity("a", &[&kms_all()]), identity("b", &[deny])]);
    assert_eq!(
        decision(&alice, &kp_allow, &set, "kms:Decrypt"),
        Decision::ExplicitDeny
    );
    // Boundary and session-policy denies.
    let set = PolicySet {
        identity: vec![identity("a", &[&kms_all()])],
        boundary: Some(sourced(
            "pb",
            &doc(&[&kms_all(), deny]),
            PolicyKind::Boundary,
            PolicySourceType::PermissionsBoundary,
        )),
        ..PolicySet::default()
    };
    let o = decide(&alice, &kp_allow, &set, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ExplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::PermissionsBoundary));
    let s1 = session(A, "ExampleRole", "s1");
    let set = PolicySet {
        identity: vec![identity("a", &[&kms_all()])],
        session: Some(vec![sourced(
            "sp",
            &doc(&[&kms_all(), deny]),
            PolicyKind::Session,
            PolicySourceType::Session,
        )]),
        ..PolicySet::default()
    };
    let o = decide(&s1, &kp_default(), &set, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ExplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::SessionPolicy));
    // Key policy deny beats IAM allow.
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Deny", &aws(ALICE), r#""kms:Decrypt""#, ""),
    ]);
    let o = decide(&alice, &kp, &iam(&[&kms_all()]), "kms:Decrypt");
    assert_eq!(o.decision, Decision::ExplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::ResourceBased));
}

#[test]
fn e3_e6_key_policy_is_mandatory() {
    let admin = iam(&[r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#]);
    let kp = key_policy(&[&kst(
        "Allow",
        &aws("arn:aws:iam::111122223333:user/Bob"),
        r#""kms:*""#,
        "",
    )]);
    for c in [user(A, "Alice"), session(A, "ExampleRole", "s1"), root(A)] {
        let o = decide(&c, &kp, &admin, "kms:Decrypt");
        assert_eq!(o.decision, Decision::ImplicitDeny, "{c:?}");
        assert_eq!(o.denied_by, Some(DenyReason::ResourceBased));
    }
    // IAM denies are effective even without delegation.
    let deny = iam(&[r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#]);
    let kp = key_policy(&[&kst("Allow", &aws(ALICE), r#""kms:*""#, "")]);
    assert_eq!(
        decision(&user(A, "Alice"), &kp, &deny, "kms:Decrypt"),
        Decision::ExplicitDeny
    );
}

#[test]
fn e7_delegation_is_bounded_by_the_account_statement() {
    let alice = user(A, "Alice");
    let all = iam(&[&kms_all()]);
    let kp = key_policy(&[&kst(
        "Allow",
        &aws(A_ROOT),
        r#"["kms:Encrypt","kms:DescribeKey"]"#,
        "",
    )]);
    assert_eq!(decision(&alice, &kp, &all, "kms:Encrypt"), Decision::Allow);
    let o = decide(&alice, &kp, &all, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ImplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::ResourceBased));
    // Its conditions are evaluated against the real request.
    let kp = key_policy(&[&kst(
        "Allow",
        &aws(A_ROOT),
        r#""kms:*""#,
        r#","Condition":{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}"#,
    )]);
    assert_eq!(
        decision(&alice, &kp, &all, "kms:Encrypt"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decision(&session(A, "ExampleRole", "s1"), &kp, &all, "kms:Encrypt"),
        Decision::Allow
    );
}

fn boundary(text: &str) -> SourcedPolicy {
    sourced(
        "pb",
        text,
        PolicyKind::Boundary,
        PolicySourceType::PermissionsBoundary,
    )
}

fn session_policy(text: &str) -> SourcedPolicy {
    sourced("sp", text, PolicyKind::Session, PolicySourceType::Session)
}

#[test]
fn e4_permissions_boundary_limits() {
    let s3_only = boundary(&doc(&[&allow(r#""s3:*""#, "*")]));
    let with_pb = |ids: Vec<SourcedPolicy>| PolicySet {
        identity: ids,
        boundary: Some(s3_only.clone()),
        ..PolicySet::default()
    };
    let alice = user(A, "Alice");
    let s1 = session(A, "ExampleRole", "s1");
    let set = with_pb(vec![identity("id", &[&kms_all()])]);
    // Identity allow outside the boundary: denied, naming the boundary (case 18).
    let o = decide(&alice, &kp_default(), &set, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ImplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::PermissionsBoundary));
    // User ARN in the key policy: not limited (19a).
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(ALICE), r#""kms:Decrypt""#, ""),
    ]);
    assert_eq!(decision(&alice, &kp, &set, "kms:Decrypt"), Decision::Allow);
    // Role ARN: limited (19b).
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(ROLE), r#""kms:Decrypt""#, ""),
    ]);
    let o = decide(&s1, &kp, &set, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ImplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::PermissionsBoundary));
    // Session ARN: not limited.
    let kp = key_policy(&[KP_DEFAULT, &kst("Allow", &aws(S1), r#""kms:Decrypt""#, "")]);
    assert_eq!(decision(&s1, &kp, &set, "kms:Decrypt"), Decision::Allow);
    // A boundary never grants.
    let kms_pb = PolicySet {
        boundary: Some(boundary(&doc(&[&kms_all()]))),
        ..PolicySet::default()
    };
    assert_eq!(
        decision(&alice, &kp_default(), &kms_pb, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn e5_session_policies_limit() {
    let s1 = session(A, "ExampleRole", "s1");
    let set = PolicySet {
        identity: vec![identity("role", &[&kms_all()])],
        session: Some(vec![session_policy(&doc(&[&allow(
            r#""kms:Encrypt""#,
            "*",
        )]))]),
        ..PolicySet::default()
    };
    // 20a / 20b
    let o = decide(&s1, &kp_default(), &set, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ImplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::SessionPolicy));
    assert_eq!(
        decision(&s1, &kp_default(), &set, "kms:Encrypt"),
        Decision::Allow
    );
    // 21: session ARN in the key policy is not limited by the session policy.
    let kp = key_policy(&[KP_DEFAULT, &kst("Allow", &aws(S1), r#""kms:Decrypt""#, "")]);
    assert_eq!(decision(&s1, &kp, &set, "kms:Decrypt"), Decision::Allow);
    // Role ARN in the key policy is limited by it.
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(ROLE), r#""kms:Decrypt""#, ""),
    ]);
    assert_eq!(
        decision(&s1, &kp, &set, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // A session policy never grants by itself.
    let only_sp = PolicySet {
        session: Some(vec![session_policy(&doc(&[&kms_all()]))]),
        ..PolicySet::default()
    };
    assert_eq!(
        decision(&s1, &kp_default(), &only_sp, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn e5a_scps_cap_every_principal_including_root() {
    let scp = |text: &str| {
        sourced(
            "scp",
            text,
            PolicyKind::Scp,
            PolicySourceType::ServiceControl,
        )
    };
    let deny = PolicySet {
        identity: vec![identity("id", &[&kms_all()])],
        scps: vec![scp(&doc(&[
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
            r#"{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}"#,
        ]))],
        ..PolicySet::default()
    };
    for c in [user(A, "Alice"), root(A)] {
        let o = decide(&c, &kp_default(), &deny, "kms:Decrypt");
        assert_eq!(o.decision, Decision::ExplicitDeny);
        assert_eq!(o.denied_by, Some(DenyReason::ServiceControlPolicy));
        assert_eq!(
            decision(&c, &kp_default(), &deny, "kms:Encrypt"),
            Decision::Allow
        );
    }
    // An SCP that does not allow blocks too, reported as an SCP denial.
    let no_allow = PolicySet {
        identity: vec![identity("id", &[&kms_all()])],
        scps: vec![scp(&doc(&[&allow(r#""s3:*""#, "*")]))],
        ..PolicySet::default()
    };
    let o = decide(&root(A), &kp_default(), &no_allow, "kms:Decrypt");
    assert_eq!(o.denied_by, Some(DenyReason::ServiceControlPolicy));
    let msg = o.message(A_ROOT, "kms:Decrypt", K).unwrap_or_default();
    assert!(
        msg.ends_with("with an explicit deny in a service control policy"),
        "{msg}"
    );
    // E13: an SCP allow grants nothing.
    let scp_only = PolicySet {
        scps: vec![scp(&doc(&[
            r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
        ]))],
        ..PolicySet::default()
    };
    assert_eq!(
        decision(&user(A, "Alice"), &kp_default(), &scp_only, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn e8_grants_allow_across_accounts_without_iam() {
    let app = session(B, "AppRole", "x");
    let g = [grant(
        "g",
        "arn:aws:iam::444455556666:role/AppRole",
        &["Decrypt"],
        None,
    )];
    let none = PolicySet::default();
    assert_eq!(
        with_grants(&app, &kp_default(), &none, &g, "kms:Decrypt", None),
        Decision::Allow
    );
    assert_eq!(
        with_grants(&app, &kp_default(), &none, &g, "kms:Encrypt", None),
        Decision::ImplicitDeny
    );
    // Role grantee is cut by a boundary (E8 CHOICE); session grantee is not.
    let pb = PolicySet {
        boundary: Some(boundary(&doc(&[&allow(r#""s3:*""#, "*")]))),
        ..PolicySet::default()
    };
    assert_eq!(
        with_grants(&app, &kp_default(), &pb, &g, "kms:Decrypt", None),
        Decision::ImplicitDeny
    );
    let gs = [grant(
        "g",
        "arn:aws:sts::444455556666:assumed-role/AppRole/x",
        &["Decrypt"],
        None,
    )];
    assert_eq!(
        with_grants(&app, &kp_default(), &pb, &gs, "kms:Decrypt", None),
        Decision::Allow
    );
}

#[test]
fn e9_cross_account_needs_key_policy_and_iam() {
    let carol = user(B, "Carol");
    let carol_arn = "arn:aws:iam::444455556666:user/Carol";
    let iam_ok = iam(&[&allow(r#""kms:Decrypt""#, K)]);
    let none = PolicySet::default();
    // Key policy names account B.
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(B_ROOT), r#""kms:Decrypt""#, ""),
    ]);
    assert_eq!(
        decision(&carol, &kp, &iam_ok, "kms:Decrypt"),
        Decision::Allow
    );
    assert_eq!(
        decision(&carol, &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // Key policy names Carol directly: still needs her IAM allow.
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(carol_arn), r#""kms:Decrypt""#, ""),
    ]);
    assert_eq!(
        decision(&carol, &kp, &iam_ok, "kms:Decrypt"),
        Decision::Allow
    );
    let o = decide(&carol, &kp, &none, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ImplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::IdentityBased));
    // IAM alone (key policy silent about B): denied without revealing the key (case 23).
    let o = decide(&carol, &kp_default(), &iam_ok, "kms:Decrypt");
    assert_eq!(o.decision, Decision::ImplicitDeny);
    assert_eq!(o.denied_by, Some(DenyReason::ResourceNotVisible));
    // IAM resource must cover the key ARN.
    let wrong = iam(&[&allow(
        r#""kms:Decrypt""#,
        "arn:aws:kms:us-west-2:444455556666:key/*",
    )]);
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Allow", &aws(B_ROOT), r#""kms:Decrypt""#, ""),
    ]);
    assert_eq!(
        decision(&carol, &kp, &wrong, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn e10_only_listed_operations_work_across_accounts() {
    let carol = user(B, "Carol");
    let kp = key_policy(&[KP_DEFAULT, &kst("Allow", &aws(B_ROOT), r#""kms:*""#, "")]);
    let all = iam(&[&kms_all()]);
    for act in [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:GenerateMac",
        "kms:VerifyMac",
        "kms:Sign",
        "kms:Verify",
        "kms:GetPublicKey",
        "kms:CreateGrant",
        "kms:DescribeKey",
        "kms:GetKeyRotationStatus",
        "kms:ListGrants",
        "kms:RetireGrant",
        "kms:RevokeGrant",
    ] {
        assert_eq!(decision(&carol, &kp, &all, act), Decision::Allow, "{act}");
    }
    for act in [
        "kms:ScheduleKeyDeletion",
        "kms:PutKeyPolicy",
        "kms:GetKeyPolicy",
        "kms:DisableKey",
        "kms:EnableKeyRotation",
        "kms:TagResource",
        "kms:CreateAlias",
        "kms:UpdateKeyDescription",
    ] {
        assert_eq!(
            decision(&carol, &kp, &all, act),
            Decision::ImplicitDeny,
            "{act}"
        );
    }
}

#[test]
fn e11_root_user() {
    let r = root(A);
    let none = PolicySet::default();
    assert_eq!(
        decision(&r, &kp_default(), &none, "kms:ScheduleKeyDeletion"),
        Decision::Allow
    );
    let kp = key_policy(&[&kst("Allow", &aws(ALICE), r#""kms:*""#, "")]);
    assert_eq!(
        decision(&r, &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // Root of another account gets nothing from A's account statement.
    assert_eq!(
        decision(&root(B), &kp_default(), &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
}

#[test]
fn e12_star_principal() {
    let kp = key_policy(&[&kst(
        "Allow",
        "\"*\"",
        r#""kms:Decrypt""#,
        r#","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
    )]);
    let none = PolicySet::default();
    assert_eq!(
        decision(&user(A, "Alice"), &kp, &none, "kms:Decrypt"),
        Decision::Allow
    );
    let iam_ok = iam(&[&allow(r#""kms:Decrypt""#, K)]);
    assert_eq!(
        decision(&user(B, "Carol"), &kp, &iam_ok, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    // Unconditioned "*": other accounts still need their own IAM allow.
    let kp = key_policy(&[&kst("Allow", "\"*\"", r#""kms:Decrypt""#, "")]);
    assert_eq!(
        decision(&user(B, "Carol"), &kp, &none, "kms:Decrypt"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decision(&user(B, "Carol"), &kp, &iam_ok, "kms:Decrypt"),
        Decision::Allow
    );
}

// ---------------------------------------------------------------------------------------------
// §7.1 Messages

#[test]
fn messages_of_section_7_1() {
    let alice = user(A, "Alice");
    let none = PolicySet::default();
    let o = decide(&alice, &kp_default(), &none, "kms:Decrypt");
    assert_eq!(
        o.message(ALICE, "kms:Decrypt", K).as_deref(),
        Some(format!("User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {K} because no identity-based policy allows the kms:Decrypt action").as_str())
    );
    let kp = key_policy(&[&kst(
        "Allow",
        &aws("arn:aws:iam::111122223333:user/Bob"),
        r#""kms:*""#,
        "",
    )]);
    let o = decide(&alice, &kp, &none, "kms:Decrypt");
    assert!(o.message(ALICE, "kms:Decrypt", K).is_some_and(
        |m| m.ends_with("because no resource-based policy allows the kms:Decrypt action")
    ));
    let kp = key_policy(&[
        KP_DEFAULT,
        &kst("Deny", &aws(ALICE), r#""kms:Decrypt""#, ""),
    ]);
    let o = decide(&alice, &kp, &iam(&[&kms_all()]), "kms:Decrypt");
    assert!(o
        .message(ALICE, "kms:Decrypt", K)
        .is_some_and(|m| m.ends_with("with an explicit deny in a resource-based policy")));
    let o = decide(
        &alice,
        &kp_default(),
        &iam(&[r#"{"Effect":"Deny","Action":"kms:*","Resource":"*"}"#]),
        "kms:Decrypt",
    );
    assert!(o
        .message(ALICE, "kms:Decrypt", K)
        .is_some_and(|m| m.ends_with("with an explicit deny in an identity-based policy")));
    // Role sessions are named by their session ARN (after "User:").
    let s1 = session(A, "ExampleRole", "s1");
    let e = explain_kms(&KmsRequest {
        caller: &s1,
        caller_policies: &none,
        action: "kms:Decrypt",
        key_arn: K,
        key_policy: &kp_default(),
        grants: &[],
        context: &kms_context(&s1, None),
        encryption_context: None,
    });
    assert!(e
        .message
        .is_some_and(|m| m.starts_with(&format!("User: {S1} is not authorized"))));
    // Cross-account caller the key policy does not mention: the wording that hides the key.
    let carol = user(B, "Carol");
    let o = decide(&carol, &kp_default(), &iam(&[&kms_all()]), "kms:Decrypt");
    assert!(o
        .message("arn:aws:iam::444455556666:user/Carol", "kms:Decrypt", K)
        .is_some_and(|m| m.contains("because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access") && !m.contains(K)));
    assert!(Outcome::ALLOW.message(ALICE, "kms:Decrypt", K).is_none());
}

// ---------------------------------------------------------------------------------------------
// §6 AssumeRole

#[test]
fn s1_s4_trust_policy_principals_and_role_chaining() {
    use kmsd_policy::{decide_assume_role, AssumeRoleRequest};
    let target = "arn:aws:iam::111122223333:role/Target";
    let trust = |principal: &str| {
        sourced(
            "trust",
            &doc(&[&format!(
                r#"{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}"#
            )]),
            PolicyKind::Trust,
            PolicySourceType::Resource,
        )
    };
    let run = |caller: &Caller, set: &PolicySet, tp: &SourcedPolicy| {
        decide_assume_role(&AssumeRoleRequest {
            caller,
            caller_policies: set,
            role_arn: target,
            trust_policy: tp,
            context: &kms_context(caller, None),
        })
        .decision
    };
    let none = PolicySet::default();
    let s1 = session(A, "ExampleRole", "s1");
    // Role chaining: the role ARN names its sessions; the session ARN names only itself.
    assert_eq!(run(&s1, &none, &trust(&aws(ROLE))), Decision::Allow);
    assert_eq!(run(&s1, &none, &trust(&aws(S1))), Decision::Allow);
    assert_eq!(
        run(&session(A, "ExampleRole", "s2"), &none, &trust(&aws(S1))),
        Decision::ImplicitDeny
    );
    // The account entry delegates to the caller's identity policy.
    let can = iam(&[&allow(r#""sts:AssumeRole""#, target)]);
    assert_eq!(run(&s1, &none, &trust(&aws(A))), Decision::ImplicitDeny);
    assert_eq!(run(&s1, &can, &trust(&aws(A))), Decision::Allow);
    // Cross-account: trust naming the caller directly still needs its identity policy.
    let carol = user(B, "Carol");
    let tp = trust(&aws("arn:aws:iam::444455556666:user/Carol"));
    assert_eq!(run(&carol, &none, &tp), Decision::ImplicitDeny);
    assert_eq!(run(&carol, &can, &tp), Decision::Allow);
    // The root user cannot assume a role.
    assert_eq!(run(&root(A), &can, &trust(&aws(A))), Decision::ImplicitDeny);
    // Trust policies take only sts actions, no Resource and no NotPrincipal.
    rejected(
        &doc(&[r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}"#]),
        PolicyKind::Trust,
    );
    rejected(
        &doc(&[r#"{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"}"#]),
        PolicyKind::Trust,
    );
}
