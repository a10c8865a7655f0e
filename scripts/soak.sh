#!/usr/bin/env bash
# Soak test: kmsd under a steady mixed load at ~80% of its measured capacity for a while,
# watching its memory and errors.
#
#   scripts/soak.sh [MINUTES]        (default 10)
#
# What it does:
#   1. builds kmsd and kmsd-bench in release (SKIP_BUILD=1 reuses target/release/*);
#   2. starts `kmsd serve --bootstrap examples/seed-world.json` on a free 127.0.0.1 port with
#      a temporary data directory, and creates one key;
#   3. measures capacity: kmsd-bench --op mixed (Encrypt, Decrypt, GenerateDataKey) with
#      CAP_CONNECTIONS connections for CAP_DURATION; kmsd-bench is closed-loop (no rate
#      flag), so 3-second probes with growing connection counts find the count whose rate is
#      nearest LOAD_FRACTION of capacity;
#   4. runs the mixed load in back-to-back 10-second windows for MINUTES; after each window it
#      appends a CSV line: elapsed seconds, kmsd VmRSS (KiB, from /proc/PID/status), requests,
#      ok, errors, ok/s, errors by code, data directory size (KiB);
#   5. prints the RSS at start and end, the total errors, and where the CSV is; stops kmsd and
#      removes the data directory (also on failure or Ctrl-C).
# All traffic goes to 127.0.0.1 only.
#
# Environment (optional):
#   CAP_CONNECTIONS=64 CAP_DURATION=5s   capacity measurement
#   LOAD_FRACTION=0.8                    target fraction of capacity
#   WINDOW=10                            seconds per sample window
#   THREADS=1                            kmsd-bench runtime threads
#   OUT_DIR=target/soak                  where the CSV and the capacity report are kept
#   KMSD_ARGS="--audit-keep-files 4"     extra `kmsd serve` flags. The default bounds the audit
#                                        log: at ~30k requests/s it grows by ~40 MB/s, which
#                                        filled a 24 GB tmpfs (and RAM) in 10 minutes
#   SKIP_BUILD=1  KMSD_BIN=PATH  BENCH_BIN=PATH
# Exit status: 0 when kmsd stayed up and no request failed; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/bench-common.sh

MINUTES=${1:-10}
case "$MINUTES" in
  '' | *[!0-9]*) echo "usage: $0 [MINUTES]  (a whole number)" >&2; exit 2 ;;
esac
CAP_CONNECTIONS=${CAP_CONNECTIONS:-64}
CAP_DURATION=${CAP_DURATION:-5s}
LOAD_FRACTION=${LOAD_FRACTION:-0.8}
WINDOW=${WINDOW:-10}
THREADS=${THREADS:-1}
KMSD_ARGS=${KMSD_ARGS:---audit-keep-files 4}
OUT_DIR=${OUT_DIR:-$ROOT/target/soak}
mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV="$OUT_DIR/soak-$STAMP.csv"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-soak.XXXXXX")
KMSD_PID=""

cleanup() {
  local rc=$?
  stop_pid "$KMSD_PID" 10
  if [ "$rc" -ne 0 ] && [ -s "$TMP/kmsd.log" ]; then
    echo "---- last lines of kmsd.log" >&2
    tail -n 20 "$TMP/kmsd.log" >&2 || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap_cleanup

release_binaries

WORLD="$ROOT/examples/seed-world.json"
read -r AK SK < <(seed_root_credentials "$WORLD")
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
REGION=us-east-1

DATA_DIR="$TMP/data"
# shellcheck disable=SC2086 # KMSD_ARGS is a list of flags
start_kmsd "$TMP/kmsd.log" "$DATA_DIR" --bootstrap "$WORLD" --region "$REGION" $KMSD_ARGS
KMSD_PID=$KMSD_STARTED_PID
ENDPOINT=$KMSD_STARTED_ENDPOINT
echo "== kmsd pid $KMSD_PID at $ENDPOINT, data dir $DATA_DIR"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$KMSD_PID/status" 2>/dev/null || echo 0; }
json_get() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": r}))' "$@"; }

# ---- capacity
echo "== capacity: mixed load, $CAP_CONNECTIONS connections, $CAP_DURATION"
"$BENCH" --endpoint "$ENDPOINT" --region "$REGION" --create-key --op mixed \
  --connections "$CAP_CONNECTIONS" --duration "$CAP_DURATION" --threads "$THREADS" \
  --server-pid "$KMSD_PID" --json-out "$OUT_DIR/soak-$STAMP-capacity.json" >/dev/null
KEY_ID=$(json_get "$OUT_DIR/soak-$STAMP-capacity.json" 'r["key_id"]')
CAPACITY=$(json_get "$OUT_DIR/soak-$STAMP-capacity.json" 'round(r["total"]["ok_per_sec"])')
TARGET=$(python3 -c "import sys; print(round(float(sys.argv[1])*float(sys.argv[2])))" "$CAPACITY" "$LOAD_FRACTION")
# kmsd-bench is closed-loop, so the load is set by the number of connections. Throughput is
# far from linear in it (one connection waits for every audit sync), so calibrate: probe
# growing connection counts and soak with the first whose rate reaches the target (or, if
# it overshoots by more than the one before undershoots, the one before).
CONNS=1
PREV_CONNS=""
PREV_RATE=0
for N in 1 2 3 4 6 8 10 12 16 20 24 32 48 64; do
  "$BENCH" --endpoint "$ENDPOINT" --region "$REGION" --key-id "$KEY_ID" --op mixed \
    --connections "$N" --duration 3s --threads "$THREADS" --json-out "$TMP/probe.json" >/dev/null
  RATE=$(json_get "$TMP/probe.json" 'round(r["total"]["ok_per_sec"])')
  echo "   probe: $N connections -> $RATE ok/s"
  CONNS=$N
  if [ "$RATE" -ge "$TARGET" ]; then
    if [ -n "$PREV_CONNS" ] && [ $((RATE - TARGET)) -gt $((TARGET - PREV_RATE)) ]; then
      CONNS=$PREV_CONNS
    fi
    break
  fi
  PREV_CONNS=$N
  PREV_RATE=$RATE
done
echo "   capacity $CAPACITY ok/s; soak with $CONNS connections (target ~$TARGET ok/s)"

# ---- soak
echo "elapsed_s,rss_kb,requests,ok,errors,ok_per_sec,errors_by_code,data_dir_kb" >"$CSV"
RSS_START=$(rss_kb)
echo "0,$RSS_START,0,0,0,0,,$(du -sk "$DATA_DIR" | cut -f1)" >>"$CSV"
echo "== soak: $MINUTES min of mixed load in ${WINDOW}s windows; RSS at start ${RSS_START} KiB"
START=$(date +%s)
END=$((START + MINUTES * 60))
TOTAL_REQ=0
TOTAL_OK=0
TOTAL_ERR=0
ALIVE=1
while [ "$(date +%s)" -lt "$END" ]; do
  if ! kill -0 "$KMSD_PID" 2>/dev/null; then
    ALIVE=0
    echo "kmsd is gone" >&2
    break
  fi
  "$BENCH" --endpoint "$ENDPOINT" --region "$REGION" --key-id "$KEY_ID" --op mixed \
    --connections "$CONNS" --duration "${WINDOW}s" --warmup 0s --threads "$THREADS" \
    --json-out "$TMP/win.json" >/dev/null || { echo "kmsd-bench failed" >&2; ALIVE=0; break; }
  LINE=$(python3 - "$TMP/win.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["total"]
codes = ";".join(f"{k}={v}" for k, v in sorted(t.get("errors_by_code", {}).items()))
print(t["requests"], t["ok"], t["errors"], round(t["ok_per_sec"]), codes or "-")
EOF
)
  read -r REQ OK ERR RATE CODES <<<"$LINE"
  [ "$CODES" = "-" ] && CODES=""
  TOTAL_REQ=$((TOTAL_REQ + REQ))
  TOTAL_OK=$((TOTAL_OK + OK))
  TOTAL_ERR=$((TOTAL_ERR + ERR))
  ELAPSED=$(($(date +%s) - START))
  RSS=$(rss_kb)
  echo "$ELAPSED,$RSS,$REQ,$OK,$ERR,$RATE,$CODES,$(du -sk "$DATA_DIR" | cut -f1)" >>"$CSV"
  printf '   t=%4ss rss=%7s KiB ok/s=%6s errors=%s %s\n' "$ELAPSED" "$RSS" "$RATE" "$ERR" "$CODES"
done
RSS_END=$(rss_kb)
SOAK_S=$(($(date +%s) - START))
MEAN=$((TOTAL_OK / (SOAK_S > 0 ? SOAK_S : 1)))

echo
echo "== soak result ($MINUTES min, $CONNS connections, capacity $CAPACITY ok/s)"
echo "   requests:   $TOTAL_REQ (mean $MEAN ok/s = $((100 * MEAN / (CAPACITY > 0 ? CAPACITY : 1)))% of capacity)"
echo "   errors:     $TOTAL_ERR"
echo "   RSS start:  $RSS_START KiB"
echo "   RSS end:    $RSS_END KiB"
echo "   data dir:   $(du -sk "$DATA_DIR" | cut -f1) KiB"
echo "   kmsd alive: $([ "$ALIVE" = 1 ] && kill -0 "$KMSD_PID" 2>/dev/null && echo yes || echo no)"
echo "   CSV:        $CSV"
if [ "$ALIVE" = 1 ] && [ "$TOTAL_ERR" = 0 ] && kill -0 "$KMSD_PID" 2>/dev/null; then
  exit 0
fi
exit 1
