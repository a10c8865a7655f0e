//! Witness request contexts: a finite set of contexts that stands for every request a
//! question leaves open. A question (an access diff, a public-access check) fixes some
//! condition keys — who the caller is, which key, the region and time; a real request also
//! carries keys it does not fix: the encryption context, request parameters
//! (`kms:GrantOperations`, `kms:ViaService`, `kms:EncryptionAlgorithm`, ...), the network,
//! request tags, MFA. Those are treated as *may hold*: each one the policies compare takes,
//! in some witness, each value the policies name, a value they do not name, or no value at
//! all, in every combination (the product, up to [`MAX_WITNESSES`]); a decision that differs
//! under some witness differs under some real request, and a decision that is the same under
//! every witness is the same under every request whose open keys are drawn from those values.
//!
//! The encryption context is one dimension per context key the policies or grant constraints
//! name (`kms:EncryptionContext:K`, the values of `kms:EncryptionContextKeys`), plus one key
//! named nowhere, so `ForAllValues` conditions on the key set see a context with a key they do
//! not list. Numbers also get their neighbours (for `NumericLessThan`), CIDR blocks their
//! network address, and `true`/`false` each other, so the other operators can be satisfied.

use std::collections::BTreeMap;

use crate::context::RequestContext;

/// Above this many combinations the product is cut to one open key at a time (and the
/// witnesses are reported incomplete).
pub const MAX_WITNESSES: usize = 256;

/// A value no policy names.
pub const OTHER_VALUE: &str = "kmsd-other-value";

/// An encryption context key no policy names.
pub const OTHER_EC_KEY: &str = "kmsd-other-key";

/// Condition keys whose values are lists.
const MULTI_VALUED: &[&str] = &[
    "aws:tagkeys",
    "kms:grantoperations",
    "sts:transitivetagkeys",
    "aws:calledvia",
    "aws:principalservicenameslist",
];

/// One witness: values for the open condition keys and an encryption context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witness {
    /// Open condition keys other than the encryption context: (key, values); one value
    /// unless the key is multi-valued.
    pub keys: Vec<(String, Vec<String>)>,
    pub encryption_context: BTreeMap<String, String>,
}

impl Witness {
    /// Put the open keys (not the encryption context) into `ctx`.
    pub fn apply_keys(&self, ctx: &mut RequestContext) {
        for (k, v) in &self.keys {
            if MULTI_VALUED.contains(&k.to_ascii_lowercase().as_str()) {
                ctx.set_multi(k, v.clone());
            } else if let Some(first) = v.first() {
                ctx.set(k, first.clone());
            }
        }
    }

    /// Put the open keys and the encryption context keys into `ctx`.
    pub fn apply(&self, ctx: &mut RequestContext) {
        self.apply_keys(ctx);
        for (k, v) in &self.encryption_context {
            ctx.set(&format!("kms:EncryptionContext:{k}"), v.clone());
        }
        if !self.encryption_context.is_empty() {
            ctx.set_multi(
                "kms:EncryptionContextKeys",
                self.encryption_context.keys().cloned().collect(),
            );
        }
    }

    /// The encryption context, or `None` when empty.
    pub fn ec(&self) -> Option<&BTreeMap<String, String>> {
        (!self.encryption_context.is_empty()).then_some(&self.encryption_context)
    }

    /// True when the witness sets nothing (the request the question fixes, and no more).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.encryption_context.is_empty()
    }

    /// The witness as `key=value` pairs, for reports.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .keys
            .iter()
            .map(|(k, v)| format!("{k}={}", v.join(",")))
            .collect();
        parts.extend(
            self.encryption_context
                .iter()
                .map(|(k, v)| format!("kms:EncryptionContext:{k}={v}")),
        );
        if parts.is_empty() {
            "no request-specific keys".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The witnesses of a question, and whether they are the full product.
#[derive(Debug, Clone)]
pub struct Witnesses {
    pub list: Vec<Witness>,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    Key(String),
    Ec(String),
}

/// Literal text for a pattern: wildcards replaced so the pattern matches it.
pub fn instance(pattern: &str) -> String {
    pattern.replace(['*', '?'], "x")
}

fn values_for(v: &str) -> Vec<String> {
    let mut out = vec![instance(v)];
    if let Ok(n) = v.parse::<i64>() {
        out.push(n.saturating_sub(1).to_string());
        out.push(n.saturating_add(1).to_string());
    }
    if let Some((addr, _)) = v.split_once('/') {
        if addr.parse::<std::net::IpAddr>().is_ok() {
            out.push(addr.to_string());
        }
    }
    match v.to_ascii_lowercase().as_str() {
        "true" => out.push("false".into()),
        "false" => out.push("true".into()),
        _ => {}
    }
    out
}

/// The witnesses for the conditions `literals` ((condition key, literal values), as
/// [`super::custom::condition_literals`] gives them) and the encryption context pairs of grant
/// constraints; `fixed(lower_case_key)` says which keys the question fixes (those are left
/// as the question sets them).
pub fn witnesses(
    literals: &[(String, Vec<String>)],
    grant_pairs: &[(String, String)],
    fixed: &dyn Fn(&str) -> bool,
) -> Witnesses {
    let mut dims: BTreeMap<Dim, Vec<String>> = BTreeMap::new();
    let mut lower_names: BTreeMap<String, String> = BTreeMap::new();
    let mut any_ec = !grant_pairs.is_empty();
    for (key, values) in literals {
        let lower = key.to_ascii_lowercase();
        if fixed(&lower) {
            continue;
        }
        if let Some(name) = lower
            .strip_prefix("kms:encryptioncontext:")
            .and_then(|_| key.get("kms:EncryptionContext:".len()..))
        {
            any_ec = true;
            let d = dims.entry(Dim::Ec(name.to_string())).or_default();
            for v in values {
                d.extend(values_for(v));
            }
        } else if lower == "kms:encryptioncontextkeys" {
            any_ec = true;
            for v in values {
                dims.entry(Dim::Ec(instance(v))).or_default();
            }
        } else {
            let name = lower_names.entry(lower).or_insert_with(|| key.clone());
            let d = dims.entry(Dim::Key(name.clone())).or_default();
            for v in values {
                d.extend(values_for(v));
            }
        }
    }
    for (k, v) in grant_pairs {
        dims.entry(Dim::Ec(k.clone())).or_default().push(v.clone());
    }
    if any_ec {
        dims.entry(Dim::Ec(OTHER_EC_KEY.into())).or_default();
    }
    // Options per dimension: absent, each literal, a value named nowhere.
    let dims: Vec<(Dim, Vec<Option<String>>)> = dims
        .into_iter()
        .map(|(d, mut vals)| {
            vals.sort();
            vals.dedup();
            let mut opts: Vec<Option<String>> = vec![None];
            opts.extend(vals.into_iter().map(Some));
            opts.push(Some(OTHER_VALUE.into()));
            (d, opts)
        })
        .collect();
    let build = |choice: &[Option<&String>]| {
        let mut w = Witness::default();
        for ((d, _), c) in dims.iter().zip(choice) {
            let Some(v) = c else { continue };
            match d {
                Dim::Key(k) => w.keys.push((k.clone(), vec![(*v).clone()])),
                Dim::Ec(k) => {
                    w.encryption_context.insert(k.clone(), (*v).clone());
                }
            }
        }
        w
    };
    let product = dims
        .iter()
        .try_fold(1usize, |acc, (_, o)| acc.checked_mul(o.len()))
        .filter(|n| *n <= MAX_WITNESSES);
    let mut list = Vec::new();
    match product {
        Some(_) => {
            // Odometer over the options of every dimension.
            let mut idx = vec![0usize; dims.len()];
            loop {
                let choice: Vec<Option<&String>> = dims
                    .iter()
                    .zip(&idx)
                    .map(|((_, o), i)| o.get(*i).and_then(Option::as_ref))
                    .collect();
                list.push(build(&choice));
                let mut carry = true;
                for (pos, (_, opts)) in idx.iter_mut().zip(&dims) {
                    if !carry {
                        break;
                    }
                    *pos += 1;
                    if *pos == opts.len() {
                        *pos = 0;
                    } else {
                        carry = false;
                    }
                }
                if carry {
                    break;
                }
            }
            Witnesses {
                list,
                complete: true,
            }
        }
        None => {
            let none: Vec<Option<&String>> = vec![None; dims.len()];
            list.push(build(&none));
            for (i, (_, opts)) in dims.iter().enumerate() {
                for o in opts.iter().flatten() {
                    let mut choice = none.clone();
                    choice[i] = Some(o);
                    list.push(build(&choice));
                }
            }
            let firsts: Vec<Option<&String>> = dims
                .iter()
                .map(|(_, o)| o.get(1).and_then(Option::as_ref))
                .collect();
            list.push(build(&firsts));
            Witnesses {
                list,
                complete: false,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    #[test]
    fn no_open_keys_is_one_empty_witness() {
        let w = witnesses(
            &[("kms:CallerAccount".into(), vec!["111122223333".into()])],
            &[],
            &|k| k == "kms:calleraccount",
        );
        assert!(w.complete);
        assert_eq!(w.list, vec![Witness::default()]);
    }

    #[test]
    fn encryption_context_product_covers_combinations() {
        let lits = vec![
            ("kms:EncryptionContext:Dept".into(), vec!["IT".into()]),
            ("kms:EncryptionContextKeys".into(), vec!["Secret".into()]),
        ];
        let w = witnesses(&lits, &[], &|_| false);
        assert!(w.complete);
        // Dept: absent, IT, other; Secret: absent, other; other key: absent, other.
        assert_eq!(w.list.len(), 3 * 2 * 2);
        assert!(w.list.iter().any(
            |x| x.encryption_context.get("Dept") == Some(&"IT".to_string())
                && x.encryption_context.contains_key("Secret")
                && !x.encryption_context.contains_key(OTHER_EC_KEY)
        ));
        assert!(w
            .list
            .iter()
            .any(|x| x.encryption_context.len() == 1
                && x.encryption_context.contains_key(OTHER_EC_KEY)));
    }

    #[test]
    fn too_many_combinations_fall_back_and_say_so() {
        let lits: Vec<(String, Vec<String>)> = (0..10)
            .map(|i| (format!("aws:RequestTag/t{i}"), vec!["a".into(), "b".into()]))
            .collect();
        let w = witnesses(&lits, &[], &|_| false);
        assert!(!w.complete);
        assert!(w.list.len() < MAX_WITNESSES);
        assert!(w.list.iter().any(|x| x.keys.len() == 10));
    }

    #[test]
    fn numbers_get_neighbours() {
        let w = witnesses(
            &[(
                "kms:ScheduleKeyDeletionPendingWindowInDays".into(),
                vec!["10".into()],
            )],
            &[],
            &|_| false,
        );
        let vals: Vec<&str> = w
            .list
            .iter()
            .filter_map(|x| x.keys.first().map(|(_, v)| v[0].as_str()))
            .collect();
        assert!(vals.contains(&"9") && vals.contains(&"11") && vals.contains(&"10"));
    }
}
