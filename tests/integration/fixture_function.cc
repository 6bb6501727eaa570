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
//   /unlisten       answers its /boot-id, then stops accepting connections (the process
//                   stays up)
//   /_/health       200 "OK" (for running without a watchdog)
//   /boot-id        a random token chosen when this process started (tells restarts apart)
//   /records        requests recorded so far, one JSON object a line (method, X-Topic,
//                   X-Connector, X-Call-Id, Content-Type, body, at_ms, inflight)
//   /               with env fixture_record=1: recorded, then answered "reply:<body>" after
//                   fixture_record_delay_ms (as trigger calls arrive)
//   /attempt?fail=N&code=C&retry_after=S&hold=MS&report=PORT
//                   async retries: the first N calls with one X-Call-Id answer C, then 200;
//                   each call is reported to 127.0.0.1:PORT (see Attempt below)
//   anything else   200 "path=<path> query=<query>"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "common/asio.h"
#include "common/log.h"
#include "common/strings.h"
#include "http/client.h"
#include "http/server.h"

namespace {

using namespace funcd;
using namespace std::chrono_literals;

class Fixture final : public http::Handler {
 public:
  void set_server(http::Server* server) { server_ = server; }

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
      if (query.starts_with("ms=")) {
        timer.expires_after(std::chrono::milliseconds(std::atoi(query.c_str() + 3)));
        co_await timer.async_wait(kUseAwaitableNoThrow);
      }
      co_await ex.Respond(200, BootId());
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
    } else if (path == "/unlisten") {
      // Alive, but refusing connections from now on: a replica the gateway must pass over.
      // The acceptor closes before the answer leaves: a connection the caller opens after
      // the answer must be refused, not accepted by a listener that has not closed yet.
      Logf("fixture stops listening on request");
      asio::co_spawn(executor, server_->Shutdown(std::chrono::seconds(1)), asio::detached);
      timer.expires_after(100ms);
      co_await timer.async_wait(kUseAwaitableNoThrow);
      ex.CloseAfterResponse();
      co_await ex.Respond(200, BootId());
    } else if (path == "/attempt") {
      co_await Attempt(ex, query, timer);
    } else if (path == "/records") {
      co_await ex.Respond(200, records_, "application/x-ndjson");
    } else if (path == "/" && recording_) {
      co_await Record(ex, timer);
    } else {
      co_await ex.Respond(200, StrCat("path=", path, " query=", query));
    }
  }

 private:
  // Tells the replicas of a function apart.
  static const std::string& BootId() {
    static const std::string boot_id = std::to_string(std::random_device()());
    return boot_id;
  }

  // With fixture_record=1: notes a request to / (as triggers make them) for /records, waits
  // fixture_record_delay_ms, answers "reply:<body>". One I/O thread: no locks.
  asio::awaitable<void> Record(http::ServerExchange& ex, asio::steady_timer& timer) {
    auto body = co_await ex.ReadAll(1 << 20);
    const std::string text = body ? *body : std::string();
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::string line = "{\"method\":\"";
    AppendJsonEscaped(line, std::string_view(ex.head().method_string()));
    for (std::string_view name : {"X-Topic", "X-Connector", "X-Call-Id", "Content-Type"}) {
      StrAppend(line, "\",\"", name, "\":\"");
      AppendJsonEscaped(line, http::FieldValue(ex.head(), name));
    }
    StrAppend(line, "\",\"body\":\"");
    AppendJsonEscaped(line, text);
    StrAppend(line,
              "\",\"at_ms\":", std::chrono::duration_cast<std::chrono::milliseconds>(now).count(),
              ",\"inflight\":", ++inflight_, "}\n");
    records_ += line;
    if (delay_ms_ > 0) {
      timer.expires_after(std::chrono::milliseconds(delay_ms_));
      co_await timer.async_wait(kUseAwaitableNoThrow);
    }
    --inflight_;
    co_await ex.Respond(200, StrCat("reply:", text));
  }

  static int EnvInt(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::atoi(value) : 0;
  }

  const bool recording_ = EnvInt("fixture_record") == 1;
  const int delay_ms_ = EnvInt("fixture_record_delay_ms");
  std::string records_;
  int inflight_ = 0;

  // /attempt (async retry tests): counts calls per X-Call-Id; reports each one to
  // http://127.0.0.1:<report>/attempt (headers X-Call-Id, X-Attempt, X-Phase: start|end);
  // holds `hold` ms; the first `fail` attempts answer `code` (Retry-After: `retry_after`
  // when given), later ones 200 "ok after N".
  asio::awaitable<void> Attempt(http::ServerExchange& ex, std::string query,
                                asio::steady_timer& timer) {
    auto param = [&](std::string_view key) {
      for (std::string_view pair : Split(query, '&')) {
        if (pair.starts_with(key) && pair.size() > key.size() && pair[key.size()] == '=') {
          return std::atoi(std::string(pair.substr(key.size() + 1)).c_str());
        }
      }
      return 0;
    };
    const std::string call_id(http::FieldValue(ex.head(), "X-Call-Id"));
    const int attempt = ++attempts_[call_id];
    const int report = param("report");
    if (report > 0) {
      std::string phase = "start";
      co_await Report(report, call_id, attempt, std::move(phase));
    }
    if (const int hold = param("hold"); hold > 0) {
      timer.expires_after(std::chrono::milliseconds(hold));
      co_await timer.async_wait(kUseAwaitableNoThrow);
    }
    if (report > 0) {
      std::string phase = "end";
      co_await Report(report, call_id, attempt, std::move(phase));
    }
    ex.response().set("X-Attempt", std::to_string(attempt));
    if (attempt <= param("fail")) {
      if (const int retry_after = param("retry_after"); retry_after > 0) {
        ex.response().set(http::Field::retry_after, std::to_string(retry_after));
      }
      const int code = param("code");
      const unsigned status = code > 0 ? static_cast<unsigned>(code) : 500;
      co_await ex.Respond(status, StrCat("failing attempt ", attempt, "\n"));
    } else {
      co_await ex.Respond(200, StrCat("ok after ", attempt, "\n"));
    }
  }

  static asio::awaitable<void> Report(int port, std::string call_id, int attempt,
                                      std::string phase) {
    http::Fields fields;
    fields.set("X-Call-Id", call_id);
    fields.set("X-Attempt", std::to_string(attempt));
    fields.set("X-Phase", phase);
    std::string url = StrCat("http://127.0.0.1:", port, "/attempt");
    auto sent = co_await http::FetchUrl("POST", std::move(url), std::move(fields), "", 5s);
    if (!sent) {
      Logf("fixture: cannot report an attempt: %s", sent.error().message.c_str());
    }
  }

  std::map<std::string, int> attempts_;
  http::Server* server_ = nullptr;
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
  fixture.set_server(&server);
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
