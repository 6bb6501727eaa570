#!/usr/bin/env bash
# Installs dependencies, builds funcd (release), starts `funcd serve`, builds and deploys the
# example functions from a stack file with the funcd client (login, up), and prints how to
# call them. Ctrl-C stops everything.
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
FUNCD="$ROOT/build/release/bin/funcd"
export OPENFAAS_URL="$GATEWAY"
[ -n "$STATE_DIR" ] && export FUNCD_STATE_DIR="$STATE_DIR"

# The example functions, as a stack file: the handler in examples/hello built with the bash
# template into a package in the state directory's package store.
STACK="$ROOT/build/run/stack.yml"
mkdir -p "$(dirname "$STACK")"
cat > "$STACK" <<'YAML'
version: 1.0
provider:
  name: openfaas
  gateway: ${OPENFAAS_URL:-http://127.0.0.1:8080}
functions:
  hello:
    lang: bash
    handler: ../../examples/hello
    image: hello:latest
YAML

echo "== logging in, building and deploying $STACK"
"$FUNCD" login --password-stdin < "$SECRETS/basic-auth-password"
"$FUNCD" up -f "$STACK"
"$FUNCD" ready hello --interval 100ms --attempts 100

cat <<MSG

funcd is running on $GATEWAY with the example function 'hello' deployed from $STACK.
Call it:       curl -d 'funcd' $GATEWAY/function/hello
  or:          echo -n funcd | $FUNCD invoke hello -g $GATEWAY
More:          $FUNCD list -g $GATEWAY;  $FUNCD logs hello -g $GATEWAY   (see the README's Walkthrough)
Admin API:     curl -u admin:\$(cat $SECRETS/basic-auth-password) $GATEWAY/system/functions
Web UI:        $GATEWAY/ui/   (user admin, password in $SECRETS/basic-auth-password)
Ctrl-C stops it.

MSG
wait "$SERVE_PID"
