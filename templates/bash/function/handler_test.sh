#!/usr/bin/env bash
# Runs handler.sh as the watchdog would and checks its answer. funcd build runs it.
set -euo pipefail
cd "$(dirname "$0")"

got=$(printf 'funcd' | Http_Method=POST Http_Path=/ bash handler.sh 2>/dev/null)
want="Hello from bash! You said: funcd"
if [ "$got" != "$want" ]; then
  echo "handler_test.sh: got \"$got\", want \"$want\"" >&2
  exit 1
fi
echo "handler_test.sh: ok"
