#!/usr/bin/env python3
"""Token-endpoint benchmark: authorization-code exchanges per second.

Prepares N codes through the real launch (one sign-in, then for each code an authorize request
and an approved consent in the same browser session, as a user launching the app N times would),
then exchanges them all at /auth/token (public client, PKCE S256 checked on every exchange)
from THREADS keep-alive connections and reports codes/s and the exchange latency. Codes live
60 s: preparation stops after N codes or PREPARE_SECONDS (25 s), whichever comes first, and the
codes are exchanged oldest first, so none is older than about that when it is used (preparing
costs more than exchanging: two requests and two store writes per code). For benchmarks only.
Usage: codes.py BASE CLIENT_ID USERNAME PASSWORD PATIENT N THREADS [SCOPE]"""
import http.client, queue, sys, threading, time, urllib.parse

from smart_launch import Launch, REDIRECT

base, client_id, username, password, patient = sys.argv[1:6]
n, threads = int(sys.argv[6]), int(sys.argv[7])
scope = sys.argv[8] if len(sys.argv) > 8 else "launch/patient openid fhirUser patient/*.rs"

PREPARE_SECONDS = 25

launch = Launch(base, client_id, scope)
t0 = time.monotonic()
codes = [launch.first_code(username, password, patient)]
while len(codes) < n and time.monotonic() - t0 < PREPARE_SECONDS:
    codes.append(launch.next_code())
prepared = time.monotonic() - t0

host = urllib.parse.urlparse(base)
work = queue.Queue()
for c in codes:
    work.put(c)
ok, failed, latencies, lock = [0], [0], [], threading.Lock()


def worker():
    conn = http.client.HTTPConnection(host.hostname, host.port)
    mine = []
    while True:
        try:
            code, verifier = work.get_nowait()
        except queue.Empty:
            break
        body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": REDIRECT, "client_id": client_id,
                                       "code_verifier": verifier})
        start = time.monotonic()
        conn.request("POST", "/auth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        answer = r.read()
        mine.append(time.monotonic() - start)
        good = r.status == 200 and b'"access_token"' in answer
        with lock:
            ok[0] += good
            failed[0] += not good
    conn.close()
    with lock:
        latencies.extend(mine)


pool = [threading.Thread(target=worker) for _ in range(threads)]
start = time.monotonic()
for t in pool:
    t.start()
for t in pool:
    t.join()
elapsed = time.monotonic() - start
latencies.sort()
p50 = latencies[len(latencies) // 2] * 1000
p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
print(f"| code exchange ({scope}) | {ok[0]} | {failed[0]} | {elapsed:.2f} s | "
      f"{ok[0] / elapsed:,.0f} | {p50:.2f}ms | {p99:.2f}ms |")
print(f"\n(prepared {len(codes)} of {n} codes in {prepared:.1f} s through authorize + consent: "
      f"{len(codes) / prepared:,.0f} codes/s)")
if failed[0]:
    raise SystemExit(f"bench: {failed[0]} exchanges failed")
