#pragma once

// `funcd serve`: the gateway, the control API and the process runtime in one process.

#include <chrono>
#include <string>

namespace funcd::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string state_dir;  // default: /var/lib/funcd as root, else ~/.local/share/funcd
  bool basic_auth = true;
  bool host_images = false;
  std::string sandbox = "bwrap";  // "bwrap" or "none"
  std::string fwatchdog;          // default: beside the funcd binary
  int threads = 0;                // I/O threads; 0: one per CPU
  std::chrono::nanoseconds upstream_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds write_timeout = std::chrono::seconds(60);
  std::size_t max_queue = 1024;  // calls waiting per function for a replica with room
};

// The default state directory for this user.
std::string DefaultStateDir();

// Runs until SIGTERM or SIGINT; returns the process exit code. Prints start-up problems
// (bad flags, busy port, unusable state directory) as one line each.
int Serve(const ServeOptions& options);

}  // namespace funcd::cli
