#pragma once

// When an async call is tried again (contracts §4.5): which answers count as failures worth
// retrying, how many attempts a call gets, and how long to wait between them (exponential
// backoff with jitter, or the function's Retry-After).
//
// Defaults come from `funcd serve` flags; a function overrides them with annotations:
//   com.openfaas.retry.attempts   total attempts, first one included (integer >= 1)
//   com.openfaas.retry.codes      statuses to retry, e.g. "429,502,503"
//   com.openfaas.retry.min_wait   first delay (Go duration or seconds)
//   com.openfaas.retry.max_wait   longest delay
// An invalid annotation value falls back to the default (as the Pro queue-worker does).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::worker {

struct RetryPolicy {
  int attempts = 10;
  std::vector<unsigned> codes = {408, 429, 500, 502, 503, 504};
  std::chrono::nanoseconds min_wait = std::chrono::seconds(10);
  std::chrono::nanoseconds max_wait = std::chrono::seconds(120);

  bool Retries(unsigned status) const;
};

// "429,502, 503" -> codes. Errors: kInvalidArgument (not a list of statuses 100..599).
Result<std::vector<unsigned>> ParseStatusList(std::string_view text);

// `defaults` with the function's com.openfaas.retry.* annotations applied.
RetryPolicy PolicyFor(const RetryPolicy& defaults,
                      const std::map<std::string, std::string>& annotations);

// The wait before attempt `attempt + 1`, `attempt` (0-based) having just failed:
// base = min_wait * 2^attempt capped at max_wait, then "equal jitter" (a uniform draw in
// [base/2, base]), never below min_wait. Until the cap, a delay is never shorter than the
// one before it; at the cap they vary in [max_wait/2, max_wait].
std::chrono::nanoseconds BackoffDelay(const RetryPolicy& policy, int attempt, std::mt19937_64& rng);

// A Retry-After value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, relative to
// `now_unix_seconds`. nullopt when absent or malformed; a date in the past is zero.
std::optional<std::chrono::nanoseconds> ParseRetryAfter(std::string_view value,
                                                        std::int64_t now_unix_seconds);

// The longest Retry-After honoured; longer ones are cut to this.
inline constexpr std::chrono::hours kMaxRetryAfter{1};

// The wait before the next attempt: Retry-After when the answer had one (never below
// min_wait), else the backoff.
std::chrono::nanoseconds RetryDelay(const RetryPolicy& policy, int attempt,
                                    std::optional<std::chrono::nanoseconds> retry_after,
                                    std::mt19937_64& rng);

}  // namespace funcd::worker
