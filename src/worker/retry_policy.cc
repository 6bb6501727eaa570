#include "worker/retry_policy.h"

#include <algorithm>
#include <ctime>

#include "common/config.h"
#include "common/strings.h"

namespace funcd::worker {

bool RetryPolicy::Retries(unsigned status) const {
  return std::find(codes.begin(), codes.end(), status) != codes.end();
}

Result<std::vector<unsigned>> ParseStatusList(std::string_view text) {
  std::vector<unsigned> out;
  for (std::string_view part : Split(text, ',')) {
    part = TrimSpace(part);
    if (part.empty()) {
      continue;
    }
    auto value = ParseUint(part);
    if (!value || *value < 100 || *value > 599) {
      return MakeError(ErrorCode::kInvalidArgument,
                       StrCat("\"", part, "\" is not an HTTP status code"));
    }
    out.push_back(static_cast<unsigned>(*value));
  }
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no status codes given");
  }
  return out;
}

namespace {

std::optional<std::chrono::nanoseconds> ParseWait(std::string_view text) {
  if (auto seconds = ParseUint(text)) {
    return std::chrono::seconds(*seconds);
  }
  auto parsed = ParseGoDuration(text);
  if (!parsed || parsed->count() < 0) {
    return std::nullopt;
  }
  return *parsed;
}

const std::string* Find(const std::map<std::string, std::string>& map, const char* key) {
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace

RetryPolicy PolicyFor(const RetryPolicy& defaults,
                      const std::map<std::string, std::string>& annotations) {
  RetryPolicy policy = defaults;
  if (const std::string* v = Find(annotations, "com.openfaas.retry.attempts")) {
    if (auto n = ParseUint(TrimSpace(*v)); n && *n >= 1 && *n <= 1000) {
      policy.attempts = static_cast<int>(*n);
    }
  }
  if (const std::string* v = Find(annotations, "com.openfaas.retry.codes")) {
    if (auto codes = ParseStatusList(*v)) {
      policy.codes = std::move(*codes);
    }
  }
  if (const std::string* v = Find(annotations, "com.openfaas.retry.min_wait")) {
    if (auto wait = ParseWait(TrimSpace(*v))) {
      policy.min_wait = *wait;
    }
  }
  if (const std::string* v = Find(annotations, "com.openfaas.retry.max_wait")) {
    if (auto wait = ParseWait(TrimSpace(*v))) {
      policy.max_wait = *wait;
    }
  }
  policy.max_wait = std::max(policy.max_wait, policy.min_wait);
  return policy;
}

std::chrono::nanoseconds BackoffDelay(const RetryPolicy& policy, int attempt,
                                      std::mt19937_64& rng) {
  using std::chrono::nanoseconds;
  const nanoseconds min_wait = std::max(policy.min_wait, nanoseconds(0));
  const nanoseconds max_wait = std::max(policy.max_wait, min_wait);
  nanoseconds base = min_wait;
  for (int i = 0; i < attempt && base < max_wait; ++i) {
    base = base > max_wait / 2 ? max_wait : base * 2;
  }
  base = std::min(base, max_wait);
  const std::int64_t half = base.count() / 2;
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(half, 0));
  const nanoseconds delay(base.count() - half + jitter(rng));
  return std::clamp(delay, min_wait, max_wait);
}

std::optional<std::chrono::nanoseconds> ParseRetryAfter(std::string_view value,
                                                        std::int64_t now_unix_seconds) {
  value = TrimSpace(value);
  if (value.empty()) {
    return std::nullopt;
  }
  if (auto seconds = ParseUint(value)) {
    return std::chrono::seconds(std::min<std::uint64_t>(*seconds, 365ull * 24 * 3600));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') {
    return std::nullopt;
  }
  const std::int64_t at = ::timegm(&tm);
  return std::chrono::seconds(std::max<std::int64_t>(at - now_unix_seconds, 0));
}

std::chrono::nanoseconds RetryDelay(const RetryPolicy& policy, int attempt,
                                    std::optional<std::chrono::nanoseconds> retry_after,
                                    std::mt19937_64& rng) {
  if (retry_after) {
    const std::chrono::nanoseconds capped =
        std::min<std::chrono::nanoseconds>(*retry_after, kMaxRetryAfter);
    return std::max(capped, policy.min_wait);
  }
  return BackoffDelay(policy, attempt, rng);
}

}  // namespace funcd::worker
