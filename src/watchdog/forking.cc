// The forking modes: a process per request. Classic (the original OpenFaaS watchdog:
// buffered output, 500 on a non-zero exit, 408 on exec_timeout), streaming (stdout streamed
// as the response) and serializing (of-watchdog's buffered variant).

#include <signal.h>

#include <chrono>
#include <cstdio>

#include "common/log.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "watchdog/cgi.h"
#include "watchdog/function_log.h"
#include "watchdog/mode.h"

namespace funcd::watchdog {

namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Feeds the request body (or `prepared`, when set) to the process's stdin, then closes it.
// A process that exits without reading makes the writes fail; the rest is then dropped.
asio::awaitable<void> FeedStdin(http::ServerExchange* exchange, ChildProcess* child,
                                const std::string* prepared) {
  auto& pipe = child->stdin_pipe();
  bool writable = true;
  if (prepared != nullptr) {
    if (!prepared->empty()) {
      co_await asio::async_write(pipe, asio::buffer(*prepared), kUseAwaitableNoThrow);
    }
  } else {
    for (;;) {
      auto pieces = co_await exchange->ReadBody();
      if (!pieces || pieces->empty()) {
        break;
      }
      if (writable) {
        auto [ec, n] = co_await asio::async_write(pipe, *pieces, kUseAwaitableNoThrow);
        writable = !ec;
      }
    }
  }
  child->CloseStdin();
}

asio::awaitable<void> ReadPipe(asio::posix::stream_descriptor* pipe, std::string* out) {
  char buf[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await pipe->async_read_some(asio::buffer(buf), kUseAwaitableNoThrow);
    if (ec || n == 0) {
      co_return;
    }
    out->append(buf, n);
  }
}

// Waits for the process, and kills its whole tree if it outlives the exec timeout.
struct Supervision {
  ExitStatus status;
  bool killed = false;
};

asio::awaitable<void> WaitForExit(ChildProcess* child, asio::steady_timer* timer,
                                  Supervision* supervision) {
  supervision->status = co_await child->Wait();
  timer->cancel();
}

asio::awaitable<void> KillOnTimeout(ChildProcess* child, asio::steady_timer* timer,
                                    Duration timeout, Supervision* supervision,
                                    const std::string* fprocess) {
  // WaitForExit runs first and may have reaped the child without suspending (it had exited
  // already): its timer->cancel() then came before this wait and would not end it.
  if (timeout <= Duration::zero() || child->reaped()) {
    co_return;
  }
  timer->expires_after(timeout);
  auto [ec] = co_await timer->async_wait(kUseAwaitableNoThrow);
  if (ec || child->reaped()) {
    co_return;
  }
  Logf("Killing process: %s", fprocess->c_str());
  supervision->killed = true;
  child->KillTree(SIGKILL);
}

std::int64_t RequestContentLength(http::ServerExchange& exchange) {
  if (auto length = exchange.reader().content_length()) {
    return static_cast<std::int64_t>(*length);
  }
  return exchange.reader().chunked() ? -1 : 0;
}

void DebugHeaders(const http::Fields& fields, std::string_view direction) {
  std::string out;
  for (const auto& field : fields) {
    StrAppend(out, "[", direction, "] ", CanonicalHeaderKey(std::string_view(field.name_string())),
              "=[", std::string_view(field.value()), "]\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

class ForkingHandler : public ModeHandler {
 public:
  ForkingHandler(const Config& config, std::vector<std::string> base_env)
      : config_(config), base_env_(std::move(base_env)) {}

 protected:
  Result<ChildProcess> Spawn(http::ServerExchange& exchange, CgiFlavor flavor, Stdio stderr_mode) {
    SpawnOptions options;
    options.argv = config_.argv;
    if (config_.cgi_headers) {
      options.env =
          BuildCgiEnvironment(base_env_, exchange.head(), RequestContentLength(exchange), flavor);
    } else {
      options.env = base_env_;
    }
    options.stderr_mode = stderr_mode;
    auto executor = exchange.connection().executor();
    return ChildProcess::Spawn(executor, options);
  }

  const Config config_;
  const std::vector<std::string> base_env_;
};

// ---------------------------------------------------------------------------------------

class ClassicHandler final : public ForkingHandler {
 public:
  using ForkingHandler::ForkingHandler;

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override {
    switch (exchange.head().method()) {
      case http::Verb::get:
      case http::Verb::post:
      case http::Verb::put:
      case http::Verb::patch:
      case http::Verb::delete_:
        break;
      default:
        co_await exchange.Respond(405, "", "");
        co_return;
    }
    const Clock::time_point start = Clock::now();
    if (config_.debug_headers) {
      DebugHeaders(exchange.head(), "in");
    }
    Logf("Forking fprocess.");
    std::string marshalled;
    const bool marshal = config_.marshal_request;
    if (marshal) {
      auto body = co_await exchange.ReadAll(std::uint64_t{1} << 31);
      if (!body) {
        co_await exchange.Respond(400, body.error().message + "\n");
        co_return;
      }
      marshalled = MarshalRequest(exchange.head(), *body);
    }
    auto child = Spawn(exchange, CgiFlavor::kClassic,
                       config_.combine_output ? Stdio::kStdout : Stdio::kPipe);
    if (!child) {
      co_await exchange.Respond(500, child.error().message + "\n", "");
      co_return;
    }
    std::string out;
    std::string err;
    Supervision supervision;
    asio::steady_timer timer(exchange.connection().executor());
    auto* process = &*child;
    if (config_.combine_output) {
      co_await (
          FeedStdin(&exchange, process, marshal ? &marshalled : nullptr) &&
          ReadPipe(&process->stdout_pipe(), &out) && WaitForExit(process, &timer, &supervision) &&
          KillOnTimeout(process, &timer, config_.exec_timeout, &supervision, &config_.fprocess));
    } else {
      co_await (
          FeedStdin(&exchange, process, marshal ? &marshalled : nullptr) &&
          ReadPipe(&process->stdout_pipe(), &out) && ReadPipe(&process->stderr_pipe(), &err) &&
          WaitForExit(process, &timer, &supervision) &&
          KillOnTimeout(process, &timer, config_.exec_timeout, &supervision, &config_.fprocess));
      if (!err.empty()) {
        Logf("stderr: %s", err.c_str());
      }
    }
    if (supervision.killed) {
      co_await exchange.Respond(408, "Killed process.\n", "");
      co_return;
    }
    if (!supervision.status.ok()) {
      if (config_.write_debug) {
        Logf("Success=false, Error=%s", supervision.status.ToString().c_str());
        Logf("Out=%s", out.c_str());
      }
      std::string body = StrCat(supervision.status.ToString(), "\n", out);
      co_await exchange.Respond(500, body, "");
      co_return;
    }
    if (config_.write_debug) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    }
    if (!config_.content_type.empty()) {
      exchange.response().set(http::Field::content_type, config_.content_type);
    } else if (auto type = http::FieldValue(exchange.head(), "Content-Type"); !type.empty()) {
      exchange.response().set(http::Field::content_type, type);
    }
    const double duration = SecondsSince(start);
    exchange.response().set("X-Duration-Seconds", FormatFixed6(duration));
    exchange.response().result(200);
    co_await exchange.Send(out);
    if (config_.debug_headers) {
      DebugHeaders(exchange.response(), "out");
    }
    if (config_.write_debug) {
      Logf("Duration: %fs", duration);
    } else {
      Logf("Wrote %zu Bytes - Duration: %fs", out.size(), duration);
    }
  }
};

// ---------------------------------------------------------------------------------------

asio::awaitable<Result<void>> WriteTimeoutResponse(http::ServerExchange& exchange,
                                                   Duration timeout) {
  exchange.response().set(kInternalHeader, "of-watchdog");
  co_return co_await exchange.Respond(
      504, StrCat("Function timed out after ", FormatGoDuration(timeout), "\n"));
}

// Streams stdout as the response; the head goes out with the first output (or at exit).
asio::awaitable<void> StreamStdout(http::ServerExchange* exchange, ChildProcess* child,
                                   bool* client_gone) {
  char buf[32 * 1024];
  auto& pipe = child->stdout_pipe();
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), kUseAwaitableNoThrow);
    if (ec || n == 0) {
      co_return;
    }
    asio::const_buffer piece(buf, n);
    Result<void> wrote;
    if (*client_gone) {
      continue;  // keep draining so the process is not blocked on a full pipe
    }
    if (!exchange->response_started()) {
      exchange->response().result(200);
      wrote = co_await exchange->StartStream(std::nullopt, std::span(&piece, 1));
    } else {
      wrote = co_await exchange->WriteStream(std::span(&piece, 1));
    }
    if (!wrote) {
      *client_gone = true;
      child->KillTree(SIGKILL);
    }
  }
}

class StreamingHandler final : public ForkingHandler {
 public:
  using ForkingHandler::ForkingHandler;

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override {
    const Clock::time_point start = Clock::now();
    auto child = Spawn(exchange, CgiFlavor::kOfWatchdog, Stdio::kPipe);
    if (!child) {
      co_await exchange.Respond(500, child.error().message + "\n");
      co_return;
    }
    exchange.response().set(http::Field::content_type, config_.content_type);
    Supervision supervision;
    bool client_gone = false;
    asio::steady_timer timer(exchange.connection().executor());
    auto* process = &*child;
    // Named, not a temporary: g++ 12 mishandles non-trivial temporaries in co_await
    // expressions.
    LogPipeOptions stderr_log{"stderr", config_.prefix_logs, config_.log_buffer_size};
    co_await (
        FeedStdin(&exchange, process, nullptr) && StreamStdout(&exchange, process, &client_gone) &&
        LogPipe(process->stderr_pipe(), stderr_log) && WaitForExit(process, &timer, &supervision) &&
        KillOnTimeout(process, &timer, config_.exec_timeout, &supervision, &config_.fprocess));
    Logf("Took %f secs", SecondsSince(start));
    if (client_gone) {
      exchange.CloseAfterResponse();
      co_return;
    }
    if (!exchange.response_started()) {
      if (supervision.killed) {
        co_await WriteTimeoutResponse(exchange, config_.exec_timeout);
      } else if (!supervision.status.ok()) {
        exchange.response().set(kInternalHeader, "of-watchdog");
        co_await exchange.Respond(500, supervision.status.ToString() + "\n");
      } else {
        exchange.response().result(200);
        co_await exchange.StartStream(std::nullopt, {}, true);
      }
      co_return;
    }
    if (supervision.killed || !supervision.status.ok()) {
      // The head is out: the only way to say the output is incomplete is to cut the stream.
      Logf("Function %s after streaming %llu bytes; closing the response unfinished",
           supervision.killed ? "was killed by exec_timeout" : "failed",
           static_cast<unsigned long long>(exchange.response_body_bytes()));
      exchange.CloseAfterResponse();
      co_return;
    }
    co_await exchange.FinishStream();
  }
};

// ---------------------------------------------------------------------------------------

class SerializingHandler final : public ForkingHandler {
 public:
  using ForkingHandler::ForkingHandler;

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override {
    const Clock::time_point start = Clock::now();
    auto child = Spawn(exchange, CgiFlavor::kOfWatchdog, Stdio::kPipe);
    if (!child) {
      exchange.response().set("X-Duration-Seconds", FormatFixed6(SecondsSince(start)));
      co_await exchange.Respond(500, child.error().message);
      co_return;
    }
    std::string out;
    Supervision supervision;
    asio::steady_timer timer(exchange.connection().executor());
    auto* process = &*child;
    LogPipeOptions stderr_log{"stderr", config_.prefix_logs, config_.log_buffer_size};
    co_await (
        FeedStdin(&exchange, process, nullptr) && ReadPipe(&process->stdout_pipe(), &out) &&
        LogPipe(process->stderr_pipe(), stderr_log) && WaitForExit(process, &timer, &supervision) &&
        KillOnTimeout(process, &timer, config_.exec_timeout, &supervision, &config_.fprocess));
    exchange.response().set("X-Duration-Seconds", FormatFixed6(SecondsSince(start)));
    if (supervision.killed) {
      co_await WriteTimeoutResponse(exchange, config_.exec_timeout);
      co_return;
    }
    if (!supervision.status.ok()) {
      co_await exchange.Respond(500, supervision.status.ToString());
      co_return;
    }
    Logf("Took %f secs", SecondsSince(start));
    exchange.response().set(http::Field::content_type, config_.content_type);
    exchange.response().result(200);
    co_await exchange.Send(out);
  }
};

}  // namespace

std::unique_ptr<ModeHandler> MakeClassicHandler(const Config& config,
                                                std::vector<std::string> base_env) {
  return std::make_unique<ClassicHandler>(config, std::move(base_env));
}

std::unique_ptr<ModeHandler> MakeStreamingHandler(const Config& config,
                                                  std::vector<std::string> base_env) {
  return std::make_unique<StreamingHandler>(config, std::move(base_env));
}

std::unique_ptr<ModeHandler> MakeSerializingHandler(const Config& config,
                                                    std::vector<std::string> base_env) {
  return std::make_unique<SerializingHandler>(config, std::move(base_env));
}

}  // namespace funcd::watchdog
