#!/usr/bin/env bash
# async_bench.sh: asynchronous invocation through funcd serve's queues - the embedded (SQLite)
# one and NATS JetStream (work in progress) - as numbers and as ratios against a synchronous
# call of the same function measured in the same run (absolute numbers vary 20-30% on a noisy
# machine; ratios much less). Each queue gets a fresh funcd serve and the same three steps.
#
#   bench/async_bench.sh [BIN_DIR]       (default build/release/bin; see bench/README.md)
#
#   1. Sync baseline: wrk -t2 -c64 on /function/fast (fast_upstream, no watchdog, 1 replica).
#   2. Enqueue rate: wrk -t2 -c64 POSTing to /async-function/fast with an X-Callback-Url, for
#      BENCH_DURATION; each 202 is a call stored durably (group-committed fsync). The workers
#      run meanwhile, as they would in production. Goal >= 5,000 enqueues/s.
#   3. End-to-end completions: every call enqueued in 2 invoked and called back (the callback
#      receiver is a second fast_upstream); completions/s = calls / (first enqueue .. last
#      callback), read from funcd's own counters. Also the drain rate once wrk has stopped
#      (the workers alone). Goal >= 2,000 completions/s.
#
# Environment: BENCH_QUEUES (default "sqlite jetstream"; jetstream starts nats-server -js on a
# free loopback port and is skipped when nats-server is not installed), BENCH_DURATION (the wrk runs, default 10s), BENCH_SANDBOX (bwrap|none, default
# bwrap), BENCH_WORKERS (funcd serve --async-workers, default funcd's), BENCH_OUT (also write
# the summary table to this file).
#
# Prints numbers; asserts nothing. Everything listens on 127.0.0.1. Only the processes it
# started are stopped, by PID. Needs wrk and curl.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly BENCH_DIR
readonly DURATION=${BENCH_DURATION:-10s}
readonly SANDBOX=${BENCH_SANDBOX:-bwrap}
readonly WORKERS=${BENCH_WORKERS:-}
readonly QUEUES=${BENCH_QUEUES:-sqlite jetstream}
readonly NATS_SERVER=/usr/sbin/nats-server

die() {
  echo "async_bench: $*" >&2
  exit 1
}

BIN_DIR=${1:-build/release/bin}
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) || die "no such directory: $BIN_DIR"
readonly BIN_DIR
for bin in funcd fast_upstream; do
  [[ -x $BIN_DIR/$bin ]] || die "$BIN_DIR/$bin not found; build first (see bench/README.md)"
done
for tool in wrk curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $SANDBOX == bwrap || $SANDBOX == none ]] || die "BENCH_SANDBOX is bwrap or none"

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/async_bench.XXXXXX")
readonly WORK_DIR
chmod 755 "$WORK_DIR"  # the sandboxed replica runs as an unprivileged uid

# --- Processes (as in gateway_bench.sh) --------------------------------------------------------

STARTED_PIDS=()
LAST_PID=

# stop_pid PID NAME: SIGTERM (SIGKILL after 10s) if PID still runs NAME (checked in /proc so
# that a recycled PID is never signalled), then reaps it.
stop_pid() {
  local pid=$1 name=$2 _
  grep -qs "$name" "/proc/$pid/cmdline" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    grep -qs "$name" "/proc/$pid/cmdline" || break
    sleep 0.1
  done
  if grep -qs "$name" "/proc/$pid/cmdline"; then
    echo "warning: $name (pid $pid) ignored SIGTERM for 10s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i entry
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    entry=${STARTED_PIDS[i]}
    stop_pid "${entry%%:*}" "${entry#*:}"
  done
  STARTED_PIDS=()
}

cleanup() {
  stop_all
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start LOG_NAME PROGRAM [ARGS...]: runs PROGRAM in the background with only PATH in its
# environment, output in $WORK_DIR/LOG_NAME.log; sets LAST_PID.
start() {
  local log=$WORK_DIR/$1.log
  shift
  env -i PATH="$PATH" "$@" >"$log" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID:$(basename "$1")")
}

# wait_log_port LOG_NAME PID SED_EXPR: the port printed in the log (SED_EXPR extracts it).
wait_log_port() {
  local log=$WORK_DIR/$1.log pid=$2 expr=$3 port _
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

GATEWAY=

api() {
  local method=$1 path=$2 body=${3:-} out=$WORK_DIR/api.out code
  code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$GATEWAY$path" \
    ${body:+-d "$body"}) || die "curl $method $path failed"
  if ((code > 299)); then
    echo "response: $code $(cat "$out")" >&2
    die "$method $path answered $code"
  fi
  cat "$out"
}

wait_ready() {
  local _ status
  for _ in $(seq 300); do
    status=$(api GET "/system/function/$1")
    [[ $status == *'"availableReplicas":1'* ]] && return 0
    sleep 0.1
  done
  die "function $1 did not become ready"
}

# metric SERIES: its value in /metrics (0 when absent).
metric() {
  curl -sS "$GATEWAY/metrics" | awk -v s="$1" 'index($0, s " ") == 1 { v = $2 } END { print v + 0 }'
}

now() {
  date +%s.%N
}

# --- Measurements ------------------------------------------------------------------------------

wrk_field() {
  sed -E "s/.* $2=([0-9.]+).*/\1/" <<<"$1"
}

# run_wrk KEY LABEL WRK_ARGS... URL: sets WRK_RPS, WRK_REQUESTS, WRK_P50_MS, WRK_P99_MS,
# WRK_ERRORS (statuses above 399 included).
run_wrk() {
  local key=$1 label=$2 out line
  shift 2
  out=$WORK_DIR/$key.wrk
  wrk --latency "$@" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($label)"; }
  line=$(grep '^wrk_result ' "$out") || { cat "$out" >&2; die "no wrk result ($label)"; }
  WRK_RPS=$(wrk_field "$line" rps)
  WRK_REQUESTS=$(wrk_field "$line" requests)
  WRK_ERRORS=$(wrk_field "$line" errors)
  WRK_P50_MS=$(awk -v us="$(wrk_field "$line" p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  WRK_P99_MS=$(awk -v us="$(wrk_field "$line" p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  if ((WRK_ERRORS > 0)); then
    echo "warning: $label: $WRK_ERRORS failed requests" >&2
    cat "$out" >&2
  fi
  printf '  %-34s %10s req/s  p50 %6s ms  p99 %6s ms  errors %s\n' \
    "$label" "$WRK_RPS" "$WRK_P50_MS" "$WRK_P99_MS" "$WRK_ERRORS" >&2
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

verdict() {
  awk -v v="$1" -v g="$2" 'BEGIN { print (v >= g ? "met" : "MISSED") }'
}

# The function: fast_upstream on the port funcd gives it (see gateway_bench.sh).
mkdir -p "$WORK_DIR/app"
cp "$BIN_DIR/fast_upstream" "$WORK_DIR/app/fast_upstream"
cat >"$WORK_DIR/app/run.sh" <<'EOF'
#!/bin/sh
exec "${0%/*}/fast_upstream" --port "$http_port"
EOF
chmod 755 "$WORK_DIR/app" "$WORK_DIR/app/run.sh"

# The callback receiver: another fast_upstream (200 "ok" to every POST, keep-alive).
start receiver "$BIN_DIR/fast_upstream" --port 0
receiver_port=$(wait_log_port receiver "$LAST_PID" 's/^Listening on port: ([0-9]+)$/\1/p')
readonly CALLBACK_URL=http://127.0.0.1:$receiver_port/callback

cat - "$BENCH_DIR/wrk_stats.lua" >"$WORK_DIR/wrk_async.lua" <<EOF
wrk.method = "POST"
wrk.body = "hi\n"
wrk.headers["X-Callback-Url"] = "$CALLBACK_URL"
EOF

readonly WRK=(-t2 -c64 -d"$DURATION")
readonly LABEL='{function_name="fast.openfaas-fn"}'
readonly CALLBACKS_OK="funcd_async_callbacks_total{function_name=\"fast.openfaas-fn\",result=\"ok\"}"

# run_queue QUEUE: a fresh funcd serve on QUEUE; the three measurements; results in R.
declare -A R
run_queue() {
  local queue=$1
  FUNCD_ARGS=(serve --listen 127.0.0.1:0 --state-dir "$WORK_DIR/state-$queue" --basic-auth=false
    --sandbox "$SANDBOX")
  [[ -z $WORKERS ]] || FUNCD_ARGS+=(--async-workers "$WORKERS")
  [[ $queue == sqlite ]] || FUNCD_ARGS+=(--queue "$NATS_URL")
  start "funcd-$queue" "$BIN_DIR/funcd" "${FUNCD_ARGS[@]}"
  funcd_pid=$LAST_PID
  funcd_port=$(wait_log_port "funcd-$queue" "$funcd_pid" \
    's|^.*funcd serve listening on http://127\.0\.0\.1:([0-9]+) .*$|\1|p')
  GATEWAY=http://127.0.0.1:$funcd_port
  workers=$(sed -n -E 's/^.*async workers: ([0-9]+) at once.*$/\1/p' "$WORK_DIR/funcd-$queue.log" | head -n1)
  echo "funcd serve on $GATEWAY ($queue queue, async workers: ${workers:-?}, sandbox $SANDBOX)" >&2

  api POST /system/functions "{\"service\":\"fast\",\"image\":\"dir://$WORK_DIR/app\",\
  \"envProcess\":\"./run.sh\",\"annotations\":{\"com.funcd.watchdog\":\"none\"},\
  \"labels\":{\"com.openfaas.scale.min\":\"1\",\"com.openfaas.scale.max\":\"1\"}}" >/dev/null
  wait_ready fast
  for _ in $(seq 20); do
    curl -sS -o /dev/null "$GATEWAY/function/fast" || die "warm-up call failed"
  done


  # 1. Sync baseline.
  echo "sync baseline (wrk ${WRK[*]})" >&2
  run_wrk sync "sync /function/fast" -s "$BENCH_DIR/wrk_stats.lua" "${WRK[@]}" \
    "$GATEWAY/function/fast"
  sync_rps=$WRK_RPS

  # 2. Enqueue rate (workers running).
  echo "enqueue (wrk ${WRK[*]}, POST /async-function/fast with X-Callback-Url)" >&2
  t0=$(now)
  run_wrk async "async enqueue (202)" -s "$WORK_DIR/wrk_async.lua" "${WRK[@]}" \
    "$GATEWAY/async-function/fast"
  t1=$(now)
  enqueue_rps=$WRK_RPS
  enqueue_p99=$WRK_P99_MS
  enqueued=$(metric "funcd_async_enqueued_total$LABEL")
  done_at_end=$(metric "$CALLBACKS_OK")
  echo "  $enqueued enqueued; $done_at_end called back when wrk stopped" >&2

  # 3. Completions: wait until every call was called back (poll the counters every 50 ms).
  t_last=$t1
  done_now=$done_at_end
  deadline=$(awk -v t="$t1" 'BEGIN { printf "%.3f", t + 300 }')
  while awk -v d="$done_now" -v e="$enqueued" 'BEGIN { exit !(d < e) }'; do
    sleep 0.05
    done_now=$(metric "$CALLBACKS_OK")
    t_last=$(now)
    awk -v t="$t_last" -v d="$deadline" 'BEGIN { exit !(t > d) }' &&
      die "only $done_now of $enqueued calls completed after 300 s"
  done
  dead=$(metric "funcd_async_dead_total$LABEL")
  retried=$(metric "funcd_async_retried_total$LABEL")
  completion_rps=$(awk -v n="$enqueued" -v a="$t0" -v b="$t_last" 'BEGIN { printf "%.1f", n / (b - a) }')
  # (Only meaningful with a backlog left when wrk stopped: "-" when the workers kept up.)
  drain_rps=-
  if ((enqueued - done_at_end >= 1000)); then
    drain_rps=$(awk -v n="$((enqueued - done_at_end))" -v a="$t1" -v b="$t_last" \
      'BEGIN { printf "%.1f", n / (b - a) }')
  fi
  echo "  all $enqueued called back after $(awk -v a="$t0" -v b="$t_last" 'BEGIN { printf "%.2f", b - a }') s" \
    "(retried $retried, dead $dead)" >&2
  rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$funcd_pid/status")
  db_mb="$(du -sm "$WORK_DIR/state-$queue" | cut -f1) MB"
  [[ $queue == sqlite ]] || db_mb="$db_mb, nats store $(du -sm "$WORK_DIR/nats" | cut -f1) MB"
  stop_pid "$funcd_pid" funcd
  R[$queue.sync]=$sync_rps R[$queue.enqueue]=$enqueue_rps R[$queue.enqueue_p99]=$enqueue_p99
  R[$queue.completion]=$completion_rps R[$queue.drain]=$drain_rps R[$queue.enqueued]=$enqueued
  R[$queue.retried]=$retried R[$queue.dead]=$dead R[$queue.rss]=$rss R[$queue.db_mb]=$db_mb
  R[$queue.workers]=${workers:-?}
}

NATS_URL=
RAN=()
for queue in $QUEUES; do
  case $queue in
    sqlite) ;;
    jetstream)
      if [[ ! -x $NATS_SERVER ]]; then
        echo "warning: $NATS_SERVER not installed: no JetStream row" >&2
        continue
      fi
      mkdir -p "$WORK_DIR/nats"
      start nats "$NATS_SERVER" -js -a 127.0.0.1 -p -1 -sd "$WORK_DIR/nats"
      nats_port=$(wait_log_port nats "$LAST_PID" \
        's/^.*Listening for client connections on 127\.0\.0\.1:([0-9]+).*$/\1/p')
      NATS_URL=nats://127.0.0.1:$nats_port
      ;;
    *) die "BENCH_QUEUES: unknown queue $queue (sqlite, jetstream)" ;;
  esac
  run_queue "$queue"
  RAN+=("$queue")
done

stop_all

row() {
  printf '%-44s %12s %8s  %s\n' "$@"
}

summary() {
  local q
  echo "funcd async benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), queues: ${RAN[*]}," \
    "sandbox $SANDBOX, wrk runs $DURATION)"
  row "measurement" "per second" "vs sync" "goal"
  for q in "${RAN[@]}"; do
    row "[$q queue, ${R[$q.workers]} workers]" "" "" ""
    row "sync /function/fast (wrk -t2 -c64)" "${R[$q.sync]}" "1.00" ""
    row "enqueue: 202s of /async-function (-c64)" "${R[$q.enqueue]}" \
      "$(ratio "${R[$q.enqueue]}" "${R[$q.sync]}")" \
      ">= 5000 $(verdict "${R[$q.enqueue]}" 5000) (p99 ${R[$q.enqueue_p99]} ms)"
    row "end to end: called back, first enqueue on" "${R[$q.completion]}" \
      "$(ratio "${R[$q.completion]}" "${R[$q.sync]}")" \
      ">= 2000 $(verdict "${R[$q.completion]}" 2000)"
    row "drain: called back after wrk stopped" "${R[$q.drain]}" \
      "$([[ ${R[$q.drain]} == - ]] && echo - || ratio "${R[$q.drain]}" "${R[$q.sync]}")" \
      "(informative; - when the workers kept up)"
    row "calls: enqueued / retried / dead" \
      "${R[$q.enqueued]} / ${R[$q.retried]} / ${R[$q.dead]}" "" ""
    row "funcd serve RSS after the run, MB" "${R[$q.rss]}" "" "state dir ${R[$q.db_mb]}"
  done
}

echo >&2
if [[ -n ${BENCH_OUT:-} ]]; then
  summary | tee "$BENCH_OUT"
else
  summary
fi
