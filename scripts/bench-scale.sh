#!/usr/bin/env bash
# Encrypt throughput of kmsd at scale: with many keys, IAM users and grants on
# the loaded key, compared with the same load on a server holding one key;
# start-up time and resident memory of a server holding all that state.
#
#   scripts/bench-scale.sh
#
# Environment (all optional):
#   KEYS=100000 USERS=1000 GRANTS=10000   what `kmsd-bench populate` creates (GRANTS on one key)
#   DURATION=10s WARMUP=1s CONNECTIONS=64 PLAINTEXT_SIZE=32 THREADS=1   each Encrypt load
#   ROUNDS=3                 rounds of the interleaved loads (see below); medians are compared
#   POPULATE_CONNECTIONS=64  MAX_ERRORS=10   populate's connections and error budget
#   GRANTEE_LOAD=1           also load as an IAM user whose access comes from grants (0: skip)
#   NEW_KEY_LOAD=1           also load a new key of the populated server (0: skip)
#   DATA_PARENT=/dev/shm     where kmsd's data directories are made (tmpfs: no disk sync latency)
#   KMSD_ARGS="..."          extra `kmsd serve` flags (e.g. "--audit-sync interval")
#   SKIP_BUILD=1             use the existing target/release binaries
#   KMSD_BIN=PATH BENCH_BIN=PATH  use these binaries instead of target/release/*
#   OUT_DIR=DIR              keep the JSON reports and kmsd's logs there
#   NICE=-10                 run kmsd and the generator at this nice level (root only for
#                            negative values; also sets this session's autogroup weight)
#
# What it does, all on 127.0.0.1, each server on a fresh data directory:
#  1. builds kmsd and kmsd-bench in release, unless SKIP_BUILD=1;
#  2. starts two servers with `kmsd serve --bootstrap examples/seed-world.json`:
#     "one-key" gets one key (CreateKey), "populated" gets `kmsd-bench populate`:
#     KEYS keys (the first is the loaded key), USERS IAM users, GRANTS grants on the
#     loaded key naming the users round robin, and an access key for the first grantee;
#  3. ROUNDS rounds, each running the same Encrypt load (as the root of account
#     111122223333 unless said) one after the other: one-key server; loaded key;
#     loaded key as the grantee user (access by grant only); a new key on the populated
#     server. Interleaving the runs spreads the other work on a shared machine over all
#     of them; the summary compares medians. Only the loaded server is busy during its runs;
#     the other one is idle;
#  4. stops the populated server, starts it again on the same data directory and runs
#     the root load on the loaded key once more;
#  5. prints a summary: throughput and latency per run, median ratios to the one-key
#     figure, populate rates, start-up times (process start -> "kmsd listening on" on
#     its stdout) and VmRSS/VmHWM (/proc/PID/status) after each step.
# Everything it started or wrote is removed on exit, also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/bench-common.sh

KEYS=${KEYS:-100000}
USERS=${USERS:-1000}
GRANTS=${GRANTS:-10000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-64}
PLAINTEXT_SIZE=${PLAINTEXT_SIZE:-32}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
POPULATE_CONNECTIONS=${POPULATE_CONNECTIONS:-64}
MAX_ERRORS=${MAX_ERRORS:-10}
GRANTEE_LOAD=${GRANTEE_LOAD:-1}
NEW_KEY_LOAD=${NEW_KEY_LOAD:-1}
DATA_PARENT=${DATA_PARENT:-/dev/shm}
NICE=${NICE:-}
read -r -a EXTRA_SERVE <<<"${KMSD_ARGS:-}"

ROOT_AK=AKIA111122223333ROOT
ROOT_SK=seed-root-secret-111122223333
WORLD="$ROOT/examples/seed-world.json"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-bench-scale.XXXXXX")
mkdir "$TMP/reports"
ONE_DIR=""
POP_DIR=""
ONE_PID=""
POP_PID=""
SERVER_RUN=0

cleanup() {
  local rc=$?
  stop_pid "$POP_PID" 30
  stop_pid "$ONE_PID" 30
  if [ -n "${OUT_DIR:-}" ]; then
    mkdir -p "$OUT_DIR"
    cp "$TMP"/reports/* "$TMP"/*.log "$TMP"/*.out "$TMP"/*.tsv "$OUT_DIR"/ 2>/dev/null || true
    echo "reports and logs copied to $OUT_DIR"
  fi
  if [ "$rc" -ne 0 ]; then
    for log in "$TMP"/kmsd-*.log; do
      if [ -s "$log" ]; then
        echo "---- last lines of $(basename "$log")" >&2
        tail -n 20 "$log" >&2 || true
      fi
    done
  fi
  [ -n "$ONE_DIR" ] && rm -rf "$ONE_DIR"
  [ -n "$POP_DIR" ] && rm -rf "$POP_DIR"
  restore_priority
  rm -rf "$TMP"
  exit "$rc"
}
trap_cleanup

# ---- build
release_binaries
[ -f "$WORLD" ] || { echo "missing $WORLD" >&2; exit 1; }

# ---- priority (after the build, so only kmsd and the generator get it)
set_priority

ONE_DIR=$(mktemp -d "$DATA_PARENT/kmsd-scale-one.XXXXXX")
POP_DIR=$(mktemp -d "$DATA_PARENT/kmsd-scale-populated.XXXXXX")

# Appends a memory sample of PID: NAME PID ("VmRSS VmHWM" in kB).
MEM_FILE="$TMP/memory.tsv"
sample_mem() {
  local m
  m=$(awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r, h}' "/proc/$2/status")
  printf '%s\t%s\n' "$1" "$m" >>"$MEM_FILE"
  echo "   memory after $1: VmRSS ${m% *} kB, VmHWM ${m#* } kB"
}

# Starts kmsd (timed): NAME DATA_DIR. Sets STARTED_PID and STARTED_ENDPOINT and records the
# start-up time. Each line kmsd prints on stdout is stamped with the wall clock as it
# arrives; start-up = stamp of "kmsd listening on" - time just before the process started.
STARTUP_FILE="$TMP/startup.tsv"
start_server() {
  local name=$1 dir=$2
  SERVER_RUN=$((SERVER_RUN + 1))
  local out="$TMP/kmsd-$SERVER_RUN.out" log="$TMP/kmsd-$SERVER_RUN.log"
  : >"$out"
  local t0=$EPOCHREALTIME
  "${RUN[@]}" "$KMSD" serve --listen 127.0.0.1:0 --data-dir "$dir" --bootstrap "$WORLD" \
    "${EXTRA_SERVE[@]}" \
    > >(while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$out") \
    2>"$log" &
  STARTED_PID=$!
  local line=""
  for _ in $(seq 1 6000); do
    line=$(grep -m 1 "kmsd listening on" "$out" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$STARTED_PID" 2>/dev/null || { echo "kmsd ($name) exited before listening" >&2; exit 1; }
    sleep 0.05
  done
  [ -n "$line" ] || { echo "kmsd ($name) did not listen within 5 minutes" >&2; exit 1; }
  local t1=${line%% *}
  STARTED_ENDPOINT=${line##* }
  local secs
  secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  printf '%s\t%s\n' "$name" "$secs" >>"$STARTUP_FILE"
  echo "== kmsd $name: pid $STARTED_PID, $STARTED_ENDPOINT, listening $secs s after process start"
  sample_mem "start-up ($name)" "$STARTED_PID"
}

# One Encrypt load: RUN_NAME ENDPOINT PID ACCESS_KEY SECRET_KEY KEY_ID
encrypt_load() {
  local name=$1 endpoint=$2 pid=$3 ak=$4 sk=$5 key=$6
  echo
  echo "== Encrypt load: $name"
  AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
    "${RUN[@]}" "$BENCH" --endpoint "$endpoint" --region us-east-1 --op encrypt \
    --key-id "$key" --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP" \
    --plaintext-size "$PLAINTEXT_SIZE" --threads "$THREADS" \
    --server-pid "$pid" --json-out "$TMP/reports/load-$name.json"
}

# CreateKey as the root: ENDPOINT -> prints the key id.
create_key() {
  AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK \
    "$BENCH" populate --endpoint "$1" --region us-east-1 --keys 1 --users 0 --grants 0 \
    --connections 1 --max-errors 0 --progress 0 --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["loaded_key_id"])'
}

echo "== data directories on $(findmnt -n -o FSTYPE -T "$ONE_DIR" 2>/dev/null | head -n 1) ($DATA_PARENT); load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"

# ---- servers
start_server one-key "$ONE_DIR"
ONE_PID=$STARTED_PID
ONE_EP=$STARTED_ENDPOINT
ONE_KEY=$(create_key "$ONE_EP")
echo "   one-key server: key $ONE_KEY"

start_server populated "$POP_DIR"
POP_PID=$STARTED_PID
POP_EP=$STARTED_ENDPOINT

echo
echo "== populate: $KEYS keys, $USERS users, $GRANTS grants on the loaded key ($POPULATE_CONNECTIONS connections)"
GRANTEE_ARGS=()
CREDS="$TMP/grantee-credentials.json"
if [ "$GRANTEE_LOAD" = "1" ]; then
  GRANTEE_ARGS=(--grantee-credentials-out "$CREDS")
fi
AWS_ACCESS_KEY_ID=$ROOT_AK AWS_SECRET_ACCESS_KEY=$ROOT_SK \
  "${RUN[@]}" "$BENCH" populate --endpoint "$POP_EP" --region us-east-1 \
  --keys "$KEYS" --users "$USERS" --grants "$GRANTS" --connections "$POPULATE_CONNECTIONS" \
  --max-errors "$MAX_ERRORS" --server-pid "$POP_PID" --json-out "$TMP/reports/populate.json" \
  "${GRANTEE_ARGS[@]}"
sample_mem populate "$POP_PID"
LOADED_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["loaded_key_id"])' "$TMP/reports/populate.json")
echo "   store: $(du -sh "$POP_DIR/kmsd.redb" 2>/dev/null | cut -f1), audit: $(du -sh "$POP_DIR/audit" 2>/dev/null | cut -f1)"
if [ "$GRANTEE_LOAD" = "1" ]; then
  read -r GRANTEE_AK GRANTEE_SK < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["AccessKeyId"], d["SecretAccessKey"])' "$CREDS")
  rm -f "$CREDS"
fi
NEW_KEY=""
if [ "$NEW_KEY_LOAD" = "1" ]; then
  NEW_KEY=$(create_key "$POP_EP")
  echo "   new key on the populated server: $NEW_KEY"
fi

# ---- interleaved loads
for round in $(seq 1 "$ROUNDS"); do
  echo
  echo "==== round $round of $ROUNDS"
  encrypt_load "one-key.$round" "$ONE_EP" "$ONE_PID" "$ROOT_AK" "$ROOT_SK" "$ONE_KEY"
  encrypt_load "loaded-root.$round" "$POP_EP" "$POP_PID" "$ROOT_AK" "$ROOT_SK" "$LOADED_KEY"
  if [ "$GRANTEE_LOAD" = "1" ]; then
    encrypt_load "loaded-grantee.$round" "$POP_EP" "$POP_PID" "$GRANTEE_AK" "$GRANTEE_SK" "$LOADED_KEY"
  fi
  if [ -n "$NEW_KEY" ]; then
    encrypt_load "new-key-populated.$round" "$POP_EP" "$POP_PID" "$ROOT_AK" "$ROOT_SK" "$NEW_KEY"
  fi
done
sample_mem "loads (one-key)" "$ONE_PID"
sample_mem "loads (populated)" "$POP_PID"

# ---- restart the populated server on the same data directory
echo
stop_pid "$ONE_PID" 30
ONE_PID=""
T_STOP=$EPOCHREALTIME
stop_pid "$POP_PID" 30
POP_PID=""
echo "== populated server stopped $(python3 -c "print(f'{$EPOCHREALTIME - $T_STOP:.3f}')") s after SIGTERM"
start_server restart "$POP_DIR"
POP_PID=$STARTED_PID
POP_EP=$STARTED_ENDPOINT
encrypt_load "restart-loaded-root.1" "$POP_EP" "$POP_PID" "$ROOT_AK" "$ROOT_SK" "$LOADED_KEY"
sample_mem "load after restart" "$POP_PID"
STORE_KB=$(du -sk "$POP_DIR/kmsd.redb" 2>/dev/null | cut -f1)

# ---- summary
echo
echo "== summary: Encrypt, $CONNECTIONS connections, $PLAINTEXT_SIZE B plaintext, $DURATION per run, $ROUNDS round(s);"
echo "   populated server: $KEYS keys, $USERS IAM users, $GRANTS grants on the loaded key; data on $DATA_PARENT"
python3 - "$TMP" "$STORE_KB" <<'PY'
import glob, json, os, statistics, sys
tmp, store_kb = sys.argv[1], sys.argv[2]
reports = os.path.join(tmp, "reports")
def load(path):
    return json.load(open(path)) if os.path.exists(path) else None
labels = [("one-key", "one-key server, root"),
          ("loaded-root", "loaded key, root"),
          ("loaded-grantee", "loaded key, grantee user"),
          ("new-key-populated", "new key, populated server, root"),
          ("restart-loaded-root", "loaded key, root, after restart")]
runs = {}
for key, _ in labels:
    files = sorted(glob.glob(os.path.join(reports, f"load-{key}.*.json")),
                   key=lambda p: int(p.rsplit(".", 2)[-2]))
    runs[key] = [load(p) for p in files]
def med(xs):
    return statistics.median(xs) if xs else float("nan")
base = med([r["total"]["ok_per_sec"] for r in runs["one-key"]])
print(f"  {'run':<33} {'n':>2} {'median ok/s':>11} {'ratio':>6} {'each run ok/s':<26} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'srv us/req':>10}")
for key, label in labels:
    rs = runs[key]
    if not rs:
        continue
    oks = [r["total"]["ok_per_sec"] for r in rs]
    m = med(oks)
    ratio = m / base if base > 0 else float("nan")
    each = " ".join(f"{x:.0f}" for x in oks)
    p50 = med([r["total"]["latency"]["p50_us"] / 1000 for r in rs])
    p99 = med([r["total"]["latency"]["p99_us"] / 1000 for r in rs])
    errs = sum(r["total"]["errors"] for r in rs)
    us = med([(r.get("server_cpu") or {}).get("us_per_request", float("nan")) for r in rs])
    print(f"  {label:<33} {len(rs):>2} {m:>11.0f} {ratio:>6.2f} {each:<26} {p50:>7.3f} {p99:>7.3f} {errs:>6} {us:>10.1f}")
las = [v for rs in runs.values() for r in rs
       for v in (r["machine"].get("loadavg_1m_start"), r["machine"].get("loadavg_1m_end")) if v is not None]
if las:
    print(f"  1-min load average during the loads: {min(las):.1f} to {max(las):.1f}")
print("  (ratio = median ok/s / median ok/s of the one-key server; p50, p99, server CPU: medians over runs)")
p = load(os.path.join(reports, "populate.json"))
if p:
    print()
    print(f"  populate ({p['connections']} connections, {p['elapsed_s']:.1f} s in all, errors {p['total_errors']}):")
    for ph in p["phases"]:
        cpu = ph.get("server_cpu") or {}
        print(f"    {ph['phase']:<11} {ph['ok']:>7}/{ph['requested']:<7} {ph['elapsed_s']:>8.2f} s {ph['ok_per_sec']:>8.0f}/s"
              f"  p50 {ph['latency']['p50_us']/1000:8.3f} ms  p99 {ph['latency']['p99_us']/1000:9.3f} ms"
              f"  server {cpu.get('cores_busy', float('nan')):.2f} cores busy, {cpu.get('us_per_request', float('nan')):.0f} us CPU/call")
print()
print("  start-up (process start -> 'kmsd listening on'):")
for line in open(os.path.join(tmp, "startup.tsv")):
    name, secs = line.rstrip("\n").split("\t")
    print(f"    {name:<10} {float(secs):8.3f} s")
print("  memory (kB):")
for line in open(os.path.join(tmp, "memory.tsv")):
    name, mem = line.rstrip("\n").split("\t")
    rss, hwm = mem.split()
    print(f"    after {name:<28} VmRSS {int(rss):>10,}  VmHWM {int(hwm):>10,}")
if store_kb:
    print(f"  store file kmsd.redb of the populated server: {int(store_kb):,} kB")
PY
