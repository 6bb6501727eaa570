#!/bin/sh
# Writes to both output streams.
echo to-stdout
echo to-stderr >&2
