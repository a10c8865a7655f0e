//! The checks: a walk over the span-keeping JSON tree (grammar, names, empty arrays, condition
//! keys and operators), then — when the document compiles — checks on the compiled policy
//! (redundancy, lockout, public access, cross-account `kms:*`).

use std::collections::HashMap;

use super::catalog;
use super::codes::*;
use super::{position, Finding, FindingType, Location, PathElement, ValidateOptions};
use crate::condition::{Base, Condition, Operator, SetOp};
use crate::json::{Json, JsonValue};
use crate::pattern::Glob;
use crate::policy::{Effect, Policy, PolicyKind};
use crate::principal::{classify_aws, Entry};

use FindingType::{Error, SecurityWarning, Suggestion, Warning};

mod compiled;
mod conditions;

type Path = Vec<PathElement>;

fn with(path: &Path, e: PathElement) -> Path {
    let mut p = path.clone();
    p.push(e);
    p
}

fn key(path: &Path, k: &str) -> Path {
    with(path, PathElement::Key(k.to_string()))
}

fn idx(path: &Path, i: usize) -> Path {
    with(path, PathElement::Index(i))
}

/// A statement as walked: its path, its node, and facts the later checks need.
struct Walked<'j> {
    path: Path,
    node: &'j Json,
    members: &'j [(String, Json)],
}

impl<'j> Walked<'j> {
    fn get(&self, name: &str) -> Option<&'j Json> {
        self.members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

pub(super) struct Checker<'a> {
    text: &'a str,
    kind: PolicyKind,
    options: &'a ValidateOptions,
    out: &'a mut Vec<Finding>,
    vars: bool,
}

/// Strings of a string-or-array element, each with its node (non-strings are skipped; the
/// walk reports them).
fn strings(v: &Json) -> Vec<(usize, &str, &Json)> {
    match &v.value {
        JsonValue::String(s) => vec![(0, s.as_str(), v)],
        JsonValue::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, j)| match &j.value {
                JsonValue::String(s) => Some((i, s.as_str(), j)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Structural equality of two JSON values, ignoring spans and member order.
fn same(a: &Json, b: &Json) -> bool {
    match (&a.value, &b.value) {
        (JsonValue::Array(x), JsonValue::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (JsonValue::Object(x), JsonValue::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && same(v, v2)))
        }
        (x, y) => x == y,
    }
}

fn opt_same(a: Option<&Json>, b: Option<&Json>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    }
}

/// The account an `AWS` principal value names (an account id, or the account field of an ARN).
fn principal_account(v: &str) -> Option<&str> {
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(v);
    }
    let acct = v.strip_prefix("arn:")?.split(':').nth(3)?;
    (acct.len() == 12).then_some(acct)
}

impl<'a> Checker<'a> {
    pub(super) fn new(
        text: &'a str,
        kind: PolicyKind,
        options: &'a ValidateOptions,
        out: &'a mut Vec<Finding>,
    ) -> Self {
        Checker {
            text,
            kind,
            options,
            out,
            vars: false,
        }
    }

    fn location(&self, path: &Path, node: &Json) -> Location {
        Location {
            path: path.clone(),
            start: position(self.text, node.start),
            end: position(self.text, node.end),
        }
    }

    fn push(
        &mut self,
        ty: FindingType,
        code: &'static str,
        details: impl Into<String>,
        path: &Path,
        node: &Json,
    ) {
        let loc = self.location(path, node);
        self.out.push(Finding {
            finding_type: ty,
            issue_code: code,
            details: details.into(),
            locations: vec![loc],
        });
    }

    fn type_mismatch(&mut self, expected: &str, path: &Path, node: &Json) {
        self.push(
            Error,
            DATA_TYPE_MISMATCH,
            format!("The text does not match the expected JSON data type {expected}."),
            path,
            node,
        );
    }

    fn has_error(&self) -> bool {
        self.out.iter().any(|f| f.finding_type == Error)
    }

    pub(super) fn document(&mut self, root: &Json) {
        let JsonValue::Object(members) = &root.value else {
            self.type_mismatch("object", &Vec::new(), root);
            return;
        };
        let top: Path = Vec::new();
        self.size(root);
        let mut version = None;
        let mut statement = None;
        for (k, v) in members {
            match k.as_str() {
                "Version" => version = Some(v),
                "Id" => {
                    if !matches!(v.value, JsonValue::String(_)) {
                        self.type_mismatch("string", &key(&top, "Id"), v);
                    }
                }
                "Statement" => statement = Some(v),
                other => self.push(
                    Error,
                    INVALID_POLICY_ELEMENT,
                    format!("The policy element {other} is not valid."),
                    &key(&top, other),
                    v,
                ),
            }
        }
        match version {
            None => self.push(
                Warning,
                MISSING_VERSION,
                "We recommend that you specify the Version element to help you with debugging permission issues.",
                &top,
                root,
            ),
            Some(v) => match &v.value {
                JsonValue::String(s) if s == "2012-10-17" => self.vars = true,
                JsonValue::String(s) if s == "2008-10-17" => self.push(
                    Warning,
                    OUTDATED_VERSION,
                    "Version 2008-10-17 does not substitute policy variables and lacks newer policy features. Use 2012-10-17.",
                    &key(&top, "Version"),
                    v,
                ),
                JsonValue::String(s) => self.push(
                    Error,
                    INVALID_VERSION,
                    format!("The version {s} is not valid. Use one of the following versions: 2012-10-17, 2008-10-17"),
                    &key(&top, "Version"),
                    v,
                ),
                _ => self.type_mismatch("string", &key(&top, "Version"), v),
            },
        }
        let Some(statement) = statement else {
            self.push(
                Error,
                MISSING_STATEMENT,
                "Add a Statement element to the policy.",
                &top,
                root,
            );
            return;
        };
        let spath = key(&top, "Statement");
        let items: Vec<(Path, &Json)> = match &statement.value {
            JsonValue::Object(_) => vec![(spath.clone(), statement)],
            JsonValue::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, j)| (idx(&spath, i), j))
                .collect(),
            _ => {
                self.type_mismatch("array", &spath, statement);
                return;
            }
        };
        if items.is_empty() {
            self.push(
                Error,
                MISSING_STATEMENT,
                "The Statement element is empty: add at least one statement to the policy.",
                &spath,
                statement,
            );
            return;
        }
        let mut walked = Vec::new();
        let mut sids: HashMap<String, Path> = HashMap::new();
        for (path, item) in items {
            let JsonValue::Object(members) = &item.value else {
                self.type_mismatch("object", &path, item);
                continue;
            };
            let w = Walked {
                path,
                node: item,
                members,
            };
            self.statement(&w, &mut sids);
            walked.push(w);
        }
        self.compiled(root, &walked);
    }

    fn size(&mut self, root: &Json) {
        let non_ws = self.text.chars().filter(|c| !c.is_whitespace()).count();
        let top = Vec::new();
        match self.kind {
            PolicyKind::Key if self.text.len() > crate::KEY_POLICY_MAX_BYTES => self.push(
                Error,
                POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA,
                format!(
                    "The policy is {} bytes; a key policy may not exceed {} bytes.",
                    self.text.len(),
                    crate::KEY_POLICY_MAX_BYTES
                ),
                &top,
                root,
            ),
            PolicyKind::Identity if non_ws > 6144 => self.push(
                Warning,
                POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA,
                format!("The policy has {non_ws} characters other than white space; a managed policy may not exceed 6144."),
                &top,
                root,
            ),
            PolicyKind::Trust if non_ws > 2048 => self.push(
                Warning,
                POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA,
                format!("The policy has {non_ws} characters other than white space; a role trust policy may not exceed 2048 unless the quota is raised."),
                &top,
                root,
            ),
            _ => {}
        }
    }

    fn statement(&mut self, w: &Walked<'_>, sids: &mut HashMap<String, Path>) {
        let path = &w.path;
        for (k, v) in w.members {
            if !crate::policy::is_statement_element(k) {
                self.push(
                    Error,
                    INVALID_POLICY_ELEMENT,
                    format!("The policy element {k} is not valid."),
                    &key(path, k),
                    v,
                );
            }
        }
        // Sid.
        if let Some(v) = w.get("Sid") {
            let p = key(path, "Sid");
            match &v.value {
                JsonValue::String(s) if s.is_empty() => self.push(
                    Suggestion,
                    EMPTY_SID_VALUE,
                    "Add a value to the empty string in the Sid element.",
                    &p,
                    v,
                ),
                JsonValue::String(s) => {
                    if self.kind != PolicyKind::Key && !s.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        self.push(
                            Error,
                            UNSUPPORTED_SID,
                            "Update the characters in the Sid element to use one of the following character types: [a-z, A-Z, 0-9]",
                            &p,
                            v,
                        );
                    }
                    if sids.contains_key(s) {
                        let (ty, code) = if self.kind == PolicyKind::Key {
                            (Warning, UNIQUE_SIDS_RECOMMENDED)
                        } else {
                            (Error, UNIQUE_SIDS_REQUIRED)
                        };
                        self.push(
                            ty,
                            code,
                            format!("Duplicate statement ID {s}: use unique values for the Sid element of each statement."),
                            &p,
                            v,
                        );
                    } else {
                        sids.insert(s.clone(), p);
                    }
                }
                _ => self.type_mismatch("string", &p, v),
            }
        }
        // Effect.
        let effect = match w.get("Effect") {
            None => {
                self.push(
                    Error,
                    MISSING_EFFECT,
                    "Add an Effect element to the policy statement with a value of Allow or Deny.",
                    path,
                    w.node,
                );
                None
            }
            Some(v) => match &v.value {
                JsonValue::String(s) if s == "Allow" => Some(Effect::Allow),
                JsonValue::String(s) if s == "Deny" => Some(Effect::Deny),
                JsonValue::String(s) => {
                    self.push(
                        Error,
                        INVALID_EFFECT,
                        format!("The effect {s} is not valid. Use Allow or Deny."),
                        &key(path, "Effect"),
                        v,
                    );
                    None
                }
                _ => {
                    self.type_mismatch("string", &key(path, "Effect"), v);
                    None
                }
            },
        };
        self.principal(w, effect);
        let kms_only = self.actions(w);
        self.resources(w);
        if let Some(c) = w.get("Condition") {
            self.conditions(&key(path, "Condition"), c, effect, kms_only);
        }
    }

    fn principal(&mut self, w: &Walked<'_>, effect: Option<Effect>) {
        let path = &w.path;
        let (p, np) = (w.get("Principal"), w.get("NotPrincipal"));
        if let (Some(_), Some(v)) = (p, np) {
            self.push(
                Error,
                UNSUPPORTED_ELEMENT_COMBINATION,
                "The policy elements Principal and NotPrincipal can not be used in the same statement.",
                &key(path, "NotPrincipal"),
                v,
            );
            return;
        }
        let resource_policy = self.kind.is_resource_policy();
        let (element, v) = match (p, np) {
            (Some(v), _) => ("Principal", v),
            (None, Some(v)) => ("NotPrincipal", v),
            (None, None) => {
                if resource_policy {
                    self.push(
                        Error,
                        MISSING_PRINCIPAL,
                        "Add a Principal element to the policy statement.",
                        path,
                        w.node,
                    );
                }
                return;
            }
        };
        let ppath = key(path, element);
        if !resource_policy {
            self.push(
                Error,
                UNSUPPORTED_PRINCIPAL,
                format!("Policies of this type do not support the {element} element. Remove the {element} element."),
                &ppath,
                v,
            );
            return;
        }
        if element == "NotPrincipal" {
            if self.kind == PolicyKind::Trust {
                self.push(
                    Error,
                    ROLE_TRUST_POLICY_SYNTAX_ERROR_NOTPRINCIPAL,
                    "Role trust policies do not support NotPrincipal. Update the policy to use a Principal element instead.",
                    &ppath,
                    v,
                );
            } else if effect == Some(Effect::Allow) {
                self.push(
                    SecurityWarning,
                    ALLOW_WITH_NOT_PRINCIPAL,
                    "Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead.",
                    &ppath,
                    v,
                );
            }
        }
        match &v.value {
            JsonValue::String(s) if s == "*" => {}
            JsonValue::String(s) => self.push(
                Error,
                INVALID_PRINCIPAL_FORMAT,
                format!("The Principal element value {s} is not valid: use \"*\" or an object such as {{\"AWS\": \"...\"}}."),
                &ppath,
                v,
            ),
            JsonValue::Object(map) if map.is_empty() => self.push(
                Suggestion,
                EMPTY_OBJECT_PRINCIPAL,
                "This statement includes no principals and does not affect the policy. Specify principals.",
                &ppath,
                v,
            ),
            JsonValue::Object(map) => {
                for (ty, val) in map {
                    let tpath = key(&ppath, ty);
                    if !matches!(ty.as_str(), "AWS" | "Service" | "Federated" | "CanonicalUser") {
                        self.push(
                            Error,
                            INVALID_PRINCIPAL_KEY,
                            format!("The principal key {ty} is not valid. Use one of AWS, Service, Federated, CanonicalUser."),
                            &tpath,
                            val,
                        );
                        continue;
                    }
                    if !self.string_list(&tpath, val, EMPTY_ARRAY_PRINCIPAL, "principals") {
                        continue;
                    }
                    if ty == "AWS" {
                        for (i, s, node) in strings(val) {
                            if let Err(m) = classify_aws(s) {
                                let vpath = match &val.value {
                                    JsonValue::Array(_) => idx(&tpath, i),
                                    _ => tpath.clone(),
                                };
                                self.push(
                                    Error,
                                    INVALID_PRINCIPAL_FORMAT,
                                    format!("The principal {s} is not valid: {m}."),
                                    &with(&vpath, PathElement::Value(s.to_string())),
                                    node,
                                );
                            }
                        }
                    }
                }
            }
            _ => self.type_mismatch("object", &ppath, v),
        }
    }

    /// A string or array of strings. Reports an empty array (with `empty_code`) or wrong
    /// types; true when the value holds at least one string and nothing else.
    fn string_list(&mut self, path: &Path, v: &Json, empty_code: &'static str, what: &str) -> bool {
        match &v.value {
            JsonValue::String(_) => true,
            JsonValue::Array(items) if items.is_empty() => {
                self.push(
                    Suggestion,
                    empty_code,
                    format!("This statement includes no {what} and does not affect the policy. Specify {what}."),
                    path,
                    v,
                );
                false
            }
            JsonValue::Array(items) => {
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    if !matches!(item.value, JsonValue::String(_)) {
                        self.type_mismatch("string", &idx(path, i), item);
                        ok = false;
                    }
                }
                ok
            }
            _ => {
                self.type_mismatch("array", path, v);
                false
            }
        }
    }

    /// Action/NotAction. Returns whether every action named is a KMS action (so condition
    /// keys can be checked against KMS requests).
    fn actions(&mut self, w: &Walked<'_>) -> bool {
        let path = &w.path;
        let (a, na) = (w.get("Action"), w.get("NotAction"));
        if let (Some(_), Some(v)) = (a, na) {
            self.push(
                Error,
                UNSUPPORTED_ELEMENT_COMBINATION,
                "The policy elements Action and NotAction can not be used in the same statement.",
                &key(path, "NotAction"),
                v,
            );
            return false;
        }
        let (element, v) = match (a, na) {
            (Some(v), _) => ("Action", v),
            (None, Some(v)) => ("NotAction", v),
            (None, None) => {
                self.push(
                    Error,
                    MISSING_ACTION,
                    "Add an Action or NotAction element to the policy statement.",
                    path,
                    w.node,
                );
                return false;
            }
        };
        let apath = key(path, element);
        if !self.string_list(&apath, v, EMPTY_ARRAY_ACTION, "actions") {
            return false;
        }
        let list = strings(v);
        let mut kms_only = element == "Action";
        for (i, s, node) in &list {
            let vpath = match &v.value {
                JsonValue::Array(_) => with(&idx(&apath, *i), PathElement::Value(s.to_string())),
                _ => with(&apath, PathElement::Value(s.to_string())),
            };
            if *s == "*" {
                kms_only = false;
                continue;
            }
            let Some((service, _)) = s
                .split_once(':')
                .filter(|(p, n)| !p.is_empty() && !n.is_empty())
            else {
                self.push(
                    Error,
                    INVALID_ACTION,
                    format!("The action {s} is not valid: use \"*\" or \"service:action\" (for example \"kms:Decrypt\")."),
                    &vpath,
                    node,
                );
                kms_only = false;
                continue;
            };
            if !service.eq_ignore_ascii_case("kms") {
                kms_only = false;
            }
            let wrong_service = match self.kind {
                PolicyKind::Key => !service.eq_ignore_ascii_case("kms"),
                PolicyKind::Trust => !service.eq_ignore_ascii_case("sts"),
                _ => false,
            };
            if wrong_service {
                let what = if self.kind == PolicyKind::Key {
                    "a KMS key policy: only kms actions apply to a key"
                } else {
                    "a role trust policy: only sts actions that assume the role apply"
                };
                self.push(
                    Error,
                    UNSUPPORTED_ACTION_IN_POLICY,
                    format!("The action {s} is not supported in {what}."),
                    &vpath,
                    node,
                );
                continue;
            }
            if catalog::action_pattern_matches_any(s) == Some(false) {
                let hint = catalog::nearest_action(s)
                    .map(|n| format!(" Did you mean {n}?"))
                    .unwrap_or_default();
                self.push(
                    Error,
                    INVALID_ACTION,
                    format!("The action {s} does not exist.{hint}"),
                    &vpath,
                    node,
                );
            }
        }
        // Redundant actions: an entry another entry of the same list already covers.
        for (i, s, node) in &list {
            let covered_by = list.iter().find(|(j, other, _)| {
                j != i
                    && Glob::new(other, true).matches(s, true)
                    && (!Glob::new(s, true).matches(other, true) || j < i)
            });
            if let Some((_, other, _)) = covered_by {
                let vpath = match &v.value {
                    JsonValue::Array(_) => {
                        with(&idx(&apath, *i), PathElement::Value(s.to_string()))
                    }
                    _ => with(&apath, PathElement::Value(s.to_string())),
                };
                self.push(
                    Suggestion,
                    REDUNDANT_ACTION,
                    format!("The action {s} is redundant because {other} in the same statement already includes it. Remove {s}."),
                    &vpath,
                    node,
                );
            }
        }
        kms_only
    }

    fn resources(&mut self, w: &Walked<'_>) {
        let path = &w.path;
        let (r, nr) = (w.get("Resource"), w.get("NotResource"));
        if let (Some(_), Some(v)) = (r, nr) {
            self.push(
                Error,
                UNSUPPORTED_ELEMENT_COMBINATION,
                "The policy elements Resource and NotResource can not be used in the same statement.",
                &key(path, "NotResource"),
                v,
            );
            return;
        }
        let (element, v) = match (r, nr) {
            (Some(v), _) => ("Resource", v),
            (None, Some(v)) => ("NotResource", v),
            (None, None) => {
                if !self.kind.is_resource_policy() {
                    self.push(
                        Error,
                        MISSING_RESOURCE,
                        "Add a Resource or NotResource element to the policy statement.",
                        path,
                        w.node,
                    );
                }
                return;
            }
        };
        let rpath = key(path, element);
        if self.kind == PolicyKind::Trust {
            self.push(
                Error,
                ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE,
                format!("Role trust policies apply to the role that they are attached to. You cannot specify a {element} element. Remove the {element} element."),
                &rpath,
                v,
            );
            return;
        }
        if !self.string_list(&rpath, v, EMPTY_ARRAY_RESOURCE, "resources") {
            return;
        }
        let list = strings(v);
        for (i, s, node) in &list {
            let vpath = match &v.value {
                JsonValue::Array(_) => with(&idx(&rpath, *i), PathElement::Value(s.to_string())),
                _ => with(&rpath, PathElement::Value(s.to_string())),
            };
            if crate::arn::ArnPattern::compile_resource(s, self.vars).is_none() {
                self.push(
                    Error,
                    INVALID_ARN_PREFIX,
                    format!("The resource {s} is not valid: use \"*\" or an ARN (arn:aws:...)."),
                    &vpath,
                    node,
                );
            }
            if list.iter().any(|(j, other, _)| j < i && other == s) {
                self.push(
                    Suggestion,
                    REDUNDANT_RESOURCE,
                    format!("The resource {s} is listed more than once in the statement. Remove the duplicate."),
                    &vpath,
                    node,
                );
            }
        }
    }
}
