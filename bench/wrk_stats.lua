-- wrk script: reports a run as one line that watchdog_bench.sh parses:
--   wrk_result requests=N seconds=S rps=R p50_us=X p99_us=Y errors=E
-- `errors` counts socket errors, timeouts and HTTP statuses above 399, so that a fast run of
-- failing requests is not mistaken for a good one.

done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "wrk_result requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50),
    latency:percentile(99), errors))
end
