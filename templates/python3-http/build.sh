#!/bin/sh
# funcd build step of the python3-http template: dependencies (requirements.txt, if it lists
# any), the handler's tests, then bytecode, so that replicas start without compiling.
set -eu
cd "$(dirname "$0")"
requirements="$FUNCD_HANDLER_FOLDER/requirements.txt"
if [ -f "$requirements" ] && grep -qv '^[[:space:]]*\(#.*\)\?$' "$requirements"; then
  echo "installing $(grep -cv '^[[:space:]]*\(#.*\)\?$' "$requirements") package(s) from requirements.txt"
  python3 -m pip install --quiet --no-cache-dir --target python-packages -r "$requirements"
fi
if [ "${TEST_ENABLED:-true}" != "false" ]; then
  python3 -m unittest discover --start-directory "$FUNCD_HANDLER_FOLDER" --pattern '*_test.py'
fi
python3 -m compileall -q .
