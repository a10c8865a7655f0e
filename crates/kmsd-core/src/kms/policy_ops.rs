//! Key policies: validation of a new policy (rules K1–K8: size, characters, grammar,
//! principals that exist, the lock-out safety check), compilation (once per policy text,
//! cached in the key), and the GetKeyPolicy / PutKeyPolicy / ListKeyPolicies operations.

use std::sync::Arc;

use kmsd_policy::{
    decide_kms, Decision, KmsRequest, Policy, PolicyError, PolicyKind, PolicySourceType,
    SourcedPolicy,
};
use serde_json::{json, Value};

use super::api::Input;
use super::authz::{key_context_for, Forms};
use super::ids::internal;
use super::key::KeyEntry;
use super::op::KmsOp;
use super::{Kms, Req};
use crate::error::ApiError;
use crate::error::KmsError;
use crate::principal::PrincipalDirectory;

/// Key policy size quota (K1).
pub(crate) const MAX_POLICY_BYTES: usize = 32_768;

/// The id a key policy is reported under in traces.
pub(crate) const KEY_POLICY_ID: &str = "key-policy";

/// Compile a key policy text (no further checks: used for stored policies).
pub(crate) fn compile_key_policy(text: &str) -> Result<SourcedPolicy, PolicyError> {
    let p = Policy::parse(text, PolicyKind::Key)?;
    Ok(SourcedPolicy {
        id: KEY_POLICY_ID.to_string(),
        source_type: PolicySourceType::Resource,
        policy: Arc::new(p),
    })
}

fn policy_chars_ok(p: &str) -> bool {
    p.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c))
}

/// K2 as the model constraint on `Policy`.
pub(crate) fn policy_pattern(i: &mut Input<'_>, p: &str) {
    i.pattern_check(
        "Policy",
        Some(p),
        policy_chars_ok(p),
        "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    );
}

/// K1, K3, K4, K7 (grammar via the policy crate): the compiled policy or AWS's error.
pub(crate) fn validate_policy(text: &str) -> Result<SourcedPolicy, ApiError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(ApiError::new(
            KmsError::LimitExceededException,
            format!("The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."),
        ));
    }
    if !policy_chars_ok(text) {
        return Err(ApiError::new(
            KmsError::MalformedPolicyDocumentException,
            "The key policy contains characters outside the allowed set (TAB, LF, CR, U+0020-U+00FF).",
        ));
    }
    compile_key_policy(text)
        .map_err(|e| ApiError::new(KmsError::MalformedPolicyDocumentException, e.to_string()))
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
        let ok = if super::ids::is_account(&pr) {
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
        action: "kms:PutKeyPolicy",
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
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:GetKeyPolicy",
            KmsOp::GetKeyPolicy,
            |c| c.set("kms:PolicyName", name),
        )?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
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
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:PutKeyPolicy",
            KmsOp::PutKeyPolicy,
            |c| {
                c.set("kms:PolicyName", "default");
                c.set(
                    "kms:BypassPolicyLockoutSafetyCheck",
                    if bypass { "true" } else { "false" },
                );
            },
        )?;
        let policy = validate_policy(text)?;
        check_principals(self.directory.as_ref(), &policy)?;
        {
            let key = st.keys.get(&r.id).ok_or_else(internal)?;
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
        let (_limit, marker) = super::lifecycle::limit_marker(&mut i, 100, 1000)?;
        i.finish()?;
        if marker.is_some() {
            return Err(ApiError::new(
                KmsError::InvalidMarkerException,
                "Invalid marker.",
            ));
        }
        let st = self.state.read();
        self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:ListKeyPolicies",
            KmsOp::ListKeyPolicies,
            |_| {},
        )?;
        Ok(json!({ "PolicyNames": ["default"], "Truncated": false }))
    }
}
