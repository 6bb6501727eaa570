#pragma once

// `funcd build`: makes a function package for the process runtime from a template and a
// handler, and stores it in the local package store (see package_store.h) under the
// function's image name. Steps, each reported on the progress stream:
//   1. assemble: the template's files with the handler in its handler_folder (or, for
//      templates with `funcd.package: handler`, the handler folder alone);
//   2. the template's build command in the package directory (compilers, dependency
//      installs, the handler's tests), with build_args in its environment;
//   3. the manifest funcd.json: fprocess (stack > template > Dockerfile) and environment
//      (template, Dockerfile ENV);
//   4. content digest, atomic install, tag.

#include <cstdio>
#include <string>

#include "cli/package_store.h"
#include "cli/stack.h"
#include "cli/templates.h"
#include "common/result.h"

namespace funcd::cli {

struct BuildSettings {
  std::string state_dir;            // the package store's state directory
  StringMap build_args;             // --build-arg, over the stack's build_args
  std::string tag_mode = "latest";  // latest | sha | branch | describe (faas-cli's --tag)
  bool shrinkwrap = false;          // only assemble into ./build/NAME (no build step, no store)
  bool quiet = false;               // no output from the build command unless it fails
  std::FILE* progress = stdout;     // where progress lines go
};

struct BuildResult {
  std::string image;  // NAME:TAG as stored (after --tag)
  InstalledPackage package;
  std::string shrinkwrap_dir;  // with shrinkwrap
};

// The image name after faas-cli's --tag rule: latest keeps it; sha appends "-<git short sha>"
// to the tag, branch "-<branch>-<sha>", describe "-<git describe --tags --always>". Git runs
// in `dir`. Errors: kInvalidArgument (unknown mode), kFailedPrecondition (not a git repo).
Result<std::string> ApplyTagMode(const std::string& image, const std::string& mode,
                                 const std::string& dir);

// Builds one function of `stack`. Errors: kInvalidArgument (no lang, no handler, no image),
// kNotFound (template, handler folder), kFailedPrecondition (the build command failed; its
// output was shown), kInternal.
Result<BuildResult> BuildFunction(const Stack& stack, const StackFunction& fn,
                                  const BuildSettings& settings);

// Writes the package manifest (funcd.json) into `dir`, over any values already there.
Result<void> WriteManifest(const std::string& dir, const std::string& fprocess,
                           const StringMap& environment);

}  // namespace funcd::cli
