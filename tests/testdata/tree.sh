#!/bin/sh
# Starts a process tree and records its pids in $PIDFILE: a child in our process group, a
# grandchild that left it (new session), and this shell. Then waits.
sleep 300 &
echo $! >> "$PIDFILE"
setsid sleep 300 &
echo $! >> "$PIDFILE"
echo $$ >> "$PIDFILE"
sleep 300
