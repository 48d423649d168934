#!/usr/bin/env bash
# The proxy's tests with openai-node (node:test, TAP output): needs the silo built (dotnet build) and npm; run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
[ -d node_modules/openai ] || npm install --no-audit --no-fund --no-package-lock >/dev/null
exec node --test --test-reporter=tap --test-concurrency=1 proxy.test.mjs
