#!/bin/sh
# Takes a while, then answers (for drain and concurrency tests).
cat > /dev/null
sleep "${SLOW_SECONDS:-1}"
echo done
