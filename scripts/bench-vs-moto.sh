#!/usr/bin/env bash
# Runs the same KMS Encrypt load against moto_server and against kmsd on this
# machine and prints both reports and the throughput ratio.
#
#   scripts/bench-vs-moto.sh
#
# Environment (all optional):
#   DURATION=10s  WARMUP=1s  CONNECTIONS=64  PLAINTEXT_SIZE=32  THREADS=1
#   KMSD_EXTRA_OPS="decrypt generate-data-key"  also load kmsd with these ops
#   MOTO_VENV=DIR        reuse a venv that already has moto[server] (else a temp one is made)
#   SKIP_BUILD=1         use the existing target/release binaries
#   KMSD_BIN=PATH BENCH_BIN=PATH  use these binaries instead of target/release/*
#   OUT_DIR=DIR          keep the JSON reports there (default: removed with the temp dir)
#   KMSD_DATA_PARENT=/dev/shm  make kmsd's data directory (store + audit log) there: on tmpfs
#                        fdatasync costs nothing, which separates CPU cost from disk latency
#   NICE=-10             run both servers and the generator at this nice level (root only for
#                        negative values): on a shared machine, keeps other work from
#                        dominating the measurement
#
# What it does: builds kmsd and kmsd-bench in release, installs moto[server]
# from PyPI into a temporary venv, starts `moto_server` and
# `kmsd serve --bootstrap examples/seed-world.json` (or a one-account world
# written here when that file is absent) on free 127.0.0.1 ports, creates a
# key through the API on each, runs kmsd-bench against each, and removes
# everything it started or wrote, also when a step fails. All load goes to
# 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib/bench-common.sh

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-64}
PLAINTEXT_SIZE=${PLAINTEXT_SIZE:-32}
THREADS=${THREADS:-1}
KMSD_EXTRA_OPS=${KMSD_EXTRA_OPS:-}
NICE=${NICE:-}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-bench-vs-moto.XXXXXX")
MOTO_PID=""
KMSD_PID=""
DATA_DIR=""

cleanup() {
  local rc=$?
  stop_pid "$KMSD_PID"
  stop_pid "$MOTO_PID"
  if [ "$rc" -ne 0 ]; then
    for log in "$TMP/moto.log" "$TMP/kmsd.log"; do
      if [ -s "$log" ]; then
        echo "---- last lines of $(basename "$log")" >&2
        tail -n 20 "$log" >&2 || true
      fi
    done
  fi
  [ -n "$DATA_DIR" ] && rm -rf "$DATA_DIR"
  restore_priority
  rm -rf "$TMP"
  exit "$rc"
}
trap_cleanup

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() {
  local port=$1 what=$2 pid=$3
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited before listening" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "$what did not listen on 127.0.0.1:$port within 60 s" >&2
  return 1
}

# ---- build
release_binaries

# ---- moto
if [ -n "${MOTO_VENV:-}" ]; then
  VENV=$MOTO_VENV
else
  echo "== installing moto[server] into a temporary venv"
  VENV="$TMP/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
fi
[ -x "$VENV/bin/moto_server" ] || { echo "no moto_server in $VENV" >&2; exit 1; }
MOTO_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')

# ---- priority (after the build, so only the servers and the generator get it)
set_priority

MOTO_PORT=$(free_port)
"${RUN[@]}" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 &
MOTO_PID=$!
wait_for_port "$MOTO_PORT" moto_server "$MOTO_PID"

# ---- kmsd
WORLD="$ROOT/examples/seed-world.json"
if [ ! -f "$WORLD" ]; then
  WORLD="$TMP/world.json"
  cat >"$WORLD" <<'EOF'
{
  "accounts": [
    {
      "id": "111122223333",
      "root_access_key": {
        "access_key_id": "AKIAEXAMPLE111ROOT01",
        "secret_access_key": "root-secret-of-111122223333"
      }
    }
  ]
}
EOF
fi
# Root credentials of the first account in the world that has them.
read -r KMSD_AK KMSD_SK < <(seed_root_credentials "$WORLD")

[ -n "${KMSD_AK:-}" ] && [ -n "${KMSD_SK:-}" ] || { echo "no root credentials in $WORLD" >&2; exit 1; }

DATA_DIR=$(mktemp -d "${KMSD_DATA_PARENT:-$TMP}/kmsd-data.XXXXXX")
start_kmsd "$TMP/kmsd.log" "$DATA_DIR" --bootstrap "$WORLD"
KMSD_PID=$KMSD_STARTED_PID
KMSD_ENDPOINT=$KMSD_STARTED_ENDPOINT

# ---- load
COMMON=(--connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP"
        --plaintext-size "$PLAINTEXT_SIZE" --threads "$THREADS" --create-key --region us-east-1)

echo
echo "== moto ${MOTO_VERSION} (moto_server, pid $MOTO_PID): Encrypt"
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  "${RUN[@]}" "$BENCH" --endpoint "http://127.0.0.1:$MOTO_PORT" --op encrypt "${COMMON[@]}" \
  --server-pid "$MOTO_PID" --json-out "$TMP/moto-encrypt.json"

echo
echo "== kmsd (pid $KMSD_PID, data dir on $(findmnt -n -o FSTYPE -T "$DATA_DIR" 2>/dev/null | head -n 1)): Encrypt"
AWS_ACCESS_KEY_ID=$KMSD_AK AWS_SECRET_ACCESS_KEY=$KMSD_SK \
  "${RUN[@]}" "$BENCH" --endpoint "$KMSD_ENDPOINT" --op encrypt "${COMMON[@]}" \
  --server-pid "$KMSD_PID" --json-out "$TMP/kmsd-encrypt.json"

for op in $KMSD_EXTRA_OPS; do
  echo
  echo "== kmsd (pid $KMSD_PID): $op"
  AWS_ACCESS_KEY_ID=$KMSD_AK AWS_SECRET_ACCESS_KEY=$KMSD_SK \
    "${RUN[@]}" "$BENCH" --endpoint "$KMSD_ENDPOINT" --op "$op" "${COMMON[@]}" \
    --server-pid "$KMSD_PID" --json-out "$TMP/kmsd-$op.json"
done

echo
echo "== summary: Encrypt, $CONNECTIONS connections, $PLAINTEXT_SIZE B plaintext, $DURATION"
python3 - "$TMP/moto-encrypt.json" "$TMP/kmsd-encrypt.json" <<'EOF'
import json, sys
moto, kmsd = (json.load(open(p)) for p in sys.argv[1:3])
def line(name, r):
    t = r["total"]
    cpu = r.get("server_cpu") or {}
    print(f"  {name:<5} {t['ok_per_sec']:>10.0f} ok/s  p50 {t['latency']['p50_us']/1000:8.3f} ms"
          f"  p99 {t['latency']['p99_us']/1000:8.3f} ms  errors {t['errors']:>6}"
          f"  server CPU {cpu.get('us_per_request', float('nan')):8.1f} us/request")
line("moto", moto)
line("kmsd", kmsd)
m = moto["total"]["ok_per_sec"]
k = kmsd["total"]["ok_per_sec"]
print(f"  ratio kmsd/moto (successful requests per second): {k / m:.1f}x" if m > 0 else
      "  ratio: moto completed no request")
EOF

if [ -n "${OUT_DIR:-}" ]; then
  mkdir -p "$OUT_DIR"
  cp "$TMP"/*.json "$OUT_DIR"/
  echo "JSON reports copied to $OUT_DIR"
fi
