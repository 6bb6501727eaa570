#pragma once

// The sandbox of a replica: a bubblewrap command line that gives the function its own user,
// pid, mount, ipc and uts namespaces, a read-only root with the host's /usr and /etc, the
// function's files at /home/app, a private /tmp, secrets as read-only files under
// /var/openfaas/secrets, no capabilities, and an unprivileged uid.

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace funcd::provider {

struct SandboxSpec {
  std::string bwrap = "bwrap";  // the bubblewrap binary
  std::string app_dir;          // host directory bound read-only at /home/app; may be ""
  std::string watchdog;         // host path of fwatchdog, bound at /opt/funcd/fwatchdog
  // Secrets: an open file descriptor (inherited by bwrap; the number as bwrap sees it) whose
  // contents become the read-only file /var/openfaas/secrets/NAME (bwrap --ro-bind-data).
  // bwrap reads each descriptor to its end while it sets up the sandbox.
  std::vector<std::pair<int, std::string>> secret_fds;
  std::vector<std::string> extra_ro_binds;  // more host paths bound read-only at the same path
  int uid = 12000;                          // uid and gid inside the sandbox
  int gid = 12000;
  std::string hostname = "function";
  bool share_network = true;   // false: own network namespace (loopback only)
  bool read_only_root = true;  // false: the root (not /usr, /etc) stays writable
  std::string working_dir = "/home/app";
  std::vector<std::string> command;  // what runs inside, e.g. {"/opt/funcd/fwatchdog"}
};

// The argv for bubblewrap (argv[0] == spec.bwrap), ending with "--" and the command. Checks
// nothing the caller validates, except what would escape the sandbox's layout.
// Errors: kInvalidArgument when a secret name is not a plain file name ("", ".", "..", or
// containing '/' or NUL), since it would name a path outside /var/openfaas/secrets.
Result<std::vector<std::string>> BuildBwrapArgv(const SandboxSpec& spec);

}  // namespace funcd::provider
