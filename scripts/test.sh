#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust tests, and end-to-end tests that drive the
# real kmsd binary with real AWS clients (boto3, aws CLI, AWS Encryption SDK CLI, aws-sdk-rust).
# Python clients come from tests/e2e/.venv (made by `.ci/run`, or: see README).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== end-to-end (real clients against target/debug/kmsd)"
# `cargo test --workspace` above built target/debug/kmsd for the integration tests; `cargo
# build -p kmsd` would build a second variant of it (features unified without the
# dev-dependencies), a minute of CI for the same code.
[ -x target/debug/kmsd ] || cargo build -p kmsd
# The aws-sdk-rust client: its own Cargo project (not a workspace member), built here once.
cargo fmt --manifest-path tests/sdk-rust/Cargo.toml -- --check
cargo build --locked --manifest-path tests/sdk-rust/Cargo.toml --target-dir tests/sdk-rust/target
export SDK_RUST_CHECK_BIN="$PWD/tests/sdk-rust/target/debug/kmsd-sdk-rust-check"
PY=tests/e2e/.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "tests/e2e/.venv missing: run .ci/run once, or create it as the README says" >&2
  exit 1
fi
KMSD_BIN="$PWD/target/debug/kmsd" PATH="$PWD/tests/e2e/.venv/bin:$PATH" "$PY" -m pytest -q tests/e2e
