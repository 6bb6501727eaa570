#pragma once

// How one replica is launched: its command line (fwatchdog or the function's own server,
// inside bubblewrap or not), environment, and the descriptors it inherits (its listening
// socket, secrets). Nothing is started here (only the scratch directories of an unsandboxed
// replica are created), which keeps it testable.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "http/client.h"
#include "provider/process/image.h"
#include "provider/provider.h"

namespace funcd::provider {

struct LaunchSettings {
  std::string bwrap;      // "" runs without a sandbox
  std::string fwatchdog;  // host path of the fwatchdog binary
  std::string run_dir;    // per-replica scratch space without a sandbox
  int sandbox_uid = 12000;
  std::function<Result<std::string>(const std::string& namespace_name, const std::string& name)>
      read_secret;
};

struct LaunchPlan {
  SpawnOptions spawn;               // argv, env, inherited descriptors
  std::vector<UniqueFd> owned_fds;  // the listening socket and secret copies; close after spawn
  // Read end of the pipe on which fwatchdog writes one byte once it serves (its write end is
  // the replica's fd 4, env ready_fd); invalid for replicas without fwatchdog.
  UniqueFd ready_fd;
  http::Endpoint endpoint;        // where the replica will serve
  std::int64_t max_inflight = 0;  // the replica's own limit (0: none)
  std::vector<std::string> warnings;
};

// Whether `uid`/`gid` can search every directory down to `path` and read it.
// Errors: kInvalidArgument naming the private directory.
Result<void> CheckReachable(const std::string& path, uid_t uid, gid_t gid);

// Errors: kResourceExhausted (no socket or port), kNotFound (a secret), kInvalidArgument.
Result<LaunchPlan> PlanLaunch(const FunctionSpec& spec, const ResolvedImage& image,
                              const std::string& instance_name, const LaunchSettings& settings);

}  // namespace funcd::provider
