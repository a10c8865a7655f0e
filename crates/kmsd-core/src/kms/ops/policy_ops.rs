//! Key policy operations: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the checks of a
//! new policy that need the world (rules K1–K8: principals that exist, the lock-out safety
//! check). Size, characters and compilation (once per policy text) are `model::policy`.

use kmsd_policy::{decide_kms, Decision, KmsRequest, SourcedPolicy};
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::{key_context_for, Req};
use crate::kms::decode::input::Input;
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::internal;
use crate::kms::model::op::KmsOp;
use crate::kms::model::policy::{policy_chars_ok, validate_policy};
use crate::kms::ops::paging::{invalid_marker, limit_marker, page};
use crate::kms::Kms;
use crate::principal::PrincipalDirectory;

/// K2 as the model constraint on `Policy`.
pub(crate) fn policy_pattern(i: &mut Input<'_>, p: &str) {
    i.pattern_check(
        "Policy",
        Some(p),
        policy_chars_ok(p),
        "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    );
}

/// K5: every AWS principal in the policy must exist.
pub(crate) fn check_principals(
    dir: &dyn PrincipalDirectory,
    p: &SourcedPolicy,
) -> Result<(), ApiError> {
    for pr in p.policy.aws_principals() {
        if pr == "*" {
            continue;
        }
        let ok = if crate::kms::model::ids::is_account(&pr) {
            dir.account_exists(&pr)
        } else {
            dir.principal_exists(&pr)
        };
        if !ok {
            return Err(ApiError::new(
                KmsError::MalformedPolicyDocumentException,
                "Policy contains a statement with one or more invalid principals.",
            ));
        }
    }
    Ok(())
}

/// K6: the new policy must let the caller call `kms:PutKeyPolicy` on the key later.
pub(crate) fn check_lockout(
    req: &Req<'_>,
    key: &KeyEntry,
    policy: &SourcedPolicy,
) -> Result<(), ApiError> {
    let mut ctx = key_context_for(req, key, policy, None);
    ctx.set("kms:BypassPolicyLockoutSafetyCheck", "false");
    ctx.set("kms:PolicyName", "default");
    let outcome = decide_kms(&KmsRequest {
        caller: &req.p.caller,
        caller_policies: &req.p.policies,
        action: KmsOp::PutKeyPolicy.spec().action(),
        key_arn: &key.arn,
        key_policy: policy,
        grants: &key.grant_view,
        context: &ctx,
        encryption_context: None,
    });
    if outcome.decision == Decision::Allow {
        Ok(())
    } else {
        Err(ApiError::new(
            KmsError::MalformedPolicyDocumentException,
            "The new key policy will not allow you to update the key policy in the future.",
        ))
    }
}

fn policy_name<'a>(i: &mut Input<'a>) -> Result<&'a str, ApiError> {
    let name = i.str_opt("PolicyName", 1, 128)?;
    if let Some(n) = name {
        let ok = n.chars().all(|c| c.is_alphanumeric() || c == '_');
        i.pattern_check("PolicyName", Some(n), ok, "[\\w]+");
    }
    Ok(name.unwrap_or("default"))
}

impl Kms {
    pub(crate) fn get_key_policy(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let name = policy_name(&mut i)?;
        i.finish()?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::GetKeyPolicy, |c| {
            c.set("kms:PolicyName", name)
        })?;
        if name != "default" {
            return Err(ApiError::new(
                KmsError::NotFoundException,
                format!("No such policy exists: {name}"),
            ));
        }
        Ok(json!({ "Policy": key.rec.policy, "PolicyName": "default" }))
    }

    pub(crate) fn put_key_policy(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let name = policy_name(&mut i)?;
        let text = i.str_req("Policy", 1, 131_072)?;
        let bypass = i
            .bool_opt("BypassPolicyLockoutSafetyCheck")?
            .unwrap_or(false);
        if !text.is_empty() {
            policy_pattern(&mut i, text);
        }
        i.finish()?;
        if name == "AWS_RAM" {
            return Err(ApiError::validation(
                "The AWS_RAM policy can only be managed by the RAM service.",
            ));
        }
        if name != "default" {
            return Err(ApiError::validation(format!(
                "Policy name {name} is not valid. The only valid policy name is default."
            )));
        }
        let st = self.state.upgradable_read();
        let (r, key) = self.gate(&st, req, key_id, KmsOp::PutKeyPolicy, |c| {
            c.set("kms:PolicyName", "default");
            c.set(
                "kms:BypassPolicyLockoutSafetyCheck",
                if bypass { "true" } else { "false" },
            );
        })?;
        let policy = validate_policy(text)?;
        check_principals(self.directory.as_ref(), &policy)?;
        {
            if !bypass {
                check_lockout(req, key, &policy)?;
            }
        }
        let mut st = self.update_key(st, &r.id, |rec| {
            rec.policy = text.to_string();
            Ok(true)
        })?;
        st.keys.get_mut(&r.id).ok_or_else(internal)?.policy = policy;
        Ok(json!({}))
    }

    pub(crate) fn list_key_policies(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let (_limit, marker) = limit_marker(&mut i, 100, 1000)?;
        i.finish()?;
        if marker.is_some() {
            return Err(invalid_marker());
        }
        let st = self.state.read();
        self.gate(&st, req, key_id, KmsOp::ListKeyPolicies, |_| {})?;
        Ok(page("PolicyNames", vec![json!("default")], None))
    }
}
