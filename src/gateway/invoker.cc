#include "gateway/invoker.h"

#include <charconv>
#include <unordered_map>

#include "common/config.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/uuid.h"
#include "http/proxy.h"
#include "provider/log_store.h"

namespace funcd::gateway {

namespace {

using Clock = std::chrono::steady_clock;

// Keep-alive pools of one io_context (one I/O thread), one per replica. An Asio service of
// that context, so that the pools and their sockets go away with it and not after it. A
// pool whose replica is gone is dropped the next time a pool is created.
class ReplicaPools final : public asio::execution_context::service {
 public:
  using key_type = ReplicaPools;
  static inline asio::execution_context::id id;
  explicit ReplicaPools(asio::execution_context& context)
      : asio::execution_context::service(context) {}

  http::ConnectionPool& For(const std::shared_ptr<provider::Replica>& replica,
                            const asio::any_io_executor& executor) {
    auto it = pools_.find(replica->id);
    if (it != pools_.end()) {
      return *it->second.pool;
    }
    std::erase_if(pools_, [](const auto& item) { return item.second.replica.expired(); });
    http::PoolOptions options;
    options.connect_timeout = std::chrono::seconds(2);
    Slot& slot = pools_[replica->id];
    slot.replica = replica;
    slot.pool = std::make_unique<http::ConnectionPool>(executor, replica->endpoint, options);
    return *slot.pool;
  }

  void shutdown() override { pools_.clear(); }

 private:
  struct Slot {
    std::weak_ptr<provider::Replica> replica;
    std::unique_ptr<http::ConnectionPool> pool;
  };
  std::unordered_map<std::uint64_t, Slot> pools_;
};

http::ConnectionPool& PoolFor(const std::shared_ptr<provider::Replica>& replica,
                              const asio::any_io_executor& executor) {
  return asio::use_service<ReplicaPools>(asio::query(executor, asio::execution::context))
      .For(replica, executor);
}

// Holds the call until a replica has room or the deadline passes.
asio::awaitable<std::shared_ptr<provider::Replica>> AwaitReplica(provider::ReplicaSet& set,
                                                                 Clock::time_point deadline) {
  auto waiter = Wakeup::Create(co_await asio::this_coro::executor);
  set.AddWaiter(waiter);
  std::shared_ptr<provider::Replica> replica;
  while (!(replica = set.Acquire()) && Clock::now() < deadline) {
    co_await waiter->Wait(deadline);
  }
  set.RemoveWaiter(waiter);
  co_return replica;
}

}  // namespace

Invoker::Invoker(FunctionTable& functions, GatewayMetrics& metrics, InvokerOptions options,
                 std::function<void(const FunctionEntry&)> scale_from_zero)
    : functions_(functions),
      metrics_(metrics),
      options_(std::move(options)),
      scale_from_zero_(std::move(scale_from_zero)) {}

asio::awaitable<void> Invoker::Invoke(http::ServerExchange& exchange, const RouteMatch& match) {
  const Clock::time_point start = Clock::now();
  const std::int64_t start_unix = provider::UnixNanos();
  // The table is keyed "name.namespace": a name that carries its namespace is the key.
  const size_t dot = match.name.rfind('.');
  std::string default_key;
  if (dot == std::string::npos) {
    default_key = StrCat(match.name, ".", options_.default_namespace);
  }
  const std::string& key = dot == std::string::npos ? default_key : match.name;
  std::shared_ptr<const FunctionEntry> entry = dot == 0 ? nullptr : functions_.Find(key);
  if (!entry) {
    co_await exchange.Respond(404, StrCat("error finding function ", key, ": not found\n"));
    co_return;
  }
  FunctionStats& stats = *entry->stats;
  stats.started.Increment();
  stats.started_total.fetch_add(1, std::memory_order_relaxed);
  stats.inflight_gauge.Increment();
  stats.inflight.fetch_add(1, std::memory_order_relaxed);
  stats.last_invoked.store(start_unix, std::memory_order_relaxed);

  // One deadline for the whole call: the function's own limit (plus grace for its watchdog
  // to answer first) or the gateway's, whichever comes first.
  const bool function_limit = entry->timeout > std::chrono::nanoseconds::zero() &&
                              entry->timeout + options_.timeout_grace < options_.upstream_timeout;
  const std::chrono::nanoseconds limit =
      function_limit ? entry->timeout + options_.timeout_grace : options_.upstream_timeout;
  const Clock::time_point deadline = start + limit;

  // What the response gets back: the call id when the gateway made it up, the start time.
  struct Echo {
    char call_id[36];
    bool generated_call_id = false;
    char start_time[24];
    size_t start_time_size = 0;
    std::string_view CallId() const { return std::string_view(call_id, sizeof(call_id)); }
    std::string_view StartTime() const { return std::string_view(start_time, start_time_size); }
  } echo;
  auto& head = exchange.head();
  if (head.find("X-Call-Id") == head.end()) {
    NewUuid(echo.call_id);
    echo.generated_call_id = true;
    head.set("X-Call-Id", echo.CallId());
  }
  echo.start_time_size = static_cast<size_t>(
      std::to_chars(echo.start_time, echo.start_time + sizeof(echo.start_time), start_unix).ptr -
      echo.start_time);
  head.insert("X-Start-Time", echo.StartTime());
  if (head.find("X-Forwarded-For") == head.end()) {
    head.set("X-Forwarded-For", exchange.remote_address());
  }
  if (head.find("X-Forwarded-Host") == head.end()) {
    head.set("X-Forwarded-Host", http::FieldValue(head, "Host"));
  }
  head.target(match.query.empty() ? match.rest : StrCat(match.rest, "?", match.query));

  std::shared_ptr<provider::Replica> replica = entry->replicas->Acquire();
  if (!replica) {
    if (entry->desired <= 0 && scale_from_zero_) {
      scale_from_zero_(*entry);
    }
    stats.cold_starts.Increment();
    replica = co_await AwaitReplica(*entry->replicas, deadline);
  }

  unsigned status = 0;
  if (!replica) {
    exchange.response().set("X-OpenFaaS-Internal", "gateway");
    exchange.response().set(http::Field::retry_after, "1");
    status = 503;
    co_await exchange.Respond(
        status, StrCat("no replica of ", key, " was ready within ", FormatGoDuration(limit), "\n"));
  } else {
    http::ProxyOptions proxy;
    proxy.deadline = deadline;
    // One pointer of capture: fits std::function's small buffer, no allocation.
    proxy.on_response_head = [echo = &echo](http::ResponseHead& response) {
      if (echo->generated_call_id) {
        response.set("X-Call-Id", echo->CallId());
      }
      response.insert("X-Start-Time", echo->StartTime());
    };
    http::ProxyResult result = co_await http::Proxy(
        exchange, PoolFor(replica, exchange.connection().executor()), std::move(proxy));
    entry->replicas->Release(replica);
    status = result.status;
    if (!result.outcome) {
      const Error& error = result.outcome.error();
      if (result.response_started || error.code == ErrorCode::kCancelled) {
        exchange.CloseAfterResponse();
      } else if (error.code == ErrorCode::kDeadlineExceeded) {
        status = 504;
        exchange.response().set("X-OpenFaaS-Internal", "gateway");
        exchange.response().set("X-Timeout-Reason",
                                function_limit ? "function-timeout" : "gateway-timeout");
        if (echo.generated_call_id) {
          exchange.response().set("X-Call-Id", echo.CallId());
        }
        co_await exchange.Respond(
            status, StrCat(key, " did not answer within ", FormatGoDuration(limit),
                           function_limit ? " (the function's exec_timeout or write_timeout)"
                                          : " (the gateway's --upstream-timeout)",
                           "\n"));
      } else {
        status = 502;
        Logf("invoke %s: replica %s: %s", key.c_str(), replica->instance.c_str(),
             error.message.c_str());
        exchange.response().set("X-OpenFaaS-Internal", "gateway");
        co_await exchange.Respond(status, StrCat("Can't reach service for: ", key, ".\n"));
      }
    }
  }
  stats.inflight.fetch_sub(1, std::memory_order_relaxed);
  stats.invocations.fetch_add(1, std::memory_order_relaxed);
  stats.inflight_gauge.Decrement();
  FunctionStats::CodeSeries series =
      stats.ForCode(status == 0 ? exchange.response_status() : status);
  series.total->Increment();
  series.seconds->Observe(std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace funcd::gateway
