#!/usr/bin/env bash
# Server CPU time per request of every IPA search row of bench/run.sh (no nginx): generates the
# synthetic dataset, imports it, starts `ipa-server serve` (one thread, pinned to CPU 0, access
# control and audit on, a real SMART token), then drives one search at a time with wrk (1 thread,
# 32 connections, pinned to CPU 1) and reads the server's utime+stime from /proc/PID/stat before
# and after each run. Prints, per search, req/s and CPU microseconds per request. Every search
# must answer 200; with BENCH_SAVE=dir each Bundle is written to dir/<n>.json with every
# lastUpdated, the port and the cursors blanked (they differ from run to run), so the answers of
# two builds can be compared byte for byte (diff -r). BENCH_SEARCHES (one per line) replaces the
# list. Wrap it in `flock /tmp/bench.lock` on a shared machine. Never part of the test suite.
# Usage: IPA_BIN=path/to/ipa-server [BENCH_DURATION=5s] [BENCH_SAVE=dir] bench/search_cpu.sh [patients]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/searches.sh  # searches (the rows of bench/run.sh), bench_identity
patients="${1:-135}"
duration="${BENCH_DURATION:-5s}"
bin="${IPA_BIN:?set IPA_BIN to the ipa-server binary to measure}"
work=$(mktemp -d /tmp/ipa-search-cpu-XXXXXX)
server=""
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" gen --patients "$patients" --out "$work/ndjson" >/dev/null
taskset -c 0 "$bin" import --store "$work/ipa.db" "$work/ndjson" 2>"$work/import.log" \
  || { tail "$work/import.log"; exit 1; }
bench_identity "$bin" "$work/ipa.db" "$work"
taskset -c 0 "$bin" serve --store "$work/ipa.db" --port 0 --port-file "$work/port" --threads 1 \
  --log-level warn 2>"$work/server.log" &
server=$!
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")/fhir"
token=$(python3 bench/token.py "$base" bench-app bench bench-password pat-0001)

[[ -n "${BENCH_SEARCHES:-}" ]] && IFS=$'\n' read -r -d '' -a searches <<<"$BENCH_SEARCHES" || true

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

echo "| search | entries | bytes | req/s | CPU us/request |"
echo "|---|---|---|---|---|"
i=0
for q in "${searches[@]}"; do
  url="$base/${q//|/%7C}"
  curl -sf -H "Authorization: Bearer $token" "$url" -o "$work/body.json" \
    || { echo "search failed: $q" >&2; exit 1; }
  entries=$(grep -o '"mode":"match"' "$work/body.json" | wc -l)
  bytes=$(wc -c <"$work/body.json")
  if [[ -n "${BENCH_SAVE:-}" ]]; then
    mkdir -p "$BENCH_SAVE"
    sed -E 's/"lastUpdated":"[^"]*"/"lastUpdated":"X"/g; s#http://127\.0\.0\.1:[0-9]+#BASE#g;
            s/_cursor=[^"]*"/_cursor=X"/g' "$work/body.json" >"$BENCH_SAVE/$i.json"
  fi
  before=$(cpu_ticks)
  out=$(taskset -c 1 wrk -t1 -c32 -d"$duration" -H "Authorization: Bearer $token" "$url")
  after=$(cpu_ticks)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  python3 - "$q" "$entries" "$bytes" "$rps" "$requests" "$before" "$after" <<'PY'
import sys
q, entries, size, rps, n, before, after = sys.argv[1:8]
us = (int(after) - int(before)) * 10000 / int(n)  # CLK_TCK 100: one tick is 10,000 us
print(f"| {q} | {entries} | {size} | {float(rps):,.0f} | {us:,.0f} |")
PY
  i=$((i + 1))
done
