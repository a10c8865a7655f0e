#!/usr/bin/env bash
# Instructions the whole server executes per request, side by side: a figure that does not
# depend on what else the machine is doing (unlike req/s or CPU µs, which swing with load).
#
#   scripts/bench-instr.sh NAME=KMSD_BIN[+serve flags] [NAME=KMSD_BIN[+serve flags] ...]
#
# e.g. compare metrics on and off, and a build before a change with the build after it:
#   scripts/bench-instr.sh on=target/release/kmsd off=target/release/kmsd+--no-metrics
#   scripts/bench-instr.sh before=/tmp/kmsd-old after=target/release/kmsd
# (several flags: off=BIN+--no-metrics+--audit-sync+always)
#
# Each server runs `kmsd serve --bootstrap examples/seed-world.json` under
# `valgrind --tool=callgrind --instr-atstart=no` on a data dir in DATA_PARENT; kmsd-bench
# makes one key and sends Encrypts for 2 s uncounted (warm-up), then `callgrind_control -i on`
# starts counting and kmsd-bench sends Encrypts for DURATION (CONNECTIONS connections,
# PLAINTEXT_SIZE bytes, per-request SigV4 signing); the server is stopped and its counted
# instructions are divided by the requests kmsd-bench saw answered in that window. All
# threads count (workers, the audit writer, the store). ROUNDS rounds, the servers
# interleaved; prints each run and the median per name.
#
# Environment: ROUNDS=3 DURATION=15s CONNECTIONS=8 PLAINTEXT_SIZE=32 DATA_PARENT=/dev/shm
#              BENCH_BIN=target/release/kmsd-bench
# Needs valgrind (Debian's `valgrind`: callgrind_control comes with it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/bench-common.sh

[ $# -ge 1 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "valgrind (with callgrind_control) is needed" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-8}
PLAINTEXT_SIZE=${PLAINTEXT_SIZE:-32}
DATA_PARENT=${DATA_PARENT:-/dev/shm}
[ -d "$DATA_PARENT" ] || DATA_PARENT=${TMPDIR:-/tmp}
BENCH=${BENCH_BIN:-$ROOT/target/release/kmsd-bench}
[ -x "$BENCH" ] || { echo "missing $BENCH (cargo build --release -p kmsd-bench)" >&2; exit 2; }
WORLD=$ROOT/examples/seed-world.json
read -r ROOT_AK ROOT_SK < <(seed_root_credentials "$WORLD")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-bench-instr.XXXXXX")
SERVER_PID=""
DATA_DIR=""
cleanup() {
  local rc=$?
  stop_pid "$SERVER_PID" 60
  [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
  rm -rf "$TMP"
  exit "$rc"
}
trap_cleanup

for round in $(seq 1 "$ROUNDS"); do
  for spec in "$@"; do
    name=${spec%%=*}
    rest=${spec#*=}
    IFS=+ read -r -a parts <<<"$rest"
    KMSD=${parts[0]}
    flags=("${parts[@]:1}")
    [ -x "$KMSD" ] || { echo "$name: $KMSD is not executable" >&2; exit 2; }
    DATA_DIR=$(mktemp -d "$DATA_PARENT/kmsd-bench-instr.XXXXXX")
    out="$TMP/$name-r$round.cg"
    # start_kmsd runs "${RUN[@]}" "$KMSD" serve ...: valgrind goes in front through RUN.
    RUN=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$out")
    start_kmsd "$TMP/kmsd.log" "$DATA_DIR" --bootstrap "$WORLD" "${flags[@]}"
    SERVER_PID=$KMSD_STARTED_PID
    endpoint=$KMSD_STARTED_ENDPOINT
    key=$(AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK "$BENCH" --endpoint "$endpoint" \
      --region us-east-1 --create-key --op encrypt --connections "$CONNECTIONS" --duration 2s \
      --warmup 0s --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')
    callgrind_control -i on "$SERVER_PID" >/dev/null 2>&1
    AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK "$BENCH" --endpoint "$endpoint" \
      --region us-east-1 --key-id "$key" --op encrypt --connections "$CONNECTIONS" \
      --duration "$DURATION" --warmup 0s --plaintext-size "$PLAINTEXT_SIZE" \
      --json-out "$TMP/$name-r$round.json" >/dev/null
    callgrind_control -i off "$SERVER_PID" >/dev/null 2>&1
    stop_pid "$SERVER_PID" 60; SERVER_PID=""
    rm -rf "$DATA_DIR"; DATA_DIR=""
    python3 - "$TMP" "$name-r$round" <<'PY'
import glob, json, sys
tmp, run = sys.argv[1], sys.argv[2]
ir = 0
for f in glob.glob(f"{tmp}/{run}.cg*"):
    for line in open(f):
        if line.startswith("summary:") or line.startswith("totals:"):
            ir = max(ir, int(line.split()[1]))
r = json.load(open(f"{tmp}/{run}.json"))
n = r["total"]["requests"]
ok = r["total"]["ok"]
json.dump({"ir": ir, "requests": n, "ok": ok}, open(f"{tmp}/{run}.sum", "w"))
print(f"  {run:<24} {ok:>8} ok of {n:>8}  {ir / max(n, 1):>12,.0f} instructions/request")
PY
  done
done

echo "== medians over $ROUNDS rounds"
python3 - "$TMP" "$ROUNDS" "${@%%=*}" <<'PY'
import json, statistics, sys
tmp, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
base = None
for name in names:
    v = statistics.median(
        (lambda d: d["ir"] / max(d["requests"], 1))(json.load(open(f"{tmp}/{name}-r{r}.sum")))
        for r in range(1, rounds + 1))
    base = base or v
    print(f"  {name:<16} {v:>12,.0f} instructions/request  ({(v / base - 1) * 100:+.2f} % vs {names[0]})")
PY
