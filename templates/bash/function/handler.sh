#!/usr/bin/env bash
# A funcd function on the classic watchdog: the request body is on stdin and the response is
# what this prints. Request details: Http_Method, Http_Path, Http_Query, Http_<Header>.
# What goes to stderr ends up in the function's logs (funcd logs NAME).
set -euo pipefail

body=$(cat)
echo "handled ${#body} bytes (${Http_Method:-POST} ${Http_Path:-/})" >&2
echo "Hello from bash! You said: ${body}"
