#pragma once

// What `funcd build` takes from a function's Dockerfile (lang: dockerfile) when there is no
// container engine: the command (ENTRYPOINT + CMD of the last stage) as the fprocess, and
// ENV as environment defaults. Everything else (FROM, RUN, COPY, ...) is not executed: the
// handler folder is the package and runs against the host's /usr. Instructions that would
// have changed the result are reported as warnings.

#include <string>
#include <string_view>
#include <vector>

#include "cli/stack.h"
#include "common/result.h"

namespace funcd::cli {

struct DockerfileInfo {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  StringMap environment;
  std::vector<std::string> warnings;  // "Dockerfile:3: RUN is not run by funcd build ..."

  // ENTRYPOINT followed by CMD, joined by spaces (fwatchdog splits fprocess on spaces).
  // Errors: kInvalidArgument when an argument holds a space.
  Result<std::string> Fprocess() const;
};

// Errors: kInvalidArgument "Dockerfile:LINE: ..." for malformed CMD/ENTRYPOINT/ENV.
Result<DockerfileInfo> ParseDockerfile(std::string_view text);

}  // namespace funcd::cli
