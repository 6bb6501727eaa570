#pragma once

// Runs a build step (a template's build command, git) as a child process, blocking.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace funcd::cli {

struct CommandSpec {
  std::vector<std::string> argv;                               // argv[0] is looked up in PATH
  std::string working_dir;                                     // "" for ours
  std::vector<std::pair<std::string, std::string>> extra_env;  // over our environment
};

// Runs `spec` with stdin from /dev/null and stdout and stderr merged; each output line goes
// to `on_line` (without the newline) as it arrives. Returns the exit code (128 + signal when
// killed). Errors: kNotFound (no such program), kInternal.
Result<int> RunCommand(const CommandSpec& spec,
                       const std::function<void(std::string_view line)>& on_line);

// Runs `spec` and returns its output (stdout and stderr), trimmed; kInternal when it fails.
Result<std::string> CaptureCommand(const CommandSpec& spec);

}  // namespace funcd::cli
