#!/usr/bin/env bash
# The SQLite read cache with a working set larger than the cache (README "The read cache"):
# read-by-id of every resource of the synthetic dataset, with a skewed distribution (80 % of the
# requests to a fixed fifth of the ids) and a uniform one, against one or more ipa-server
# binaries (to compare builds, e.g. before and after a change to the cache). For each binary,
# cache size and distribution it prints requests/s, latency p50/p99, server CPU time per request
# (utime+stime from /proc/PID/stat around the measured wrk run) and the cache's hit rate,
# evictions and clears (the "read cache:" line the store logs at info level when it closes).
# The throughput run logs at warn (no access log); the hit rate comes from a second, identical run
# at info. The server runs with --no-auth (the cache, not the grant check, is measured), one
# thread pinned to CPU 0; wrk runs pinned to CPU 1. Each measurement holds /tmp/bench.lock.
# Never part of the test suite.
# Usage: bench/cache.sh [label=path/to/ipa-server ...]
#   default: current=build/release/src/server/ipa-server (built by scripts/build.sh release)
# Environment: BENCH_PATIENTS (135, about 10,000 resources), BENCH_CACHE_MB ("4 0 64": the sizes
# to run, 0 is the cache off), BENCH_DURATION (8s), BENCH_WARMUP (3s), BENCH_ROUNDS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
bins=("$@")
if [[ ${#bins[@]} -eq 0 ]]; then
  bash scripts/build.sh release --target ipa-server >/dev/null
  bins=("current=$PWD/build/release/src/server/ipa-server")
fi
patients="${BENCH_PATIENTS:-135}"
read -r -a sizes <<<"${BENCH_CACHE_MB:-4 0 64}"
duration="${BENCH_DURATION:-8s}"
warmup="${BENCH_WARMUP:-3s}"
rounds="${BENCH_ROUNDS:-1}"
clk_tck=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/ipa-cache-bench-XXXXXX)
pid=""
stop() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
cleanup() {
  stop
  rm -rf "$work"
}
trap cleanup EXIT

first_bin=${bins[0]#*=}
"$first_bin" gen --patients "$patients" --out "$work/ndjson" >/dev/null
"$first_bin" import --store "$work/ipa.db" "$work/ndjson" 2>"$work/import.log" ||
  { tail "$work/import.log"; exit 1; }
# Every resource as "Type/id".
python3 - "$work/ndjson" >"$work/ids" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.ndjson")):
    for line in f.open():
        r = json.loads(line)
        print(f'{r["resourceType"]}/{r["id"]}')
PY
total=$(wc -l <"$work/ids")
bytes=$(cat "$work"/ndjson/*.ndjson | wc -c)

# skew 0: uniform; else the share of requests sent to the hot fifth of the ids. The ids are
# shuffled with a fixed seed first, so the hot fifth mixes all types and is the same every run.
write_lua() {  # file skew
  cat >"$1" <<LUA
local paths = {}
for line in io.lines("$work/ids") do paths[#paths + 1] = "/fhir/" .. line end
math.randomseed(42)
for i = #paths, 2, -1 do
  local j = math.random(i)
  paths[i], paths[j] = paths[j], paths[i]
end
local hot = math.floor(#paths / 5)
local skew = $2
math.randomseed(7)
request = function()
  local i
  if skew == 0 then
    i = math.random(#paths)
  elseif math.random() < skew then
    i = math.random(hot)
  else
    i = hot + math.random(#paths - hot)
  end
  return wrk.format("GET", paths[i])
end
LUA
}
write_lua "$work/uniform.lua" 0
write_lua "$work/skewed.lua" 0.8

start_server() {  # bin cache_mb log_level log_file
  rm -f "$work/port"
  taskset -c 0 "$1" serve --store "$work/ipa.db" --port 0 --port-file "$work/port" --threads 1 \
    --no-auth --read-cache-mb "$2" --log-level "$3" 2>"$4" &
  pid=$!
  for _ in $(seq 300); do [[ -s "$work/port" ]] && return 0; sleep 0.1; done
  echo "bench: the server did not start; its log:" >&2
  cat "$4" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_wrk() {  # script -> wrk output (fails on any non-2xx answer)
  local out
  out=$(taskset -c 1 wrk -t1 -c32 -d"$duration" --latency -s "$1" "http://127.0.0.1:$(cat "$work/port")")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "bench: some reads did not answer 2xx:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$out"
}

measure() {  # label bin cache_mb dist -> one table row
  local label=$1 bin=$2 mb=$3 dist=$4 script="$work/$4.lua" out t0 t1 reqs line
  exec 9>/tmp/bench.lock
  flock 9
  # Throughput and CPU: warm up, then the measured run; warn level, no access log.
  start_server "$bin" "$mb" warn "$work/server.log"
  taskset -c 1 wrk -t1 -c32 -d"$warmup" -s "$script" "http://127.0.0.1:$(cat "$work/port")" \
    >/dev/null
  t0=$(cpu_ticks "$pid")
  out=$(run_wrk "$script")
  t1=$(cpu_ticks "$pid")
  stop
  # Hit rate: the same warm-up and run at info level, then the store's closing line.
  start_server "$bin" "$mb" info "$work/server-info.log"
  taskset -c 1 wrk -t1 -c32 -d"$warmup" -s "$script" "http://127.0.0.1:$(cat "$work/port")" \
    >/dev/null
  run_wrk "$script" >/dev/null
  stop
  flock -u 9
  line=$(grep -o "read cache: .*" "$work/server-info.log" || true)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  python3 - "$label" "$mb" "$dist" "$out" "$t0" "$t1" "$reqs" "$clk_tck" "$line" <<'PY'
import re, sys
label, mb, dist, out, t0, t1, reqs, tck, line = sys.argv[1:10]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
cpu_us = (int(t1) - int(t0)) * 1e6 / int(tck) / int(reqs)
stats = dict(re.findall(r"(\w+)=(\S+)", line))
hit = f'{float(stats["hit_rate"]) * 100:.1f} %' if "hit_rate" in stats else "-"
print(f"| {label} | {mb} | {dist} | {rps:,.0f} | {p50} | {p99} | {cpu_us:.1f} | {hit} | "
      f'{stats.get("evictions", "-")} | {stats.get("clears", "-")} |')
PY
}

echo "dataset: $patients patients, $total resources, $((bytes / 1024)) KiB of NDJSON"
echo "wrk: 1 thread, 32 connections, $warmup warm-up then $duration measured; server --threads 1"
echo
echo "| binary | cache MiB | reads | req/s | p50 | p99 | server CPU µs/req | hit rate | evictions | clears |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for _ in $(seq "$rounds"); do
  for mb in "${sizes[@]}"; do
    for dist in skewed uniform; do
      for b in "${bins[@]}"; do
        # The cache off is the same code in every binary: run it once.
        if [[ "$mb" == 0 && "$b" != "${bins[0]}" ]]; then continue; fi
        measure "${b%%=*}" "${b#*=}" "$mb" "$dist"
      done
    done
  done
done
