#pragma once

// Small string helpers used across funcd (no locale, ASCII only).

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace funcd {

namespace internal {
inline void AppendPiece(std::string& out, std::string_view piece) { out.append(piece); }
inline void AppendPiece(std::string& out, const char* piece) { out.append(piece); }
inline void AppendPiece(std::string& out, const std::string& piece) { out.append(piece); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
template <typename T>
requires std::is_integral_v<T> &&
    (!std::is_same_v<T, char>)&&(!std::is_same_v<T, bool>)void AppendPiece(std::string& out,
                                                                           T value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}
}  // namespace internal

// Concatenates strings, characters and integers.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (internal::AppendPiece(out, args), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string& out, const Args&... args) {
  (internal::AppendPiece(out, args), ...);
}

std::vector<std::string_view> Split(std::string_view text, char separator);
std::string_view TrimSpace(std::string_view text);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);
std::string ToLower(std::string_view text);

// Parses a whole string as a decimal integer; nullopt on any junk or overflow.
std::optional<int64_t> ParseInt(std::string_view text);
std::optional<uint64_t> ParseUint(std::string_view text);

// Go's %f formatting of a double (six decimals).
std::string FormatFixed6(double value);

// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view data);
std::optional<std::string> Base64Decode(std::string_view text);

// Escapes a string for inclusion in JSON (without the surrounding quotes).
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace funcd
