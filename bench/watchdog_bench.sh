#!/usr/bin/env bash
# watchdog_bench.sh: load benchmark of fwatchdog, as ratios against a direct call measured in
# the same run (absolute numbers vary 20-30% on a noisy machine; ratios much less).
#
#   bench/watchdog_bench.sh [BIN_DIR]      (default build/release/bin; see bench/README.md)
#
#   1. http mode: wrk against fast_upstream directly, then against fwatchdog (mode=http)
#      proxying to a fast_upstream it forked: with 1 and 2 I/O threads on its default backend
#      (io_uring where the kernel allows it), and with 1 thread on epoll. Goal: >= 0.5.
#   2. classic mode: wrk POSTs against fwatchdog with fprocess=cat, then exec_loop spawning
#      cat as many times without HTTP. Goal: >= 0.8. Then the same wrk against floor_cgi,
#      a bare HTTP server spawning cat, to show what any HTTP front costs.
#   3. RSS of fwatchdog: classic when idle (goal < 4 MB); http mode after its wrk run.
#
# Environment: BENCH_DURATION (http runs, default 10s), BENCH_CLASSIC_DURATION (default 5s),
# BENCH_OUT (also write the summary table to this file).
#
# Prints numbers; it asserts nothing. Everything listens on 127.0.0.1. Only the processes it
# started are stopped, by PID. Needs wrk, curl and python3 (to pick a free port).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BENCH_DIR
readonly DURATION=${BENCH_DURATION:-10s}
readonly CLASSIC_DURATION=${BENCH_CLASSIC_DURATION:-5s}
# The exec loop repeats as many spawns as the classic run completed, up to this many.
readonly MAX_EXECS=2000

die() {
  echo "watchdog_bench: $*" >&2
  exit 1
}

BIN_DIR=${1:-build/release/bin}
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) || die "no such directory: $BIN_DIR"
readonly BIN_DIR
for bin in fwatchdog fast_upstream exec_loop floor_cgi; do
  [[ -x $BIN_DIR/$bin ]] || die "$BIN_DIR/$bin not found; build first (see bench/README.md)"
done
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
# fwatchdog splits fprocess on spaces.
[[ $BIN_DIR != *" "* ]] || die "the binaries directory must not contain spaces: $BIN_DIR"

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/watchdog_bench.XXXXXX")
readonly WORK_DIR

# --- Processes -------------------------------------------------------------------------------

STARTED_PIDS=()  # every process this script started (directly or through fwatchdog)
LAST_PID=

# stop_pid PID NAME [LOG_NAME]: stops PID (SIGTERM, then SIGKILL after 10s) if it still runs,
# reaps it when it is our child, and warns when it did not exit cleanly (showing the end of
# its log when given). NAME is the executable's name, checked against /proc so that a
# recycled PID is never signalled.
stop_pid() {
  local pid=$1 name=$2 log=${3:-} _ status=0
  if ! grep -qs "$name" "/proc/$pid/cmdline"; then
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    grep -qs "$name" "/proc/$pid/cmdline" || break
    sleep 0.1
  done
  if grep -qs "$name" "/proc/$pid/cmdline"; then
    echo "warning: $name (pid $pid) ignored SIGTERM for 10s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  # 127: not our child (the function fwatchdog forked); 143: ended by our SIGTERM.
  if ((status != 0 && status != 127 && status != 143)); then
    echo "warning: $name (pid $pid) exited with status $status when stopped" >&2
    [[ -z $log ]] || tail -n 3 "$WORK_DIR/$log.log" | sed 's/^/    /' >&2
  fi
}

cleanup() {
  local entry i
  # Newest first: a watchdog stops the upstream it forked, recorded after it.
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    entry=${STARTED_PIDS[i]}
    stop_pid "${entry%%:*}" "${entry#*:}"
  done
  STARTED_PIDS=()
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start LOG_NAME [VAR=VALUE...] PROGRAM [ARGS...]: starts a process in the background with
# its output in $WORK_DIR/LOG_NAME.log; sets LAST_PID. The process gets only PATH and the
# given variables, so that settings exported in the caller's shell (fwatchdog reads `mode`,
# `port`, ...) cannot change what is measured.
start() {
  local log=$WORK_DIR/$1.log
  shift
  # `env` execs the program, so $! is the program's PID.
  env -i PATH="$PATH" "$@" >"$log" 2>&1 &
  LAST_PID=$!
  local program
  for program in "$@"; do
    [[ $program == *=* ]] || break
  done
  STARTED_PIDS+=("$LAST_PID:$(basename "$program")")
}

# listening_port LOG_NAME PID: waits for the process's "Listening on port: N" line and
# prints N. fwatchdog prefixes its own line with a timestamp; lines it relays from its
# function read "stderr: Listening ..." and do not match.
listening_port() {
  local log=$WORK_DIR/$1.log pid=$2 port
  for _ in $(seq 100); do
    port=$(sed -n -E 's|^([0-9/]+ [0-9:]+ )?Listening on port: ([0-9]+)$|\2|p' "$log" | head -n1)
    if [[ -n $port ]]; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "$1 did not start listening"
}

# wait_healthy LOG_NAME PORT: waits until fwatchdog's /_/health answers 200.
wait_healthy() {
  for _ in $(seq 200); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$2/_/health" 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  cat "$WORK_DIR/$1.log" >&2
  die "$1 did not become healthy"
}

# The PID of the function fwatchdog forked in http mode, from its "(pid N)" log line.
forked_pid() {
  sed -n -E 's/^.* Forked .* \(pid ([0-9]+)\).*$/\1/p' "$WORK_DIR/$1.log" | head -n1
}

# A port that is free now, for the upstream fwatchdog forks (its URL must be known first).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

rss_mb() {
  awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# --- Measurements ----------------------------------------------------------------------------

# wrk_field LINE KEY: the value of KEY=VALUE in a wrk_result line.
wrk_field() {
  sed -E "s/.* $2=([0-9.]+).*/\1/" <<<"$1"
}

# run_wrk KEY LABEL WRK_ARGS... URL: runs wrk with a reporting script; sets WRK_RPS,
# WRK_P50_MS, WRK_P99_MS, WRK_REQUESTS and WRK_ERRORS. The output goes to $WORK_DIR/KEY.wrk
# (printed when requests failed).
run_wrk() {
  local key=$1 label=$2
  shift 2
  local out=$WORK_DIR/$key.wrk line
  wrk --latency "$@" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($label)"; }
  line=$(grep '^wrk_result ' "$out") || { cat "$out" >&2; die "no wrk result ($label)"; }
  WRK_RPS=$(wrk_field "$line" rps)
  WRK_REQUESTS=$(wrk_field "$line" requests)
  WRK_ERRORS=$(wrk_field "$line" errors)
  WRK_P50_MS=$(awk -v us="$(wrk_field "$line" p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  WRK_P99_MS=$(awk -v us="$(wrk_field "$line" p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  if ((WRK_ERRORS > 0)); then
    echo "warning: $label: $WRK_ERRORS failed requests; wrk output:" >&2
    cat "$out" >&2
  fi
  printf '  %-28s %10s req/s  p50 %6s ms  p99 %6s ms  errors %s\n' \
    "$label" "$WRK_RPS" "$WRK_P50_MS" "$WRK_P99_MS" "$WRK_ERRORS" >&2
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

# verdict VALUE OP GOAL: "met" or "MISSED" (informative only).
verdict() {
  awk -v v="$1" -v g="$3" -v op="$2" \
    'BEGIN { ok = (op == ">=" ? v >= g : v < g); print (ok ? "met" : "MISSED") }'
}

readonly HTTP_WRK=(-t2 -c64 -d"$DURATION" -s "$BENCH_DIR/wrk_stats.lua")
readonly CLASSIC_WRK=(-t1 -c2 -d"$CLASSIC_DURATION" -s "$BENCH_DIR/wrk_post.lua")
readonly CLASSIC_WORKERS=2  # = wrk's connections in CLASSIC_WRK
# Settings every fwatchdog gets (plus its own TMPDIR for the lock file): loopback only, no
# metrics server, and a quick SIGTERM so that stopping it does not wait out the default 30s
# health interval.
readonly WATCHDOG_ENV=(bind_address=127.0.0.1 port=0 metrics_port=0 healthcheck_interval=10ms)

# a. fast_upstream called directly.
echo "fast_upstream direct (wrk ${HTTP_WRK[*]:0:3})" >&2
start direct "$BIN_DIR/fast_upstream" --port 0
direct_pid=$LAST_PID
direct_port=$(listening_port direct "$direct_pid")
run_wrk direct "fast_upstream direct" "${HTTP_WRK[@]}" "http://127.0.0.1:$direct_port/"
direct_rps=$WRK_RPS direct_p50=$WRK_P50_MS direct_p99=$WRK_P99_MS
stop_pid "$direct_pid" fast_upstream direct

# b, c. fwatchdog in http mode in front of its own fast_upstream: with 1 and 2 I/O threads on
# its default backend (io_uring where the kernel allows it), and with 1 thread on epoll.
# Sets HTTP_RPS, HTTP_P50, HTTP_P99, HTTP_RSS (after the run) and HTTP_IO (the backend used).
bench_http_mode() {
  local threads=$1 io=$2 name="http_${1}thread_$2"
  local upstream_port
  upstream_port=$(free_port)
  mkdir -p "$WORK_DIR/$name"
  start "$name" "${WATCHDOG_ENV[@]}" TMPDIR="$WORK_DIR/$name" fwatchdog_threads="$threads" \
    fwatchdog_io="$io" mode=http fprocess="$BIN_DIR/fast_upstream --port $upstream_port" \
    upstream_url="http://127.0.0.1:$upstream_port" "$BIN_DIR/fwatchdog"
  local watchdog_pid=$LAST_PID port upstream_pid
  port=$(listening_port "$name" "$watchdog_pid")
  wait_healthy "$name" "$port"
  upstream_pid=$(forked_pid "$name")
  if [[ -n $upstream_pid ]]; then
    STARTED_PIDS+=("$upstream_pid:fast_upstream")
  fi
  HTTP_IO=$(sed -n -E 's/^.* I\/O: ([a-z_]+).*$/\1/p' "$WORK_DIR/$name.log" | head -n1)
  run_wrk "$name" "fwatchdog http, threads=$threads, $HTTP_IO" "${HTTP_WRK[@]}" \
    "http://127.0.0.1:$port/"
  HTTP_RPS=$WRK_RPS HTTP_P50=$WRK_P50_MS HTTP_P99=$WRK_P99_MS
  HTTP_RSS=$(rss_mb "$watchdog_pid")
  stop_pid "$watchdog_pid" fwatchdog "$name"
  [[ -z $upstream_pid ]] || stop_pid "$upstream_pid" fast_upstream
}

echo "fwatchdog mode=http -> fast_upstream" >&2
bench_http_mode 1 auto
http1_rps=$HTTP_RPS http1_p50=$HTTP_P50 http1_p99=$HTTP_P99 http1_rss=$HTTP_RSS
http1_io=$HTTP_IO
bench_http_mode 1 epoll
epoll_rps=$HTTP_RPS epoll_p50=$HTTP_P50 epoll_p99=$HTTP_P99 epoll_rss=$HTTP_RSS
bench_http_mode 2 auto
http2_rps=$HTTP_RPS http2_p50=$HTTP_P50 http2_p99=$HTTP_P99 http2_rss=$HTTP_RSS
http1_ratio=$(ratio "$http1_rps" "$direct_rps")
epoll_ratio=$(ratio "$epoll_rps" "$direct_rps")
http2_ratio=$(ratio "$http2_rps" "$direct_rps")

# d, e. Classic mode (fork cat per request): idle RSS, then wrk, then the same number of
# spawns without HTTP.
echo "fwatchdog classic, fprocess=cat (wrk ${CLASSIC_WRK[*]:0:3})" >&2
mkdir -p "$WORK_DIR/classic"
start classic "${WATCHDOG_ENV[@]}" TMPDIR="$WORK_DIR/classic" exec_timeout=10s fprocess=cat \
  "$BIN_DIR/fwatchdog"
classic_pid=$LAST_PID
classic_port=$(listening_port classic "$classic_pid")
wait_healthy classic "$classic_port"
sleep 0.5  # let start-up settle before sampling the idle RSS
classic_idle_rss=$(rss_mb "$classic_pid")
run_wrk classic "fwatchdog classic" "${CLASSIC_WRK[@]}" "http://127.0.0.1:$classic_port/"
classic_rps=$WRK_RPS classic_p50=$WRK_P50_MS classic_p99=$WRK_P99_MS
classic_rss=$(rss_mb "$classic_pid")
stop_pid "$classic_pid" fwatchdog classic

execs=$((WRK_REQUESTS < MAX_EXECS ? WRK_REQUESTS : MAX_EXECS))
((execs > 0)) || die "the classic run completed no requests"
loop_line=$("$BIN_DIR/exec_loop" --count "$execs" --workers "$CLASSIC_WORKERS" cat) ||
  die "exec_loop failed"
loop_rate=$(sed -E 's/.*execs_per_sec=([0-9.]+).*/\1/' <<<"$loop_line")
printf '  %-28s %10s execs/s (%s)\n' "exec_loop cat, $CLASSIC_WORKERS workers" "$loop_rate" \
  "$loop_line" >&2
classic_ratio=$(ratio "$classic_rps" "$loop_rate")

# The floor for classic mode: floor_cgi, the least an HTTP front for cat can do (no
# environment, logging or timeouts), under the same wrk.
start floor_cgi "$BIN_DIR/floor_cgi" --port 0 cat
floor_pid=$LAST_PID
floor_port=$(listening_port floor_cgi "$floor_pid")
run_wrk floor_cgi "floor_cgi" "${CLASSIC_WRK[@]}" "http://127.0.0.1:$floor_port/"
floor_rps=$WRK_RPS floor_p50=$WRK_P50_MS floor_p99=$WRK_P99_MS
stop_pid "$floor_pid" floor_cgi floor_cgi
floor_ratio=$(ratio "$floor_rps" "$loop_rate")

# f. Summary.
row() {
  printf '%-36s %10s %8s %8s %7s  %s\n' "$@"
}

summary() {
  # The load average shows how much else ran on the machine meanwhile.
  echo "fwatchdog benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), http runs $DURATION, classic run $CLASSIC_DURATION)"
  row "" "req/s" "p50 ms" "p99 ms" "ratio" "goal"
  row "direct fast_upstream" "$direct_rps" "$direct_p50" "$direct_p99" "1.00" ""
  row "fwatchdog http, 1 thread, $http1_io" "$http1_rps" "$http1_p50" "$http1_p99" \
    "$http1_ratio" ">= 0.5 $(verdict "$http1_ratio" '>=' 0.5)"
  row "fwatchdog http, 1 thread, epoll" "$epoll_rps" "$epoll_p50" "$epoll_p99" \
    "$epoll_ratio" "(fallback)"
  row "fwatchdog http, 2 threads" "$http2_rps" "$http2_p50" "$http2_p99" \
    "$http2_ratio" "(informative)"
  row "exec_loop cat, $CLASSIC_WORKERS workers (execs/s)" "$loop_rate" "" "" "1.00" \
    "($execs spawns)"
  row "fwatchdog classic, fprocess=cat" "$classic_rps" "$classic_p50" "$classic_p99" \
    "$classic_ratio" ">= 0.8 $(verdict "$classic_ratio" '>=' 0.8)"
  row "floor_cgi cat (floor)" "$floor_rps" "$floor_p50" "$floor_p99" "$floor_ratio" \
    "(bare HTTP + spawn)"
  row "" "RSS MB"
  row "fwatchdog classic, idle" "$classic_idle_rss" "" "" "" \
    "< 4 $(verdict "$classic_idle_rss" '<' 4)"
  row "fwatchdog classic, after load" "$classic_rss" "" "" "" "(informative)"
  row "fwatchdog http 1 thread, after load" "$http1_rss" "" "" "" "($http1_io)"
  row "fwatchdog http epoll, after load" "$epoll_rss" "" "" "" "(informative)"
  row "fwatchdog http 2 threads, after load" "$http2_rss" "" "" "" "(informative)"
}

echo >&2
if [[ -n ${BENCH_OUT:-} ]]; then
  summary | tee "$BENCH_OUT"
else
  summary
fi
