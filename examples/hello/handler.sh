#!/bin/sh
# The example function: greets whoever is named in the request body.
name=$(cat)
echo "Hello, ${name:-world}! (${Http_Method} ${Http_Path:-/})"
