#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests, under DIR, on a free TCP port (bound to 127.0.0.1)
# with its unix socket in DIR. Uses Debian's binaries; when run as root (CI), runs them as the
# `postgres` user via runuser and hands DIR to that user. fsync is off: test data is disposable.
#
#   scripts/pg-test-cluster.sh start DIR   # prints the conninfo on stdout, e.g.
#                                          # host=DIR port=54321 dbname=postgres user=postgres
#   scripts/pg-test-cluster.sh stop DIR    # stops the server (DIR is left for the caller)
#
# Typical use:  export IPA_TEST_POSTGRES="$(scripts/pg-test-cluster.sh start /tmp/ipa-pg)"
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
[[ -x $bin/pg_ctl ]] || { echo "no PostgreSQL 15 in $bin (apt-get install postgresql)" >&2; exit 1; }

# Runs a PostgreSQL binary as the cluster's owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case $cmd in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    user=$(id -un)
    if [[ $(id -u) -eq 0 ]]; then
      chown postgres: "$dir"
      user=postgres
    fi
    if [[ ! -f $dir/data/PG_VERSION ]]; then
      as_owner "$bin/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    port=$(free_port)
    # Unix socket only in DIR (short path limit: 107 bytes); TCP on loopback for tools.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
-c full_page_writes=off -c max_connections=200" start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "host=$dir port=$port dbname=postgres user=$user"
    ;;
  stop)
    if [[ -f $dir/data/postmaster.pid ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
  *)
    usage
    ;;
esac
