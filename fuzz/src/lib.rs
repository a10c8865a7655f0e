//! Fuzz properties for kmsd, one module per libFuzzer target. Each `run(data)` calls real
//! project code on input derived from `data` and panics (so libFuzzer reports a crash) when
//! a property is violated; returning normally means the input passed.
//!
//! The `fuzz_targets/*.rs` binaries are one-line wrappers around these functions, so the
//! same properties can also be replayed without libFuzzer (see `README.md`).

pub mod asymmetric_inputs;
pub mod awsjson_body;
pub mod awsquery_form;
pub mod bootstrap_world;
pub mod ciphertext_blob;
pub mod gen;
pub mod sigv4_authorization;
pub mod world;
