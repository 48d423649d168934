#!/usr/bin/env bash
# Builds the TypeScript SDK (ESM, CommonJS, declarations) and runs its tests (node:test, TAP output) against a silo process
# built by dotnet (dotnet build), openai-node from npm, and the packed tarball; needs Node and npm; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/typescript ] || npm install --no-audit --no-fund --no-package-lock >/dev/null
node scripts/build.mjs
exec node --test --test-reporter=tap --test-concurrency=1 dist-test/test/*.test.js
