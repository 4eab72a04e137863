#!/usr/bin/env bash
# Benchmark: generates the synthetic dataset, imports it (import throughput), then runs wrk for
# read-by-id and metadata against ipa-server and against nginx serving the same bytes as static
# files, in the same run. Prints requests/s, latency percentiles and the ratio server/nginx.
# Usage: bench/run.sh [patients]   (default 1250 patients, about 100,000 resources)
# Pinning: the server (or nginx) on CPU 0, wrk on CPU 1. Never part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
patients="${1:-1250}"
duration="${BENCH_DURATION:-10s}"
bash scripts/install-deps.sh --bench
bash scripts/build.sh release --target ipa-server >/dev/null
bin=build/release/src/server/ipa-server
work=$(mktemp -d /tmp/ipa-bench-XXXXXX)
cleanup() {
  [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null || true
  [[ -n "${nginx_pid:-}" ]] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== generating $patients patients"
/usr/bin/time -f "gen: %es, peak RSS %MKiB" "$bin" gen --patients "$patients" --out "$work/ndjson"
resources=$(cat "$work"/ndjson/*.ndjson | wc -l)
echo "== importing $resources resources (synchronous=FULL, 500 per transaction)"
start=$(date +%s.%N)
"$bin" import --store "$work/ipa.db" "$work/ndjson" 2>"$work/import.log" || { tail "$work/import.log"; exit 1; }
end=$(date +%s.%N)
tail -1 "$work/import.log"
python3 -c "print(f'import throughput: {$resources/($end-$start):.0f} resources/s ($resources in {$end-$start:.1f}s)')"

echo "== starting ipa-server on CPU 0 (1 thread)"
taskset -c 0 "$bin" serve --store "$work/ipa.db" --port 0 --port-file "$work/port" --threads 1 \
  --log-level warn 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port=$(cat "$work/port")

# The same bytes as static files for nginx: 200 Observations and the CapabilityStatement.
mkdir -p "$work/www/fhir/Observation"
head -200 "$work/ndjson/Observation.ndjson" | python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["id"])' > "$work/ids"
while read -r id; do
  curl -sf "http://127.0.0.1:$port/fhir/Observation/$id" -o "$work/www/fhir/Observation/$id"
done < "$work/ids"
curl -sf "http://127.0.0.1:$port/fhir/metadata" -o "$work/www/fhir/metadata"

cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/fhir+json;
  server {
    listen 127.0.0.1:18081;
    root $work/www;
    keepalive_requests 1000000;
  }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
sleep 0.5

cat > "$work/paths.lua" <<LUA
local paths = {}
for line in io.lines("$work/ids") do paths[#paths + 1] = "/fhir/Observation/" .. line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA

run_wrk() {  # name url [script]
  local out
  if [[ -n "${3:-}" ]]; then
    out=$(taskset -c 1 wrk -t1 -c32 -d"$duration" --latency -s "$3" "$2")
  else
    out=$(taskset -c 1 wrk -t1 -c32 -d"$duration" --latency "$2")
  fi
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99" >&2
  echo "$rps"
}

echo "== wrk: 1 thread, 32 connections, $duration each"
s_read=$(run_wrk "ipa-server read-by-id" "http://127.0.0.1:$port" "$work/paths.lua")
n_read=$(run_wrk "nginx read-by-id" "http://127.0.0.1:18081" "$work/paths.lua")
s_meta=$(run_wrk "ipa-server metadata" "http://127.0.0.1:$port/fhir/metadata")
n_meta=$(run_wrk "nginx metadata" "http://127.0.0.1:18081/fhir/metadata")
python3 -c "print(f'ratio read-by-id server/nginx: {$s_read/$n_read:.2f}'); print(f'ratio metadata  server/nginx: {$s_meta/$n_meta:.2f}')"
