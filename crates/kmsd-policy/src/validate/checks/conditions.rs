//! The checks of a statement's Condition element: operators, condition keys the service
//! knows, values of the right type, qualifiers that fit the key.

use super::*;

impl Checker<'_> {
    pub(super) fn conditions(
        &mut self,
        path: &Path,
        c: &Json,
        effect: Option<Effect>,
        kms_only: bool,
    ) {
        let JsonValue::Object(ops) = &c.value else {
            self.type_mismatch("object", path, c);
            return;
        };
        if ops.is_empty() {
            self.push(
                Suggestion,
                EMPTY_OBJECT_CONDITION,
                "This condition block is empty and does not affect the policy. Add conditions or remove the block.",
                path,
                c,
            );
            return;
        }
        for (op_name, block) in ops {
            let opath = key(path, op_name);
            let op = if op_name.starts_with("Null") && op_name.ends_with("IfExists") {
                self.push(
                    Error,
                    NULL_WITH_IF_EXISTS,
                    "The IfExists suffix is not supported with the Null condition operator. Remove IfExists.",
                    &opath,
                    block,
                );
                None
            } else {
                let op = Operator::parse(op_name);
                if op.is_none() {
                    self.push(
                        Error,
                        INVALID_OPERATOR,
                        format!("The condition operator {op_name} is not valid. Use a valid condition operator."),
                        &opath,
                        block,
                    );
                }
                op
            };
            let JsonValue::Object(keys) = &block.value else {
                self.type_mismatch("object", &opath, block);
                continue;
            };
            if keys.is_empty() {
                self.push(
                    Suggestion,
                    EMPTY_OBJECT_CONDITION,
                    format!("The {op_name} block names no condition key and does not affect the policy."),
                    &opath,
                    block,
                );
            }
            for (ck, vals) in keys {
                let kpath = key(&opath, ck);
                self.condition_key(&kpath, ck, vals, op, effect, kms_only);
                let raw = match &vals.value {
                    JsonValue::Array(items) if items.is_empty() => {
                        self.push(
                            Suggestion,
                            EMPTY_ARRAY_CONDITION,
                            format!("There are no values for the condition key {ck} and it does not affect the policy. Specify condition values."),
                            &kpath,
                            vals,
                        );
                        continue;
                    }
                    JsonValue::Array(items) => items.iter().enumerate().collect::<Vec<_>>(),
                    _ => vec![(0, vals)],
                };
                let mut texts = Vec::new();
                for (i, item) in raw {
                    match &item.value {
                        JsonValue::String(s) | JsonValue::Number(s) => texts.push(s.clone()),
                        JsonValue::Bool(b) => texts.push(b.to_string()),
                        _ => {
                            let vp = if matches!(vals.value, JsonValue::Array(_)) {
                                idx(&kpath, i)
                            } else {
                                kpath.clone()
                            };
                            self.type_mismatch("string", &vp, item);
                        }
                    }
                }
                if let Some(op) = op {
                    let mut problems = Vec::new();
                    let _ = Condition::compile(op_name, op, ck, &texts, self.vars, &mut problems);
                    if let Some(p) = problems.first() {
                        let code = match op.base {
                            Base::Numeric(_) => TYPE_MISMATCH_NUMBER,
                            Base::Date(_) => TYPE_MISMATCH_DATE,
                            Base::Bool | Base::Null => TYPE_MISMATCH_BOOLEAN,
                            Base::Ip => TYPE_MISMATCH_IP_RANGE,
                            _ => TYPE_MISMATCH,
                        };
                        self.push(
                            Warning,
                            code,
                            format!("The condition value for {ck} does not suit the operator {op_name}: {p}."),
                            &kpath,
                            vals,
                        );
                    }
                }
            }
        }
    }

    fn condition_key(
        &mut self,
        kpath: &Path,
        ck: &str,
        vals: &Json,
        op: Option<Operator>,
        effect: Option<Effect>,
        kms_only: bool,
    ) {
        let Some((service, _)) = ck
            .split_once(':')
            .filter(|(s, n)| !s.is_empty() && !n.is_empty())
        else {
            self.push(
                Error,
                INVALID_CONDITION_KEY_FORMAT,
                format!(
                    "The condition key format {ck} is not valid. Use the format service:keyname."
                ),
                kpath,
                vals,
            );
            return;
        };
        let lower = ck.to_ascii_lowercase();
        let service = service.to_ascii_lowercase();
        let hint = || {
            catalog::nearest_condition_key(ck)
                .map(|n| format!(" Did you mean {n}?"))
                .unwrap_or_default()
        };
        match service.as_str() {
            "aws" if !catalog::global_key_exists(&lower) => {
                let h = hint();
                self.push(
                    Error,
                    INVALID_GLOBAL_CONDITION_KEY,
                    format!("The condition key {ck} does not exist. Use a valid condition key.{h}"),
                    kpath,
                    vals,
                );
                return;
            }
            "kms" if !catalog::kms_key_exists(&lower) => {
                let h = hint();
                self.push(
                    Error,
                    INVALID_SERVICE_CONDITION_KEY,
                    format!("The condition key {ck} does not exist in the service kms.{h}"),
                    kpath,
                    vals,
                );
                return;
            }
            "sts" if self.kind == PolicyKind::Trust && !catalog::sts_key_exists(&lower) => {
                let h = hint();
                self.push(
                    Error,
                    INVALID_SERVICE_CONDITION_KEY,
                    format!("The condition key {ck} does not exist in the service sts.{h}"),
                    kpath,
                    vals,
                );
                return;
            }
            _ => {}
        }
        // A key that never exists on the requests this statement can match.
        let foreign = match self.kind {
            PolicyKind::Key => service != "aws" && service != "kms",
            PolicyKind::Identity | PolicyKind::Session => {
                kms_only && service != "aws" && service != "kms"
            }
            PolicyKind::Trust => service == "kms",
            _ => false,
        };
        if foreign {
            let absent_matches = op.is_some_and(|o| o.if_exists || o.base == Base::Null);
            if effect == Some(Effect::Deny) && !absent_matches {
                self.push(
                    Warning,
                    DENY_NEVER_APPLIES,
                    format!("The condition key {ck} is never present on the requests this statement matches, so the condition never holds and this Deny never applies."),
                    kpath,
                    vals,
                );
            } else {
                self.push(
                    Warning,
                    UNSUPPORTED_ACTION_FOR_CONDITION_KEY,
                    format!("The condition key {ck} is never present on the requests this statement matches ({} requests).{}",
                        if self.kind == PolicyKind::Trust { "sts" } else { "kms" },
                        if absent_matches { "" } else { " The condition never holds, so the statement never applies." }),
                    kpath,
                    vals,
                );
            }
        }
        if let Some(op) = op {
            if op.set == SetOp::ForAll && catalog::is_single_valued(&lower) {
                self.push(
                    SecurityWarning,
                    FORALLVALUES_WITH_SINGLE_VALUED_KEY,
                    format!("Using ForAllValues qualifier with the single-valued condition key {ck} can be overly permissive. We recommend that you remove ForAllValues:."),
                    kpath,
                    vals,
                );
            }
        }
    }
}
