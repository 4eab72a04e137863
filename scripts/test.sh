#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and integration) with CTest.
# Usage: scripts/test.sh [release|debug|asan]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
bash scripts/install-deps.sh
bash scripts/build.sh "$flavour"
ctest --test-dir "build/$flavour" --output-on-failure -j"$(nproc)" --timeout 600
