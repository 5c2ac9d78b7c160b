#!/usr/bin/env bash
# Throw-away PostgreSQL servers on loopback for the tests, the benchmarks, CI and the local
# example: a primary and synchronous standbys, each in its own directory, trust authentication
# on 127.0.0.1 only. Works as root (the servers run as the `postgres` user: initdb refuses root)
# and as any other user.
#
#   cluster.sh primary DIR PORT [SYNC_NAMES]   initdb + start; SYNC_NAMES (e.g. s1) makes the
#                                              standbys of those application names synchronous
#   cluster.sh standby DIR PORT PRIMARY_PORT NAME
#                                              pg_basebackup of the primary + start, streaming as NAME
#   cluster.sh start DIR | stop DIR | kill DIR  pg_ctl start, fast stop, immediate stop
#   cluster.sh watch OWNER_PID DIR...          in the background: once OWNER_PID is gone, stop
#                                              the servers in DIR... and remove them
#
# FSYNC=off speeds the tests up (nothing they check depends on the disk: the servers are never
# powered off); the benchmarks keep the default (on).
set -euo pipefail

bin=${PGBIN:-}
if [ -z "$bin" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "cluster.sh: no PostgreSQL server binaries (apt-get install postgresql, or set PGBIN)" >&2
  exit 3
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

own() {
  mkdir -p "$1"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$1"; fi
  chmod 700 "$1"
}

settings() { # DIR PORT
  cat >> "$1/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
fsync = ${FSYNC:-on}
wal_keep_size = 256MB
max_connections = 200
log_min_messages = warning
CONF
}

start() { # DIR
  as_pg "$bin/pg_ctl" -D "$1" -l "$1/server.log" -w -t 60 start > /dev/null
}

case "${1:-}" in
  primary)
    dir=$2 port=$3 sync=${4:-}
    own "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 > "$dir.initdb.log" 2>&1 \
      || { cat "$dir.initdb.log" >&2; exit 1; }
    rm -f "$dir.initdb.log"
    settings "$dir" "$port"
    if [ -n "$sync" ]; then
      echo "synchronous_standby_names = '$sync'" >> "$dir/postgresql.conf"
    fi
    cat > "$dir/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
    start "$dir"
    ;;
  standby)
    dir=$2 port=$3 primary=$4 name=$5
    own "$dir"
    as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$dir" -R -X stream -c fast
    # The copy carries the primary's settings: this server's own come last and win.
    settings "$dir" "$port"
    sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=$name /" "$dir/postgresql.auto.conf"
    start "$dir"
    ;;
  start) start "$2" ;;
  stop) as_pg "$bin/pg_ctl" -D "$2" -m fast -w -t 60 stop > /dev/null ;;
  kill) as_pg "$bin/pg_ctl" -D "$2" -m immediate -w -t 60 stop > /dev/null ;;
  watch)
    owner=$2; shift 2
    (
      trap '' HUP INT
      while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
      for dir in "$@"; do
        as_pg "$bin/pg_ctl" -D "$dir" -m immediate -w -t 30 stop > /dev/null 2>&1 || true
        rm -rf "$dir"
        rmdir "$(dirname "$dir")" 2>/dev/null || true
      done
    ) < /dev/null > /dev/null 2>&1 &
    ;;
  *)
    sed -n '2,18p' "$0" >&2
    exit 2
    ;;
esac
