//! The checks on the compiled policy, once the document compiles: redundant statements,
//! public access, cross-account `kms:*`, the lockout rule and Denys that can never apply.

use super::*;

impl Checker<'_> {
    /// Checks on the compiled policy.
    pub(super) fn compiled(&mut self, root: &Json, walked: &[Walked<'_>]) {
        let policy = match Policy::parse(self.text, self.kind) {
            Ok(p) => p,
            Err(e) => {
                if !self.has_error() {
                    let (path, node) = e
                        .statement
                        .as_deref()
                        .and_then(|label| {
                            walked.iter().enumerate().find(|(i, w)| {
                                label == format!("#{i}")
                                    || matches!(w.get("Sid").map(|s| &s.value), Some(JsonValue::String(s)) if s == label)
                            })
                        })
                        .map(|(_, w)| (w.path.clone(), w.node))
                        .unwrap_or((Vec::new(), root));
                    self.push(
                        Error,
                        KMS_MALFORMED_POLICY_DOCUMENT,
                        format!("kmsd would refuse this policy: {e}"),
                        &path,
                        node,
                    );
                }
                return;
            }
        };
        if walked.len() != policy.statements.len() {
            return;
        }
        self.redundant_statements(walked, &policy);
        if self.kind.is_resource_policy() {
            self.public_access(walked, &policy);
        }
        if self.kind == PolicyKind::Key {
            self.cross_account_full_access(walked, &policy);
            self.lockout(root, &policy);
            self.deny_never_applies(walked, &policy);
        }
    }

    fn redundant_statements(&mut self, walked: &[Walked<'_>], policy: &Policy) {
        for (b, wb) in walked.iter().enumerate() {
            let sb = &policy.statements[b];
            let Some(actions_b) = wb.get("Action") else {
                continue;
            };
            let names_b = strings(actions_b);
            for (a, wa) in walked.iter().enumerate() {
                if a == b {
                    continue;
                }
                let sa = &policy.statements[a];
                if sa.effect != sb.effect
                    || sa.actions.not
                    || wa.get("Action").is_none()
                    || !opt_same(wa.get("Principal"), wb.get("Principal"))
                    || !opt_same(wa.get("NotPrincipal"), wb.get("NotPrincipal"))
                    || !opt_same(wa.get("Resource"), wb.get("Resource"))
                    || !opt_same(wa.get("NotResource"), wb.get("NotResource"))
                    || !opt_same(wa.get("Condition"), wb.get("Condition"))
                {
                    continue;
                }
                let covers = |globs: &[Glob], names: &[(usize, &str, &Json)]| {
                    names
                        .iter()
                        .all(|(_, n, _)| globs.iter().any(|g| g.matches(n, true)))
                };
                if !covers(&sa.actions.globs, &names_b) {
                    continue;
                }
                // Two equal statements: report the later one only.
                let names_a = strings(wa.get("Action").unwrap_or(wa.node));
                if covers(&sb.actions.globs, &names_a) && a > b {
                    continue;
                }
                let label = policy.statement_label(a);
                let loc_a = self.location(&wa.path, wa.node);
                self.push(
                    Suggestion,
                    REDUNDANT_STATEMENT,
                    format!("The statement is redundant because statement {label} already grants the same or broader permissions with the same principals, resources and conditions. Remove the redundant statement."),
                    &wb.path,
                    wb.node,
                );
                if let Some(f) = self.out.last_mut() {
                    f.locations.push(loc_a);
                }
                break;
            }
        }
    }

    fn public_access(&mut self, walked: &[Walked<'_>], policy: &Policy) {
        for (w, st) in walked.iter().zip(&policy.statements) {
            let Some(pc) = &st.principal else { continue };
            if st.effect != Effect::Allow
                || pc.not
                || !pc.entries.iter().any(|e| matches!(e, Entry::Star))
            {
                continue;
            }
            let limited = st.conditions.iter().any(|c| {
                !c.op.negated
                    && (catalog::LIMITING_KEYS.contains(&&*c.key)
                        || (self.kind == PolicyKind::Trust && &*c.key == "sts:externalid"))
            });
            if limited {
                continue;
            }
            let node = w.get("Principal").unwrap_or(w.node);
            self.push(
                SecurityWarning,
                PUBLIC_ACCESS_WITHOUT_CONDITION,
                "The statement allows every principal (\"*\"), in every account and anonymous callers, with no condition that limits the caller (such as kms:CallerAccount, aws:PrincipalAccount, aws:PrincipalOrgID or aws:SourceVpce). Name the principals or add a limiting condition.",
                &key(&w.path, "Principal"),
                node,
            );
        }
    }

    /// The account the key belongs to: given, or the account of the first account principal
    /// an Allow statement lets call `kms:PutKeyPolicy`.
    fn key_account(&self, walked: &[Walked<'_>], policy: &Policy) -> Option<String> {
        if let Some(a) = &self.options.account {
            return Some(a.clone());
        }
        for (w, st) in walked.iter().zip(&policy.statements) {
            if st.effect != Effect::Allow || !action_matches(st, "kms:PutKeyPolicy") {
                continue;
            }
            for (ty, v) in principal_values(w) {
                if ty == "AWS" {
                    if let Some(a) = principal_account(v) {
                        return Some(a.to_string());
                    }
                }
            }
        }
        None
    }

    fn cross_account_full_access(&mut self, walked: &[Walked<'_>], policy: &Policy) {
        let Some(account) = self.key_account(walked, policy) else {
            return;
        };
        for (w, st) in walked.iter().zip(&policy.statements) {
            if st.effect != Effect::Allow || st.actions.not {
                continue;
            }
            let full = w
                .get("Action")
                .map(strings)
                .unwrap_or_default()
                .iter()
                .any(|(_, a, _)| *a == "*" || a.eq_ignore_ascii_case("kms:*"));
            if !full || st.principal.as_ref().is_some_and(|p| p.not) {
                continue;
            }
            for (ty, v) in principal_values(w) {
                if ty != "AWS" {
                    continue;
                }
                if let Some(a) = principal_account(v) {
                    if a != account {
                        let node = w.get("Principal").unwrap_or(w.node);
                        self.push(
                            SecurityWarning,
                            KMS_FULL_ACCESS_TO_OTHER_ACCOUNT,
                            format!("The statement allows all KMS actions (including kms:PutKeyPolicy and kms:ScheduleKeyDeletion) on this key to {v}, outside the key's account {account}. Allow only the actions that principal needs."),
                            &key(&w.path, "Principal"),
                            node,
                        );
                    }
                }
            }
        }
    }

    fn lockout(&mut self, root: &Json, policy: &Policy) {
        let mut unconditional = false;
        let mut conditional = false;
        let denied = policy.statements.iter().any(|st| {
            st.effect == Effect::Deny
                && st.conditions.is_empty()
                && st.resources.is_some()
                && st
                    .principal
                    .as_ref()
                    .is_some_and(|p| !p.not && p.entries.iter().any(|e| matches!(e, Entry::Star)))
                && action_matches(st, "kms:PutKeyPolicy")
        });
        for st in &policy.statements {
            let Some(pc) = &st.principal else { continue };
            if st.effect != Effect::Allow
                || st.resources.is_none()
                || pc.not
                || pc.entries.iter().all(|e| matches!(e, Entry::NonIam))
                || !action_matches(st, "kms:PutKeyPolicy")
            {
                continue;
            }
            if st.conditions.is_empty() {
                unconditional = true;
            } else {
                conditional = true;
            }
        }
        if denied || (!unconditional && !conditional) {
            self.push(
                Error,
                KMS_KEY_POLICY_LOCKOUT,
                "The new key policy will not allow you to update the key policy in the future: no statement lets a principal call kms:PutKeyPolicy. Allow kms:PutKeyPolicy to the account (arn:aws:iam::ACCOUNT:root) or a key administrator.",
                &Vec::new(),
                root,
            );
        } else if !unconditional {
            self.push(
                Warning,
                KMS_KEY_POLICY_LOCKOUT,
                "Only statements with conditions let a principal call kms:PutKeyPolicy: when the conditions do not hold, no one can update the key policy.",
                &Vec::new(),
                root,
            );
        }
    }

    fn deny_never_applies(&mut self, walked: &[Walked<'_>], policy: &Policy) {
        for (w, st) in walked.iter().zip(&policy.statements) {
            if st.effect != Effect::Deny {
                continue;
            }
            let never = if st.resources.is_none() {
                Some("it has no Resource element, so it matches no key")
            } else if st
                .principal
                .as_ref()
                .is_some_and(|p| p.not && p.entries.iter().any(|e| matches!(e, Entry::Star)))
            {
                Some("NotPrincipal \"*\" excludes every principal")
            } else if !st.actions.not
                && !KMS_ALL
                    .iter()
                    .any(|a| st.actions.globs.iter().any(|g| g.matches(a, true)))
            {
                Some("none of its actions is a KMS action")
            } else {
                None
            };
            if let Some(why) = never {
                self.push(
                    Warning,
                    DENY_NEVER_APPLIES,
                    format!("This Deny statement never applies: {why}."),
                    &w.path,
                    w.node,
                );
            }
        }
    }
}

const KMS_ALL: &[&str] = catalog::KMS_ACTIONS;

fn action_matches(st: &crate::policy::Statement, action: &str) -> bool {
    let any = st.actions.globs.iter().any(|g| g.matches(action, true));
    any != st.actions.not
}

/// `(type, value)` of every principal entry of a statement's Principal element.
fn principal_values<'j>(w: &Walked<'j>) -> Vec<(&'j str, &'j str)> {
    let mut out = Vec::new();
    if let Some(Json {
        value: JsonValue::Object(map),
        ..
    }) = w.get("Principal")
    {
        for (ty, v) in map {
            for (_, s, _) in strings(v) {
                out.push((ty.as_str(), s));
            }
        }
    }
    out
}
