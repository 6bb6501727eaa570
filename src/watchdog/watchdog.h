#pragma once

// fwatchdog: the HTTP front of one function replica. Serves /_/health and /_/ready, applies
// max_inflight, records Prometheus metrics, and hands function requests to the ModeHandler
// of the configured mode. Owns the listeners, the lock file and graceful shutdown.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/config.h"
#include "common/prometheus.h"
#include "http/client.h"
#include "http/server.h"
#include "watchdog/config.h"
#include "watchdog/mode.h"

namespace funcd::watchdog {

// fwatchdog is built twice from this code, on Asio's epoll backend (funcd::watchdog) and on
// its io_uring backend (funcd_uring::watchdog; see src/CMakeLists.txt). main() calls one of
// them through this function, which takes and returns only standard types.
//
// Reads the configuration from the process environment and runs the watchdog, logging
// "I/O: <io_note>" at start. Returns the process exit code, or kIoBackendUnavailable with
// `unavailable` set to the reason when this build's I/O backend cannot be set up here (a
// seccomp profile or kernel.io_uring_disabled may forbid io_uring, or the kernel may be out
// of memory for its rings); nothing has been started then.
inline constexpr int kIoBackendUnavailable = -1;
int RunFromProcessEnvironment(const std::string& io_note, std::string& unavailable);

class Watchdog final : public http::Handler {
 public:
  // `env` is the environment passed to function processes.
  Watchdog(Config config, Environment env);
  ~Watchdog() override;

  // Listens, starts the function (http mode), and serves until SIGTERM or SIGINT has been
  // handled (unhealthy, wait healthcheck_interval, drain up to write_timeout); logs
  // "I/O: <io_note>" at start. Returns the process exit code, or kIoBackendUnavailable with
  // io_unavailable() set when no io_context can be created (before anything else is done).
  int Run(std::string_view io_note);
  const std::string& io_unavailable() const { return io_unavailable_; }

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override;

 private:
  class MetricsHandler;

  // The metric series of one (status, method) pair.
  struct Series {
    prometheus::Value* total = nullptr;
    prometheus::HistogramSeries* duration = nullptr;
    void Record(double seconds) {
      total->Increment();
      duration->Observe(seconds);
    }
  };
  Series& SeriesFor(unsigned status, const http::RequestHead& head);

  asio::awaitable<void> ServeHealth(http::ServerExchange& exchange);
  asio::awaitable<void> ServeReady(http::ServerExchange& exchange);
  asio::awaitable<void> ServeFunction(http::ServerExchange& exchange);
  asio::awaitable<void> WriteLockWhenReady();
  // Tells the runtime that started us (env ready_fd) that we serve.
  void NotifyReady();
  asio::awaitable<void> HandleSignals();
  bool Healthy() const;
  void MarkUnhealthy();
  void Exit(int code);

  const Config config_;
  const Environment env_;
  // Declared first so that they are destroyed last: every I/O object below belongs to them.
  std::string io_unavailable_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::unique_ptr<ModeHandler> mode_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<MetricsHandler> metrics_handler_;
  std::unique_ptr<http::Server> metrics_server_;
  std::uint16_t port_ = 0;  // 0 when serving on an inherited unix socket
  http::Endpoint self_;     // where we listen, for asking ourselves (ready_path)

  std::atomic<bool> accepting_{false};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<int> exit_code_{0};

  prometheus::Registry registry_;
  prometheus::Family& requests_total_;
  prometheus::Family& request_duration_;
  prometheus::Value& in_flight_gauge_;
};

}  // namespace funcd::watchdog
