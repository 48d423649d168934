#!/usr/bin/env bash
# Lints the OpenAPI document the built silo serves (Redocly's recommended rules, redocly.yaml; kept exceptions in
# .redocly.lint-ignore.yaml). Needs the silo built (dotnet build) and npm; run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
# One package, pinned exactly in package.json (it bundles its dependencies).
[ -x node_modules/.bin/redocly ] || npm install --no-audit --no-fund --no-package-lock >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
dotnet "$root/silo/OrleansQueue.Silo/bin/Debug/net10.0/OrleansQueue.Silo.dll" --urls "http://127.0.0.1:$port" \
  --Silo:Store:Provider memory --Silo:Clustering:SiloPort 0 --Silo:Clustering:GatewayPort 0 >/dev/null 2>&1 &
silo=$!
trap 'kill "$silo" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/openapi/v1.json" -o v1.json && break
  kill -0 "$silo" 2>/dev/null || { echo "the silo exited before serving its OpenAPI document" >&2; exit 1; }
  sleep 0.2
done
[ -s v1.json ] || { echo "the silo did not serve its OpenAPI document" >&2; exit 1; }
node_modules/.bin/redocly lint v1.json --config redocly.yaml --max-problems 50
