# Shared by the benchmark scripts (source it; it defines functions and a few variables):
#   stop_pid PID [SECONDS]          SIGTERM, then SIGKILL after SECONDS (default 5)
#   set_priority                    NICE=-N: RUN=(nice -n N) and this session's autogroup
#                                   weight (restored by restore_priority)
#   restore_priority
#   start_kmsd LOG DATA_DIR [serve flags...]
#                                   starts "${RUN[@]}" "$KMSD" serve --listen 127.0.0.1:0 on
#                                   DATA_DIR, waits (<= 60 s) for its "kmsd listening on" line;
#                                   sets KMSD_STARTED_PID and KMSD_STARTED_ENDPOINT
#   seed_root_credentials WORLD     prints "ACCESS_KEY SECRET" of the first account with a
#                                   root_access_key in a bootstrap file
#   trap_cleanup                    runs the script's `cleanup` function on exit, INT, TERM
#   release_binaries [cargo args]   unless SKIP_BUILD=1, builds kmsd and kmsd-bench in release
#                                   (plus the given extra `cargo build` arguments, as a second
#                                   build); sets KMSD and BENCH (KMSD_BIN / BENCH_BIN override)
# start_kmsd expects KMSD to be set (release_binaries does it).

RUN=()
AUTOGROUP_NICE_BEFORE=""

stop_pid() {
  local pid=$1 secs=${2:-5}
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "pid $pid did not stop within $secs s of SIGTERM; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

set_priority() {
  [ -n "${NICE:-}" ] || return 0
  RUN=(nice -n "$NICE")
  # With sched_autogroup, nice only orders processes inside one session; the session's own
  # weight is set through /proc/PID/autogroup (the session may outlive the script: restore).
  if [ -w "/proc/$$/autogroup" ]; then
    AUTOGROUP_NICE_BEFORE=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\).*/\1/p' "/proc/$$/autogroup")
    echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null || true
  fi
}

restore_priority() {
  if [ -n "$AUTOGROUP_NICE_BEFORE" ]; then
    echo "$AUTOGROUP_NICE_BEFORE" >"/proc/$$/autogroup" 2>/dev/null || true
  fi
}

start_kmsd() {
  local log=$1 dir=$2
  shift 2
  : >"$log"
  "${RUN[@]}" "$KMSD" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" >"$log" 2>&1 &
  KMSD_STARTED_PID=$!
  KMSD_STARTED_ENDPOINT=""
  for _ in $(seq 1 600); do
    KMSD_STARTED_ENDPOINT=$(sed -n 's/^kmsd listening on \(http:\/\/[0-9.]*:[0-9]*\)$/\1/p' "$log" | head -n 1)
    [ -n "$KMSD_STARTED_ENDPOINT" ] && return 0
    kill -0 "$KMSD_STARTED_PID" 2>/dev/null || { echo "kmsd exited before listening:" >&2; tail -n 20 "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "kmsd did not listen within 60 s" >&2
  stop_pid "$KMSD_STARTED_PID"
  return 1
}

seed_root_credentials() {
  python3 - "$1" <<'PY'
import json, sys
world = json.load(open(sys.argv[1]))
for acct in world.get("accounts", []):
    k = acct.get("root_access_key")
    if k:
        print(k["access_key_id"], k["secret_access_key"])
        break
else:
    sys.exit("no account with root_access_key in " + sys.argv[1])
PY
}

trap_cleanup() {
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

release_binaries() {
  if [ "${SKIP_BUILD:-0}" != "1" ]; then
    echo "== building kmsd and kmsd-bench (release)"
    cargo build --release -p kmsd -p kmsd-bench
    if [ "$#" -gt 0 ]; then
      cargo build --release "$@"
    fi
  fi
  KMSD=${KMSD_BIN:-$ROOT/target/release/kmsd}
  BENCH=${BENCH_BIN:-$ROOT/target/release/kmsd-bench}
  [ -x "$KMSD" ] || { echo "missing $KMSD" >&2; exit 1; }
  [ -x "$BENCH" ] || { echo "missing $BENCH" >&2; exit 1; }
}
