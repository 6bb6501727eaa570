#pragma once

// The asynchronous invocation routes (contracts §4.1, §4.5) and their management API:
//
//   POST   /async-function/NAME[.NS][/path][?q]  store the request durably, 202 + X-Call-Id
//   DELETE /async-function/CALL_ID               cancel a queued, retrying or running call
//   GET    /system/async/calls/CALL_ID           call status (JSON)
//   GET    /system/async/dead[?function=&limit=] dead letters (JSON array)
//   DELETE /system/async/dead[?function=]        purge dead letters
//   POST   /system/async/dead/redrive[?function=]  queue dead letters again
//   GET    /system/async/dead/CALL_ID            one dead letter with its request
//   DELETE /system/async/dead/CALL_ID            purge one
//   POST   /system/async/dead/CALL_ID/redrive    queue one again
//
// The workers that run the calls are in src/worker/. Thread-safe: handlers run on every I/O
// thread.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/prometheus.h"
#include "gateway/function_table.h"
#include "gateway/router.h"
#include "http/server.h"
#include "queue/queue.h"

namespace funcd::gateway {

// Prometheus series of the async path, registered on the gateway's registry.
struct AsyncMetrics {
  explicit AsyncMetrics(prometheus::Registry& registry);

  // The series of one function, looked up once and kept (label lookups lock and allocate).
  struct Series {
    prometheus::Value* enqueued;
    prometheus::Value* started;
    prometheus::Value* succeeded;
    prometheus::Value* failed;
    prometheus::Value* retried;
    prometheus::Value* dead;
    prometheus::Value* cancelled;
    prometheus::Value* callbacks_ok;
    prometheus::Value* callbacks_failed;
    prometheus::HistogramSeries* seconds;
  };
  // Thread-safe; the pointers stay valid.
  const Series& For(const std::string& function);

  prometheus::Family& depth;
  prometheus::Family& running;
  prometheus::Family& enqueued;
  prometheus::Family& started;
  prometheus::Family& succeeded;
  prometheus::Family& failed;
  prometheus::Family& retried;
  prometheus::Family& dead;
  prometheus::Family& cancelled;
  prometheus::Family& callbacks;
  prometheus::Family& seconds;

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Series>> series_;
};

struct AsyncApiOptions {
  std::string default_namespace = std::string(kDefaultNamespace);
  // Larger request bodies get 413.
  std::uint64_t max_body = 10 << 20;
};

class AsyncApi {
 public:
  // REQUIRES: the arguments outlive the API.
  AsyncApi(queue::Queue& queue, const FunctionTable& functions, AsyncMetrics& metrics,
           AsyncApiOptions options);

  // POST (enqueue) and DELETE (cancel) on /async-function/...
  asio::awaitable<void> ServeInvoke(http::ServerExchange& ex, const RouteMatch& match);
  // /system/async/... (the caller has checked the credentials). match.name is the path after
  // /system/async/.
  asio::awaitable<void> ServeSystem(http::ServerExchange& ex, const RouteMatch& match);

  queue::Queue& queue() { return queue_; }

 private:
  asio::awaitable<void> Enqueue(http::ServerExchange& ex, const RouteMatch& match);
  asio::awaitable<void> Cancel(http::ServerExchange& ex, std::string call_id);
  asio::awaitable<void> CallStatus(http::ServerExchange& ex, std::string call_id);
  asio::awaitable<void> DeadLetters(http::ServerExchange& ex, const RouteMatch& match,
                                    std::string call_id, bool redrive);
  asio::awaitable<void> RespondError(http::ServerExchange& ex, const Error& error);
  // "name" -> "name.<default namespace>".
  std::string KeyOf(std::string_view function) const;

  queue::Queue& queue_;
  const FunctionTable& functions_;
  AsyncMetrics& metrics_;
  const AsyncApiOptions options_;
};

// JSON forms of the management API (exposed for tests).
std::string SerializeCallStatus(const queue::CallStatus& status);
std::string SerializeDeadLetter(const queue::DeadLetter& dead, bool with_request);

}  // namespace funcd::gateway
