#pragma once

// Environment substitution in stack files, as faas-cli does before parsing YAML (it uses
// github.com/drone/envsubst): ${VAR}, ${VAR:-default} and ${VAR-default} (default when unset or
// empty / when unset), ${VAR:=default} and ${VAR=default} (the same here: nothing is assigned),
// $VAR, and $$ for a literal $. An unset variable expands to "". A $ followed by anything
// else stays as it is.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace funcd::cli {

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
EnvLookup ProcessEnvironment();

// Errors: kInvalidArgument "line N: unterminated ${" or a bad variable name, with the
// 1-based line of the offending text.
Result<std::string> EnvSubst(std::string_view text, const EnvLookup& lookup);

}  // namespace funcd::cli
