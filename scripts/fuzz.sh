#!/usr/bin/env bash
# Run every fuzz target for SECONDS_PER_TARGET seconds (default 30), one after the other,
# and fail on the first crash, timeout or out-of-memory.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Targets: fuzz/ (sigv4_authorization, ciphertext_blob, awsjson_body, awsquery_form, asymmetric_inputs,
# bootstrap_world) and fuzz/policy/ (policy_*). Needs cargo-fuzz (`cargo install cargo-fuzz`);
# libFuzzer needs nightly-only compiler flags, which RUSTC_BOOTSTRAP=1 lets the stable
# compiler accept. Environment:
#   TARGETS="a b"      only these targets
#   FUZZ_SANITIZER=…   cargo-fuzz sanitizer (default: none — the workspace forbids unsafe
#                      code, so address sanitizer mostly costs speed; use `address` to check)
#   FUZZ_JOBS=N        also pass -jobs/-workers N to libFuzzer (default: 1 process)
# New corpus entries go to fuzz/corpus/<target> (git-ignored); crashes to
# fuzz/artifacts/<target>/ (git-ignored). See fuzz/README.md for long runs and triage.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-30}"
SAN="${FUZZ_SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi

MAIN_TARGETS="sigv4_authorization ciphertext_blob awsjson_body awsquery_form bootstrap_world asymmetric_inputs"
POLICY_TARGETS=""
if [ -f fuzz/policy/Cargo.toml ]; then
    POLICY_TARGETS="$(cargo fuzz list --fuzz-dir fuzz/policy 2>/dev/null | grep '^policy_' | tr '\n' ' ' || true)"
fi
SELECTED="${TARGETS:-$MAIN_TARGETS $POLICY_TARGETS}"

extra=()
if [ -n "${FUZZ_JOBS:-}" ]; then
    extra+=("-jobs=$FUZZ_JOBS" "-workers=$FUZZ_JOBS")
fi

failed=()
for t in $SELECTED; do
    if [[ " $POLICY_TARGETS " == *" $t "* ]]; then
        dir=fuzz/policy
        corpus=("$dir/corpus/$t")
    else
        dir=fuzz
        mkdir -p "fuzz/corpus/$t"
        corpus=("fuzz/corpus/$t" "fuzz/corpus-seed/$t")
        # Recorded reproducers run first, like the seeds (libFuzzer executes every input of
        # every corpus directory before it starts mutating).
        if [ -d "fuzz/regressions/$t" ]; then
            corpus+=("fuzz/regressions/$t")
        fi
    fi
    echo "== $t: ${SECS}s (fuzz dir $dir, sanitizer $SAN)"
    if ! cargo fuzz run --fuzz-dir "$dir" -O -s "$SAN" "$t" "${corpus[@]}" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${extra[@]+"${extra[@]}"}; then
        echo "!! $t failed: see $dir/artifacts/$t/" >&2
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all fuzz targets ran ${SECS}s without a crash"
