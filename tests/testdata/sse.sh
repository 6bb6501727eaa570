#!/bin/sh
# Two server-sent events, half a second apart.
printf "data: 1\n\n"
sleep 0.5
printf "data: 2\n\n"
