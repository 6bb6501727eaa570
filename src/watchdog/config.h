#pragma once

// fwatchdog configuration, read from the environment with the names and defaults of the
// OpenFaaS classic watchdog (no `mode`) and of-watchdog (mode=streaming|serializing|http|
// static). See ../../README.md "fwatchdog" for the full table.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"

namespace funcd::watchdog {

enum class Mode { kClassic, kStreaming, kSerializing, kHttp, kStatic };

std::string_view ModeName(Mode mode);

struct Config {
  Mode mode = Mode::kClassic;
  std::string fprocess;           // fprocess, or function_process (which wins)
  std::vector<std::string> argv;  // fprocess split on spaces

  std::string bind_address = "0.0.0.0";  // funcd extension: where to listen
  std::uint16_t port = 8080;             // 0: the system picks (printed at start-up)
  int listen_fd = -1;                    // funcd extension: an inherited listening socket
  int ready_fd = -1;        // funcd extension: one byte is written here (then closed) once serving
  int metrics_port = 8081;  // 0 disables the metrics listener
  int threads = 1;          // funcd extension: I/O threads (forking modes: one per CPU, >= 2)

  Duration read_timeout{};
  Duration write_timeout{};
  Duration exec_timeout{};  // 0: none
  Duration healthcheck_interval{};

  std::int64_t max_inflight = 0;  // 0: unlimited
  bool suppress_lock = false;
  std::string lock_path;  // $TMPDIR/.lock

  // Forking modes.
  bool cgi_headers = true;
  bool marshal_request = false;  // classic
  bool combine_output = true;    // classic
  bool write_debug = false;      // classic
  bool debug_headers = false;    // classic
  std::string content_type;      // classic: "" echoes the request's
  bool prefix_logs = true;
  std::int64_t log_buffer_size = 64 * 1024;  // longest logged line; -1: unbuffered
  bool log_callid = false;
  bool log_requests = false;  // funcd extension: an access-log line per request

  // http mode.
  std::string upstream_url;
  bool buffer_http = false;

  // static mode.
  std::string static_path = "/home/app/public";

  std::string ready_path;

  // Errors: kInvalidArgument with a message for the user (missing fprocess, unknown mode,
  // http mode without upstream_url, bad port).
  static Result<Config> FromEnvironment(const Environment& env);
};

}  // namespace funcd::watchdog
