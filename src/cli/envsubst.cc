#include "cli/envsubst.h"

#include <algorithm>
#include <cstdlib>

#include "common/strings.h"

namespace funcd::cli {

namespace {

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

int LineAt(std::string_view text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
}

// The offset of the '}' that closes the "${" whose body starts at `begin`; npos if none.
size_t FindClosingBrace(std::string_view text, size_t begin) {
  int depth = 1;
  for (size_t i = begin; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Expands the body of ${...}: NAME, NAME:-DEFAULT, NAME-DEFAULT, NAME:=DEFAULT, NAME=DEFAULT.
Result<std::string> ExpandBraced(std::string_view whole, size_t at, std::string_view body,
                                 const EnvLookup& lookup) {
  size_t name_end = 0;
  while (name_end < body.size() && IsNameChar(body[name_end])) {
    ++name_end;
  }
  std::string_view name = body.substr(0, name_end);
  if (name.empty() || !IsNameStart(name[0])) {
    return Unexpected(ErrorCode::kInvalidArgument,
                      StrCat("line ", LineAt(whole, at), ": bad substitution ${", body, "}"));
  }
  std::optional<std::string> value = lookup(name);
  std::string_view rest = body.substr(name_end);
  if (rest.empty()) {
    return value.value_or("");
  }
  const bool colon = rest[0] == ':';
  if (colon) {
    rest.remove_prefix(1);
  }
  if (rest.empty() || (rest[0] != '-' && rest[0] != '=')) {
    return Unexpected(ErrorCode::kInvalidArgument,
                      StrCat("line ", LineAt(whole, at), ": unsupported substitution ${", body,
                             "} (use ${VAR}, ${VAR:-default} or ${VAR-default})"));
  }
  const bool use_default = !value.has_value() || (colon && value->empty());
  if (!use_default) {
    return *value;
  }
  // The default may itself hold substitutions.
  return EnvSubst(rest.substr(1), lookup);
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

Result<std::string> EnvSubst(std::string_view text, const EnvLookup& lookup) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    const char next = text[i + 1];
    if (next == '$') {
      out.push_back('$');
      i += 2;
    } else if (next == '{') {
      const size_t close = FindClosingBrace(text, i + 2);
      if (close == std::string_view::npos) {
        return Unexpected(ErrorCode::kInvalidArgument,
                          StrCat("line ", LineAt(text, i), ": unterminated ${"));
      }
      FUNCD_ASSIGN_OR_RETURN(std::string value,
                             ExpandBraced(text, i, text.substr(i + 2, close - i - 2), lookup));
      out += value;
      i = close + 1;
    } else if (IsNameStart(next)) {
      size_t end = i + 1;
      while (end < text.size() && IsNameChar(text[end])) {
        ++end;
      }
      out += lookup(text.substr(i + 1, end - i - 1)).value_or("");
      i = end;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

}  // namespace funcd::cli
