#!/usr/bin/env bash
# The demo on PostgreSQL with a synchronous standby, on loopback: starts a primary and a
# standby (Debian's postgresql; tests/pg/cluster.sh), creates the ledger's schema, records the
# demo through the primary, then reads and verifies the ledger on the standby. The servers are
# stopped and removed when this script ends.
#
#   examples/postgres-local.sh          (COOPLEDGER=path/to/coopledger, SYNTHETIC=3000)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${COOPLEDGER:-$here/target/release/coopledger}
if [ ! -x "$bin" ]; then
  (cd "$here" && cargo build --release --bin coopledger)
fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
primary=$(free_port)
standby=$(free_port)
work=$(mktemp -d)
chmod 755 "$work"
cluster="$here/tests/pg/cluster.sh"
bash "$cluster" watch $$ "$work/primary" "$work/s1"
echo "starting a primary on 127.0.0.1:$primary and a synchronous standby on 127.0.0.1:$standby"
bash "$cluster" primary "$work/primary" "$primary" s1
bash "$cluster" standby "$work/s1" "$standby" "$primary" s1
# The writer refuses to start until the standby streams synchronously: wait for it (bounded).
for i in $(seq 300); do
  streaming=$(psql -XAtq -h 127.0.0.1 -p "$primary" -U postgres -d postgres -c \
    "SELECT count(*) FROM pg_stat_replication WHERE application_name = 's1'
       AND state = 'streaming' AND sync_state IN ('sync', 'quorum')")
  [ "$streaming" = 1 ] && break
  if [ "$i" = 300 ]; then
    echo "the standby did not start streaming within 30 s" >&2
    exit 1
  fi
  sleep 0.1
done

url="postgresql://postgres@127.0.0.1:$primary/postgres"
on_standby="postgresql://postgres@127.0.0.1:$standby/postgres"
"$bin" --db "$url" init
"$bin" --db "$url" demo --synthetic "${SYNTHETIC:-3000}"
echo
echo "--- the ledger as the standby serves it (what was acknowledged, replayed there)"
"$bin" --db "$on_standby" log --reverse --limit 3
"$bin" --db "$on_standby" verify
echo
echo "--- the head row on the primary"
psql -X -h 127.0.0.1 -p "$primary" -U postgres -d postgres \
  -c "SELECT seq, acked_seq, epoch, tree_size FROM coopledger.head"
