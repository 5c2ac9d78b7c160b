#!/usr/bin/env bash
# A Patroni cluster on loopback for the failover test: one etcd and three Patroni nodes
# (PostgreSQL 15 from Debian), synchronous_mode_strict with one synchronous standby.
#
#   patroni.sh start DIR BASE OWNER_PID   etcd on BASE (client) and BASE+1 (peer); node i
#                                         (1..3) has PostgreSQL on BASE+10+i and its REST API on
#                                         BASE+20+i; everything is stopped and DIR removed once
#                                         OWNER_PID is gone
#   patroni.sh node DIR BASE I            (re)start node I's Patroni (after a kill -9)
#
# Patroni refuses to run as root: it runs as `postgres` when this script runs as root.
set -euo pipefail

bin=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)}
for tool in patroni etcd; do
  command -v "$tool" > /dev/null || { echo "patroni.sh: $tool is not installed (apt-get install patroni etcd-server)" >&2; exit 3; }
done

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

node_config() { # DIR BASE I
  local dir=$1 base=$2 i=$3
  cat > "$dir/n$i.yml" <<YML
scope: coopledger-test
name: n$i
log:
  level: WARNING
  dir: $dir/log-n$i
restapi:
  listen: 127.0.0.1:$((base + 20 + i))
  connect_address: 127.0.0.1:$((base + 20 + i))
etcd3:
  hosts: 127.0.0.1:$base
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    failsafe_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 200
        fsync: "${FSYNC:-on}"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - host replication all 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
    - local all all trust
postgresql:
  listen: 127.0.0.1:$((base + 10 + i))
  connect_address: 127.0.0.1:$((base + 10 + i))
  data_dir: $dir/n$i
  bin_dir: $bin
  pgpass: $dir/pgpass-n$i
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: '$dir'
YML
  mkdir -p "$dir/log-n$i"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir/n$i.yml" "$dir/log-n$i"; fi
}

# Runs COMMAND... in the background as postgres, its own pid (not runuser's) in PIDFILE.
spawn() { # PIDFILE LOG COMMAND...
  local pidfile=$1 log=$2; shift 2
  as_pg sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" < /dev/null >> "$log" 2>&1 &
  for _ in $(seq 50); do [ -s "$pidfile" ] && return; sleep 0.1; done
}

start_node() { # DIR I
  spawn "$1/patroni-n$2.pid" "$1/log-n$2/stdout" patroni "$1/n$2.yml"
}

case "${1:-}" in
  start)
    dir=$2 base=$3 owner=$4
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
    chmod 755 "$dir"
    spawn "$dir/etcd.pid" "$dir/etcd.log" etcd --name default --data-dir "$dir/etcd" \
      --listen-client-urls "http://127.0.0.1:$base" --advertise-client-urls "http://127.0.0.1:$base" \
      --listen-peer-urls "http://127.0.0.1:$((base + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((base + 1))" \
      --initial-cluster "default=http://127.0.0.1:$((base + 1))"
    for _ in $(seq 100); do
      curl -sf "http://127.0.0.1:$base/health" > /dev/null 2>&1 && break
      sleep 0.1
    done
    for i in 1 2 3; do
      node_config "$dir" "$base" "$i"
      start_node "$dir" "$i"
    done
    (
      trap '' HUP INT
      while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
      for f in "$dir"/patroni-n*.pid; do kill -9 "$(cat "$f")" 2>/dev/null || true; done
      for i in 1 2 3; do
        [ -f "$dir/n$i/postmaster.pid" ] && kill -9 "$(head -1 "$dir/n$i/postmaster.pid")" 2>/dev/null || true
      done
      kill -9 "$(cat "$dir/etcd.pid")" 2>/dev/null || true
      sleep 1
      rm -rf "$dir"
    ) < /dev/null > /dev/null 2>&1 &
    ;;
  node)
    dir=$2 base=$3 i=$4
    start_node "$dir" "$i"
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
