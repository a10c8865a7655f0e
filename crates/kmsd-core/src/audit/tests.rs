use super::redact::{is_secret_member, Redacted};
use super::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn principal(caller: Caller, issued: Option<i64>) -> Principal {
    Principal {
        caller,
        policies: Arc::new(kmsd_policy::PolicySet::default()),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: issued,
        source_identity: None,
    }
}

#[test]
fn secrets_are_redacted_at_any_depth() {
    let mut ev = AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-east-1", "rid");
    ev.request_parameters = serde_json::json!({
        "keyId": "alias/a",
        "Plaintext": "c2VjcmV0",
        "nested": [{"plaintext": "x", "CiphertextBlob": "y", "ok": 1}],
    });
    ev.response_elements = Some(serde_json::json!({
        "credentials": {"accessKeyId": "ASIA1", "secretAccessKey": "s", "sessionToken": "t"}
    }));
    let line = ev.to_json_line();
    assert!(!line.contains("c2VjcmV0"), "{line}");
    assert!(!line.to_lowercase().contains("plaintext"), "{line}");
    assert!(!line.contains("secretAccessKey"), "{line}");
    assert!(!line.contains("sessionToken"), "{line}");
    assert!(line.contains("\"keyId\":\"alias/a\""), "{line}");
    assert!(line.contains("\"accessKeyId\":\"ASIA1\""), "{line}");
    assert!(line.contains("\"ok\":1"), "{line}");
}

/// The redaction as a copy: the reference the streamed form is checked against.
fn redact(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .filter(|(k, _)| !is_secret_member(k))
                .map(|(k, v)| (k.clone(), redact(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(redact).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn streamed_redaction_equals_the_redacted_copy() {
    let v = serde_json::json!({
        "KeyId": "k",
        "Private_Key-Plaintext": "p1",
        "SECRET_ACCESS_KEY": "p2",
        "plain_text_not": "kept",
        "Plaintextx": "kept too",
        "Schlüssel": "kept",
        "list": [{"Mac": "p3", "n": [1, 2, {"password": "p4"}]}, "s", null],
    });
    let streamed = serde_json::to_value(Redacted(&v)).unwrap();
    assert_eq!(streamed, redact(&v));
    let text = streamed.to_string();
    for secret in ["p1", "p2", "p3", "p4"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert_eq!(streamed["Plaintextx"], "kept too");
    assert_eq!(streamed["Schlüssel"], "kept");
    assert!(is_secret_member("PlainText") && is_secret_member("cipher-text_blob"));
    assert!(!is_secret_member("plaintex") && !is_secret_member(""));
}

#[test]
fn shape_follows_cloudtrail() {
    let mut ev = AuditEvent::new(
        1_700_000_000_123,
        "kms.amazonaws.com",
        "Decrypt",
        "us-west-2",
        "rid-1",
    );
    ev.resources.push(AuditResource::kms_key(
        "arn:aws:kms:us-west-2:111122223333:key/k1",
    ));
    ev.set_decision(
        Some(Decision::Allow),
        &[Because::Grant {
            grant_id: "g1".into(),
            name: None,
        }],
    );
    let v: serde_json::Value = serde_json::from_str(&ev.to_json_line()).unwrap();
    assert_eq!(v["eventVersion"], "1.08");
    assert_eq!(v["eventTime"], "2023-11-14T22:13:20Z");
    assert_eq!(v["eventSource"], "kms.amazonaws.com");
    assert_eq!(v["eventName"], "Decrypt");
    assert_eq!(v["awsRegion"], "us-west-2");
    assert_eq!(v["readOnly"], true);
    assert_eq!(v["eventType"], "AwsApiCall");
    assert_eq!(v["requestID"], "rid-1");
    assert_eq!(
        v["resources"][0]["ARN"],
        "arn:aws:kms:us-west-2:111122223333:key/k1"
    );
    assert_eq!(v["resources"][0]["accountId"], "111122223333");
    assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
    assert_eq!(v["decision"], "Allow");
    assert_eq!(v["decidingStatements"][0]["type"], "grant");
    assert_eq!(v["decidingStatements"][0]["grantId"], "g1");
    assert!(v.get("errorCode").is_none());
    assert!(uuid::Uuid::parse_str(v["eventID"].as_str().unwrap()).is_ok());
}

#[test]
fn identities() {
    let root = principal(
        Caller::Root {
            account: "111122223333".into(),
        },
        None,
    );
    let id = UserIdentity::from_principal(&root, Some("AKIAROOT"));
    assert_eq!(id.identity_type, "Root");
    assert_eq!(id.arn.as_deref(), Some("arn:aws:iam::111122223333:root"));

    let session = principal(
        Caller::AssumedRole {
            account: "111122223333".into(),
            role_arn: "arn:aws:iam::111122223333:role/R".into(),
            role_name: "R".into(),
            role_unique_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
        },
        Some(1_700_000_000),
    );
    let id = UserIdentity::from_principal(&session, Some("ASIAX"));
    let v = serde_json::to_value(&id).unwrap();
    assert_eq!(v["type"], "AssumedRole");
    assert_eq!(v["principalId"], "AROAEXAMPLE:s");
    assert_eq!(v["arn"], "arn:aws:sts::111122223333:assumed-role/R/s");
    assert_eq!(
        v["sessionContext"]["sessionIssuer"]["arn"],
        "arn:aws:iam::111122223333:role/R"
    );
    assert_eq!(
        v["sessionContext"]["attributes"]["creationDate"],
        "2023-11-14T22:13:20Z"
    );
    let unknown = serde_json::to_value(UserIdentity::unknown(Some("AKIAX"))).unwrap();
    assert_eq!(
        unknown,
        serde_json::json!({"type": "Unknown", "accessKeyId": "AKIAX"})
    );
}

mod line_equals_serde {
    use super::super::*;
    use proptest::prelude::*;

    /// Strings heavy in what JSON must escape, plus any Unicode.
    fn text() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            3 => proptest::char::range('a', 'z'),
            2 => proptest::char::range('\u{0}', '\u{1f}'),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just('\u{7f}'),
            1 => Just('/'),
            2 => any::<char>(),
        ];
        prop_oneof![
            1 => proptest::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect()),
            1 => "[a-zA-Z0-9:/_.-]{0,64}",
        ]
    }

    fn member_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => text(),
            1 => prop::sample::select(vec![
                "Plaintext", "KeyId", "CiphertextBlob", "secret_access-key", "Mac", "mac",
                "EncryptionContext", "plain_text", "SessionToken", "GrantTokens",
            ])
            .prop_map(str::to_string),
        ]
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            text().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                proptest::collection::vec((member_name(), inner), 0..6)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn identity() -> impl Strategy<Value = UserIdentity> {
        let issuer =
            (text(), text(), text(), text(), text()).prop_map(|(t, p, a, c, u)| SessionIssuer {
                issuer_type: t,
                principal_id: p,
                arn: a,
                account_id: c,
                user_name: u,
            });
        let session = (proptest::option::of(issuer), opt_text(), any::<bool>()).prop_map(
            |(session_issuer, creation_date, mfa)| SessionContext {
                session_issuer,
                attributes: SessionAttributes {
                    creation_date,
                    mfa_authenticated: if mfa { "true" } else { "false" },
                },
            },
        );
        (
            text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
            proptest::option::of(session),
        )
            .prop_map(|(t, p, a, c, k, u, s)| UserIdentity {
                identity_type: t,
                principal_id: p,
                arn: a,
                account_id: c,
                access_key_id: k,
                user_name: u,
                session_context: s,
            })
    }

    fn deciding() -> impl Strategy<Value = DecidingStatement> {
        prop_oneof![
            (text(), text(), opt_text(), any::<usize>()).prop_map(|(p, t, s, i)| {
                DecidingStatement::Statement {
                    policy: p,
                    policy_type: t,
                    sid: s,
                    index: i,
                }
            }),
            (text(), opt_text()).prop_map(|(g, n)| DecidingStatement::Grant {
                grant_id: g,
                name: n
            }),
            text().prop_map(|t| DecidingStatement::Note { text: t }),
        ]
    }

    fn event() -> impl Strategy<Value = AuditEvent> {
        let a = (
            identity(),
            any::<i64>(),
            text(),
            text(),
            text(),
            opt_text(),
            opt_text(),
            opt_text(),
            opt_text(),
        );
        let b = (
            json(),
            proptest::option::of(json()),
            text(),
            any::<bool>(),
            proptest::collection::vec(
                (text(), text()).prop_map(|(c, arn)| AuditResource {
                    account_id: c,
                    resource_type: "AWS::KMS::Key",
                    arn,
                }),
                0..3,
            ),
            opt_text(),
            proptest::option::of(prop::sample::select(vec![
                "Allow",
                "ExplicitDeny",
                "ImplicitDeny",
            ])),
            proptest::collection::vec(deciding(), 0..4),
        );
        (a, b).prop_map(
            |(
                (ui, t, src, name, region, ip, ua, code, msg),
                (rp, re, rid, ro, resources, recipient, decision, ds),
            )| {
                let mut ev = AuditEvent::new(t, &src, &name, &region, &rid);
                ev.user_identity = ui;
                ev.source_ip_address = ip;
                ev.user_agent = ua;
                ev.error_code = code;
                ev.error_message = msg;
                ev.request_parameters = rp;
                ev.response_elements = re;
                ev.read_only = ro;
                ev.resources = resources;
                ev.recipient_account_id = recipient;
                ev.decision = decision;
                ev.deciding_statements = ds;
                ev
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The hand-written line is byte for byte what serde_json writes for the event.
        #[test]
        fn audit_line_is_serde_json_byte_for_byte(ev in event()) {
            let mut line = b"prefix".to_vec();
            ev.write_json_line(&mut line);
            let reference = serde_json::to_string(&ev).unwrap();
            prop_assert_eq!(&line[..6], b"prefix");
            prop_assert_eq!(String::from_utf8(line[6..].to_vec()).unwrap(), reference);
        }

        /// Any value (no redaction) is written as serde_json writes it.
        #[test]
        fn value_is_serde_json_byte_for_byte(v in json()) {
            let mut out = Vec::new();
            write_json_value(&mut out, &v);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }

        /// Every escape position: one special byte anywhere in a run of up to 20 bytes
        /// (inside or across the 8-byte words the escaper skips).
        #[test]
        fn escaper_at_every_offset(
            pre in 0usize..20,
            post in 0usize..20,
            special in prop_oneof![proptest::char::range('\u{0}', '\u{20}'), Just('"'), Just('\\'), Just('é')],
        ) {
            let s = format!("{}{special}{}", "a".repeat(pre), "b".repeat(post));
            let mut out = Vec::new();
            push_json_str(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn secret_members_never_written() {
        let mut ev = AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-east-1", "r");
        ev.request_parameters = serde_json::json!({
            "KeyId": "k",
            "Plaintext": "SECRET1",
            "deep": [{"session_token": "SECRET2", "x": {"Mac": "SECRET3"}}],
        });
        ev.response_elements = Some(serde_json::json!({"SecretAccessKey": "SECRET4"}));
        let mut line = Vec::new();
        ev.write_json_line(&mut line);
        let text = String::from_utf8(line).unwrap();
        for s in ["SECRET1", "SECRET2", "SECRET3", "SECRET4", "Plaintext"] {
            assert!(!text.contains(s), "{text}");
        }
        assert!(text.contains("\"KeyId\":\"k\""), "{text}");
        assert!(text.contains("\"deep\":[{\"x\":{}}]"), "{text}");
    }
}

#[test]
fn policy_type_is_the_debug_name() {
    for t in [
        PolicySourceType::User,
        PolicySourceType::Group,
        PolicySourceType::Role,
        PolicySourceType::AwsManaged,
        PolicySourceType::UserManaged,
        PolicySourceType::Resource,
        PolicySourceType::PermissionsBoundary,
        PolicySourceType::Session,
        PolicySourceType::ServiceControl,
        PolicySourceType::None,
    ] {
        assert_eq!(policy_type_name(t), format!("{t:?}"));
    }
    let because = vec![
        Because::Statement {
            policy_id: "p".into(),
            source_type: PolicySourceType::PermissionsBoundary,
            sid: Some("s".into()),
            index: 3,
        },
        Because::Grant {
            grant_id: "g".into(),
            name: None,
        },
        Because::Note("n".into()),
    ];
    let mut a = AuditEvent::new(0, "kms.amazonaws.com", "Encrypt", "us-east-1", "r");
    let mut b = a.clone();
    a.set_decision(Some(Decision::Allow), &because);
    b.set_decision_owned(Some(Decision::Allow), because);
    assert_eq!(a.deciding_statements, b.deciding_statements);
    assert_eq!(a.decision, b.decision);
    assert!(matches!(
        &a.deciding_statements[0],
        DecidingStatement::Statement { policy_type, .. } if policy_type == "PermissionsBoundary"
    ));
}

proptest::proptest! {
    #[test]
    fn arn_account_equals_splitn(arn in "(arn:)?[a-z0-9:/]{0,30}") {
        let reference = {
            let mut parts = arn.splitn(6, ':');
            if parts.next() != Some("arn") {
                None
            } else {
                parts.nth(3).filter(|a| !a.is_empty())
            }
        };
        proptest::prop_assert_eq!(arn_account(&arn), reference);
    }
}

#[test]
fn read_only_classification() {
    assert!(is_read_only("Decrypt"));
    assert!(is_read_only("DescribeKey"));
    assert!(is_read_only("GetKeyPolicy"));
    assert!(!is_read_only("GenerateDataKey"));
    assert!(!is_read_only("Encrypt"));
    assert!(!is_read_only("CreateKey"));
}
