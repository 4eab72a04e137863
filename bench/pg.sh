#!/usr/bin/env bash
# Benchmarks the read-by-id and IPA search scenarios of bench/run.sh on three set-ups in one run,
# side by side: SQLite with one ipa-server node; PostgreSQL with one node; PostgreSQL with two
# nodes behind HAProxy (round robin). The same generated dataset is imported into both stores
# (import throughput printed for each). PostgreSQL is a throwaway cluster started by
# scripts/pg-test-cluster.sh (as the `postgres` user through runuser when run as root).
# Pinning on the 2-core machine: every ipa-server node (one thread each) and PostgreSQL on CPU 0,
# wrk and HAProxy on CPU 1. Never part of the test suite; see bench/README.md for what the
# figures can and cannot show.
# Usage: bench/pg.sh [patients]        default 135 (about 10,000 resources)
#   BENCH_DURATION=8s   wrk duration per row
#   IPA_BIN=path        an ipa-server binary to use instead of building build/release
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/searches.sh
patients="${1:-135}"
duration="${BENCH_DURATION:-8s}"
if [[ -n "${IPA_BIN:-}" ]]; then
  bin=$(realpath "$IPA_BIN")
else
  bash scripts/install-deps.sh --bench
  bash scripts/build.sh release --target ipa-server >/dev/null
  bin=$PWD/build/release/src/server/ipa-server
fi
for tool in wrk haproxy taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/pg.sh: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/ipa-pgbench-XXXXXX)
chmod a+x "$work"  # PostgreSQL runs as its own user when this script runs as root
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/pg-test-cluster.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_file() { for _ in $(seq 300); do [[ -s "$1" ]] && return 0; sleep 0.1; done; return 1; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
seconds_since() { python3 -c "import time; print(f'{time.time() - $1:.1f}')"; }

# One wrk row: "req/s p50 p99".
run_wrk() {  # url token [script]
  local out args=(-t1 -c32 -d"$duration" --latency -H "Authorization: Bearer $2")
  [[ -n "${3:-}" ]] && args+=(-s "$3")
  out=$(taskset -c 1 wrk "${args[@]}" "$1")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")"
}

# Every set-up must answer 200, or its figures mean nothing.
check_ok() {  # label url token
  local got
  got=$(curl -s -o /dev/null -w "%{http_code} %{size_download}" -H "Authorization: Bearer $3" "$2")
  if [[ "${got%% *}" != 200 ]]; then
    echo "bench/pg.sh: $1: $2 answered ${got%% *}; expected 200" >&2
    exit 1
  fi
  echo "${got#* }"
}

echo "## $patients patients"
"$bin" gen --patients "$patients" --out "$work/ndjson" >/dev/null
resources=$(cat "$work"/ndjson/*.ndjson | wc -l)

# --- stores -----------------------------------------------------------------------------------
conninfo=$(bash scripts/pg-test-cluster.sh start "$work/pg")
# Backends fork from the postmaster and inherit its CPU affinity.
taskset -a -p -c 0 "$(head -1 "$work/pg/data/postmaster.pid")" >/dev/null
psql "$conninfo" -qc "CREATE DATABASE ipa_bench" >/dev/null
pg_store="postgresql:${conninfo/dbname=postgres/dbname=ipa_bench}"
sqlite_store="$work/ipa.db"

start=$(date +%s.%N)
taskset -c 0 "$bin" import --store "$sqlite_store" "$work/ndjson" 2>"$work/import-sqlite.log" \
  || { tail "$work/import-sqlite.log"; exit 1; }
sqlite_s=$(seconds_since "$start")
start=$(date +%s.%N)
taskset -c 0 "$bin" import --store "$pg_store" "$work/ndjson" 2>"$work/import-pg.log" \
  || { tail "$work/import-pg.log"; exit 1; }
pg_s=$(seconds_since "$start")
python3 - "$resources" "$sqlite_s" "$pg_s" <<'PY'
import sys
n, s, p = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"import: {n} resources; SQLite {s:.1f} s = {n/s:,.0f} resources/s; "
      f"PostgreSQL (COPY) {p:.1f} s = {n/p:,.0f} resources/s")
PY

for store in "$sqlite_store" "$pg_store"; do bench_identity "$bin" "$store" "$work"; done

# --- servers ----------------------------------------------------------------------------------
# Starts a node in the background (not in a command substitution, which would wait for it) and
# sets `port`.
serve() {  # name store [args...]
  local name=$1 store=$2
  shift 2
  taskset -c 0 "$bin" serve --store "$store" --port 0 --port-file "$work/$name.port" --threads 1 \
    --log-level warn "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  wait_file "$work/$name.port" || { cat "$work/$name.log" >&2; exit 1; }
  port=$(cat "$work/$name.port")
}
serve sqlite "$sqlite_store"
sqlite_port=$port
proxy_port=$(free_port)
# Both PostgreSQL nodes name the proxy as their public base, as a deployment behind it would.
proxy_base="http://127.0.0.1:$proxy_port/fhir"
serve pg-a "$pg_store" --base-url "$proxy_base" --node-name a
a_port=$port
serve pg-b "$pg_store" --base-url "$proxy_base" --node-name b
b_port=$port
cat > "$work/haproxy.cfg" <<CFG
global
  maxconn 1024
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend f
  bind 127.0.0.1:$proxy_port
  default_backend nodes
backend nodes
  balance roundrobin
  server a 127.0.0.1:$a_port
  server b 127.0.0.1:$b_port
CFG
taskset -c 1 haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$proxy_port/livez" >/dev/null && break; sleep 0.1; done

sqlite_base="http://127.0.0.1:$sqlite_port/fhir"
pg1_base="http://127.0.0.1:$a_port/fhir"
sqlite_token=$(python3 bench/token.py "$sqlite_base" bench-app bench bench-password pat-0001)
# Through the proxy: the launch's steps land on both nodes (shared state in PostgreSQL).
pg_token=$(python3 bench/token.py "$proxy_base" bench-app bench bench-password pat-0001)

# --- scenarios --------------------------------------------------------------------------------
# The request list shared with bench/run.sh: `searches` and the read-by-id paths.
read_paths "$work/ndjson" "$work"

# The same answers everywhere: 200 from each set-up; the two PostgreSQL set-ups send the very
# same bytes (same base URL), SQLite differs only by its base URL's port in links.
first_id=$(head -1 "$work/ids")
[[ -n "$first_id" ]] || { echo "bench/pg.sh: pat-0001 has no Observations" >&2; exit 1; }
for q in "Observation/$first_id" "${searches[@]}"; do
  path="${q//|/%7C}"
  s=$(check_ok "$q" "$sqlite_base/$path" "$sqlite_token")
  p1=$(check_ok "$q" "$pg1_base/$path" "$pg_token")
  p2=$(check_ok "$q" "$proxy_base/$path" "$pg_token")
  if [[ "$p1" != "$p2" ]]; then
    echo "bench/pg.sh: $q: $p1 bytes from one node, $p2 through the proxy" >&2
    exit 1
  fi
  echo "$q: SQLite $s bytes, PostgreSQL $p1 bytes" >>"$work/sizes"
done

row() {  # label path [script]
  local s p1 p2
  s=($(run_wrk "$sqlite_base/$2" "$sqlite_token" "${3:-}"))
  p1=($(run_wrk "$pg1_base/$2" "$pg_token" "${3:-}"))
  p2=($(run_wrk "$proxy_base/$2" "$pg_token" "${3:-}"))
  python3 - "$1" "${s[@]}" "${p1[@]}" "${p2[@]}" <<'PY'
import sys
label, *v = sys.argv[1:]
cells = [f"{float(v[i]):,.0f} | {v[i+1]} | {v[i+2]}" for i in (0, 3, 6)]
print(f"| {label} | " + " | ".join(cells) + f" | {float(v[3])/float(v[0]):.2f} | {float(v[6])/float(v[3]):.2f} |")
PY
}

echo
echo "wrk: 1 thread, 32 connections, $duration per cell, pinned to CPU 1 (with HAProxy);"
echo "ipa-server nodes (1 thread each) and PostgreSQL pinned to CPU 0."
echo
echo "| scenario | SQLite 1 node req/s | p50 | p99 | PostgreSQL 1 node req/s | p50 | p99 | PostgreSQL 2 nodes + HAProxy req/s | p50 | p99 | PG1/SQLite | PG2/PG1 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
# wrk's script supplies the paths; the URL only names the server.
row "read-by-id (200 Observations)" "" "$work/paths.lua"
for q in "${searches[@]}"; do
  row "$q" "${q//|/%7C}"
done
echo
cat "$work/sizes"
