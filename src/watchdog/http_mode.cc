// mode=http: the function is a long-running HTTP server started once; every request is
// proxied to it (upstream_url + the original URI) over keep-alive connections.

#include <signal.h>

#include <atomic>

#include "common/log.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "common/wakeup.h"
#include "http/client.h"
#include "http/proxy.h"
#include "watchdog/function_log.h"
#include "watchdog/mode.h"

namespace funcd::watchdog {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class HttpHandler final : public ModeHandler {
 public:
  explicit HttpHandler(const Config& config) : config_(config) {}

  Result<void> Start(const std::vector<asio::io_context*>& contexts,
                     std::function<void(int)> on_exit) override {
    FUNCD_ASSIGN_OR_RETURN(url_, http::ParseUrl(config_.upstream_url));
    FUNCD_ASSIGN_OR_RETURN(http::Endpoint endpoint, http::ResolveBlocking(url_));
    // upstream_url may carry a base path; the request URI is appended to it.
    target_prefix_ = url_.target == "/" ? "" : url_.target;
    while (!target_prefix_.empty() && target_prefix_.back() == '/') {
      target_prefix_.pop_back();
    }
    for (asio::io_context* context : contexts) {
      http::PoolOptions options;
      options.idle_timeout = 90s;
      pools_.emplace_back(context, std::make_unique<http::ConnectionPool>(context->get_executor(),
                                                                          endpoint, options));
    }
    main_ = contexts.front();
    on_exit_ = std::move(on_exit);
    ready_changed_ = Wakeup::Create(main_->get_executor());

    SpawnOptions spawn;
    spawn.argv = config_.argv;  // the function inherits the watchdog's environment
    // The function does not outlive its watchdog, even when the watchdog is killed outright.
    spawn.die_with_parent = true;
    FUNCD_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(main_->get_executor(), spawn));
    child_.emplace(std::move(child));
    Logf("Forked %s (pid %d), upstream %s", config_.fprocess.c_str(), child_->pid(),
         config_.upstream_url.c_str());
    LogPipeOptions stdout_log{"stdout", config_.prefix_logs, config_.log_buffer_size};
    LogPipeOptions stderr_log{"stderr", config_.prefix_logs, config_.log_buffer_size};
    asio::co_spawn(*main_, LogPipe(child_->stdout_pipe(), stdout_log), LogExceptions{"stdout"});
    asio::co_spawn(*main_, LogPipe(child_->stderr_pipe(), stderr_log), LogExceptions{"stderr"});
    asio::co_spawn(*main_, Supervise(), LogExceptions{"supervise"});
    asio::co_spawn(*main_, ProbeUpstream(), LogExceptions{"probe"});
    return Ok();
  }

  bool Ready() const override { return ready_.load(std::memory_order_acquire); }

  // REQUIRES: runs on the first I/O context (where ProbeUpstream and Supervise run).
  asio::awaitable<void> WaitReady() override {
    while (!Ready() && !exited_.load()) {
      co_await ready_changed_->Wait(Clock::time_point::max());
    }
  }

  asio::awaitable<void> Serve(http::ServerExchange& exchange) override {
    const Clock::time_point start = Clock::now();
    http::SteadyTime deadline = http::SteadyTime::max();
    Duration timeout = config_.exec_timeout;
    if (auto header = http::FieldValue(exchange.head(), "X-Timeout"); !header.empty()) {
      // A caller may shorten the exec timeout, never extend it.
      if (auto requested = ParseGoDuration(TrimSpace(header));
          requested && *requested > Duration::zero() &&
          (timeout <= Duration::zero() || *requested < timeout)) {
        timeout = *requested;
      }
    }
    if (timeout > Duration::zero()) {
      deadline = start + timeout;
    }
    if (!Ready()) {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (!Ready() && !exited_.load() && Clock::now() < deadline) {
        timer.expires_after(2ms);
        co_await timer.async_wait(kUseAwaitableNoThrow);
      }
      if (!Ready()) {
        exchange.response().set(kInternalHeader, "of-watchdog");
        co_await exchange.Respond(503, "function is not ready\n");
        co_return;
      }
    }
    std::string original_target;  // kept only for the access log
    if (config_.log_requests) {
      original_target = std::string(exchange.head().target());
    }
    if (!target_prefix_.empty()) {
      exchange.head().target(StrCat(target_prefix_, std::string_view(exchange.head().target())));
    }
    http::ProxyOptions options;
    options.deadline = deadline;
    options.buffer_request_body = config_.buffer_http;
    options.on_response_head = [start](http::ResponseHead& head) {
      head.set("X-Duration-Seconds",
               FormatFixed6(std::chrono::duration<double>(Clock::now() - start).count()));
    };
    http::ProxyResult result = co_await http::Proxy(
        exchange, PoolFor(exchange.connection().executor()), std::move(options));
    if (!result.outcome) {
      const Error& error = result.outcome.error();
      if (result.response_started || error.code == ErrorCode::kCancelled) {
        exchange.CloseAfterResponse();
      } else if (error.code == ErrorCode::kDeadlineExceeded) {
        Logf("Upstream HTTP killed due to exec_timeout: %s", FormatGoDuration(timeout).c_str());
        exchange.response().set(kInternalHeader, "of-watchdog");
        exchange.response().set(
            "X-Duration-Seconds",
            FormatFixed6(std::chrono::duration<double>(Clock::now() - start).count()));
        co_await exchange.Respond(
            504, StrCat("Function timed out after ", FormatGoDuration(timeout), "\n"));
      } else {
        Logf("Upstream HTTP request error: %s", error.message.c_str());
        exchange.response().set(kInternalHeader, "of-watchdog");
        co_await exchange.Respond(500, StrCat("Can't reach the function: ", error.message, "\n"));
      }
    }
    if (config_.log_requests) {
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      std::string call_id;
      if (config_.log_callid) {
        std::string_view id = http::FieldValue(exchange.head(), "X-Call-Id");
        call_id = StrCat(" [", id.empty() ? std::string_view("none") : id, "]");
      }
      Logf("%s %s - %u - ContentLength: %llu (%.4fs)%s",
           std::string(exchange.head().method_string()).c_str(), original_target.c_str(),
           exchange.response_status(),
           static_cast<unsigned long long>(exchange.response_body_bytes()), seconds,
           call_id.c_str());
    }
  }

  asio::awaitable<void> Stop() override {
    stopping_ = true;
    if (!child_ || child_->reaped() || exited_.load()) {
      co_return;
    }
    ::kill(-child_->pid(), SIGTERM);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < 500 && !exited_.load(); ++i) {  // up to 5 s of grace
      timer.expires_after(10ms);
      co_await timer.async_wait(kUseAwaitableNoThrow);
    }
    if (!exited_.load()) {
      child_->KillTree(SIGKILL);
    }
  }

 private:
  http::ConnectionPool& PoolFor(const asio::any_io_executor& executor) {
    auto& context = asio::query(executor, asio::execution::context);
    for (auto& [owner, pool] : pools_) {
      if (static_cast<asio::execution_context*>(owner) == &context) {
        return *pool;
      }
    }
    return *pools_.front().second;
  }

  asio::awaitable<void> Supervise() {
    ExitStatus status = co_await child_->Wait();
    exited_ = true;
    ready_changed_->Notify();
    if (stopping_) {
      co_return;
    }
    Logf("Forked function has terminated: %s", status.ToString().c_str());
    on_exit_(1);
  }

  // Connects to the upstream until it accepts: that is when the function is ready.
  asio::awaitable<void> ProbeUpstream() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto delay = 1ms;
    const Clock::time_point start = Clock::now();
    while (!stopping_ && !exited_.load()) {
      auto connection = co_await pools_.front().second->Connect(Clock::now() + 1s);
      if (connection) {
        pools_.front().second->Release(std::move(*connection));
        ready_.store(true, std::memory_order_release);
        ready_changed_->Notify();
        Logf("Upstream ready after %.3fs",
             std::chrono::duration<double>(Clock::now() - start).count());
        co_return;
      }
      timer.expires_after(delay);
      co_await timer.async_wait(kUseAwaitableNoThrow);
      // Every millisecond at first (a refused connect costs microseconds, and a cold start
      // waits for this), then backing off for servers that take long to start.
      if (Clock::now() - start > 250ms) {
        delay = std::min<std::chrono::milliseconds>(delay * 2, 50ms);
      }
    }
  }

  const Config config_;
  http::Url url_;
  std::string target_prefix_;
  std::vector<std::pair<asio::io_context*, std::unique_ptr<http::ConnectionPool>>> pools_;
  asio::io_context* main_ = nullptr;
  std::optional<ChildProcess> child_;
  std::function<void(int)> on_exit_;
  std::atomic<bool> ready_{false};
  std::shared_ptr<Wakeup> ready_changed_;  // notified when ready_ or exited_ is set
  std::atomic<bool> exited_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace

std::unique_ptr<ModeHandler> MakeHttpHandler(const Config& config) {
  return std::make_unique<HttpHandler>(config);
}

}  // namespace funcd::watchdog
