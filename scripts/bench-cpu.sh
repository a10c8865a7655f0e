#!/usr/bin/env bash
# Server CPU per request: kmsd against a do-nothing hyper server, same load, same moment.
#
#   scripts/bench-cpu.sh
#
# Every request kmsd serves is SigV4-verified, authorized, encrypted and audited; the
# null server (crates/kmsd-bench/examples/null_server.rs) parses the HTTP request and answers
# a fixed body. The difference between the two is what kmsd's own work costs per request on
# this machine; the null server's figure is the floor that HTTP/1.1 over loopback TCP sets here.
#
# Environment (all optional):
#   ROUNDS=3 DURATION=8s WARMUP=1s CONNECTIONS=64 PLAINTEXT_SIZE=32   each Encrypt load
#   MODES="always interval"   kmsd --audit-sync modes to run (each its own server); a mode
#                             ending in `+no-metrics` runs with --no-metrics (e.g.
#                             MODES="interval interval+no-metrics": metrics on vs off)
#   DATA_PARENT=/dev/shm      where kmsd's data directories are made (tmpfs: the audit
#                             fdatasync costs no disk latency, so CPU is what is measured)
#   NICE=-15                  run the servers and the generator at this nice level
#   SKIP_BUILD=1  KMSD_BIN=PATH BENCH_BIN=PATH NULL_BIN=PATH  OUT_DIR=DIR (keep JSON reports)
#
# What it does: builds kmsd, kmsd-bench and the null server (release) unless SKIP_BUILD=1;
# then ROUNDS rounds, each running the same Encrypt load (64 connections, 32-byte plaintext,
# per-request signing, --server-pid) against: the null server, then a fresh kmsd per mode
# (`kmsd serve --bootstrap examples/seed-world.json`, the root of 111122223333, one new key).
# Interleaving spreads other activity on the machine over all runs. Prints one line per run
# and the medians: ok req/s, p99, server CPU us per request, and kmsd minus null.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/bench-common.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-64}
PLAINTEXT_SIZE=${PLAINTEXT_SIZE:-32}
MODES=${MODES:-always interval}
DATA_PARENT=${DATA_PARENT:-/dev/shm}
[ -d "$DATA_PARENT" ] || DATA_PARENT=${TMPDIR:-/tmp}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-bench-cpu.XXXXXX")
SERVER_PID=""
DATA_DIR=""
cleanup() {
  local rc=$?
  stop_pid "$SERVER_PID"
  [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
  restore_priority
  if [ -n "${OUT_DIR:-}" ]; then
    mkdir -p "$OUT_DIR" && cp "$TMP"/*.json "$OUT_DIR"/ 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap_cleanup

release_binaries -p kmsd-bench --example null_server
NULL=${NULL_BIN:-$ROOT/target/release/examples/null_server}
for b in "$KMSD" "$BENCH" "$NULL"; do [ -x "$b" ] || { echo "missing $b" >&2; exit 1; }; done
WORLD=$ROOT/examples/seed-world.json
read -r ROOT_AK ROOT_SK < <(seed_root_credentials "$WORLD")

set_priority

# One load: NAME ENDPOINT PID AK SK [extra kmsd-bench flags]
load() {
  local name=$1 endpoint=$2 pid=$3 ak=$4 sk=$5
  shift 5
  AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
    "${RUN[@]}" "$BENCH" --endpoint "$endpoint" --region us-east-1 --op encrypt \
    --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP" \
    --plaintext-size "$PLAINTEXT_SIZE" --server-pid "$pid" --json-out "$TMP/$name.json" "$@" \
    >/dev/null
  python3 - "$TMP/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["total"]
print(f"  {sys.argv[2]:<22} {t['ok_per_sec'] if 'ok_per_sec' in t else t['requests_per_sec']:>10,.0f} ok/s"
      f"  p99 {t['latency']['p99_us']/1000:5.2f} ms  errors {t['errors']}"
      f"  server {r['server_cpu']['us_per_request']:5.1f} us/req  load {r['machine']['loadavg_1m_start']}")
PY
}

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  "${RUN[@]}" "$NULL" "127.0.0.1:$port" 1 >"$TMP/null.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do grep -q "listening" "$TMP/null.log" && break; sleep 0.1; done
  load "null-r$round" "http://127.0.0.1:$port" "$SERVER_PID" AKIAEXAMPLE x --key-id k
  stop_pid "$SERVER_PID"; SERVER_PID=""
  for mode in $MODES; do
    DATA_DIR=$(mktemp -d "$DATA_PARENT/kmsd-bench-cpu.XXXXXX")
    extra=()
    case $mode in *+no-metrics) extra=(--no-metrics) ;; esac
    start_kmsd "$TMP/kmsd.log" "$DATA_DIR" --bootstrap "$WORLD" --audit-sync "${mode%%+*}" "${extra[@]}"
    SERVER_PID=$KMSD_STARTED_PID
    load "kmsd-$mode-r$round" "$KMSD_STARTED_ENDPOINT" "$SERVER_PID" "$ROOT_AK" "$ROOT_SK" --create-key
    stop_pid "$SERVER_PID"; SERVER_PID=""
    rm -rf "$DATA_DIR"; DATA_DIR=""
  done
done

echo
echo "== medians over $ROUNDS rounds ($CONNECTIONS connections, $PLAINTEXT_SIZE-byte Encrypt, data dir on $(findmnt -n -o FSTYPE -T "$DATA_PARENT" 2>/dev/null | head -n 1))"
python3 - "$TMP" "$ROUNDS" $MODES <<'PY'
import json, statistics, sys
tmp, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def med(name, f):
    return statistics.median(f(json.load(open(f"{tmp}/{name}-r{r}.json"))) for r in range(1, rounds + 1))
rate = lambda r: r["total"].get("ok_per_sec", r["total"]["requests_per_sec"])
p99 = lambda r: r["total"]["latency"]["p99_us"] / 1000
cpu = lambda r: r["server_cpu"]["us_per_request"]
null_cpu = med("null", cpu)
print(f"  {'server':<22} {'ok/s':>10}  {'p99 ms':>7}  {'CPU us/req':>10}  {'minus null':>10}")
print(f"  {'null (hyper, no work)':<22} {med('null', rate):>10,.0f}  {med('null', p99):>7.2f}  {null_cpu:>10.1f}  {'':>10}")
for m in modes:
    c = med(f"kmsd-{m}", cpu)
    print(f"  {'kmsd, audit ' + m:<22} {med(f'kmsd-{m}', rate):>10,.0f}  {med(f'kmsd-{m}', p99):>7.2f}  {c:>10.1f}  {c - null_cpu:>10.1f}")
PY
