//! The crate dependency edges in ARCHITECTURE.md (its `deps` block) are the edges of the
//! manifests: every kmsd crate's normal `[dependencies]` on other kmsd crates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Edges = BTreeMap<String, BTreeSet<String>>;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `crate -> a, b` lines of the fenced block marked `deps`.
fn documented() -> Edges {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let block = text
        .split("```deps\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```deps block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (from, to) = l.split_once("->").expect("`crate -> deps` lines");
            let to = to
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            (from.trim().to_string(), to)
        })
        .collect()
}

/// The kmsd crates each manifest's `[dependencies]` section names.
fn manifests() -> Edges {
    sections(&["[dependencies]"])
}

/// The kmsd crates each manifest's sections `names` (e.g. `[dev-dependencies]`) name.
fn sections(names: &[&str]) -> Edges {
    let mut edges = Edges::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_string())
            .unwrap();
        let mut in_deps = false;
        let mut deps = BTreeSet::new();
        for line in text.lines() {
            if line.starts_with('[') {
                in_deps = names.contains(&line.trim());
                continue;
            }
            if in_deps {
                let key = line.split(['=', '.']).next().unwrap_or("").trim();
                if key.starts_with("kmsd") {
                    deps.insert(key.to_string());
                }
            }
        }
        edges.insert(name, deps);
    }
    edges
}

#[test]
fn documented_edges_are_the_manifests_edges() {
    assert_eq!(
        documented(),
        manifests(),
        "update the ```deps block of ARCHITECTURE.md (and its diagram) with the new edges"
    );
}

#[test]
fn pure_crates_depend_on_no_kmsd_crate() {
    let edges = manifests();
    for pure in ["kmsd-policy", "kmsd-sigv4", "kmsd-crypto"] {
        assert_eq!(edges[pure], BTreeSet::new(), "{pure}");
    }
}

/// The load generator is used by its own targets only (its benches and examples): no other
/// crate depends on it, not even for tests or benches.
#[test]
fn no_crate_depends_on_the_load_generator() {
    let edges = sections(&[
        "[dependencies]",
        "[dev-dependencies]",
        "[build-dependencies]",
    ]);
    for (krate, deps) in &edges {
        assert!(
            !deps.contains("kmsd-bench"),
            "{krate} depends on kmsd-bench"
        );
    }
}
