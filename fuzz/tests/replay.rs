//! Replays the committed seed corpora (`corpus-seed/<target>/`) and crash reproducers
//! (`regressions/<target>/`) through the fuzz properties, without libFuzzer, so they run
//! on a stable toolchain: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["corpus-seed", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            eprintln!("{target}: {}", p.display());
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no inputs for {target}");
}

#[test]
fn sigv4_authorization() {
    replay("sigv4_authorization", kmsd_fuzz::sigv4_authorization::run);
}

#[test]
fn ciphertext_blob() {
    replay("ciphertext_blob", kmsd_fuzz::ciphertext_blob::run);
}

#[test]
fn awsjson_body() {
    replay("awsjson_body", kmsd_fuzz::awsjson_body::run);
}

#[test]
fn awsquery_form() {
    replay("awsquery_form", kmsd_fuzz::awsquery_form::run);
}

#[test]
fn bootstrap_world() {
    replay("bootstrap_world", kmsd_fuzz::bootstrap_world::run);
}

#[test]
fn asymmetric_inputs() {
    replay("asymmetric_inputs", kmsd_fuzz::asymmetric_inputs::run);
}
