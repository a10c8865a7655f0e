//! Compilation of a parsed document: the grammar checks of each statement (G1–G8, K1–K4, K7,
//! IAM Sid rules) and the compiled form evaluation works on (action and resource globs,
//! classified principals, pre-parsed condition values).

use super::{ActionClause, Effect, Policy, PolicyError, PolicyKind, ResourceClause, Statement};
use crate::arn::ArnPattern;
use crate::condition::{Condition, Operator, SetOp};
use crate::json::{self, Json, JsonValue};
use crate::pattern::Glob;
use crate::principal::{classify_aws, Entry, PrincipalClause};

/// K2 (key policies) and the IAM/STS policy-document pattern `[\t\n\r\u0020-\u00FF]`.
pub(super) fn check_charset(text: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    for (i, c) in text.char_indices() {
        let ok = match c {
            '\t' | '\n' | '\r' => true,
            '\u{20}'..='\u{7F}' => true,
            '\u{80}'..='\u{9F}' => kind != PolicyKind::Key,
            '\u{A0}'..='\u{FF}' => true,
            _ => false,
        };
        if !ok {
            let (l, col) = json::line_col(text, i);
            return Err(PolicyError::doc(
                None,
                format!(
                    "character U+{:04X} at line {l}, column {col} is not allowed in a policy document",
                    c as u32
                ),
            ));
        }
    }
    Ok(())
}

pub(super) struct Compiler<'a> {
    pub(super) text: &'a str,
    pub(super) kind: PolicyKind,
}

/// Error builder for one statement.
struct Ctx {
    label: String,
}

impl Ctx {
    fn err(&self, element: &str, message: impl Into<String>) -> PolicyError {
        PolicyError {
            statement: Some(self.label.clone()),
            element: Some(element.to_string()),
            message: message.into(),
        }
    }
}

impl Compiler<'_> {
    pub(super) fn document(&self, root: &Json) -> Result<Policy, PolicyError> {
        let JsonValue::Object(members) = &root.value else {
            return Err(PolicyError::doc(
                None,
                format!(
                    "a policy document must be a JSON object, not {}",
                    root.value.type_name()
                ),
            ));
        };
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for (k, v) in members {
            match k.as_str() {
                "Version" => match &v.value {
                    JsonValue::String(s) if s == "2012-10-17" || s == "2008-10-17" => {
                        version = Some(s.clone())
                    }
                    JsonValue::String(s) => {
                        return Err(PolicyError::doc(
                            Some("Version"),
                            format!("\"{s}\" is not a valid policy version (use \"2012-10-17\")"),
                        ))
                    }
                    other => {
                        return Err(PolicyError::doc(
                            Some("Version"),
                            format!("must be a string, not {}", other.type_name()),
                        ))
                    }
                },
                "Id" => match &v.value {
                    JsonValue::String(s) => id = Some(s.clone()),
                    other => {
                        return Err(PolicyError::doc(
                            Some("Id"),
                            format!("must be a string, not {}", other.type_name()),
                        ))
                    }
                },
                "Statement" => statement = Some(v),
                other => {
                    return Err(PolicyError::doc(
                        Some(other),
                        "unknown top-level element (expected Version, Id, Statement)",
                    ))
                }
            }
        }
        let statement = statement
            .ok_or_else(|| PolicyError::doc(Some("Statement"), "the element is required"))?;
        let items: Vec<&Json> = match &statement.value {
            JsonValue::Object(_) => vec![statement],
            JsonValue::Array(a) => a.iter().collect(),
            other => {
                return Err(PolicyError::doc(
                    Some("Statement"),
                    format!(
                        "must be an object or an array of objects, not {}",
                        other.type_name()
                    ),
                ))
            }
        };
        if items.is_empty() && self.kind == PolicyKind::Key {
            return Err(PolicyError::doc(
                Some("Statement"),
                "a key policy must contain at least one statement",
            ));
        }
        let vars = version.as_deref() == Some("2012-10-17");
        let mut statements = Vec::with_capacity(items.len());
        let mut aws_principals: Vec<String> = Vec::new();
        let mut sids: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (index, item) in items.into_iter().enumerate() {
            let st = self.statement(index, item, vars, &mut aws_principals)?;
            if let Some(sid) = &st.sid {
                if self.kind != PolicyKind::Key && !sid.is_empty() && !sids.insert(sid.clone()) {
                    return Err(Ctx { label: sid.clone() }
                        .err("Sid", "statement ids must be unique within a policy"));
                }
            }
            statements.push(st);
        }
        let mut condition_keys: Vec<String> = Vec::new();
        let mut seen_keys = std::collections::HashSet::new();
        for st in &statements {
            let mut keys = Vec::new();
            for c in st.conditions.iter() {
                c.keys(&mut keys);
            }
            if let Some(r) = &st.resources {
                for p in r.patterns.iter() {
                    keys.extend(p.keys());
                }
            }
            for k in keys {
                if seen_keys.insert(k.clone()) {
                    condition_keys.push(k);
                }
            }
        }
        Ok(Policy {
            text: self.text.to_string(),
            kind: self.kind,
            version,
            id,
            statements,
            aws_principals,
            condition_keys,
        })
    }

    fn statement(
        &self,
        index: usize,
        item: &Json,
        vars: bool,
        aws_principals: &mut Vec<String>,
    ) -> Result<Statement, PolicyError> {
        let mut cx = Ctx {
            label: format!("#{index}"),
        };
        let JsonValue::Object(members) = &item.value else {
            return Err(PolicyError::doc(
                Some("Statement"),
                format!(
                    "statement #{index} must be an object, not {}",
                    item.value.type_name()
                ),
            ));
        };
        let get = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        // Sid first, so later errors can name the statement.
        let sid = match get("Sid") {
            None => None,
            Some(Json {
                value: JsonValue::String(s),
                ..
            }) => Some(s.clone()),
            Some(v) => {
                return Err(cx.err(
                    "Sid",
                    format!("must be a string, not {}", v.value.type_name()),
                ))
            }
        };
        if let Some(s) = &sid {
            if !s.is_empty() {
                cx.label = s.clone();
            }
            if self.kind != PolicyKind::Key && !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(cx.err(
                    "Sid",
                    "statement ids may contain only letters A-Z, a-z and digits 0-9",
                ));
            }
        }
        for (k, _) in members {
            if !crate::policy::is_statement_element(k) {
                return Err(cx.err(k, "unknown statement element"));
            }
        }
        let effect = match get("Effect") {
            None => return Err(cx.err("Effect", "the element is required")),
            Some(Json {
                value: JsonValue::String(s),
                ..
            }) if s == "Allow" => Effect::Allow,
            Some(Json {
                value: JsonValue::String(s),
                ..
            }) if s == "Deny" => Effect::Deny,
            Some(_) => return Err(cx.err("Effect", "must be \"Allow\" or \"Deny\"")),
        };

        // Principal / NotPrincipal.
        let principal = match (get("Principal"), get("NotPrincipal")) {
            (Some(_), Some(_)) => {
                return Err(cx.err(
                    "Principal",
                    "a statement cannot have both Principal and NotPrincipal",
                ))
            }
            (p, np) => {
                let not = np.is_some();
                let element = if not { "NotPrincipal" } else { "Principal" };
                match (self.kind, p.or(np)) {
                    (PolicyKind::Key, None) => {
                        return Err(cx.err(
                            "Principal",
                            "each statement in the key policy must contain one or more principals",
                        ))
                    }
                    (PolicyKind::Trust, None) => {
                        return Err(cx.err("Principal", "a trust policy statement requires a Principal"))
                    }
                    (PolicyKind::Trust, Some(_)) if not => {
                        return Err(cx.err("NotPrincipal", "NotPrincipal is not allowed in a role trust policy"))
                    }
                    (PolicyKind::Key | PolicyKind::Trust, Some(v)) => {
                        Some(self.principal(&cx, element, not, v, aws_principals)?)
                    }
                    (_, Some(_)) => {
                        return Err(cx.err(
                            element,
                            format!("{element} is not allowed in this kind of policy (only in resource policies)"),
                        ))
                    }
                    (_, None) => None,
                }
            }
        };

        // Action / NotAction.
        let actions = match (get("Action"), get("NotAction")) {
            (Some(_), Some(_)) => {
                return Err(cx.err(
                    "Action",
                    "a statement cannot have both Action and NotAction",
                ))
            }
            // AWS accepts a key policy statement without Action; it never applies.
            (None, None) if self.kind == PolicyKind::Key => ActionClause {
                not: false,
                globs: Box::default(),
            },
            (None, None) => return Err(cx.err("Action", "the statement needs Action or NotAction")),
            (a, na) => {
                let not = na.is_some();
                let element = if not { "NotAction" } else { "Action" };
                let values = string_list(&cx, element, a.or(na).unwrap_or(item))?;
                let mut globs = Vec::with_capacity(values.len());
                for v in values {
                    if v != "*" {
                        match v.split_once(':') {
                            // IAM: "AssumeRole policy may only specify STS AssumeRole actions."
                            Some((prefix, _))
                                if self.kind == PolicyKind::Trust
                                    && !prefix.eq_ignore_ascii_case("sts") =>
                            {
                                return Err(cx.err(
                                    element,
                                    "AssumeRole policy may only specify STS AssumeRole actions.",
                                ))
                            }
                            Some((prefix, name)) if !prefix.is_empty() && !name.is_empty() => {}
                            _ => {
                                return Err(cx.err(
                                    element,
                                    format!("\"{v}\" must be \"*\" or \"service:action\" (for example \"kms:Decrypt\")"),
                                ))
                            }
                        }
                    }
                    globs.push(Glob::new(&v, true));
                }
                ActionClause {
                    not,
                    globs: globs.into_boxed_slice(),
                }
            }
        };

        // Resource / NotResource.
        let resources = match (get("Resource"), get("NotResource")) {
            (Some(_), Some(_)) => {
                return Err(cx.err(
                    "Resource",
                    "a statement cannot have both Resource and NotResource",
                ))
            }
            (None, None) => match self.kind {
                PolicyKind::Key | PolicyKind::Trust => None,
                _ => return Err(cx.err("Resource", "the statement needs Resource or NotResource")),
            },
            (r, nr) => {
                let not = nr.is_some();
                let element = if not { "NotResource" } else { "Resource" };
                if self.kind == PolicyKind::Trust {
                    return Err(cx.err(
                        element,
                        format!("{element} is not allowed in a role trust policy"),
                    ));
                }
                let values = string_list(&cx, element, r.or(nr).unwrap_or(item))?;
                let mut patterns = Vec::with_capacity(values.len());
                for v in values {
                    let p = ArnPattern::compile_resource(&v, vars).ok_or_else(|| {
                        cx.err(element, format!("\"{v}\" must be \"*\" or an ARN"))
                    })?;
                    patterns.push(p);
                }
                Some(ResourceClause {
                    not,
                    patterns: patterns.into_boxed_slice(),
                })
            }
        };

        let conditions = match get("Condition") {
            None => Box::default(),
            Some(c) => self.conditions(&cx, c, vars)?,
        };

        Ok(Statement {
            sid,
            effect,
            principal,
            actions,
            resources,
            conditions,
            start: json::line_col(self.text, item.start),
            end: json::line_col(self.text, item.end),
        })
    }

    fn principal(
        &self,
        cx: &Ctx,
        element: &str,
        not: bool,
        v: &Json,
        aws_principals: &mut Vec<String>,
    ) -> Result<PrincipalClause, PolicyError> {
        let mut entries = Vec::new();
        let push_aws = |s: &str, aws_principals: &mut Vec<String>| {
            if !aws_principals.iter().any(|p| p == s) {
                aws_principals.push(s.to_string());
            }
        };
        match &v.value {
            JsonValue::String(s) if s == "*" => {
                entries.push(Entry::Star);
                push_aws("*", aws_principals);
            }
            JsonValue::String(s) => {
                return Err(cx.err(
                    element,
                    format!("\"{s}\" is not valid here: use \"*\" or an object such as {{\"AWS\": \"...\"}}"),
                ))
            }
            JsonValue::Object(map) => {
                if map.is_empty() {
                    return Err(cx.err(
                        element,
                        "each statement in the key policy must contain one or more principals",
                    ));
                }
                for (ty, val) in map {
                    let values = string_list(cx, element, val)?;
                    match ty.as_str() {
                        "AWS" => {
                            for s in values {
                                let e = classify_aws(&s).map_err(|m| cx.err(element, m))?;
                                push_aws(&s, aws_principals);
                                entries.push(e);
                            }
                        }
                        "Service" | "Federated" => {
                            for s in values {
                                if s.is_empty() || s.chars().any(char::is_whitespace) {
                                    return Err(cx.err(element, format!("invalid {ty} principal \"{s}\"")));
                                }
                                entries.push(Entry::NonIam);
                            }
                        }
                        "CanonicalUser" => {
                            return Err(cx.err(
                                element,
                                "CanonicalUser principals are not supported in this policy",
                            ))
                        }
                        other => {
                            return Err(cx.err(
                                element,
                                format!("unknown principal type \"{other}\" (expected AWS, Service or Federated)"),
                            ))
                        }
                    }
                }
            }
            other => {
                return Err(cx.err(
                    element,
                    format!("must be \"*\" or an object, not {}", other.type_name()),
                ))
            }
        }
        Ok(PrincipalClause {
            not,
            entries: entries.into_boxed_slice(),
        })
    }

    fn conditions(&self, cx: &Ctx, c: &Json, vars: bool) -> Result<Box<[Condition]>, PolicyError> {
        let JsonValue::Object(ops) = &c.value else {
            return Err(cx.err(
                "Condition",
                format!("must be an object, not {}", c.value.type_name()),
            ));
        };
        let mut out = Vec::new();
        for (op_name, block) in ops {
            let op = Operator::parse(op_name).ok_or_else(|| {
                cx.err("Condition", format!("Invalid Condition type : {op_name}"))
            })?;
            let JsonValue::Object(keys) = &block.value else {
                return Err(cx.err(
                    "Condition",
                    format!(
                        "{op_name}: must be an object of condition keys, not {}",
                        block.value.type_name()
                    ),
                ));
            };
            for (key, vals) in keys {
                if key.is_empty() || !key.contains(':') {
                    return Err(cx.err(
                        "Condition",
                        format!("{op_name}: \"{key}\" is not a condition key (expected \"service:name\")"),
                    ));
                }
                let lower = key.to_ascii_lowercase();
                if self.kind == PolicyKind::Key
                    && op.set == SetOp::ForAll
                    && ((lower.starts_with("kms:encryptioncontext:"))
                        || lower.starts_with("aws:requesttag/"))
                {
                    let what = if lower.starts_with("aws:requesttag/") {
                        "tag"
                    } else {
                        "encryption context"
                    };
                    return Err(cx.err(
                        "Condition",
                        format!(
                            "OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified {what} or with an unspecified {what}. To fix, remove ForAllValues."
                        ),
                    ));
                }
                let raw = scalar_list(cx, op_name, key, vals)?;
                let mut problems = Vec::new();
                let cond = Condition::compile(op_name, op, key, &raw, vars, &mut problems);
                if self.kind == PolicyKind::Key {
                    if let Some(p) = problems.first() {
                        return Err(cx.err("Condition", format!("{op_name}: {key}: {p}")));
                    }
                }
                out.push(cond);
            }
        }
        Ok(out.into_boxed_slice())
    }
}

/// A string or a non-empty array of strings (G5).
fn string_list(cx: &Ctx, element: &str, v: &Json) -> Result<Vec<String>, PolicyError> {
    match &v.value {
        JsonValue::String(s) => Ok(vec![s.clone()]),
        JsonValue::Array(items) => {
            if items.is_empty() {
                return Err(cx.err(element, "must not be an empty list"));
            }
            items
                .iter()
                .map(|i| match &i.value {
                    JsonValue::String(s) => Ok(s.clone()),
                    other => Err(cx.err(
                        element,
                        format!("list entries must be strings, not {}", other.type_name()),
                    )),
                })
                .collect()
        }
        other => Err(cx.err(
            element,
            format!(
                "must be a string or a list of strings, not {}",
                other.type_name()
            ),
        )),
    }
}

/// Condition values: strings, numbers or booleans, alone or in an array (C6: converted to text).
fn scalar_list(cx: &Ctx, op: &str, key: &str, v: &Json) -> Result<Vec<String>, PolicyError> {
    let one = |j: &Json| -> Result<String, PolicyError> {
        match &j.value {
            JsonValue::String(s) => Ok(s.clone()),
            JsonValue::Number(n) => Ok(n.clone()),
            JsonValue::Bool(b) => Ok(b.to_string()),
            other => Err(cx.err(
                "Condition",
                format!(
                    "{op}: {key}: values must be strings, numbers or booleans, not {}",
                    other.type_name()
                ),
            )),
        }
    };
    match &v.value {
        JsonValue::Array(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(v)?]),
    }
}
