#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing ipa-server need,
# only those not yet installed. Safe to run again. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  # Boost 1.81 versioned packages only: the unversioned libboost-*-dev pull 1.74 and conflict.
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpq-dev postgresql haproxy
  libsqlite3-dev libssl-dev libsodium-dev libicu-dev libcurl4-openssl-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl python3
)
if [[ "${1:-}" == "--bench" ]]; then packages+=(wrk nginx); fi

# --- End-to-end tests (tests/e2e, see docs/e2e.md) ------------------------------------------------
# Debian's Chromium, driven by playwright-core (never a browser download). Node.js and npm only when
# no `node` is on PATH; the e2e packages (playwright-core 1.65) need Node.js 20 or newer, and
# Debian 12's own nodejs is 18, so a machine without Node.js 20 cannot run them.
# (Placed before the check below, not at the end, because the script exits early when nothing is
# missing.)
packages+=(chromium)
if ! command -v node >/dev/null 2>&1; then packages+=(nodejs npm); fi
# --- end of the e2e block ---------------------------------------------------------------------------

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
