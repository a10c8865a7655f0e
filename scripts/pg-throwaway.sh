#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: never the system cluster, never port 5432.
#   scripts/pg-throwaway.sh start DIR   initdb in DIR/data, start on a free port (127.0.0.1
#                                       and a socket in DIR), print the port; the database
#                                       `postgres`, user `kmsd`, trust authentication.
#   scripts/pg-throwaway.sh stop DIR    stop it (fast shutdown).
#   scripts/pg-throwaway.sh restart DIR start it again on the same port.
#   scripts/pg-throwaway.sh bindir      print the directory of initdb/pg_ctl, or fail.
# With PG_TLS_CERT=FILE and PG_TLS_KEY=FILE (PEM) at `start`, the server speaks TLS with that
# certificate and refuses TCP connections without it (pg_hba `hostnossl ... reject`).
# Run as root, the server runs as the `postgres` OS user (Debian's `postgresql` package).
set -euo pipefail

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd=${1:?usage: pg-throwaway.sh start|stop|restart|bindir [DIR]}
case "$cmd" in
  bindir)
    bindir
    ;;
  start)
    dir=${2:?DIR}
    bin=$(bindir) || { echo "PostgreSQL binaries (initdb, pg_ctl) not found" >&2; exit 3; }
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U kmsd -E UTF8 --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/port"; fi
    if [ -n "${PG_TLS_CERT:-}" ]; then
      install -m 0644 "$PG_TLS_CERT" "$dir/data/server.crt"
      install -m 0600 "$PG_TLS_KEY" "$dir/data/server.key"
      if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/data/server.crt" "$dir/data/server.key"; fi
      printf '%s\n' "ssl = on" >>"$dir/data/postgresql.conf"
      { echo "hostnossl all all 0.0.0.0/0 reject"; cat "$dir/data/pg_hba.conf"; } >"$dir/hba.tmp"
      cat "$dir/hba.tmp" >"$dir/data/pg_hba.conf" && rm -f "$dir/hba.tmp"
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port"
    ;;
  restart)
    dir=${2:?DIR}
    bin=$(bindir)
    port=$(cat "$dir/port")
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
    echo "$port"
    ;;
  stop)
    dir=${2:?DIR}
    bin=$(bindir)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
