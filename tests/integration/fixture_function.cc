// An HTTP function for integration tests of fwatchdog's http mode (and later the gateway):
// each path exercises one behaviour. Usage: fixture_function --port N
//
//   /echo           streams the request body back; X-Fixture-* headers describe the request
//   /headers        the request headers, one "Name: value" per line
//   /status/N       answers status N
//   /redirect       302 to http://example.com/
//   /slow?ms=N      answers after N ms
//   /sse            two server-sent events, 500 ms apart
//   /big?mb=N       N MiB of 'x', chunked
//   /ws             switches protocols and echoes raw bytes
//   /reset          closes the connection without answering
//   /exit           the process exits with status 3
//   /_/health       200 "OK" (for running without a watchdog)
//   /boot-id        a random token chosen when this process started (tells restarts apart)
//   anything else   200 "path=<path> query=<query>"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "common/asio.h"
#include "common/log.h"
#include "common/strings.h"
#include "http/server.h"

namespace {

using namespace funcd;
using namespace std::chrono_literals;

class Fixture final : public http::Handler {
 public:
  asio::awaitable<void> Serve(http::ServerExchange& ex) override {
    auto target = http::SplitTarget(std::string_view(ex.head().target()));
    std::string path(target.path);
    std::string query(target.query);
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    if (path == "/echo") {
      ex.response().set("X-Fixture-Method", std::string_view(ex.head().method_string()));
      ex.response().set("X-Fixture-Target", std::string_view(ex.head().target()));
      ex.response().set("X-Fixture-Host", http::FieldValue(ex.head(), "Host"));
      ex.response().set(http::Field::content_type, "application/octet-stream");
      if (!co_await ex.StartStream(ex.reader().content_length())) {
        co_return;
      }
      for (;;) {
        auto pieces = co_await ex.ReadBody();
        if (!pieces || pieces->empty()) {
          break;
        }
        if (!co_await ex.WriteStream(*pieces)) {
          co_return;
        }
      }
      co_await ex.FinishStream();
    } else if (path == "/boot-id") {
      static const std::string boot_id = std::to_string(std::random_device()());
      co_await ex.Respond(200, boot_id);
    } else if (path == "/headers") {
      std::string out;
      for (const auto& f : ex.head()) {
        StrAppend(out, std::string_view(f.name_string()), ": ", std::string_view(f.value()), "\n");
      }
      co_await ex.Respond(200, out);
    } else if (path.starts_with("/status/")) {
      co_await ex.Respond(static_cast<unsigned>(std::atoi(path.c_str() + 8)), "status\n");
    } else if (path == "/redirect") {
      ex.response().set(http::Field::location, "http://example.com/");
      co_await ex.Respond(302, "");
    } else if (path == "/slow") {
      int ms = query.starts_with("ms=") ? std::atoi(query.c_str() + 3) : 1000;
      timer.expires_after(std::chrono::milliseconds(ms));
      co_await timer.async_wait(kUseAwaitableNoThrow);
      co_await ex.Respond(200, "slow\n");
    } else if (path == "/sse") {
      ex.response().set(http::Field::content_type, "text/event-stream");
      std::string first = "data: 1\n\n";
      asio::const_buffer a(first.data(), first.size());
      if (!co_await ex.StartStream(std::nullopt, std::span(&a, 1))) {
        co_return;
      }
      timer.expires_after(500ms);
      co_await timer.async_wait(kUseAwaitableNoThrow);
      std::string second = "data: 2\n\n";
      asio::const_buffer b(second.data(), second.size());
      co_await ex.WriteStream(std::span(&b, 1), true);
    } else if (path == "/big") {
      int mb = query.starts_with("mb=") ? std::atoi(query.c_str() + 3) : 1;
      std::string chunk(1 << 20, 'x');
      asio::const_buffer piece(chunk.data(), chunk.size());
      if (!co_await ex.StartStream(std::nullopt)) {
        co_return;
      }
      for (int i = 0; i < mb; ++i) {
        if (!co_await ex.WriteStream(std::span(&piece, 1))) {
          co_return;
        }
      }
      co_await ex.FinishStream();
    } else if (path == "/ws") {
      ex.response().result(101);
      ex.response().set(http::Field::upgrade, "websocket");
      ex.response().set(http::Field::connection, "Upgrade");
      co_await ex.StartStream(std::nullopt, {}, true);
      ex.MarkUpgraded();
      http::Connection& c = ex.connection();
      for (;;) {
        if (c.buffer().size() > 0) {
          if (!co_await c.Write(c.buffer().data())) {
            co_return;
          }
          c.buffer().consume(c.buffer().size());
        }
        c.ExpireAfter(60s);
        auto n = co_await c.ReadSome();
        if (!n || *n == 0) {
          co_return;
        }
      }
    } else if (path == "/reset") {
      ex.MarkUpgraded();  // the server must not answer; closing is the point
      ex.connection().Close();
    } else if (path == "/_/health") {
      co_await ex.Respond(200, "OK");
    } else if (path == "/exit") {
      Logf("fixture exiting on request");
      std::_Exit(3);
    } else {
      co_await ex.Respond(200, StrCat("path=", path, " query=", query));
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  // --port N, else $http_port (what funcd gives each replica), else any free port.
  int port = 0;
  if (const char* env_port = std::getenv("http_port")) {
    port = std::atoi(env_port);
  }
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) == "--port") {
      port = std::atoi(argv[i + 1]);
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  asio::io_context context;
  Fixture fixture;
  http::Server server({&context}, fixture);
  auto bound = server.Listen("127.0.0.1", static_cast<std::uint16_t>(port));
  if (!bound) {
    std::fprintf(stderr, "fixture: %s\n", bound.error().message.c_str());
    return 1;
  }
  server.Start();
  asio::signal_set signals(context, SIGTERM);
  signals.async_wait([&](const error_code&, int) {
    Logf("fixture got SIGTERM");
    std::_Exit(0);
  });
  Logf("fixture listening on %d", *bound);
  context.run();
  return 0;
}
