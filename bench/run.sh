#!/usr/bin/env bash
# Benchmarks ipa-server against nginx serving the same bytes as static files, in the same run:
#   - import throughput of the synthetic dataset (resources/s),
#   - read-by-id, metadata and every IPA SHALL search combination under wrk,
# for each dataset size given (patients; about 74 resources each). Prints requests/s, latency
# p50/p99 and the ratio server/nginx. The server runs with access control ON and a real SMART
# access token (bench/token.py drives the launch); both servers get one thread pinned to CPU 0,
# wrk runs pinned to CPU 1. Then bench/auth.sh compares the same authenticated read-by-id with a
# build whose grant enforcement is compiled out (build/bench-noauth) and measures the token
# endpoint's code exchanges per second. Never part of the test suite.
# Usage: bench/run.sh [patients ...]        default: 135 (about 10,000 resources)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/searches.sh  # searches, read_paths, bench_identity
sizes=("${@:-135}")
duration="${BENCH_DURATION:-8s}"
bash scripts/install-deps.sh --bench
bash scripts/build.sh release --target ipa-server >/dev/null
bin=$PWD/build/release/src/server/ipa-server
# The comparison build for bench/auth.sh: same flavour, grant enforcement compiled out.
cmake -S . -B build/bench-noauth -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIPA_BENCH_NO_ENFORCEMENT=ON >/dev/null
cmake --build build/bench-noauth -j"$(nproc)" --target ipa-server >/dev/null
noauth_bin=$PWD/build/bench-noauth/src/server/ipa-server

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() { for _ in $(seq 300); do [[ -s "$1" ]] && return 0; sleep 0.1; done; return 1; }

run_wrk() {  # label url script|"" header|""
  local out args=(-t1 -c32 -d"$duration" --latency)
  [[ -n "$3" ]] && args+=(-s "$3")
  [[ -n "$4" ]] && args+=(-H "$4")
  out=$(taskset -c 1 wrk "${args[@]}" "$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}

# Both sides must answer 200 with the same number of bytes, or the comparison means nothing.
check_same() {  # label server_url nginx_url
  local s n
  s=$(curl -s -o /dev/null -w "%{http_code} %{size_download}" -H "Authorization: Bearer $token" "$2")
  n=$(curl -s -o /dev/null -w "%{http_code} %{size_download}" "$3")
  if [[ "${s%% *}" != 200 || "${n%% *}" != 200 ]]; then
    echo "bench: $1: ipa-server answered $s, nginx $n (status bytes); expected 200 from both" >&2
    exit 1
  fi
  echo "$1: ${s#* } bytes from ipa-server, ${n#* } from nginx" >>"$work/sizes"
}

compare() {  # label server_url nginx_url [script]
  local s n
  s=($(run_wrk "$1" "$2" "${4:-}" "Authorization: Bearer $token"))
  n=($(run_wrk "$1" "$3" "${4:-}" ""))
  python3 - "$1" "${s[@]}" "${n[@]}" <<'PY'
import sys
label, s_rps, s50, s99, n_rps, n50, n99 = sys.argv[1:8]
print(f"| {label} | {float(s_rps):,.0f} | {s50} | {s99} | {float(n_rps):,.0f} | {n50} | {n99} | {float(s_rps)/float(n_rps):.2f} |")
PY
}

for patients in "${sizes[@]}"; do
  work=$(mktemp -d /tmp/ipa-bench-XXXXXX)
  echo
  echo "## $patients patients"
  "$bin" gen --patients "$patients" --out "$work/ndjson" >/dev/null
  resources=$(cat "$work"/ndjson/*.ndjson | wc -l)
  start=$(date +%s.%N)
  taskset -c 0 "$bin" import --store "$work/ipa.db" "$work/ndjson" 2>"$work/import.log" \
    || { tail "$work/import.log"; exit 1; }
  end=$(date +%s.%N)
  python3 -c "print(f'import: {$resources} resources in {$end-$start:.1f} s = {$resources/($end-$start):,.0f} resources/s (synchronous=FULL, 500 per transaction, one core)')"
  du -h "$work/ipa.db" | awk '{print "store size: " $1}'

  bench_identity "$bin" "$work/ipa.db" "$work"
  taskset -c 0 "$bin" serve --store "$work/ipa.db" --port 0 --port-file "$work/port" --threads 1 \
    --log-level warn 2>"$work/server.log" &
  pids+=($!)
  wait_port "$work/port"
  port=$(cat "$work/port")
  base="http://127.0.0.1:$port/fhir"
  token=$(python3 bench/token.py "$base" bench-app bench bench-password pat-0001)

  # The same bytes for nginx: pat-0001's Observations, the CapabilityStatement, search Bundles.
  mkdir -p "$work/www/fhir/Observation" "$work/www/search"
  read_paths "$work/ndjson" "$work"  # bench/searches.sh
  while read -r id; do
    curl -sf -H "Authorization: Bearer $token" "$base/Observation/$id" \
      -o "$work/www/fhir/Observation/$id"
  done < "$work/ids"
  curl -sf "$base/metadata" -o "$work/www/fhir/metadata"
  cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/fhir+json;
  server { listen 127.0.0.1:18081; root $work/www; keepalive_requests 1000000; }
}
CONF
  i=0
  for q in "${searches[@]}"; do
    curl -sf -H "Authorization: Bearer $token" "$base/${q//|/%7C}" -o "$work/www/search/$i"
    i=$((i + 1))
  done
  # nginx's workers run as an unprivileged user: let them read the files.
  chmod a+x "$work"
  chmod -R a+rX "$work/www"
  taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
  pids+=($!)
  sleep 0.5

  first_id=$(head -1 "$work/ids")
  check_same "read-by-id" "$base/Observation/$first_id" "http://127.0.0.1:18081/fhir/Observation/$first_id"
  check_same "metadata" "$base/metadata" "http://127.0.0.1:18081/fhir/metadata"
  i=0
  for q in "${searches[@]}"; do
    check_same "$q" "$base/${q//|/%7C}" "http://127.0.0.1:18081/search/$i"
    i=$((i + 1))
  done
  echo
  echo "wrk: 1 thread, 32 connections, $duration per row; server and nginx each on one pinned core"
  echo
  echo "| scenario | ipa-server req/s | p50 | p99 | nginx req/s | p50 | p99 | ratio |"
  echo "|---|---|---|---|---|---|---|---|"
  compare "read-by-id (200 Observations)" "http://127.0.0.1:$port" "http://127.0.0.1:18081" "$work/paths.lua"
  compare "metadata" "$base/metadata" "http://127.0.0.1:18081/fhir/metadata"
  i=0
  for q in "${searches[@]}"; do
    compare "$q" "$base/${q//|/%7C}" "http://127.0.0.1:18081/search/$i"
    i=$((i + 1))
  done
  # The same read-by-id against a second server on the same file with the read cache off
  # (README "The read cache"): every read then goes to SQLite.
  taskset -c 0 "$bin" serve --store "$work/ipa.db" --port 0 --port-file "$work/port-nocache" \
    --threads 1 --log-level warn --read-cache-mb 0 2>"$work/server-nocache.log" &
  nocache_pid=$!
  pids+=($nocache_pid)
  wait_port "$work/port-nocache"
  # Its own token: the audience is its own base URL.
  base_nocache="http://127.0.0.1:$(cat "$work/port-nocache")"
  token_nocache=$(python3 bench/token.py "$base_nocache/fhir" bench-app bench bench-password pat-0001)
  saved_token=$token
  token=$token_nocache
  compare "read-by-id, read cache off" "$base_nocache" "http://127.0.0.1:18081" "$work/paths.lua"
  token=$saved_token
  kill "$nocache_pid" 2>/dev/null || true
  bash bench/auth.sh "$work" "$noauth_bin" "$port" "$token" "$duration"
  cleanup
  pids=()
  rm -rf "$work"
done
