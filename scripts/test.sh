#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest: unit, integration, and the
# end-to-end tests with third-party clients (fhirclient, openid-client, jose) and Chromium.
# Usage: scripts/test.sh [release|debug|asan]   (asan leaves out the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
bash scripts/install-deps.sh
bash scripts/build.sh "$flavour"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
exclude=()
if [[ "$flavour" == "asan" ]]; then exclude=(-LE e2e); fi
ctest --test-dir "build/$flavour" --output-on-failure -j"$(nproc)" --timeout 600 "${exclude[@]}"
