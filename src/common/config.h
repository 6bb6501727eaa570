#pragma once

// Configuration values from the environment, with the parsing rules OpenFaaS components use:
// durations as plain integer seconds or Go durations ("10s", "1m30s", "500ms").

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd {

using Duration = std::chrono::nanoseconds;

// Parses a Go duration string ("300ms", "1.5h", "2h45m", "0"). Errors: kInvalidArgument.
Result<Duration> ParseGoDuration(std::string_view text);

// Formats as Go's time.Duration.String() does ("1m30s", "500ms", "0s").
std::string FormatGoDuration(Duration d);

// A snapshot of environment variables. Copyable; not tied to the live process environment.
class Environment {
 public:
  Environment() = default;
  // Parses "KEY=VALUE" strings (as in `environ`); entries without '=' are skipped.
  explicit Environment(const std::vector<std::string>& entries);
  static Environment FromProcess();

  std::optional<std::string> Get(std::string_view key) const;
  std::string GetOr(std::string_view key, std::string_view fallback) const;
  bool Has(std::string_view key) const { return Get(key).has_value(); }
  void Set(std::string key, std::string value) { values_[std::move(key)] = std::move(value); }

  // "true" or "1" (case-sensitive, as the watchdogs) is true; anything else set is false.
  bool GetBool(std::string_view key, bool fallback) const;
  // A non-negative integer, or the fallback when unset or invalid.
  int64_t GetInt(std::string_view key, int64_t fallback) const;
  // Integer seconds or a Go duration; the fallback when unset or invalid.
  Duration GetDuration(std::string_view key, Duration fallback) const;

  // Entries as "KEY=VALUE", in key order.
  std::vector<std::string> ToEntries() const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace funcd
