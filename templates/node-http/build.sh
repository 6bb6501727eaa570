#!/bin/sh
# funcd build step of the node-http template: npm dependencies (when package.json lists
# any), then the handler's tests.
set -eu
cd "$FUNCD_HANDLER_FOLDER"
if [ -f package.json ] && node -e 'const p = require("./package.json");
    process.exit(Object.keys(p.dependencies || {}).length > 0 ? 0 : 1)'; then
  npm install --omit=dev --no-audit --no-fund
fi
if [ "${TEST_ENABLED:-true}" != "false" ]; then
  node --test
fi
