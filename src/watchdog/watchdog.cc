#include "watchdog/watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "common/version.h"
#include "http/client.h"

namespace funcd::watchdog {

namespace {

std::string LowerMethod(std::string_view method) { return ToLower(method); }

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

// Serves /metrics on the metrics port.
class Watchdog::MetricsHandler final : public http::Handler {
 public:
  explicit MetricsHandler(prometheus::Registry& registry) : registry_(registry) {}
  asio::awaitable<void> Serve(http::ServerExchange& exchange) override {
    auto target = http::SplitTarget(std::string_view(exchange.head().target()));
    if (target.path != "/metrics") {
      co_await exchange.Respond(404, "404 page not found\n");
      co_return;
    }
    co_await exchange.Respond(200, registry_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  }

 private:
  prometheus::Registry& registry_;
};

Watchdog::Watchdog(Config config, Environment env)
    : config_(std::move(config)),
      env_(std::move(env)),
      requests_total_(registry_.Counter("http_requests_total", "total HTTP requests processed",
                                        {"code", "method"})),
      request_duration_(registry_.Histogram("http_request_duration_seconds",
                                            "Seconds spent serving HTTP requests.",
                                            {"code", "method"})),
      in_flight_gauge_(registry_.Gauge("http_requests_in_flight", "total HTTP requests in-flight")
                           .WithLabels({})) {
  std::vector<std::string> base_env = env_.ToEntries();
  switch (config_.mode) {
    case Mode::kClassic:
      mode_ = MakeClassicHandler(config_, std::move(base_env));
      break;
    case Mode::kStreaming:
      mode_ = MakeStreamingHandler(config_, std::move(base_env));
      break;
    case Mode::kSerializing:
      mode_ = MakeSerializingHandler(config_, std::move(base_env));
      break;
    case Mode::kHttp:
      mode_ = MakeHttpHandler(config_);
      break;
    case Mode::kStatic:
      mode_ = MakeStaticHandler(config_);
      break;
  }
}

Watchdog::~Watchdog() = default;

int Watchdog::Run(std::string_view io_note) {
  try {
    for (int i = 0; i < config_.threads; ++i) {
      auto context = std::make_unique<asio::io_context>(1);
      // Asio sets up its backend (epoll instance, io_uring ring) with the first I/O object.
      asio::steady_timer first_io_object(*context);
      contexts_.push_back(std::move(context));
    }
  } catch (const std::exception& e) {  // boost::system::system_error
    contexts_.clear();
    io_unavailable_ = e.what();
    return kIoBackendUnavailable;
  }
  Logf("Version: %s\tSHA: %s", Version(), GitSha());
  Logf("I/O: %.*s", static_cast<int>(io_note.size()), io_note.data());
  std::vector<asio::io_context*> contexts;
  for (auto& context : contexts_) {
    contexts.push_back(context.get());
  }
  http::ServerOptions options;
  options.read_timeout = config_.read_timeout;
  options.write_timeout = config_.write_timeout;
  server_ = std::make_unique<http::Server>(contexts, *this, options);
  // Inherited descriptors stay ours: the function's processes must not hold them open.
  for (const int fd : {config_.listen_fd, config_.ready_fd}) {
    if (fd >= 0) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  if (config_.listen_fd >= 0) {
    if (auto adopted = server_->Adopt(config_.listen_fd); !adopted) {
      Logf("Error adopting listen_fd %d: %s", config_.listen_fd, adopted.error().message.c_str());
      return 1;
    }
    sockaddr_storage storage{};
    socklen_t len = sizeof(storage);
    if (::getsockname(config_.listen_fd, reinterpret_cast<sockaddr*>(&storage), &len) == 0) {
      std::memcpy(self_.data(), &storage, len);
      self_.resize(len);
      if (storage.ss_family == AF_INET) {
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
      }
    }
  } else {
    auto port = server_->Listen(config_.bind_address, config_.port);
    if (!port) {
      Logf("Error ListenAndServe: %s", port.error().message.c_str());
      return 1;
    }
    port_ = *port;
    const std::string host = config_.bind_address == "0.0.0.0" || config_.bind_address.empty()
                                 ? "127.0.0.1"
                                 : config_.bind_address;
    error_code ec;
    self_ = http::Endpoint(asio::ip::tcp::endpoint(asio::ip::make_address(host, ec), port_));
  }
  Logf("Timeouts: read: %s write: %s hard: %s health: %s.",
       FormatGoDuration(config_.read_timeout).c_str(),
       FormatGoDuration(config_.write_timeout).c_str(),
       FormatGoDuration(config_.exec_timeout).c_str(),
       FormatGoDuration(config_.healthcheck_interval).c_str());
  Logf("Mode: %s", std::string(ModeName(config_.mode)).c_str());
  if (port_ != 0) {
    Logf("Listening on port: %d", port_);
  } else {
    Logf("Listening on the inherited socket (listen_fd %d)", config_.listen_fd);
  }

  if (config_.metrics_port > 0) {
    metrics_handler_ = std::make_unique<MetricsHandler>(registry_);
    http::ServerOptions metrics_options;
    metrics_options.read_timeout = std::chrono::seconds(5);
    metrics_options.write_timeout = std::chrono::seconds(5);
    metrics_server_ = std::make_unique<http::Server>(std::vector<asio::io_context*>{contexts[0]},
                                                     *metrics_handler_, metrics_options);
    auto metrics_port = metrics_server_->Listen(config_.bind_address,
                                                static_cast<std::uint16_t>(config_.metrics_port));
    if (!metrics_port) {
      // The reference watchdog panics here; a busy port should not take the function down.
      Logf("Metrics disabled: port %d: %s", config_.metrics_port,
           metrics_port.error().message.c_str());
      metrics_server_.reset();
    } else {
      Logf("Metrics listening on port: %d", *metrics_port);
    }
  }

  if (auto started = mode_->Start(contexts, [this](int code) { Exit(code); }); !started) {
    Logf("Unable to start the function: %s", started.error().message.c_str());
    return 1;
  }
  server_->Start();
  if (metrics_server_) {
    metrics_server_->Start();
  }
  asio::co_spawn(*contexts[0], WriteLockWhenReady(), LogExceptions{"lock"});
  asio::co_spawn(*contexts[0], HandleSignals(), LogExceptions{"signals"});

  std::vector<std::thread> threads;
  for (size_t i = 1; i < contexts.size(); ++i) {
    threads.emplace_back([context = contexts[i]] {
      auto guard = asio::make_work_guard(*context);
      context->run();
    });
  }
  contexts[0]->run();
  for (auto& context : contexts_) {
    context->stop();
  }
  for (auto& thread : threads) {
    thread.join();
  }
  return exit_code_.load();
}

void Watchdog::Exit(int code) {
  exit_code_ = code;
  for (auto& context : contexts_) {
    context->stop();
  }
}

asio::awaitable<void> Watchdog::WriteLockWhenReady() {
  co_await mode_->WaitReady();
  if (config_.suppress_lock) {
    Logf(
        "Warning: \"suppress_lock\" is enabled. No automated health-checks will be in place "
        "for your function.");
    accepting_ = true;
    NotifyReady();
    co_return;
  }
  Logf("Writing lock-file to: %s", config_.lock_path.c_str());
  int fd = ::open(config_.lock_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
  if (fd < 0) {
    Logf("Cannot write %s. To disable lock-file set env suppress_lock=true.\n Error: %s.",
         config_.lock_path.c_str(), std::strerror(errno));
    Exit(1);
    co_return;
  }
  ::close(fd);
  accepting_ = true;
  NotifyReady();
}

void Watchdog::NotifyReady() {
  if (config_.ready_fd < 0) {
    return;
  }
  const char byte = '1';
  if (::write(config_.ready_fd, &byte, 1) != 1) {
    Logf("Cannot notify readiness on fd %d: %s", config_.ready_fd, std::strerror(errno));
  }
  ::close(config_.ready_fd);
}

bool Watchdog::Healthy() const {
  return accepting_.load() && mode_->Ready() &&
         (config_.suppress_lock || FileExists(config_.lock_path));
}

void Watchdog::MarkUnhealthy() {
  accepting_ = false;
  if (!config_.suppress_lock) {
    Logf("Removing lock-file : %s", config_.lock_path.c_str());
    ::unlink(config_.lock_path.c_str());
  }
}

asio::awaitable<void> Watchdog::HandleSignals() {
  auto executor = co_await asio::this_coro::executor;
  asio::signal_set signals(executor, SIGTERM, SIGINT);
  auto [ec, signal] = co_await signals.async_wait(kUseAwaitableNoThrow);
  if (ec) {
    co_return;
  }
  Logf("%s: no new connections in %s", signal == SIGTERM ? "SIGTERM" : "SIGINT",
       FormatGoDuration(config_.healthcheck_interval).c_str());
  MarkUnhealthy();
  asio::steady_timer timer(executor, config_.healthcheck_interval);
  co_await timer.async_wait(kUseAwaitableNoThrow);
  Logf("No new connections allowed, draining: %lld requests",
       static_cast<long long>(in_flight_.load()));
  co_await server_->Shutdown(config_.write_timeout);
  if (metrics_server_) {
    co_await metrics_server_->Shutdown(std::chrono::milliseconds(0));
  }
  co_await mode_->Stop();
  Logf("Exiting. Active connections: %lld", static_cast<long long>(in_flight_.load()));
  Exit(exit_code_.load());
}

asio::awaitable<void> Watchdog::Serve(http::ServerExchange& exchange) {
  std::string_view path = http::SplitTarget(std::string_view(exchange.head().target())).path;
  if (path == "/_/health") {
    co_await ServeHealth(exchange);
  } else if (path == "/_/ready") {
    co_await ServeReady(exchange);
  } else {
    co_await ServeFunction(exchange);
  }
}

asio::awaitable<void> Watchdog::ServeHealth(http::ServerExchange& exchange) {
  if (exchange.head().method() != http::Verb::get) {
    co_await exchange.Respond(405, "", "");
  } else if (Healthy()) {
    co_await exchange.Respond(200, "OK");
  } else {
    co_await exchange.Respond(503, "", "");
  }
}

asio::awaitable<void> Watchdog::ServeReady(http::ServerExchange& exchange) {
  if (exchange.head().method() != http::Verb::get) {
    co_await exchange.Respond(405, "", "");
    co_return;
  }
  if (!Healthy()) {
    co_await exchange.Respond(503, "", "");
    co_return;
  }
  if (config_.max_inflight > 0 && in_flight_.load() >= config_.max_inflight) {
    co_await exchange.Respond(429, "", "");
    co_return;
  }
  if (config_.ready_path.empty()) {
    co_await exchange.Respond(200, "OK");
    co_return;
  }
  // Ask the function itself, through our own front door (TCP or unix socket).
  http::RequestHead head;
  head.method(http::Verb::get);
  head.target(config_.ready_path.starts_with("/") ? config_.ready_path : "/" + config_.ready_path);
  head.set(http::Field::host, "localhost");
  http::ConnectionPool pool(co_await asio::this_coro::executor, self_);
  std::string no_body;
  auto response =
      co_await http::Fetch(pool, std::move(head), std::move(no_body), config_.write_timeout);
  if (!response) {
    co_await exchange.Respond(503, response.error().message + "\n");
    co_return;
  }
  co_await exchange.Respond(response->status, response->body, "");
}

asio::awaitable<void> Watchdog::ServeFunction(http::ServerExchange& exchange) {
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t current = in_flight_.fetch_add(1) + 1;
  in_flight_gauge_.Increment();
  if (config_.max_inflight > 0 && current > config_.max_inflight) {
    exchange.response().set("X-OpenFaaS-Internal", "faas-middleware");
    co_await exchange.Respond(429,
                              StrCat("Concurrent request limit exceeded. Max concurrent requests: ",
                                     config_.max_inflight, "\n"));
  } else {
    co_await mode_->Serve(exchange);
  }
  in_flight_.fetch_sub(1);
  in_flight_gauge_.Decrement();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SeriesFor(exchange.response_status(), exchange.head()).Record(seconds);
}

Watchdog::Series& Watchdog::SeriesFor(unsigned status, const http::RequestHead& head) {
  // Label lookups lock and allocate; the few (status, method) pairs a function sees are
  // remembered per thread. Entries of another Watchdog (tests make several) are dropped.
  struct Entry {
    const Watchdog* owner = nullptr;
    unsigned status = 0;
    http::Verb verb = http::Verb::unknown;
    Series series;
  };
  thread_local std::array<Entry, 16> cache;
  thread_local size_t next_slot = 0;
  const http::Verb verb = head.method();
  if (verb != http::Verb::unknown) {
    for (Entry& entry : cache) {
      if (entry.owner == this && entry.status == status && entry.verb == verb) {
        return entry.series;
      }
    }
  }
  const std::string code = std::to_string(status);
  const std::string method = LowerMethod(std::string_view(head.method_string()));
  Entry& entry = cache[next_slot++ % cache.size()];
  entry = Entry{this, status, verb,
                Series{&requests_total_.WithLabels({code, method}),
                       &request_duration_.HistogramWithLabels({code, method})}};
  if (verb == http::Verb::unknown) {
    entry.owner = nullptr;  // custom methods are not cached under a shared key
  }
  return entry.series;
}

int RunFromProcessEnvironment(const std::string& io_note, std::string& unavailable) {
  Environment env = Environment::FromProcess();
  auto config = Config::FromEnvironment(env);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().message.c_str());
    return 1;
  }
  // Not destroyed: the process ends when Run returns. When the function dies, Run returns
  // with operations still pending, and destroying the io_contexts then is a use-after-free in
  // Asio 1.81's io_uring backend (~io_uring_service destroys a pending accept after the
  // socket service it refers to; ASan found it). The static keeps it reachable for LSan.
  static Watchdog* watchdog = nullptr;
  watchdog = new Watchdog(std::move(*config), std::move(env));
  const int code = watchdog->Run(io_note);
  if (code == kIoBackendUnavailable) {
    unavailable = watchdog->io_unavailable();
  }
  return code;
}

}  // namespace funcd::watchdog
