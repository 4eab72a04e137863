#!/usr/bin/env bash
# Configures and builds one flavour of the project into build/<flavour>.
# Usage: scripts/build.sh [release|debug|asan] [cmake --build args...]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
shift || true
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=Debug -DIPA_SANITIZE=ON) ;;
  *) echo "unknown flavour $flavour (release, debug, asan)" >&2; exit 2 ;;
esac
if [[ "${IPA_WERROR:-}" == "1" ]]; then args+=(-DIPA_WERROR=ON); fi
cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
cmake --build "build/$flavour" -j"$(nproc)" "$@"
