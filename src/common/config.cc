#include "common/config.h"

#include <unistd.h>

#include <cmath>

#include "common/strings.h"

extern char** environ;

namespace funcd {

namespace {

struct Unit {
  std::string_view name;
  int64_t nanos;
};

constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000},  // U+00B5 micro sign
    {"\xce\xbcs", 1000},  // U+03BC Greek mu
    {"ms", 1000 * 1000},
    {"s", 1000 * 1000 * 1000},
    {"m", 60LL * 1000 * 1000 * 1000},
    {"h", 3600LL * 1000 * 1000 * 1000},
};

}  // namespace

Result<Duration> ParseGoDuration(std::string_view text) {
  const std::string original(text);
  auto invalid = [&] {
    return Unexpected(ErrorCode::kInvalidArgument, StrCat("invalid duration \"", original, "\""));
  };
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") {
    return Duration(0);
  }
  if (text.empty()) {
    return invalid();
  }
  long double total = 0;
  while (!text.empty()) {
    size_t i = 0;
    bool digits = false;
    long double value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      ++i;
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) {
      return invalid();
    }
    size_t unit_start = i;
    while (i < text.size() && !(text[i] >= '0' && text[i] <= '9') && text[i] != '.') {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      return invalid();  // Go requires a unit except for a lone "0".
    }
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit) {
        found = &u;
        break;
      }
    }
    if (found == nullptr) {
      return invalid();
    }
    total += value * static_cast<long double>(found->nanos);
    text.remove_prefix(i);
  }
  if (total > static_cast<long double>(INT64_MAX)) {
    return invalid();
  }
  auto nanos = static_cast<int64_t>(std::llround(total));
  return Duration(negative ? -nanos : nanos);
}

namespace {

// Appends `v` / 10^prec with trailing zeros (and a bare '.') removed; returns the integer part.
uint64_t AppendFraction(std::string& digits_reversed, uint64_t v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) {
      digits_reversed.push_back(static_cast<char>('0' + digit));
    }
    v /= 10;
  }
  if (print) {
    digits_reversed.push_back('.');
  }
  return v;
}

void AppendIntReversed(std::string& out, uint64_t v) {
  if (v == 0) {
    out.push_back('0');
    return;
  }
  while (v > 0) {
    out.push_back(static_cast<char>('0' + v % 10));
    v /= 10;
  }
}

}  // namespace

std::string FormatGoDuration(Duration d) {
  int64_t nanos = d.count();
  if (nanos == 0) {
    return "0s";
  }
  bool negative = nanos < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-(nanos + 1)) + 1 : static_cast<uint64_t>(nanos);
  std::string r;  // built in reverse
  constexpr uint64_t kSecond = 1000000000ULL;
  if (u < kSecond) {
    int prec = 0;
    std::string_view unit;
    if (u < 1000) {
      unit = "sn";  // reversed "ns"
    } else if (u < 1000000) {
      prec = 3;
      unit = "s\xb5\xc2";  // reversed "µs"
    } else {
      prec = 6;
      unit = "sm";
    }
    r.append(unit);
    u = AppendFraction(r, u, prec);
    AppendIntReversed(r, u);
  } else {
    r.push_back('s');
    u = AppendFraction(r, u, 9);
    AppendIntReversed(r, u % 60);
    u /= 60;
    if (u > 0) {
      r.push_back('m');
      AppendIntReversed(r, u % 60);
      u /= 60;
      if (u > 0) {
        r.push_back('h');
        AppendIntReversed(r, u);
      }
    }
  }
  if (negative) {
    r.push_back('-');
  }
  return std::string(r.rbegin(), r.rend());
}

Environment::Environment(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    values_[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
}

Environment Environment::FromProcess() {
  std::vector<std::string> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    entries.emplace_back(*e);
  }
  return Environment(entries);
}

std::optional<std::string> Environment::Get(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::string Environment::GetOr(std::string_view key, std::string_view fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::string(fallback) : it->second;
}

bool Environment::GetBool(std::string_view key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) {
    return fallback;
  }
  return it->second == "true" || it->second == "1";
}

int64_t Environment::GetInt(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    return fallback;
  }
  auto parsed = ParseInt(TrimSpace(it->second));
  return parsed && *parsed >= 0 ? *parsed : fallback;
}

Duration Environment::GetDuration(std::string_view key, Duration fallback) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) {
    return fallback;
  }
  std::string_view text = TrimSpace(it->second);
  if (auto seconds = ParseInt(text); seconds && *seconds >= 0) {
    return std::chrono::seconds(*seconds);
  }
  auto parsed = ParseGoDuration(text);
  return parsed ? *parsed : fallback;
}

std::vector<std::string> Environment::ToEntries() const {
  std::vector<std::string> out;
  out.reserve(values_.size());
  for (const auto& [key, value] : values_) {
    out.push_back(StrCat(key, "=", value));
  }
  return out;
}

}  // namespace funcd
