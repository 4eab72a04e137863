#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest: unit, integration (the store
# conformance suite on SQLite and on a real PostgreSQL server this script starts), and the
# end-to-end tests with third-party clients (fhirclient, openid-client, jose) and Chromium.
# Usage: scripts/test.sh [release|debug|asan]   (asan leaves out the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
bash scripts/install-deps.sh
bash scripts/build.sh "$flavour"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
# A throwaway PostgreSQL cluster for the PostgreSQL back end's tests (never skipped).
pgdir=$(mktemp -d /tmp/ipa-pg-XXXXXX)
trap 'bash scripts/pg-test-cluster.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
IPA_TEST_POSTGRES="$(bash scripts/pg-test-cluster.sh start "$pgdir")"
export IPA_TEST_POSTGRES
exclude=()
if [[ "$flavour" == "asan" ]]; then exclude=(-LE e2e); fi
ctest --test-dir "build/$flavour" --output-on-failure -j"$(nproc)" --timeout 600 "${exclude[@]}"
