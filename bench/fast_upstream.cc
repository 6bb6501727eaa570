// fast_upstream: an HTTP/1.1 server that answers every request with 200 "ok" (keep-alive).
// It is the baseline of the watchdog benchmark: measured directly, then as the function
// behind `fwatchdog` in http mode, so that the ratio of the two is the watchdog's overhead.
//
// Usage: fast_upstream [--port N] [--threads N]
// The port comes from --port, else $upstream_port, else $http_port (funcd gives a replica's
// server its port there), else $port, else 0 (the system picks).
// $upstream_port exists because a forked upstream inherits fwatchdog's own $port.
// Threads come from --threads, else $threads, else 1. Once bound, the server prints
// "Listening on port: N" to stderr (the line fwatchdog prints too).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "http/server.h"

namespace {

namespace asio = funcd::asio;

constexpr const char* kUsage = "Usage: fast_upstream [--port N] [--threads N]\n";

// Answers everything with 200 "ok". Stateless, so safe on every server thread at once.
class OkHandler final : public funcd::http::Handler {
 public:
  asio::awaitable<void> Serve(funcd::http::ServerExchange& exchange) override {
    // On a failed write the server closes the connection; nothing else to do here.
    (void)co_await exchange.Respond(200, "ok");
  }
};

struct Flags {
  std::uint16_t port = 0;
  std::size_t threads = 1;
};

std::optional<std::uint64_t> ParseBounded(std::string_view text, std::uint64_t max) {
  std::optional<std::uint64_t> value = funcd::ParseUint(text);
  if (!value || *value > max) {
    return std::nullopt;
  }
  return value;
}

// The first of the environment variables `names` that is set, or nullptr.
const char* FirstEnv(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      return value;
    }
  }
  return nullptr;
}

// Reads the environment, then the flags (which win). nullopt on a bad value or flag.
std::optional<Flags> ParseFlags(int argc, char** argv) {
  const char* port_text = FirstEnv({"upstream_port", "http_port", "port"});
  const char* threads_text = FirstEnv({"threads"});
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if ((arg == "--port" || arg == "--threads") && i + 1 < argc) {
      (arg == "--port" ? port_text : threads_text) = argv[++i];
    } else {
      return std::nullopt;
    }
  }
  Flags flags;
  if (port_text != nullptr) {
    auto port = ParseBounded(port_text, 65535);
    if (!port) {
      return std::nullopt;
    }
    flags.port = static_cast<std::uint16_t>(*port);
  }
  if (threads_text != nullptr) {
    auto threads = ParseBounded(threads_text, 256);
    if (!threads || *threads == 0) {
      return std::nullopt;
    }
    flags.threads = *threads;
  }
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Flags> flags = ParseFlags(argc, argv);
  if (!flags) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  // One single-threaded io_context per thread (concurrency hint 1): the server gives each its
  // own acceptor (SO_REUSEPORT), so a connection stays on one thread, as in fwatchdog.
  std::vector<std::unique_ptr<asio::io_context>> owned;
  std::vector<asio::io_context*> contexts;
  for (std::size_t i = 0; i < flags->threads; ++i) {
    owned.push_back(std::make_unique<asio::io_context>(1));
    contexts.push_back(owned.back().get());
  }
  OkHandler handler;
  funcd::http::Server server(contexts, handler);
  funcd::Result<std::uint16_t> port = server.Listen("127.0.0.1", flags->port);
  if (!port) {
    std::fprintf(stderr, "fast_upstream: %s\n", port.error().message.c_str());
    return 1;
  }
  server.Start();
  std::fprintf(stderr, "Listening on port: %u\n", static_cast<unsigned>(*port));

  // Runs until killed: the benchmark (or fwatchdog) ends it with a signal.
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts.size(); ++i) {
    threads.emplace_back([context = contexts[i]] { context->run(); });
  }
  contexts[0]->run();
  for (std::thread& thread : threads) {
    thread.join();
  }
  return 0;
}
