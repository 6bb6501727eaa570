#!/usr/bin/env bash
# Installs dependencies, builds funcd (release), and serves the example function.
#
#   ./scripts/run.sh            listens on 127.0.0.1:8080 (PORT=... to change)
#
# Until `funcd serve` lands, this runs the function watchdog (fwatchdog) directly in front
# of examples/hello/handler.sh. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${PORT:-8080}

./scripts/setup.sh
echo "== building (release)"
cmake --preset release >/dev/null
cmake --build --preset release --target fwatchdog

STATE=$(mktemp -d /tmp/funcd-run-XXXXXX)
echo
echo "funcd: example function 'hello' on http://127.0.0.1:${PORT}/"
echo "call it with:   curl -d 'funcd' http://127.0.0.1:${PORT}/"
echo "health:         curl http://127.0.0.1:${PORT}/_/health"
echo "(Ctrl-C stops it)"
echo
exec env fprocess="$ROOT/examples/hello/handler.sh" port="$PORT" bind_address=127.0.0.1 \
  metrics_port=0 TMPDIR="$STATE" "$ROOT/build/release/bin/fwatchdog"
