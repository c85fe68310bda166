#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests (and for trying the PostgreSQL path).
#
#   bash scripts/postgres.sh start   # installs PostgreSQL if missing, starts it, prints the URL
#   bash scripts/postgres.sh stop    # stops it and removes its data
#   bash scripts/postgres.sh restart # stops it (ending every connection) and starts it again
#   bash scripts/postgres.sh url     # prints the URL
#   eval "$(bash scripts/postgres.sh env)"   # start, then export TANDEM_TEST_POSTGRES_URL
#
# The cluster lives in a temporary folder owned by the `postgres` system user (PostgreSQL
# refuses to run as root), listens on loopback only, and trusts local connections; it is for
# tests, never for data you want to keep.
set -euo pipefail

PORT="${TANDEM_PG_PORT:-54329}"
DATA="${TANDEM_PG_DIR:-/tmp/tandem-postgres-$PORT}"
URL="postgresql+psycopg://tandem:tandem@127.0.0.1:$PORT/postgres"

say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  # Debian keeps server binaries out of PATH, under /usr/lib/postgresql/<version>/bin.
  local name="$1" found
  if found="$(command -v "$name" 2>/dev/null)"; then
    echo "$found"
    return 0
  fi
  found="$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)"
  [[ -n "$found" ]] && echo "$found"
}

install_server() {
  if find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null; then
    return 0
  fi
  if [[ "$(id -u)" != "0" ]]; then
    say "PostgreSQL is not installed and we are not root; install it (apt-get install postgresql)"
    return 1
  fi
  say "installing PostgreSQL with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null
}

run_as_owner() {
  # Root cannot run the server; the `postgres` system user can (created by the Debian package).
  if [[ "$(id -u)" == "0" ]]; then
    if ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    if command -v runuser >/dev/null; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

is_running() {
  local pg_ctl
  pg_ctl="$(find_bin pg_ctl)" || return 1
  [[ -f "$DATA/PG_VERSION" ]] && run_as_owner "$pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
  install_server
  if is_running; then
    say "already running on 127.0.0.1:$PORT"
    echo "$URL"
    return 0
  fi
  local initdb pg_ctl psql
  initdb="$(find_bin initdb)"
  pg_ctl="$(find_bin pg_ctl)"
  psql="$(find_bin psql)"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [[ "$(id -u)" == "0" ]] && chown postgres: "$DATA"
    chmod 700 "$DATA"
    run_as_owner "$initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$DATA.initdb.log" 2>&1 \
      || run_as_owner "$initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C \
      >"$DATA.initdb.log" 2>&1 \
      || { say "initdb failed:"; cat "$DATA.initdb.log" >&2; return 1; }
  fi
  # Sockets go into the data folder: /var/run/postgresql may not exist or be writable.
  if ! run_as_owner "$pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
      -o "-h 127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      >/dev/null; then
    say "the server did not start; its log:"
    cat "$DATA/server.log" >&2 || true
    return 1
  fi
  run_as_owner "$psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c \
    "DO \$\$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tandem') THEN
         CREATE ROLE tandem LOGIN SUPERUSER PASSWORD 'tandem';
       END IF;
     END \$\$;" >&2
  say "running on 127.0.0.1:$PORT (data in $DATA)"
  echo "$URL"
}

stop() {
  local pg_ctl
  if pg_ctl="$(find_bin pg_ctl)" && [[ -f "$DATA/PG_VERSION" ]]; then
    run_as_owner "$pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DATA" "$DATA.initdb.log"
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  # Stop (terminating every connection) and start again with the same options: the load
  # test's "PostgreSQL restart during writes".
  restart) run_as_owner "$(find_bin pg_ctl)" -D "$DATA" -m fast -w -t 60 restart >/dev/null ;;
  url) echo "$URL" ;;
  status) if is_running; then echo "running"; else echo "stopped"; exit 1; fi ;;
  env) url="$(start)"; echo "export TANDEM_TEST_POSTGRES_URL='$url'" ;;
  *) echo "usage: $0 start|stop|restart|status|url|env" >&2; exit 2 ;;
esac
