#!/usr/bin/env bash
# The cost of access control, called by bench/run.sh for each dataset size (same data, same run):
#   - authenticated read-by-id with grant enforcement ON (the server under test, audit on)
#     against the same read with enforcement COMPILED OUT (a second binary built with
#     -DIPA_BENCH_NO_ENFORCEMENT=ON into build/bench-noauth: the token is still validated and
#     every request still lands in the audit trail; no scope, compartment or visibility check);
#     prints both and the ratio on/off (issue 4 asks for at least 0.9);
#   - token-endpoint authorization-code exchanges per second (bench/codes.py).
# Usage: bench/auth.sh WORK NOAUTH_BIN PORT TOKEN DURATION
#   WORK holds the store (ipa.db), the data (ndjson/), the read ids (ids) and wrk script
#   (paths.lua) of run.sh; PORT is the normal server's, already running with TOKEN valid on it.
# Environment: BENCH_CODES (default 2000) codes to prepare at most (preparation also stops after
# 25 s: codes live 60 s), BENCH_CODE_THREADS (default 8)
# client connections, BENCH_AUTH_ROUNDS (default 2) alternating rounds of the read comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$1 noauth_bin=$2 port=$3 token=$4 duration=$5
codes=${BENCH_CODES:-2000}
code_threads=${BENCH_CODE_THREADS:-8}
rounds=${BENCH_AUTH_ROUNDS:-2}
base="http://127.0.0.1:$port/fhir"

pid=""
stop() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
trap stop EXIT

taskset -c 0 "$noauth_bin" serve --store "$work/ipa.db" --port 0 --port-file "$work/port-noauth" \
  --threads 1 --log-level warn 2>"$work/server-noauth.log" &
pid=$!
for _ in $(seq 300); do [[ -s "$work/port-noauth" ]] && break; sleep 0.1; done
noauth_port=$(cat "$work/port-noauth")
noauth_base="http://127.0.0.1:$noauth_port/fhir"
# The binary must be the bench build, and say so.
grep -q "COMPILED OUT" "$work/server-noauth.log" ||
  { echo "bench: $noauth_bin does not announce the bench build" >&2; exit 1; }
noauth_token=$(python3 bench/token.py "$noauth_base" bench-app bench bench-password pat-0001)

# Both answer the same bytes for the patient's own Observation; and the comparison build really
# skips enforcement: another patient's Observation is 404 on the normal server, 200 on it.
first_id=$(head -1 "$work/ids")
foreign_id=$(grep -m1 '"reference":"Patient/pat-0002"' "$work/ndjson/Observation.ndjson" |
  python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
probe() {  # base token path -> "status bytes"
  curl -s -o /dev/null -w "%{http_code} %{size_download}" -H "Authorization: Bearer $2" "$1/$3"
}
on=$(probe "$base" "$token" "Observation/$first_id")
off=$(probe "$noauth_base" "$noauth_token" "Observation/$first_id")
if [[ "$on" != "$off" || "${on%% *}" != 200 ]]; then
  echo "bench: read-by-id answered '$on' with enforcement, '$off' without" >&2
  exit 1
fi
on=$(probe "$base" "$token" "Observation/$foreign_id")
off=$(probe "$noauth_base" "$noauth_token" "Observation/$foreign_id")
if [[ "${on%% *}" != 404 || "${off%% *}" != 200 ]]; then
  echo "bench: another patient's Observation answered '$on' with enforcement (want 404)," \
    "'$off' without (want 200)" >&2
  exit 1
fi

wrk_row() {  # label port token -> table row; echoes requests/s on fd 3
  local out rps p50 p99
  out=$(taskset -c 1 wrk -t1 -c32 -d"$duration" --latency -s "$work/paths.lua" \
    -H "Authorization: Bearer $3" "http://127.0.0.1:$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "bench: $1: wrk saw non-2xx answers" >&2
    exit 1
  fi
  printf '| %s | %.0f | %s | %s |\n' "$1" "$rps" "$p50" "$p99"
  echo "$rps" >&3
}

echo
echo "### Access control cost: read-by-id (200 Observations), audit on in both"
echo
echo "wrk: 1 thread, 32 connections, $duration per row, $rounds alternating round(s);" \
  "each server one thread pinned to CPU 0"
echo
echo "| build | req/s | p50 | p99 |"
echo "|---|---|---|---|"
: >"$work/rps-on"
: >"$work/rps-off"
for r in $(seq "$rounds"); do
  # Alternate which build goes first, so neither always runs on a warmer machine.
  if ((r % 2)); then
    wrk_row "enforcement on" "$port" "$token" 3>>"$work/rps-on"
    wrk_row "enforcement compiled out" "$noauth_port" "$noauth_token" 3>>"$work/rps-off"
  else
    wrk_row "enforcement compiled out" "$noauth_port" "$noauth_token" 3>>"$work/rps-off"
    wrk_row "enforcement on" "$port" "$token" 3>>"$work/rps-on"
  fi
done
python3 - "$work/rps-on" "$work/rps-off" <<'PY'
import sys
on = [float(x) for x in open(sys.argv[1])]
off = [float(x) for x in open(sys.argv[2])]
m_on, m_off = sum(on) / len(on), sum(off) / len(off)
print(f"\nratio on / compiled out (means of {len(on)} round(s)): {m_on:,.0f} / {m_off:,.0f} = "
      f"**{m_on / m_off:.3f}** (target: at least 0.9)")
PY
stop
pid=""

echo
echo "### Token endpoint: authorization-code exchanges"
echo
echo "Up to $codes codes (at most 25 s of preparation) made through authorize + consent in one" \
  "signed-in session, then exchanged from $code_threads keep-alive connections (Python client" \
  "pinned to CPU 1; server one thread on CPU 0)"
echo
echo "| scenario | exchanged | failed | time | codes/s | p50 | p99 |"
echo "|---|---|---|---|---|---|---|"
taskset -c 1 python3 bench/codes.py "$base" bench-app bench bench-password pat-0001 \
  "$codes" "$code_threads"
