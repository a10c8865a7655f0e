//! The module graph of kmsd-core has no cycle, and `kms/` is layered.
//!
//! Reads `crates/kmsd-core/src`, builds the graph of modules from the paths the source
//! names (`use` declarations and paths in code starting with `crate::`, `super::`,
//! `self::` or a child module's name) and from calls of `Kms` methods (`self.f(`,
//! `kms.f(`, `Kms::f(` where `f` is defined in one `impl Kms` block and nowhere else: the
//! service's methods are spread over the layers), and checks:
//!
//! - at every level (the crate's top modules; the children of each module, with the
//!   module's own file as one more node) no two nodes reach each other;
//! - `kms/`'s children are the layers of [`KMS_LAYERS`] and each imports only the layers
//!   it lists.
//!
//! What counts as an import: a private `use` of a kmsd-core item, and a path in code. Not
//! imports: `mod` declarations, and a `pub use` (of any visibility) re-export, unless the
//! re-exporting module itself uses the name elsewhere. A path through a re-export is an
//! import of the module that defines the item (`crate::kms::KmsOp`, re-exported from
//! `kms::model::op`, is an import of `kms::model::op`). Test code (`#[cfg(test)]` items and
//! the files of test-only modules) is left out: a test may reach anything.

#![allow(clippy::panic, reason = "test code: a failed expectation panics")]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers of `kms/`, bottom first, each with the layers it may import. `kms.rs` itself
/// (declarations, re-exports, the `Kms` struct) may import what [`KMS_OWN_FILE`] lists.
const KMS_LAYERS: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("persist", &["model"]),
    ("authz", &["model", "persist"]),
    ("decode", &["model"]),
    ("ops", &["model", "persist", "authz", "decode"]),
];
const KMS_OWN_FILE: &[&str] = &["model"];

type Module = Vec<String>;

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_string()
    } else {
        m.join("::")
    }
}

/// Source text without comments, string and character literals.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (c[i] == 'r' || c[i] == 'b')
            && !c
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && raw_string_start(&c, i).is_some()
        {
            let (hashes, body) = raw_string_start(&c, i).unwrap_or((0, i));
            i = body;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// `r"`, `r#"`, `br"`, `br#"`: the number of hashes and where the body starts.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if c[j] == 'b' {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Sep,
    P(char),
}

fn tokens(s: &str) -> Vec<Tok> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphabetic() || c[i] == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[st..i].iter().collect()));
        } else if c[i].is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::Sep);
            i += 2;
        } else if c[i].is_whitespace() {
            i += 1;
        } else {
            out.push(Tok::P(c[i]));
            i += 1;
        }
    }
    out
}

/// The tokens without `#[cfg(test)]` items.
fn without_test_items(t: Vec<Tok>) -> Vec<Tok> {
    let pat = [
        Tok::P('#'),
        Tok::P('['),
        Tok::Ident("cfg".into()),
        Tok::P('('),
        Tok::Ident("test".into()),
        Tok::P(')'),
        Tok::P(']'),
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i..].starts_with(&pat) {
            i += pat.len();
            // Skip the item: up to its `;` or its braced body.
            let mut depth = 0;
            while i < t.len() {
                match &t[i] {
                    Tok::P(';') if depth == 0 => {
                        i += 1;
                        break;
                    }
                    Tok::P('{') => depth += 1,
                    Tok::P('}') => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            out.push(t[i].clone());
            i += 1;
        }
    }
    out
}

/// One `use` declaration's leaves: the path and the name it binds (`None`: a glob, `_`).
fn use_tree(
    t: &[Tok],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix.to_vec();
    loop {
        match t.get(*i) {
            Some(Tok::Sep) => {
                *i += 1;
                continue;
            }
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
            }
            Some(Tok::P('*')) => {
                *i += 1;
                out.push((path, None));
                return;
            }
            Some(Tok::P('{')) => {
                *i += 1;
                loop {
                    match t.get(*i) {
                        Some(Tok::P('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::P(',')) => *i += 1,
                        None => return,
                        _ => use_tree(t, i, &path, out),
                    }
                }
            }
            _ => break,
        }
        if !matches!(
            t.get(*i),
            Some(Tok::Sep) | Some(Tok::P('{')) | Some(Tok::P('*'))
        ) {
            break;
        }
    }
    let mut bound = path.last().cloned();
    if path.last().map(String::as_str) == Some("self") {
        path.pop();
        bound = path.last().cloned();
    }
    if let (Some(Tok::Ident(a)), Some(tok)) = (t.get(*i), t.get(*i + 1)) {
        if a == "as" {
            *i += 2;
            bound = match tok {
                Tok::Ident(n) if n != "_" => Some(n.clone()),
                _ => None,
            };
        }
    }
    out.push((path, bound));
}

struct Use {
    path: Vec<String>,
    bound: Option<String>,
    public: bool,
}

struct Unit {
    file: PathBuf,
    uses: Vec<Use>,
    /// Paths in code (outside `use`), each at least two segments.
    paths: Vec<Vec<String>>,
    /// Identifiers in code outside `use` declarations.
    idents: BTreeSet<String>,
    /// `mod x;` declarations (test-only ones removed).
    children: BTreeSet<String>,
    /// Functions defined here: those of `impl Kms` blocks, and all others.
    kms_methods: BTreeSet<String>,
    other_fns: BTreeSet<String>,
    /// Method calls on `self` or `kms` and `Kms::f(` calls: the names called.
    calls: BTreeSet<String>,
}

fn parse(file: &Path) -> Unit {
    let src = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let t = without_test_items(tokens(&strip(&src)));
    let mut u = Unit {
        file: file.to_path_buf(),
        uses: Vec::new(),
        paths: Vec::new(),
        idents: BTreeSet::new(),
        children: BTreeSet::new(),
        kms_methods: BTreeSet::new(),
        other_fns: BTreeSet::new(),
        calls: BTreeSet::new(),
    };
    functions(&t, &mut u);
    let mut i = 0;
    while i < t.len() {
        match &t[i] {
            Tok::Ident(k) if k == "use" => {
                let public =
                    i > 0 && (t[i - 1] == Tok::Ident("pub".into()) || t[i - 1] == Tok::P(')'));
                i += 1;
                let mut leaves = Vec::new();
                use_tree(&t, &mut i, &[], &mut leaves);
                for (path, bound) in leaves {
                    u.uses.push(Use {
                        path,
                        bound,
                        public,
                    });
                }
                while i < t.len() && t[i] != Tok::P(';') {
                    i += 1;
                }
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(Tok::Ident(n)), Some(Tok::P(';'))) = (t.get(i + 1), t.get(i + 2)) {
                    u.children.insert(n.clone());
                }
                i += 1;
            }
            Tok::Ident(s) if i == 0 || t[i - 1] != Tok::Sep => {
                let mut path = vec![s.clone()];
                let mut j = i + 1;
                while let (Some(Tok::Sep), Some(Tok::Ident(n))) = (t.get(j), t.get(j + 1)) {
                    path.push(n.clone());
                    j += 2;
                }
                u.idents.insert(s.clone());
                if path.len() > 1 {
                    u.paths.push(path);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    u
}

/// The functions a file defines (inside `impl Kms` blocks or not) and the methods it calls
/// on `self` / `kms` or as `Kms::f(...)`.
fn functions(t: &[Tok], u: &mut Unit) {
    let ident = |k: usize| match t.get(k) {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let mut depth = 0usize;
    // Brace depths at which an `impl Kms` block's body is open.
    let mut kms_impl: Vec<usize> = Vec::new();
    let mut pending_kms_impl = false;
    for k in 0..t.len() {
        match &t[k] {
            Tok::P('{') => {
                depth += 1;
                if pending_kms_impl {
                    kms_impl.push(depth);
                    pending_kms_impl = false;
                }
            }
            Tok::P('}') => {
                if kms_impl.last() == Some(&depth) {
                    kms_impl.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::P(';') => pending_kms_impl = false,
            Tok::Ident(w) if w == "impl" => {
                // `impl Kms {`, `impl crate::kms::Kms {` (not `impl Trait for Kms`).
                let mut j = k + 1;
                let mut last = None;
                while let Some(x) = ident(j) {
                    last = Some(x);
                    j += 1;
                    if t.get(j) == Some(&Tok::Sep) {
                        j += 1;
                    } else {
                        break;
                    }
                }
                pending_kms_impl = last == Some("Kms") && t.get(j) == Some(&Tok::P('{'));
            }
            Tok::Ident(w) if w == "fn" => {
                if let Some(n) = ident(k + 1) {
                    if kms_impl.last() == Some(&depth) {
                        u.kms_methods.insert(n.to_string());
                    } else {
                        u.other_fns.insert(n.to_string());
                    }
                }
            }
            Tok::Ident(w) if w == "self" || w == "kms" => {
                if let (Some(Tok::P('.')), Some(n), Some(Tok::P('('))) =
                    (t.get(k + 1), ident(k + 2), t.get(k + 3))
                {
                    u.calls.insert(n.to_string());
                }
            }
            Tok::Ident(w) if w == "Kms" => {
                if let (Some(Tok::Sep), Some(n), Some(Tok::P('('))) =
                    (t.get(k + 1), ident(k + 2), t.get(k + 3))
                {
                    u.calls.insert(n.to_string());
                }
            }
            _ => {}
        }
    }
}

struct Crate {
    units: BTreeMap<Module, Unit>,
}

impl Crate {
    fn load(src: &Path) -> Crate {
        let mut units = BTreeMap::new();
        load_module(&src.join("lib.rs"), src, Vec::new(), &mut units);
        Crate { units }
    }

    /// `segs` as named from module `from`, made absolute; `None` when not kmsd-core's.
    fn absolute(&self, from: &[String], segs: &[String]) -> Option<Vec<String>> {
        let first = segs.first()?;
        let (mut base, rest): (Vec<String>, &[String]) = match first.as_str() {
            "crate" => (Vec::new(), &segs[1..]),
            "self" => (from.to_vec(), &segs[1..]),
            "super" => {
                let mut b = from.to_vec();
                let mut k = 0;
                while segs.get(k).map(String::as_str) == Some("super") {
                    b.pop();
                    k += 1;
                }
                (b, &segs[k..])
            }
            _ if self
                .units
                .get(from)
                .is_some_and(|u| u.children.contains(first)) =>
            {
                (from.to_vec(), segs)
            }
            _ => return None,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The module defining what absolute path `abs` names (through re-exports).
    fn target(&self, abs: &[String], depth: usize) -> Module {
        let mut m = abs.to_vec();
        while !self.units.contains_key(&m) {
            m.pop();
        }
        if depth < 8 {
            if let Some(item) = abs.get(m.len()) {
                if let Some(u) = self.units.get(&m).and_then(|u| {
                    u.uses
                        .iter()
                        .find(|x| x.bound.as_deref() == Some(item.as_str()))
                }) {
                    if let Some(a) = self.absolute(&m, &u.path) {
                        let mut a = a;
                        a.extend(abs[m.len() + 1..].iter().cloned());
                        return self.target(&a, depth + 1);
                    }
                }
            }
        }
        m
    }

    /// Every import edge (from, to), with one reference that makes it.
    fn edges(&self) -> BTreeMap<(Module, Module), String> {
        let mut out = BTreeMap::new();
        for (m, u) in &self.units {
            let mut add = |segs: &[String]| {
                if let Some(abs) = self.absolute(m, segs) {
                    let to = self.target(&abs, 0);
                    if &to != m {
                        out.entry((m.clone(), to)).or_insert_with(|| {
                            format!("{}: {}", u.file.display(), segs.join("::"))
                        });
                    }
                }
            };
            for x in &u.uses {
                let used = match &x.bound {
                    Some(b) => !x.public || u.idents.contains(b),
                    None => !x.public,
                };
                if used {
                    add(&x.path);
                }
            }
            for p in &u.paths {
                add(p);
            }
        }
        // `impl Kms` spreads the service's methods over the layers: a call of a method
        // defined in one `impl Kms` block of another module (and nowhere else in the crate)
        // is an import of that module too.
        let mut defined: BTreeMap<&str, Vec<(&Module, bool)>> = BTreeMap::new();
        for (m, u) in &self.units {
            for n in &u.kms_methods {
                defined.entry(n).or_default().push((m, true));
            }
            for n in &u.other_fns {
                defined.entry(n).or_default().push((m, false));
            }
        }
        for (m, u) in &self.units {
            for n in &u.calls {
                if let Some([(to, true)]) = defined.get(n.as_str()).map(Vec::as_slice) {
                    if *to != m {
                        out.entry((m.clone(), (*to).clone()))
                            .or_insert_with(|| format!("{}: calls Kms::{n}", u.file.display()));
                    }
                }
            }
        }
        out
    }
}

fn load_module(file: &Path, dir: &Path, m: Module, units: &mut BTreeMap<Module, Unit>) {
    let u = parse(file);
    let children: Vec<String> = u.children.iter().cloned().collect();
    units.insert(m.clone(), u);
    // lib.rs and x/mod.rs hold their children in their own directory; x.rs in x/.
    let own_dir = if file
        .file_name()
        .is_some_and(|n| n == "lib.rs" || n == "mod.rs")
    {
        dir.to_path_buf()
    } else {
        dir.join(file.file_stem().unwrap_or_default())
    };
    for c in children {
        let mut cm = m.clone();
        cm.push(c.clone());
        let flat = own_dir.join(format!("{c}.rs"));
        let nested = own_dir.join(&c).join("mod.rs");
        if flat.exists() {
            load_module(&flat, &own_dir, cm, units);
        } else if nested.exists() {
            load_module(&nested, &own_dir.join(&c), cm, units);
        } else {
            panic!("module {} has no file", name(&cm));
        }
    }
}

/// At the level of module `parent`: the node (its own file `"self"`, or a child's name)
/// that module `m` belongs to.
fn node_at(parent: &[String], m: &[String]) -> Option<String> {
    if m == parent {
        Some("self".into())
    } else if m.starts_with(parent) {
        Some(m[parent.len()].clone())
    } else {
        None
    }
}

/// The edges between the nodes at `parent`'s level, with a reference for each.
fn level(
    parent: &[String],
    edges: &BTreeMap<(Module, Module), String>,
) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for ((a, b), why) in edges {
        if let (Some(x), Some(y)) = (node_at(parent, a), node_at(parent, b)) {
            if x != y {
                out.entry((x, y)).or_insert_with(|| why.clone());
            }
        }
    }
    out
}

/// Cycles among the nodes of one level: one cycle per strongly connected component.
fn cycles(g: &BTreeMap<(String, String), String>) -> Vec<(Vec<String>, Vec<String>)> {
    let nodes: BTreeSet<&String> = g.keys().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for (a, b) in g.keys() {
                if *a == n && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if done.contains(n) || !reach(n).contains(n) {
            continue;
        }
        // Shortest way back to n (breadth first), naming the cycle.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([n.clone()]);
        let mut found = None;
        while let Some(x) = queue.pop_front() {
            for (a, b) in g.keys() {
                if *a == x {
                    if b == n {
                        found = Some(x.clone());
                        break;
                    }
                    if !prev.contains_key(b) {
                        prev.insert(b.clone(), x.clone());
                        queue.push_back(b.clone());
                    }
                }
            }
            if found.is_some() {
                break;
            }
        }
        let mut path = vec![n.clone()];
        let mut x = found.unwrap_or_else(|| n.clone());
        let mut back = Vec::new();
        while x != *n {
            back.push(x.clone());
            x = prev.get(&x).cloned().unwrap_or_else(|| n.clone());
        }
        back.reverse();
        path.extend(back);
        path.push(n.clone());
        let r = reach(n);
        let members: Vec<String> = r.iter().filter(|m| reach(m).contains(n)).cloned().collect();
        done.extend(members.iter().cloned());
        out.push((path, members));
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_two_modules_reach_each_other() {
    let krate = Crate::load(&src());
    let edges = krate.edges();
    let mut report = Vec::new();
    for parent in krate.units.keys() {
        let g = level(parent, &edges);
        for (cycle, members) in cycles(&g) {
            let own = |n: &String| -> String {
                if n == "self" {
                    format!("{} (own file)", name(parent))
                } else {
                    let mut m = parent.clone();
                    m.push(n.clone());
                    name(&m)
                }
            };
            let mut s = format!(
                "cycle: {}",
                cycle.iter().map(own).collect::<Vec<_>>().join(" -> ")
            );
            if members.len() > 2 {
                s.push_str(&format!(
                    "\n  (one of the cycles among {})",
                    members.iter().map(own).collect::<Vec<_>>().join(", ")
                ));
            }
            for w in cycle.windows(2) {
                if let Some(why) = g.get(&(w[0].clone(), w[1].clone())) {
                    s.push_str(&format!("\n    {} -> {}: {why}", own(&w[0]), own(&w[1])));
                }
            }
            report.push(s);
        }
    }
    assert!(
        report.is_empty(),
        "{} import cycle(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn kms_layers_import_only_the_layers_below() {
    let krate = Crate::load(&src());
    let kms = vec!["kms".to_string()];
    let edges = krate.edges();
    let mut bad = Vec::new();
    let layers: BTreeMap<&str, &[&str]> = KMS_LAYERS.iter().copied().collect();
    let children = &krate.units[&kms].children;
    for c in children {
        if !layers.contains_key(c.as_str()) {
            bad.push(format!("kms::{c} is in no layer (KMS_LAYERS)"));
        }
    }
    for ((a, b), why) in level(&kms, &edges) {
        let allowed: &[&str] = if a == "self" {
            KMS_OWN_FILE
        } else {
            layers.get(a.as_str()).copied().unwrap_or(&[])
        };
        if b != "self" && !allowed.contains(&b.as_str()) {
            bad.push(format!("kms::{a} imports kms::{b}: {why}"));
        }
    }
    assert!(bad.is_empty(), "kms/ layering broken:\n{}", bad.join("\n"));
}

#[test]
fn the_graph_sees_known_imports() {
    // The parser itself: a few imports it must find, and a re-export it must see through.
    let krate = Crate::load(&src());
    let edges = krate.edges();
    let m = |s: &str| -> Module { s.split("::").map(String::from).collect() };
    assert!(krate.units.contains_key(&m("kms")), "kms module found");
    assert!(
        krate.units.len() > 40,
        "modules found: {}",
        krate.units.len()
    );
    assert!(
        edges
            .keys()
            .any(|(a, b)| a == &m("service") && b.starts_with(&m("kms"))),
        "service imports kms"
    );
    // Dispatch calls `self.create_key(..)`, defined in `impl Kms` of `ops::lifecycle`.
    assert!(
        edges.contains_key(&(m("kms::ops"), m("kms::ops::lifecycle"))),
        "calls of Kms methods are imports"
    );
    assert!(
        !edges
            .keys()
            .any(|(a, _)| a.last().map(String::as_str) == Some("tests")),
        "test modules are left out"
    );
}

#[test]
fn stripping_leaves_code_only() {
    let s = strip("a // super::x\n/* crate::y */ \"crate::z\" r#\"super::w\"# '\"' b 'a");
    assert!(!s.contains("super") && !s.contains("crate"), "{s}");
    assert!(s.contains('a') && s.contains('b'));
    let t = without_test_items(tokens(
        "use crate::a; #[cfg(test)] mod tests { use super::b; } c",
    ));
    assert!(!t.contains(&Tok::Ident("b".into())) && t.contains(&Tok::Ident("c".into())));
}
