//! Shared request fixtures: run one policy through every decision entry point.

use std::collections::BTreeMap;
use std::sync::Arc;

use kmsd_policy::{
    decide_assume_role, decide_identity, decide_kms, explain_assume_role, explain_identity,
    explain_kms, simulate, AssumeRoleRequest, Caller, IdentityRequest, KmsRequest, Policy,
    PolicyKind, PolicySet, PolicySourceType, RequestContext, SimulationRequest, SourcedPolicy,
};

pub const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

pub fn callers() -> Vec<Caller> {
    vec![
        Caller::Root {
            account: "111122223333".into(),
        },
        Caller::User {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/Alice".into(),
            name: "Alice".into(),
            unique_id: "AIDAEXAMPLEALICE0001".into(),
        },
        Caller::AssumedRole {
            account: "444455556666".into(),
            role_arn: "arn:aws:iam::444455556666:role/R".into(),
            role_name: "R".into(),
            role_unique_id: "AROAEXAMPLEROLE00001".into(),
            session_name: "s1".into(),
        },
    ]
}

pub fn default_key_policy() -> SourcedPolicy {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}]}"#;
    let p = Policy::parse(text, PolicyKind::Key).expect("fixture policy parses");
    SourcedPolicy::new("key-policy", PolicySourceType::Resource, Arc::new(p))
}

/// Evaluate `policy` in every role that fits its kind and check traced == untraced.
pub fn exercise(policy: Arc<Policy>, ctx: &RequestContext, actions: &[&str]) {
    let kind = policy.kind();
    for i in 0..policy.statement_count() {
        let _ = policy.statement_position(i);
        let _ = policy.statement_sid(i);
    }
    let _ = policy.aws_principals();
    let _ = policy.condition_keys();
    let sp = SourcedPolicy::new("fuzz", PolicySourceType::Resource, policy.clone());
    let default_kp = default_key_policy();
    let ec = BTreeMap::from([("Dept".to_string(), "IT".to_string())]);
    for caller in callers() {
        let mut set = PolicySet::default();
        let key_policy = match kind {
            PolicyKind::Key => &sp,
            PolicyKind::Identity => {
                set.identity.push(sp.clone());
                &default_kp
            }
            PolicyKind::Boundary => {
                set.boundary = Some(sp.clone());
                &default_kp
            }
            PolicyKind::Session => {
                set.session = Some(vec![sp.clone()]);
                &default_kp
            }
            PolicyKind::Scp => {
                set.scps.push(sp.clone());
                &default_kp
            }
            PolicyKind::Trust => &default_kp,
        };
        for action in actions {
            let req = KmsRequest {
                caller: &caller,
                caller_policies: &set,
                action,
                key_arn: KEY,
                key_policy,
                grants: &[],
                context: ctx,
                encryption_context: Some(&ec),
            };
            assert_eq!(decide_kms(&req), explain_kms(&req).outcome);
            let ireq = IdentityRequest {
                caller: &caller,
                caller_policies: &set,
                action,
                resource: KEY,
                context: ctx,
            };
            assert_eq!(decide_identity(&ireq), explain_identity(&ireq).outcome);
            let _ = simulate(&SimulationRequest {
                policies: std::slice::from_ref(&sp),
                resource_policy: None,
                boundary: None,
                caller: Some(&caller),
                action,
                resource: KEY,
                context: ctx,
            });
        }
        if kind == PolicyKind::Trust {
            let areq = AssumeRoleRequest {
                caller: &caller,
                caller_policies: &set,
                role_arn: "arn:aws:iam::111122223333:role/Target",
                trust_policy: &sp,
                context: ctx,
            };
            assert_eq!(
                decide_assume_role(&areq),
                explain_assume_role(&areq).outcome
            );
        }
    }
}
