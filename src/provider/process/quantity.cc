// Kubernetes resource quantities (declared in cgroup.h, where the limits they feed live).

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "common/strings.h"
#include "provider/process/cgroup.h"

namespace funcd::provider {
namespace {

__extension__ typedef unsigned __int128 Uint128;
constexpr Uint128 kMaxUint128 = ~Uint128{0};

// Kubernetes quantity: [+]digits[.digits] then "", a binary suffix (Ki..Ei), a decimal one
// (n u m k M G T P E) or an exponent (e3, E-2). Returns the value times 10^scale, rounded up
// as Kubernetes' Value() and MilliValue() do.
Result<std::uint64_t> ParseQuantity(std::string_view text, int scale, std::string_view kind) {
  auto invalid = [&] {
    return Unexpected(ErrorCode::kInvalidArgument, StrCat("invalid ", kind, " \"", text, "\""));
  };
  size_t pos = 0;
  if (pos < text.size() && text[pos] == '+') {
    ++pos;
  }
  Uint128 mantissa = 0;
  int digits = 0;
  int fraction_digits = 0;
  bool in_fraction = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (c < '0' || c > '9') {
      break;
    }
    if (mantissa > (kMaxUint128 - 9) / 10) {
      return invalid();
    }
    mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
    ++digits;
    fraction_digits += in_fraction ? 1 : 0;
  }
  if (digits == 0) {
    return invalid();  // also "", "-1", "Mi"
  }
  const std::string_view suffix = text.substr(pos);
  int exponent2 = 0;
  int exponent10 = 0;
  static constexpr std::array<std::pair<std::string_view, int>, 6> kBinary = {
      {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}}};
  static constexpr std::array<std::pair<std::string_view, int>, 10> kDecimal = {{{"", 0},
                                                                                 {"n", -9},
                                                                                 {"u", -6},
                                                                                 {"m", -3},
                                                                                 {"k", 3},
                                                                                 {"M", 6},
                                                                                 {"G", 9},
                                                                                 {"T", 12},
                                                                                 {"P", 15},
                                                                                 {"E", 18}}};
  auto binary = std::find_if(kBinary.begin(), kBinary.end(),
                             [&](const auto& entry) { return entry.first == suffix; });
  auto decimal = std::find_if(kDecimal.begin(), kDecimal.end(),
                              [&](const auto& entry) { return entry.first == suffix; });
  if (binary != kBinary.end()) {
    exponent2 = binary->second;
  } else if (decimal != kDecimal.end()) {
    exponent10 = decimal->second;
  } else if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::string_view exponent = suffix.substr(1);
    bool negative = exponent[0] == '-';
    if (exponent[0] == '+' || exponent[0] == '-') {
      exponent.remove_prefix(1);
    }
    auto value = exponent.size() <= 4 ? ParseUint(exponent) : std::nullopt;
    if (!value || exponent.empty() || exponent[0] == '+') {
      return invalid();
    }
    exponent10 = negative ? -static_cast<int>(*value) : static_cast<int>(*value);
  } else {
    return invalid();
  }

  Uint128 value = mantissa;
  auto out_of_range = [&] {
    return Unexpected(ErrorCode::kInvalidArgument, StrCat(kind, " \"", text, "\" is out of range"));
  };
  for (int i = 0; i < exponent2; ++i) {
    if (value > (kMaxUint128 >> 1)) {
      return out_of_range();
    }
    value <<= 1;
  }
  const int power = exponent10 + scale - fraction_digits;
  if (power >= 0) {
    for (int i = 0; i < power && value != 0; ++i) {
      if (value > kMaxUint128 / 10) {
        return out_of_range();
      }
      value *= 10;
    }
  } else {
    Uint128 divisor = 1;
    bool divisor_exceeds_value = false;
    for (int i = 0; i < -power; ++i) {
      if (divisor > kMaxUint128 / 10) {
        divisor_exceeds_value = true;  // 10^39 > every Uint128
        break;
      }
      divisor *= 10;
    }
    if (divisor_exceeds_value) {
      value = value != 0 ? 1 : 0;
    } else {
      value = value / divisor + (value % divisor != 0 ? 1 : 0);
    }
  }
  if (value > std::numeric_limits<std::uint64_t>::max()) {
    return out_of_range();
  }
  return static_cast<std::uint64_t>(value);
}
}  // namespace

Result<std::uint64_t> ParseMemoryQuantity(std::string_view text) {
  return ParseQuantity(text, 0, "memory quantity");
}

Result<std::uint64_t> ParseCpuQuantity(std::string_view text) {
  return ParseQuantity(text, 3, "cpu quantity");
}

}  // namespace funcd::provider
