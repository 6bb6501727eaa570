#pragma once

// Synchronous invocation: /function/NAME[.NS][/path][?query] -> the least busy ready replica
// of the function, streamed both ways; and the same for calls made inside funcd (async
// workers, triggers), with the request and response in memory.
//
// Admission: a call takes a replica with room (max_inflight) or waits in the function's
// queue, bounded in length (then 429) and in time by the call's deadline. A call that finds
// the function at zero asks for a replica; a call that queues because every replica is full
// reports the backlog, so that the autoscaler adds replicas without waiting for its tick.
// The caller never sees a watchdog's 429 while another replica has room.
//
// Thread-safe; keeps one keep-alive connection pool per replica per I/O thread.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "gateway/function_table.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "http/message.h"
#include "http/server.h"
#include "provider/provider.h"

namespace funcd::gateway {

struct InvokerOptions {
  std::string default_namespace = std::string(kDefaultNamespace);
  // The longest a call may take, whatever the function's own timeout.
  std::chrono::nanoseconds upstream_timeout = std::chrono::seconds(60);
  // Grace added to a function's own timeout so that its watchdog answers first.
  std::chrono::nanoseconds timeout_grace = std::chrono::seconds(1);
  // Calls that may wait for a replica with room, per function; more get 429.
  std::size_t max_queue = 1024;
};

// What the invoker asks of the rest of the gateway. Called on the calling I/O thread.
struct InvokerHooks {
  // A call found the function at zero desired replicas.
  std::function<void(const FunctionEntry&)> scale_from_zero;
  // A call is waiting because every ready replica is at max_inflight: `demand` is the
  // replica count that would give every call in flight or waiting a slot.
  std::function<void(const FunctionEntry&, std::int64_t demand)> saturated;
};

// A call made inside funcd.
struct CallRequest {
  std::string function;  // "name" or "name.namespace"
  // Method, target (the path and query after /function/NAME, "/" at least) and fields.
  http::RequestHead head;
  std::string body;
  // Zero: the function's own timeout (plus grace), capped by upstream_timeout.
  std::chrono::nanoseconds timeout{0};
};

struct CallResult {
  // The function's status, or the gateway's: 404 (no such function), 429 (queue full),
  // 502 (replica unreachable), 503 (no replica started in time), 504 (deadline).
  unsigned status = 0;
  bool from_gateway = false;  // the status and body are the gateway's, not the function's
  http::Fields headers;
  std::string body;
  std::chrono::nanoseconds duration{0};
};

class Invoker {
 public:
  // REQUIRES: the arguments outlive the invoker.
  Invoker(FunctionTable& functions, GatewayMetrics& metrics, InvokerOptions options,
          InvokerHooks hooks);

  asio::awaitable<void> Invoke(http::ServerExchange& exchange, const RouteMatch& match);
  // Must run on an I/O thread's executor (an io_context).
  asio::awaitable<CallResult> Call(CallRequest request);

  const InvokerOptions& options() const { return options_; }

 private:
  struct Admission;
  struct Started;
  class Rerouter;
  // Looks the function up and counts the call as started; nullopt-like (no entry) when absent.
  Started Start(std::string_view name, std::chrono::nanoseconds timeout,
                std::string* key_buffer) const;
  void Finish(const Started& call, unsigned status) const;
  // After a call through `replica`: its first one records the replica's start-up phases.
  void Served(const FunctionEntry& entry, provider::Replica& replica) const;
  // A replica with room, waiting for one until the deadline.
  asio::awaitable<Admission> Admit(const FunctionEntry& entry,
                                   std::chrono::steady_clock::time_point deadline);

  FunctionTable& functions_;
  GatewayMetrics& metrics_;
  const InvokerOptions options_;
  const InvokerHooks hooks_;
};

}  // namespace funcd::gateway
