#pragma once

// `funcd deploy` as faas-cli does it (contracts §7.4): PUT /system/functions, and POST when
// that is a 404; --replace deletes first; CLI --env/--label/--annotation over the stack's.

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "cli/command_common.h"
#include "cli/stack.h"
#include "cli/templates.h"

namespace funcd::cli {

struct DeployFlags {
  GatewayFlags gateway;
  StackFlags stack;
  // Deploying an image without a stack file:
  std::string image;
  std::string name;
  std::string fprocess;
  std::string lang;
  // Over the stack's values:
  std::vector<std::string> env;
  std::vector<std::string> labels;
  std::vector<std::string> annotations;
  std::vector<std::string> secrets;
  std::vector<std::string> constraints;
  bool replace = false;
  bool update = true;
  bool update_given = false;  // --update was on the command line
  bool read_template = true;
  std::string tag = "latest";
};

// The FunctionDeployment JSON for `fn` (contracts §2.3): labels and annotations always as
// objects, envVars/secrets/constraints/limits/requests only when set. `tmpl` (may be null)
// supplies the fprocess when the stack has none and its funcd annotations.
Result<boost::json::object> DeploymentFor(const StackFunction& fn, const DeployFlags& flags,
                                          const LanguageTemplate* tmpl, const std::string& image);

// Deploys the functions of `stack` (or the one given by --image/--name when `stack` is
// null). `images` maps function names to the image to send (from a build with --tag).
// Returns the exit code.
int RunDeploy(const DeployFlags& flags, const Stack* stack,
              const std::map<std::string, std::string>& images = {});

// Registers the deploy flags on `command` (shared by deploy and up).
void AddDeployFlags(CLI::App* command, DeployFlags& flags);

}  // namespace funcd::cli
