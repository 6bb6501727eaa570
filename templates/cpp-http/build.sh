#!/bin/sh
# funcd build step of the cpp-http template: compiles the server and the handler, then
# compiles and runs the handler's test. CXX and CXXFLAGS may be given as build args.
set -eu
CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:--O2}
sources=$(ls "$FUNCD_HANDLER_FOLDER"/*.cc | grep -v '_test\.cc$' || true)
echo "compiling handler: $CXX -std=c++20 $CXXFLAGS main.cc $sources"
# shellcheck disable=SC2086
$CXX -std=c++20 $CXXFLAGS -pthread -I"$FUNCD_HANDLER_FOLDER" -o handler main.cc $sources
if [ "${TEST_ENABLED:-true}" != "false" ] && [ -f "$FUNCD_HANDLER_FOLDER/handler_test.cc" ]; then
  # shellcheck disable=SC2086
  $CXX -std=c++20 -O0 -I"$FUNCD_HANDLER_FOLDER" -o handler_test \
    "$FUNCD_HANDLER_FOLDER/handler_test.cc" $sources
  ./handler_test
  rm -f handler_test
fi
