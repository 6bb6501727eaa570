#!/usr/bin/env bash
# Installs dependencies, builds funcd (release), starts `funcd serve` with the example
# function deployed, and prints how to call it. Ctrl-C stops everything.
#
#   ./scripts/run.sh              gateway on 127.0.0.1:8080 (PORT=... to change)
#   STATE_DIR=/tmp/funcd ./scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${PORT:-8080}
STATE_DIR=${STATE_DIR:-}
GATEWAY="http://127.0.0.1:${PORT}"

./scripts/setup.sh
echo "== building (release)"
cmake --preset release >/dev/null
cmake --build --preset release --target funcd fwatchdog

args=(serve --listen "127.0.0.1:${PORT}")
[ -n "$STATE_DIR" ] && args+=(--state-dir "$STATE_DIR")
"$ROOT/build/release/bin/funcd" "${args[@]}" &
SERVE_PID=$!
trap 'kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null' EXIT INT TERM

# Wait for the gateway.
for _ in $(seq 1 100); do
  curl -fsS "$GATEWAY/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "funcd serve did not start" >&2; exit 1; }
  sleep 0.1
done
SECRETS="${STATE_DIR:-$([ "$(id -u)" -eq 0 ] && echo /var/lib/funcd || echo "$HOME/.local/share/funcd")}/secrets"
AUTH="admin:$(cat "$SECRETS/basic-auth-password")"

# Deploy (or update) the example the way faas-cli does: PUT, then POST when it is new.
DEPLOYMENT="{\"service\":\"hello\",\"image\":\"dir://$ROOT/examples/hello\",\"envProcess\":\"./handler.sh\"}"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$AUTH" -X PUT -d "$DEPLOYMENT" "$GATEWAY/system/functions")
if [ "$code" = 404 ]; then
  code=$(curl -s -o /dev/null -w '%{http_code}' -u "$AUTH" -X POST -d "$DEPLOYMENT" "$GATEWAY/system/functions")
fi
[ "$code" = 202 ] || { echo "deploying the example failed: HTTP $code" >&2; exit 1; }
for _ in $(seq 1 100); do
  curl -fsS -u "$AUTH" "$GATEWAY/system/function/hello" | grep -q availableReplicas && break
  sleep 0.05
done

cat <<MSG

funcd is running on $GATEWAY with the example function 'hello' deployed.
Call it:       curl -d 'funcd' $GATEWAY/function/hello
Admin API:     curl -u admin:\$(cat $SECRETS/basic-auth-password) $GATEWAY/system/functions
Web UI:        $GATEWAY/ui/   (user admin, password in $SECRETS/basic-auth-password)
Ctrl-C stops it.

MSG
wait "$SERVE_PID"
