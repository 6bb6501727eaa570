#!/usr/bin/env bash
# gateway_bench.sh: load benchmark of the funcd gateway, as ratios against a direct call
# measured in the same run (absolute numbers vary 20-30% on a noisy machine; ratios much less).
#
#   bench/gateway_bench.sh [BIN_DIR]       (default build/release/bin; see bench/README.md)
#
#   1. Throughput: wrk -t2 -c64 against fast_upstream directly, then against the same binary
#      deployed as a function in `funcd serve` and called through /function/NAME,
#      a. behind fwatchdog (mode=http) — goal >= 0.25 of direct,
#      b. with com.funcd.watchdog=none, the gateway straight to its server — goal >= 0.45.
#   2. Latency at a fixed 1,000 req/s on the same three paths; goal: the gateway adds < 0.5 ms
#      to the p50 of the direct call. Measured twice: hey -q 10 -c 100 (its 100 workers fire
#      together every 100 ms, so its p50 includes the queueing of a 100-request burst), and wrk
#      with 20 connections each waiting a random 0-40 ms before each request (about 1,000
#      req/s spread out in time: the cost of one call).
#   3. RSS of funcd serve: idle once both functions are ready (goal < 8 MB) and the largest of
#      several samples during a wrk -c256 run through the gateway and fwatchdog (goal < 20 MB).
#   4. Cold start (informative): the function scaled to 0, then the time of one call.
#
# Replicas run in funcd's default bubblewrap sandbox (BENCH_SANDBOX=none to run without), in
# the cgroups of this funcd instance. Both functions are pinned to one replica
# (scale.min = scale.max = 1): the autoscaler would otherwise add replicas under the load and
# the run would measure something else than the call path.
# Environment: BENCH_DURATION (each wrk run, default 10s), BENCH_RATE_DURATION (each hey and
# paced wrk run, default 10s), BENCH_COLD_STARTS (default 10), BENCH_SANDBOX (bwrap|none,
# default bwrap), BENCH_OUT (also write the
# summary table to this file).
#
# Prints numbers; it asserts nothing. Everything listens on 127.0.0.1. Only the processes it
# started are stopped, by PID (funcd serve stops the replicas it started). Needs wrk, curl and
# hey (apt-get install wrk curl hey; without hey the hey rows are skipped).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BENCH_DIR
readonly DURATION=${BENCH_DURATION:-10s}
readonly RATE_DURATION=${BENCH_RATE_DURATION:-10s}
readonly COLD_STARTS=${BENCH_COLD_STARTS:-10}
readonly SANDBOX=${BENCH_SANDBOX:-bwrap}
# hey: 100 workers of 10 req/s each = 1,000 req/s.
readonly RATE_WORKERS=100 RATE_PER_WORKER=10
# Paced wrk: 20 connections, a random 0-40 ms (mean 20 ms) before each request = ~1,000 req/s.
readonly PACED_CONNECTIONS=20 PACED_MEAN_GAP_MS=20

die() {
  echo "gateway_bench: $*" >&2
  exit 1
}

BIN_DIR=${1:-build/release/bin}
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) || die "no such directory: $BIN_DIR"
readonly BIN_DIR
for bin in funcd fwatchdog fast_upstream floor_proxy; do
  [[ -x $BIN_DIR/$bin ]] || die "$BIN_DIR/$bin not found; build first (see bench/README.md)"
done
for tool in wrk curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
HAVE_HEY=1
if ! command -v hey >/dev/null; then
  HAVE_HEY=0
  echo "warning: hey is not installed (apt-get install hey); skipping its runs" >&2
fi
readonly HAVE_HEY
[[ $SANDBOX == bwrap || $SANDBOX == none ]] || die "BENCH_SANDBOX is bwrap or none"

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gateway_bench.XXXXXX")
readonly WORK_DIR
# The sandboxed replicas run as an unprivileged uid and read the function's directory.
chmod 755 "$WORK_DIR"

# --- Processes -------------------------------------------------------------------------------

STARTED_PIDS=()  # every process this script started directly
LAST_PID=

# stop_pid PID NAME [LOG_NAME]: stops PID (SIGTERM, then SIGKILL after 10s) if it still runs,
# reaps it, and warns when it did not exit cleanly (showing the end of its log when given).
# NAME is the executable's name, checked against /proc so that a recycled PID is never
# signalled.
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
  # 127: not our child; 143: ended by our SIGTERM.
  if ((status != 0 && status != 127 && status != 143)); then
    echo "warning: $name (pid $pid) exited with status $status when stopped" >&2
    [[ -z $log ]] || tail -n 3 "$WORK_DIR/$log.log" | sed 's/^/    /' >&2
  fi
}

# PIDs of processes still running from the function's directory: the replicas' bwrap (its
# command line names $WORK_DIR/app) and, without a sandbox, what runs in that directory.
leftover_pids() {
  local dir cmdline cwd
  for dir in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' 2>/dev/null <"$dir/cmdline") || continue
    cwd=$(readlink "$dir/cwd" 2>/dev/null) || cwd=
    if [[ $cmdline == *"$WORK_DIR/app"* || $cwd == "$WORK_DIR/app"* ]]; then
      echo "${dir#/proc/}"
    fi
  done
}

# stop_all: stops every process this script started, newest first (funcd serve stops the
# replicas it started on SIGTERM), then warns about and kills anything left from the function.
stop_all() {
  local entry i pid
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    entry=${STARTED_PIDS[i]}
    stop_pid "${entry%%:*}" "${entry#*:}" "${entry#*:}"
  done
  STARTED_PIDS=()
  for pid in $(leftover_pids); do
    echo "warning: pid $pid of the function still ran after funcd serve stopped:" \
      "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-160)" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
}

cleanup() {
  stop_all
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start LOG_NAME [VAR=VALUE...] PROGRAM [ARGS...]: starts a process in the background with
# its output in $WORK_DIR/LOG_NAME.log; sets LAST_PID. The process gets only PATH and the
# given variables, so that settings exported in the caller's shell cannot change what is
# measured.
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

# wait_log_port LOG_NAME PID SED_EXPR: waits for a line of the log that SED_EXPR (a sed -n
# substitution printing the port) matches and prints the port.
wait_log_port() {
  local log=$WORK_DIR/$1.log pid=$2 expr=$3 port
  for _ in $(seq 100); do
    port=$(sed -n -E "$expr" "$log" | head -n1)
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

# funcd_events: the last replica events and failed invocations funcd serve logged, shown with
# failed requests.
funcd_events() {
  [[ -f $WORK_DIR/funcd.log ]] || return 0
  echo "  last replica events in the funcd serve log:" >&2
  grep -E 'replica|invoke' "$WORK_DIR/funcd.log" | tail -n 8 | sed 's/^/    /' >&2
}

# rss_mb PID [FIELD]: a memory figure of /proc/PID/status in MB (default VmRSS).
rss_mb() {
  awk -v field="${2:-VmRSS}:" '$1 == field { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# --- funcd REST API ----------------------------------------------------------------------------

GATEWAY=

# api METHOD PATH [BODY]: calls the REST API; prints the response body and dies on a status
# above 299 (showing the request and the response).
api() {
  local method=$1 path=$2 body=${3:-} out=$WORK_DIR/api.out code
  code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$GATEWAY$path" \
    ${body:+-d "$body"}) || die "curl $method $path failed"
  if ((code > 299)); then
    echo "request: $method $path $body" >&2
    echo "response: $code $(cat "$out")" >&2
    die "$method $path answered $code"
  fi
  cat "$out"
}

# available_replicas NAME: the function's availableReplicas (0 when omitted).
available_replicas() {
  local status n
  status=$(api GET "/system/function/$1")
  n=$(sed -n -E 's/.*"availableReplicas":([0-9]+).*/\1/p' <<<"$status")
  echo "${n:-0}"
}

# wait_replicas NAME COUNT: waits (30s at most) until availableReplicas is COUNT.
wait_replicas() {
  local _
  for _ in $(seq 300); do
    [[ $(available_replicas "$1") == "$2" ]] && return 0
    sleep 0.1
  done
  api GET "/system/function/$1" >&2
  echo >&2
  tail -n 20 "$WORK_DIR/funcd.log" >&2
  die "function $1 did not reach availableReplicas=$2"
}

# warm_up URL: a few calls, each of which must answer 200.
warm_up() {
  local _ code
  for _ in $(seq 20); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' "$1") || die "curl $1 failed"
    [[ $code == 200 ]] || die "$1 answered $code during warm-up"
  done
}

# --- Measurements ----------------------------------------------------------------------------

# wrk_field LINE KEY: the value of KEY=VALUE in a wrk_result line.
wrk_field() {
  sed -E "s/.* $2=([0-9.]+).*/\1/" <<<"$1"
}

# run_wrk KEY LABEL WRK_ARGS... URL: runs wrk with a reporting script, its output in
# $WORK_DIR/KEY.wrk, then parse_wrk.
run_wrk() {
  local key=$1 label=$2
  shift 2
  # A later -s (run_paced) replaces this one.
  wrk --latency -s "$BENCH_DIR/wrk_stats.lua" "$@" >"$WORK_DIR/$key.wrk" 2>&1 ||
    { cat "$WORK_DIR/$key.wrk" >&2; die "wrk failed ($label)"; }
  parse_wrk "$key" "$label"
}

# parse_wrk KEY LABEL: sets WRK_RPS, WRK_P50_MS, WRK_P99_MS and WRK_ERRORS from
# $WORK_DIR/KEY.wrk (printed when requests failed).
parse_wrk() {
  local key=$1 label=$2 out=$WORK_DIR/$1.wrk line
  line=$(grep '^wrk_result ' "$out") || { cat "$out" >&2; die "no wrk result ($label)"; }
  WRK_RPS=$(wrk_field "$line" rps)
  WRK_ERRORS=$(wrk_field "$line" errors)
  WRK_P50_MS=$(awk -v us="$(wrk_field "$line" p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  WRK_P99_MS=$(awk -v us="$(wrk_field "$line" p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  if ((WRK_ERRORS > 0)); then
    echo "warning: $label: $WRK_ERRORS failed requests; wrk output:" >&2
    cat "$out" >&2
    funcd_events
  fi
  printf '  %-36s %10s req/s  p50 %6s ms  p99 %6s ms  errors %s\n' \
    "$label" "$WRK_RPS" "$WRK_P50_MS" "$WRK_P99_MS" "$WRK_ERRORS" >&2
}

# run_hey KEY LABEL URL: hey at a fixed 1,000 req/s for RATE_DURATION; sets HEY_RPS,
# HEY_P50_MS and HEY_P99_MS (three decimals: the differences are fractions of a ms).
run_hey() {
  local key=$1 label=$2 url=$3 out=$WORK_DIR/$1.hey ok
  if ((!HAVE_HEY)); then
    HEY_RPS=- HEY_P50_MS=- HEY_P99_MS=-
    return 0
  fi
  hey -z "$RATE_DURATION" -q "$RATE_PER_WORKER" -c "$RATE_WORKERS" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "hey failed ($label)"; }
  HEY_RPS=$(awk '/Requests\/sec:/ { printf "%.1f", $2 }' "$out")
  HEY_P50_MS=$(awk '$1 == "50%%" || $1 == "50%" { printf "%.3f", $3 * 1000 }' "$out")
  HEY_P99_MS=$(awk '$1 == "99%" { printf "%.3f", $3 * 1000 }' "$out")
  [[ -n $HEY_RPS && -n $HEY_P50_MS && -n $HEY_P99_MS ]] ||
    { cat "$out" >&2; die "no hey result ($label)"; }
  # Every response must be a 200 and there must be no errors.
  ok=$(awk '$1 == "[200]" { n = $2 } END { print n + 0 }' "$out")
  if grep -q 'Error distribution' "$out" ||
    grep -E '^[[:space:]]*\[[0-9]+\]' "$out" | grep -vq '\[200\]'; then
    echo "warning: $label: failed requests; hey output:" >&2
    sed -n '/Status code distribution/,$p' "$out" | grep -v '^$' >&2
    funcd_events
  fi
  printf '  %-36s %10s req/s  p50 %6s ms  p99 %6s ms  (%s responses 200)\n' \
    "$label" "$HEY_RPS" "$HEY_P50_MS" "$HEY_P99_MS" "$ok" >&2
}

# run_paced KEY LABEL URL: wrk at about 1,000 req/s spread out in time (PACED_CONNECTIONS
# connections, each waiting a random 0..2*PACED_MEAN_GAP_MS ms before every request) for
# RATE_DURATION; sets PACED_RPS, PACED_P50_MS and PACED_P99_MS (three decimals).
run_paced() {
  run_wrk "$1" "$2" -t2 -c"$PACED_CONNECTIONS" -d"$RATE_DURATION" --timeout 5s \
    -s "$WORK_DIR/wrk_paced.lua" "$3" -- "$PACED_MEAN_GAP_MS"
  local line
  line=$(grep '^wrk_result ' "$WORK_DIR/$1.wrk")
  PACED_RPS=$WRK_RPS
  PACED_P50_MS=$(awk -v us="$(wrk_field "$line" p50_us)" 'BEGIN { printf "%.3f", us / 1000 }')
  PACED_P99_MS=$(awk -v us="$(wrk_field "$line" p99_us)" 'BEGIN { printf "%.3f", us / 1000 }')
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

# added A B: A - B in ms, or "-" when either is missing.
added() {
  if [[ $1 == - || $2 == - ]]; then
    echo -
  else
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'
  fi
}

# verdict VALUE OP GOAL: "met" or "MISSED" (informative only); "-" without a value.
verdict() {
  if [[ $1 == - ]]; then
    echo "-"
    return 0
  fi
  awk -v v="$1" -v g="$3" -v op="$2" \
    'BEGIN { ok = (op == ">=" ? v >= g : v < g); print (ok ? "met" : "MISSED") }'
}

# median VALUES...: the median (the mean of the middle two for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

readonly HTTP_WRK=(-t2 -c64 -d"$DURATION")
readonly BIG_WRK=(-t2 -c256 -d"$DURATION")

# a. The function: fast_upstream and a wrapper that gives it the port funcd chose. In http
# mode funcd gives fwatchdog $port (its own) and the function $http_port; fast_upstream reads
# --port, else $upstream_port, else $port, so it needs --port "$http_port" (fprocess does not
# expand variables). The sandbox binds this directory at /home/app and shows only /usr of the
# host, hence the copy.
mkdir -p "$WORK_DIR/app" "$WORK_DIR/state"
cp "$BIN_DIR/fast_upstream" "$WORK_DIR/app/fast_upstream"
cat >"$WORK_DIR/app/run.sh" <<'EOF'
#!/bin/sh
exec "${0%/*}/fast_upstream" --port "$http_port"
EOF
chmod 755 "$WORK_DIR/app" "$WORK_DIR/app/run.sh"

# The paced wrk script: a random gap before each request (seeded per thread), and the
# wrk_result line of wrk_stats.lua.
cat - "$BENCH_DIR/wrk_stats.lua" >"$WORK_DIR/wrk_paced.lua" <<'EOF'
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + seed)
  max_gap_ms = 2 * tonumber(args[1])
end
delay = function()
  return math.random(0, max_gap_ms)
end
EOF

# b. fast_upstream called directly (stays up for the fixed-rate run).
start direct "$BIN_DIR/fast_upstream" --port 0
direct_pid=$LAST_PID
direct_port=$(wait_log_port direct "$direct_pid" 's/^Listening on port: ([0-9]+)$/\1/p')
readonly DIRECT_URL=http://127.0.0.1:$direct_port/

# The floor: floor_proxy copies bytes to the same fast_upstream without parsing HTTP, the
# cheapest proxy the kernel allows; the gateway's ratio is read against its ratio.
start floor "$BIN_DIR/floor_proxy" --upstream-port "$direct_port"
floor_port=$(wait_log_port floor "$LAST_PID" 's/^Listening on port: ([0-9]+)$/\1/p')
readonly FLOOR_URL=http://127.0.0.1:$floor_port/

# c. funcd serve with both functions deployed.
readonly FUNCD_ARGS=(serve --listen 127.0.0.1:0 --state-dir "$WORK_DIR/state" --basic-auth=false
  --sandbox "$SANDBOX" ${BENCH_FUNCD_THREADS:+--threads "$BENCH_FUNCD_THREADS"})
start funcd "$BIN_DIR/funcd" "${FUNCD_ARGS[@]}"
funcd_pid=$LAST_PID
funcd_port=$(wait_log_port funcd "$funcd_pid" \
  's|^.*funcd serve listening on http://127\.0\.0\.1:([0-9]+) .*$|\1|p')
GATEWAY=http://127.0.0.1:$funcd_port
funcd_threads=$(sed -n -E 's/^.*funcd serve listening on .* \(([0-9]+) I\/O threads?\).*$/\1/p' \
  "$WORK_DIR/funcd.log" | head -n1)
echo "funcd serve on $GATEWAY (${funcd_threads:-?} I/O threads, sandbox $SANDBOX)" >&2
sed -n -E 's/^[0-9/]+ [0-9:]+ (runtime: .*)$/  \1/p' "$WORK_DIR/funcd.log" >&2

readonly IMAGE="dir://$WORK_DIR/app"
readonly PINNED='{"com.openfaas.scale.min":"1","com.openfaas.scale.max":"1"}'
api POST /system/functions "{\"service\":\"fast\",\"image\":\"$IMAGE\",\
\"envProcess\":\"./run.sh\",\"envVars\":{\"mode\":\"http\"},\"labels\":$PINNED}" >/dev/null
api POST /system/functions "{\"service\":\"fast-direct\",\"image\":\"$IMAGE\",\
\"envProcess\":\"./run.sh\",\"annotations\":{\"com.funcd.watchdog\":\"none\"},\"labels\":$PINNED}" >/dev/null
wait_replicas fast 1
wait_replicas fast-direct 1
readonly WATCHDOG_URL=$GATEWAY/function/fast
readonly NOWATCHDOG_URL=$GATEWAY/function/fast-direct
warm_up "$DIRECT_URL"
warm_up "$WATCHDOG_URL"
warm_up "$NOWATCHDOG_URL"
sleep 1  # let start-up settle before sampling the idle RSS
idle_rss=$(rss_mb "$funcd_pid")
idle_anon=$(rss_mb "$funcd_pid" RssAnon)
idle_file=$(rss_mb "$funcd_pid" RssFile)
echo "  funcd serve idle RSS: $idle_rss MB" >&2

# d. Throughput.
echo "throughput (wrk ${HTTP_WRK[*]})" >&2
run_wrk direct "direct fast_upstream" "${HTTP_WRK[@]}" "$DIRECT_URL"
direct_rps=$WRK_RPS direct_p50=$WRK_P50_MS direct_p99=$WRK_P99_MS
run_wrk floor "floor_proxy -> fast_upstream" "${HTTP_WRK[@]}" "$FLOOR_URL"
floor_rps=$WRK_RPS floor_p50=$WRK_P50_MS floor_p99=$WRK_P99_MS
run_wrk watchdog "gateway -> fwatchdog -> fast_upstream" "${HTTP_WRK[@]}" "$WATCHDOG_URL"
wd_rps=$WRK_RPS wd_p50=$WRK_P50_MS wd_p99=$WRK_P99_MS
run_wrk nowatchdog "gateway -> fast_upstream" "${HTTP_WRK[@]}" "$NOWATCHDOG_URL"
nowd_rps=$WRK_RPS nowd_p50=$WRK_P50_MS nowd_p99=$WRK_P99_MS
wd_ratio=$(ratio "$wd_rps" "$direct_rps")
nowd_ratio=$(ratio "$nowd_rps" "$direct_rps")
floor_ratio=$(ratio "$floor_rps" "$direct_rps")

# e. Latency at a fixed rate.
echo "fixed rate (hey -z $RATE_DURATION -q $RATE_PER_WORKER -c $RATE_WORKERS)" >&2
run_hey rate_direct "direct fast_upstream" "$DIRECT_URL"
rd_rps=$HEY_RPS rd_p50=$HEY_P50_MS rd_p99=$HEY_P99_MS
run_hey rate_watchdog "gateway -> fwatchdog -> fast_upstream" "$WATCHDOG_URL"
rw_rps=$HEY_RPS rw_p50=$HEY_P50_MS rw_p99=$HEY_P99_MS
run_hey rate_nowatchdog "gateway -> fast_upstream" "$NOWATCHDOG_URL"
rn_rps=$HEY_RPS rn_p50=$HEY_P50_MS rn_p99=$HEY_P99_MS
rw_added=$(added "$rw_p50" "$rd_p50")
rn_added=$(added "$rn_p50" "$rd_p50")
echo "paced (wrk -t2 -c$PACED_CONNECTIONS -d$RATE_DURATION, random 0-$((2 * PACED_MEAN_GAP_MS))" \
  "ms before each request)" >&2
run_paced paced_direct "direct fast_upstream" "$DIRECT_URL"
pd_rps=$PACED_RPS pd_p50=$PACED_P50_MS pd_p99=$PACED_P99_MS
run_paced paced_watchdog "gateway -> fwatchdog -> fast_upstream" "$WATCHDOG_URL"
pw_rps=$PACED_RPS pw_p50=$PACED_P50_MS pw_p99=$PACED_P99_MS
run_paced paced_nowatchdog "gateway -> fast_upstream" "$NOWATCHDOG_URL"
pn_rps=$PACED_RPS pn_p50=$PACED_P50_MS pn_p99=$PACED_P99_MS
pw_added=$(added "$pw_p50" "$pd_p50")
pn_added=$(added "$pn_p50" "$pd_p50")

# f. RSS at 256 connections: the largest of samples taken every 0.2s during the run.
echo "256 connections (wrk ${BIG_WRK[*]})" >&2
max_rss=0
wrk --latency -s "$BENCH_DIR/wrk_stats.lua" "${BIG_WRK[@]}" "$WATCHDOG_URL" \
  >"$WORK_DIR/big.wrk" 2>&1 &
big_pid=$!
STARTED_PIDS+=("$big_pid:wrk")
while kill -0 "$big_pid" 2>/dev/null; do
  rss=$(rss_mb "$funcd_pid")
  max_rss=$(awk -v a="$rss" -v b="$max_rss" 'BEGIN { print (a > b ? a : b) }')
  sleep 0.2
done
wait "$big_pid" || { cat "$WORK_DIR/big.wrk" >&2; die "wrk failed (256 connections)"; }
parse_wrk big "gateway -> fwatchdog, 256 conns"
big_rps=$WRK_RPS
echo "  funcd serve RSS during the run: max $max_rss MB" >&2
sleep 1
after_rss=$(rss_mb "$funcd_pid")
echo "  funcd serve RSS 1s after the run: $after_rss MB" >&2

# g. Cold start: scale fast to 0, wait for the replica to go, time one call.
echo "cold start of fast ($COLD_STARTS times)" >&2
cold_times=()
for i in $(seq "$COLD_STARTS"); do
  api POST /system/scale-function/fast '{"serviceName":"fast","replicas":0}' >/dev/null
  wait_replicas fast 0
  line=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' "$WATCHDOG_URL") ||
    die "cold call failed"
  [[ ${line%% *} == 200 ]] || die "the cold call answered ${line%% *}"
  cold_times+=("${line#* }")
  printf '  cold call %2d: %s s\n' "$i" "${line#* }" >&2
done
cold_ms=$(awk -v s="$(median "${cold_times[@]}")" 'BEGIN { printf "%.1f", s * 1000 }')

# h. Stop everything now, so that a replica left behind shows before the summary.
stop_all

# i. Summary.
row() {
  printf '%-40s %10s %8s %8s %7s  %s\n' "$@"
}

summary() {
  # The load average shows how much else ran on the machine meanwhile.
  echo "funcd gateway benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), funcd ${funcd_threads:-?} I/O threads," \
    "sandbox $SANDBOX, wrk runs $DURATION, fixed-rate runs $RATE_DURATION)"
  row "wrk -t2 -c64" "req/s" "p50 ms" "p99 ms" "ratio" "goal"
  row "direct fast_upstream" "$direct_rps" "$direct_p50" "$direct_p99" "1.00" ""
  row "floor_proxy -> fast_upstream (floor)" "$floor_rps" "$floor_p50" "$floor_p99" \
    "$floor_ratio" "(no HTTP parsing)"
  row "gateway -> fwatchdog -> fast_upstream" "$wd_rps" "$wd_p50" "$wd_p99" "$wd_ratio" \
    ">= 0.25 $(verdict "$wd_ratio" '>=' 0.25)"
  row "gateway -> fast_upstream (no watchdog)" "$nowd_rps" "$nowd_p50" "$nowd_p99" \
    "$nowd_ratio" ">= 0.45 $(verdict "$nowd_ratio" '>=' 0.45)"
  row "hey -q 10 -c 100 (1,000 req/s)" "req/s" "p50 ms" "p99 ms" "+p50 ms" "goal"
  row "direct fast_upstream" "$rd_rps" "$rd_p50" "$rd_p99" "" ""
  row "gateway -> fwatchdog -> fast_upstream" "$rw_rps" "$rw_p50" "$rw_p99" "$rw_added" \
    "< 0.5 $(verdict "$rw_added" '<' 0.5)"
  row "gateway -> fast_upstream (no watchdog)" "$rn_rps" "$rn_p50" "$rn_p99" "$rn_added" \
    "< 0.5 $(verdict "$rn_added" '<' 0.5)"
  row "wrk paced, ~1,000 req/s" "req/s" "p50 ms" "p99 ms" "+p50 ms" "goal"
  row "direct fast_upstream" "$pd_rps" "$pd_p50" "$pd_p99" "" ""
  row "gateway -> fwatchdog -> fast_upstream" "$pw_rps" "$pw_p50" "$pw_p99" "$pw_added" \
    "< 0.5 $(verdict "$pw_added" '<' 0.5)"
  row "gateway -> fast_upstream (no watchdog)" "$pn_rps" "$pn_p50" "$pn_p99" "$pn_added" \
    "< 0.5 $(verdict "$pn_added" '<' 0.5)"
  row "funcd serve" "RSS MB"
  row "idle, two functions deployed" "$idle_rss" "" "" "" "< 8 $(verdict "$idle_rss" '<' 8)"
  row "  of which anonymous (RssAnon)" "$idle_anon" "" "" "" "(funcd's own memory)"
  row "  of which file pages (RssFile)" "$idle_file" "" "" "" "(shared libraries, binary)"
  row "max during wrk -c256 ($big_rps req/s)" "$max_rss" "" "" "" \
    "< 20 $(verdict "$max_rss" '<' 20)"
  row "1s after that run" "$after_rss" "" "" "" "(informative)"
  row "cold start" "ms"
  row "median of $COLD_STARTS calls from 0 replicas" "$cold_ms" "" "" "" "(informative)"
}

echo >&2
if [[ -n ${BENCH_OUT:-} ]]; then
  summary | tee "$BENCH_OUT"
else
  summary
fi
