#pragma once

// `funcd serve`: the gateway, the control API and the process runtime in one process.

#include <chrono>
#include <cstdint>
#include <string>

namespace funcd::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string state_dir;  // default: /var/lib/funcd as root, else ~/.local/share/funcd
  bool basic_auth = true;
  bool host_images = false;
  std::string sandbox = "bwrap";  // "bwrap" or "none"
  std::string fwatchdog;          // default: beside the funcd binary
  int threads = 0;                // I/O threads; 0: half the CPUs (at least 1)
  std::chrono::nanoseconds upstream_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds write_timeout = std::chrono::seconds(60);
  std::size_t max_queue = 1024;  // calls waiting per function for a replica with room
  // Event triggers: cron always runs; NATS and MQTT when a broker URL is given.
  std::string nats_url;  // e.g. nats://127.0.0.1:4222
  std::string mqtt_url;  // e.g. mqtt://127.0.0.1:1883
  // Asynchronous invocation (worker/async_service.h): the queue ("sqlite": STATE_DIR/queue.db;
  // or nats://HOST:PORT for JetStream, work in progress), workers, body limit, retry defaults.
  std::string queue = "sqlite";
  int async_workers = 64;
  std::uint64_t async_max_body = 10 << 20;
  int retry_attempts = 10;
  std::string retry_codes = "408,429,500,502,503,504";
  std::chrono::nanoseconds retry_min_wait = std::chrono::seconds(10);
  std::chrono::nanoseconds retry_max_wait = std::chrono::seconds(120);
  std::chrono::nanoseconds async_retention = std::chrono::hours(1);
};

// The default state directory for this user.
std::string DefaultStateDir();

// Runs until SIGTERM or SIGINT; returns the process exit code. Prints start-up problems
// (bad flags, busy port, unusable state directory) as one line each.
int Serve(const ServeOptions& options);

}  // namespace funcd::cli
