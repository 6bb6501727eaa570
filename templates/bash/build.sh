#!/bin/sh
# funcd build step of the bash template: runs the handler's test unless TEST_ENABLED=false.
set -eu
test_script="$FUNCD_HANDLER_FOLDER/handler_test.sh"
if [ "${TEST_ENABLED:-true}" != "false" ] && [ -f "$test_script" ]; then
  bash "$test_script"
fi
