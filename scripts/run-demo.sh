#!/usr/bin/env bash
# Installs what is missing, builds, and starts `ipa-server demo` with the synthetic IPA dataset
# on http://127.0.0.1:8080/fhir (data kept in ./data). Extra arguments go to `ipa-server demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release --target ipa-server
exec build/release/src/server/ipa-server demo --port "${IPA_PORT:-8080}" --data-dir data "$@"
