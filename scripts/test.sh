#!/usr/bin/env bash
# Installs dependencies, builds funcd, and runs every test: clang-format, the test suite in a
# release build, the same suite under ASan+UBSan, and a short libFuzzer run.
#
#   ./scripts/test.sh             everything (what CI runs)
#   FUZZ_SECONDS=60 ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
start=$(date +%s)
summary=()

step() { echo; echo "== $* ($(( $(date +%s) - start ))s)"; }

# Sums "N tests failed out of M" from a ctest log into the summary.
record() {
  local name=$1 log=$2 total failed
  total=$(grep -oE 'tests failed out of [0-9]+' "$log" | awk '{print $5}' | tail -1)
  failed=$(grep -oE '[0-9]+ tests failed' "$log" | awk '{print $1}' | tail -1)
  summary+=("$name: $(( ${total:-0} - ${failed:-0} )) passed, ${failed:-0} failed")
  PASSED=$(( ${PASSED:-0} + ${total:-0} - ${failed:-0} ))
  FAILED=$(( ${FAILED:-0} + ${failed:-0} ))
}

step "setup"
./scripts/setup.sh

step "format"
./scripts/check-format.sh

status=0
step "release build"
cmake --preset release >/dev/null
cmake --build --preset release
step "release tests"
ctest --preset release 2>&1 | tee /tmp/funcd-ctest-release.log || status=1
record release /tmp/funcd-ctest-release.log

step "asan build (ASan+UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan
step "asan tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan 2>&1 | tee /tmp/funcd-ctest-asan.log || status=1
record asan /tmp/funcd-ctest-asan.log

step "fuzz (${FUZZ_SECONDS}s per target)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
# Each fuzzer starts from its corpus in tests/fuzz_corpus/NAME (if any) in a scratch copy.
for fuzzer in http_request queue_message; do
  corpus=$(mktemp -d /tmp/funcd-fuzz-XXXXXX)
  if [ -d "tests/fuzz_corpus/$fuzzer" ]; then
    cp "tests/fuzz_corpus/$fuzzer"/* "$corpus/"
  fi
  if "build/fuzz/bin/${fuzzer}_fuzz" -max_total_time="$FUZZ_SECONDS" -max_len=4096 \
      -print_final_stats=1 "$corpus" > "/tmp/funcd-fuzz-$fuzzer.log" 2>&1; then
    summary+=("fuzz $fuzzer: $(grep -oE 'Done [0-9]+ runs' "/tmp/funcd-fuzz-$fuzzer.log"), no crash")
    PASSED=$(( ${PASSED:-0} + 1 ))
  else
    tail -40 "/tmp/funcd-fuzz-$fuzzer.log"
    summary+=("fuzz $fuzzer: CRASH (see above)")
    FAILED=$(( ${FAILED:-0} + 1 ))
    status=1
  fi
  rm -rf "$corpus"
done

step "done"
printf '%s\n' "${summary[@]}"
echo "tests: ${PASSED:-0} passed, ${FAILED:-0} failed"
exit "$status"
