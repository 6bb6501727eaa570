#pragma once

// The client commands of the funcd binary, with faas-cli's names, flags and behaviour:
// login, logout, new, build, deploy, up, invoke, list, describe, remove, logs, scale, secret,
// namespace, ready, version, template list.

#include <CLI/CLI.hpp>
#include <optional>

#include "cli/command_common.h"

namespace funcd::cli {

class ClientCommands {
 public:
  // Adds the client subcommands to `app`. REQUIRES: `app` outlives this object.
  explicit ClientCommands(CLI::App& app);

  // After parsing: runs the client command that was given and returns its exit code; nullopt
  // when none was (e.g. `serve`).
  std::optional<int> Run() const { return registry_.RunParsed(); }

 private:
  CommandRegistry registry_;
};

}  // namespace funcd::cli
