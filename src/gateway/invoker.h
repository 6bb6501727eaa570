#pragma once

// Synchronous invocation: /function/NAME[.NS][/path][?query] -> the least busy ready replica
// of the function, streamed both ways. Holds the request (bounded by its deadline) while the
// function has no replica with room, asking the runtime to start one when it has none.
//
// Thread-safe; keeps one keep-alive connection pool per replica per I/O thread.

#include <chrono>
#include <functional>
#include <string>

#include "gateway/function_table.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "http/server.h"
#include "provider/provider.h"

namespace funcd::gateway {

struct InvokerOptions {
  std::string default_namespace = std::string(kDefaultNamespace);
  // The longest a call may take, whatever the function's own timeout.
  std::chrono::nanoseconds upstream_timeout = std::chrono::seconds(60);
  // Grace added to a function's own timeout so that its watchdog answers first.
  std::chrono::nanoseconds timeout_grace = std::chrono::seconds(1);
};

class Invoker {
 public:
  // `scale_from_zero` is called (on the calling thread) when a call finds a function at zero
  // desired replicas. REQUIRES: the arguments outlive the invoker.
  Invoker(FunctionTable& functions, GatewayMetrics& metrics, InvokerOptions options,
          std::function<void(const FunctionEntry&)> scale_from_zero);

  asio::awaitable<void> Invoke(http::ServerExchange& exchange, const RouteMatch& match);

 private:
  FunctionTable& functions_;
  GatewayMetrics& metrics_;
  const InvokerOptions options_;
  std::function<void(const FunctionEntry&)> scale_from_zero_;
};

}  // namespace funcd::gateway
