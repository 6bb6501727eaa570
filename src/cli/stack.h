#pragma once

// stack.yml: the OpenFaaS stack file (contracts §7.1), as faas-cli reads it.
//
//   version: 1.0                       # optional; must be 1.0 when present
//   provider: {name: openfaas, gateway: http://127.0.0.1:8080}   # name may also be funcd
//   functions:
//     NAME: {lang, handler, image, fprocess, environment, environment_file, secrets, labels,
//            annotations, limits, requests, constraints, build_args, build_options,
//            build_secrets, skip_build, readonly_root_filesystem, namespace, platforms}
//   configuration: {templates: [{name, source}], copy: [...]}
//
// The text is passed through EnvSubst first (unless disabled). Errors name the file, line and
// column ("stack.yml:7:5: ..."). Unknown keys are kept as warnings, as faas-cli ignores them.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/envsubst.h"
#include "common/result.h"

namespace funcd::cli {

using StringMap = std::map<std::string, std::string>;

struct Resources {
  std::string memory;
  std::string cpu;
};

struct StackFunction {
  std::string name;
  std::string lang;  // lower-cased ("Dockerfile" -> "dockerfile")
  std::string handler;
  std::string image;
  std::string fprocess;
  std::string namespace_name;
  std::string platforms;
  // The inline environment with the environment files merged over it (files win, later
  // files over earlier ones).
  StringMap environment;
  std::vector<std::string> environment_file;
  std::vector<std::string> secrets;
  std::vector<std::string> constraints;
  std::vector<std::string> build_options;
  std::optional<StringMap> labels;
  std::optional<StringMap> annotations;
  StringMap build_args;
  StringMap build_secrets;
  std::optional<Resources> limits;
  std::optional<Resources> requests;
  bool skip_build = false;
  bool readonly_root_filesystem = false;
  int line = 0;  // 1-based line of the function's key, for messages
};

struct TemplateSource {
  std::string name;
  std::string source;
};

struct Stack {
  std::string path;  // the file, as given
  std::string dir;   // its directory: relative paths in the file resolve against it
  std::string version;
  std::string provider_name;
  std::string gateway;                   // provider.gateway, as written
  std::vector<StackFunction> functions;  // in file order
  std::vector<TemplateSource> templates;
  std::vector<std::string> copy;
  std::vector<std::string> warnings;  // "stack.yml:9:5: unknown key ..."

  const StackFunction* Find(std::string_view name) const;
};

struct StackOptions {
  bool envsubst = true;
  EnvLookup lookup;  // default: the process environment
  // Keep only functions whose name matches: `filter` is a wildcard (* and ?) over the whole
  // name, `regex` an ECMAScript regular expression found anywhere in it. At most one.
  std::string filter;
  std::string regex;
};

// Parses stack text; `path` names it in messages and anchors relative paths. Environment
// files are read relative to the stack's directory (then the working directory).
// Errors: kInvalidArgument "PATH:LINE:COL: what is wrong", kNotFound (an environment file).
Result<Stack> ParseStack(std::string_view text, const std::string& path,
                         const StackOptions& options = {});

// Reads and parses `path`. Errors as ParseStack, and kNotFound when the file is missing.
Result<Stack> LoadStack(const std::string& path, const StackOptions& options = {});

// The stack file to use: `flag` when given, else ./stack.yaml, else ./stack.yml; "" when
// there is none (not an error: commands work without one).
std::string FindStackFile(const std::string& flag);

// True for a valid function name (RFC 1123 label: [a-z0-9-], at most 63, no '-' at the ends).
bool IsValidFunctionName(std::string_view name);

// Resolves a path from the stack file: relative to the stack's directory when it exists
// there, else as given (relative to the working directory, as faas-cli does).
std::string ResolveStackPath(const Stack& stack, const std::string& path);

}  // namespace funcd::cli
