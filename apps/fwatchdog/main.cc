// fwatchdog: turns a CLI or an HTTP server into an OpenFaaS-compatible function replica.
// Configuration comes from the environment (see --help); main only wires.

#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/version.h"
#include "watchdog/watchdog.h"

namespace {

constexpr const char* kHelp = R"(fwatchdog - the funcd function watchdog (OpenFaaS compatible)

Usage: fwatchdog [-run-healthcheck] [-version] [-help]

Runs a function behind an HTTP server on $port (default 8080). Configured by environment:

  mode                 unset: classic watchdog (fork fprocess per request, buffered)
                       streaming | serializing: fork per request (of-watchdog)
                       http: fork fprocess once, proxy to upstream_url
                       static: serve files from static_path
  fprocess             the function command, split on spaces (function_process wins)
  port                 listen port (default 8080; 0 picks a free one)
  bind_address         listen address (default 0.0.0.0)
  read_timeout         request read inactivity timeout (default 30s)
  write_timeout        response write timeout, also the drain time on SIGTERM (30s)
  exec_timeout         kill the function after this long (classic: 0 = none;
                       other modes: 30s). Classic answers 408, others 504.
  healthcheck_interval wait between SIGTERM and draining (default write_timeout)
  max_inflight         concurrent requests before 429 (default 0 = unlimited)
  suppress_lock        do not write $TMPDIR/.lock (health then needs no lock file)
  upstream_url         http mode: where the function listens (http_upstream_url wins)
  buffer_http          http mode: send request bodies with Content-Length
  content_type         response Content-Type (classic: echo the request's)
  cgi_headers          pass Http_* variables to forked processes (default true)
  marshal_request      classic: JSON {header, body.raw} on stdin
  combine_output       classic: stderr into the response (default true)
  write_debug          classic: log the function's output
  prefix_logs          prefix function log lines with time and stream (default true)
  log_buffer_size      longest function log line (default 65536; -1 unbuffered)
  log_requests         http mode: one access-log line per request (default false)
  log_callid           add [X-Call-Id] to access-log lines
  ready_path           /_/ready calls the function at this path
  static_path          static mode root (default /home/app/public)
  metrics_port         Prometheus /metrics port (default 8081; 0 disables)
  fwatchdog_io         auto (default): io_uring in http mode when the kernel allows
                       it, else epoll | io_uring (fail without it) | epoll
  fwatchdog_threads    I/O threads (default: one per CPU, at least 2, in the forking
                       modes; 1 in http and static mode)
  listen_fd            serve on this inherited listening socket instead of port

Endpoints: /_/health (200 when ready), /_/ready, everything else goes to the function.
)";

std::string LockPath() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return dir + "/.lock";
}

}  // namespace

// The io_uring build of the watchdog (src/CMakeLists.txt compiles src/watchdog and what it
// uses a second time with the namespace funcd renamed to funcd_uring).
namespace funcd_uring::watchdog {
int RunFromProcessEnvironment(const std::string& io_note, std::string& unavailable);
}  // namespace funcd_uring::watchdog

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-run-healthcheck" || arg == "--run-healthcheck") {
      struct stat st {};
      if (::stat(LockPath().c_str(), &st) == 0) {
        return 0;
      }
      std::fprintf(stderr, "unable to find lock file.\n");
      return 1;
    }
    if (arg == "-version" || arg == "--version") {
      std::printf("fwatchdog version: %s\tSHA: %s\n", funcd::Version(), funcd::GitSha());
      return 0;
    }
    if (arg == "-h" || arg == "-help" || arg == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    std::fprintf(stderr, "fwatchdog: unknown flag %s (see --help)\n", argv[i]);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  const char* io = std::getenv("fwatchdog_io");
  const std::string_view requested = io != nullptr ? io : "auto";
  std::string unavailable;
  if (requested == "epoll") {
    return funcd::watchdog::RunFromProcessEnvironment("epoll (fwatchdog_io=epoll)", unavailable);
  }
  if (requested != "io_uring" && requested != "auto") {
    std::fprintf(stderr, "fwatchdog_io=%s: expected auto, io_uring or epoll\n", io);
    return 1;
  }
  // Only http mode proxies every request through the watchdog; the forking modes spend their
  // time in exec, and each io_uring ring adds about 1.7 MB to the RSS.
  const char* mode = std::getenv("mode");
  if (requested == "auto" && (mode == nullptr || std::string_view(mode) != "http")) {
    return funcd::watchdog::RunFromProcessEnvironment("epoll", unavailable);
  }
  const int code = funcd_uring::watchdog::RunFromProcessEnvironment("io_uring", unavailable);
  if (code != funcd::watchdog::kIoBackendUnavailable) {
    return code;
  }
  if (requested == "io_uring") {
    std::fprintf(stderr, "fwatchdog_io=io_uring: io_uring is not available here: %s\n",
                 unavailable.c_str());
    return 1;
  }
  return funcd::watchdog::RunFromProcessEnvironment(
      "epoll (io_uring is not available here: " + unavailable + ")", unavailable);
}
