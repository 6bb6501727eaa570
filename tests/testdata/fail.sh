#!/bin/sh
# Prints a line and fails.
echo oops
exit 3
