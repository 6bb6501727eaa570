#include "common/uuid.h"

#include <algorithm>
#include <iterator>
#include <random>

namespace funcd {

std::string NewUuid() {
  char text[36];
  NewUuid(text);
  return std::string(text, sizeof(text));
}

void NewUuid(char (&out)[36]) {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::uint64_t hi = engine();
  std::uint64_t lo = engine();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::fill(std::begin(out), std::end(out), '-');
  int pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
        ++pos;
      }
      out[static_cast<size_t>(pos++)] = kHex[(v >> (i * 4)) & 0xf];
    }
  };
  put(hi, 16);
  put(lo, 16);
}

}  // namespace funcd
