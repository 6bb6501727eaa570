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

}  // namespace

struct Invoker::Admission {
  std::shared_ptr<provider::Replica> replica;
  unsigned status = 0;  // when there is no replica: 429 or 503
  std::string message;
};

struct Invoker::Started {
  std::shared_ptr<const FunctionEntry> entry;
  const std::string* key = nullptr;
  Clock::time_point start;
  std::int64_t start_unix = 0;
  Clock::time_point deadline;
  std::chrono::nanoseconds limit{0};
  bool function_limit = false;  // the deadline is the function's own
};

// Passes a call on to another replica when the one it was admitted to refuses connections
// (the replica died or stopped listening and the runtime has not removed it yet): that
// replica is passed over for a while, and the call is admitted again.
class Invoker::Rerouter final : public http::Rerouter {
 public:
  Rerouter(Invoker& invoker, const FunctionEntry& entry, std::shared_ptr<provider::Replica> replica,
           Clock::time_point deadline)
      : invoker_(invoker), entry_(entry), replica_(std::move(replica)), deadline_(deadline) {}

  asio::awaitable<http::ConnectionPool*> Next(const Error& error) override {
    Logf("invoke %s: replica %s refused the connection (%s); trying another", entry_.key.c_str(),
         replica_->instance.c_str(), error.message.c_str());
    entry_.replicas->MarkUnreachable(*replica_);
    entry_.replicas->Release(replica_);
    replica_.reset();
    Admission admission = co_await invoker_.Admit(entry_, deadline_);
    if (!admission.replica) {
      co_return nullptr;
    }
    replica_ = std::move(admission.replica);
    co_return &PoolFor(replica_, co_await asio::this_coro::executor);
  }

  // The replica the call holds now (nullptr once a reroute found none).
  const std::shared_ptr<provider::Replica>& replica() const { return replica_; }

 private:
  Invoker& invoker_;
  const FunctionEntry& entry_;
  std::shared_ptr<provider::Replica> replica_;
  const Clock::time_point deadline_;
};

Invoker::Invoker(FunctionTable& functions, GatewayMetrics& metrics, InvokerOptions options,
                 InvokerHooks hooks)
    : functions_(functions),
      metrics_(metrics),
      options_(std::move(options)),
      hooks_(std::move(hooks)) {}

Invoker::Started Invoker::Start(std::string_view name, std::chrono::nanoseconds timeout,
                                std::string* key_buffer) const {
  Started call;
  call.start = Clock::now();
  call.start_unix = provider::UnixNanos();
  // The table is keyed "name.namespace": a name that carries its namespace is the key.
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    *key_buffer = StrCat(name, ".", options_.default_namespace);
  } else {
    key_buffer->assign(name);
  }
  call.key = key_buffer;
  if (dot == 0 || name.empty()) {
    return call;
  }
  call.entry = functions_.Find(*key_buffer);
  if (!call.entry) {
    return call;
  }
  FunctionStats& stats = *call.entry->stats;
  stats.started.Increment();
  stats.started_total.fetch_add(1, std::memory_order_relaxed);
  stats.inflight_gauge.Increment();
  stats.inflight.fetch_add(1, std::memory_order_relaxed);
  stats.last_invoked.store(call.start_unix, std::memory_order_relaxed);

  // One deadline for the whole call: the caller's, else the function's own limit (plus grace
  // for its watchdog to answer first), or the gateway's, whichever comes first.
  const FunctionEntry& entry = *call.entry;
  if (timeout > std::chrono::nanoseconds::zero()) {
    call.limit = std::min(timeout, options_.upstream_timeout);
  } else {
    call.function_limit = entry.timeout > std::chrono::nanoseconds::zero() &&
                          entry.timeout + options_.timeout_grace < options_.upstream_timeout;
    call.limit =
        call.function_limit ? entry.timeout + options_.timeout_grace : options_.upstream_timeout;
  }
  call.deadline = call.start + call.limit;
  return call;
}

void Invoker::Finish(const Started& call, unsigned status) const {
  FunctionStats& stats = *call.entry->stats;
  stats.inflight.fetch_sub(1, std::memory_order_relaxed);
  stats.invocations.fetch_add(1, std::memory_order_relaxed);
  stats.inflight_gauge.Decrement();
  FunctionStats::CodeSeries series = stats.ForCode(status);
  series.total->Increment();
  series.seconds->Observe(std::chrono::duration<double>(Clock::now() - call.start).count());
}

void Invoker::Served(const FunctionEntry& entry, provider::Replica& replica) const {
  if (replica.served.load(std::memory_order_relaxed) || replica.served.exchange(true)) {
    return;
  }
  const provider::StartTimes& start = replica.start;
  if (start.requested == Clock::time_point{}) {
    return;  // a replica that does not know its start
  }
  auto seconds = [&](Clock::time_point at) {
    return std::chrono::duration<double>(at - start.requested).count();
  };
  auto& phases = metrics_.replica_start_seconds;
  phases.HistogramWithLabels({entry.key, "spawn"}).Observe(seconds(start.spawned));
  phases.HistogramWithLabels({entry.key, "ready"}).Observe(seconds(start.ready));
  const Clock::time_point now = Clock::now();
  phases.HistogramWithLabels({entry.key, "first_response"}).Observe(seconds(now));
  FUNCD_DLOG("%s %s: spawned %.1f ms, ready %.1f ms, first response %.1f ms", entry.key.c_str(),
             replica.instance.c_str(), seconds(start.spawned) * 1e3, seconds(start.ready) * 1e3,
             seconds(now) * 1e3);
}

asio::awaitable<Invoker::Admission> Invoker::Admit(const FunctionEntry& entry,
                                                   Clock::time_point deadline) {
  Admission admission;
  provider::ReplicaSet& set = *entry.replicas;
  if ((admission.replica = set.Acquire())) {
    co_return admission;
  }
  if (set.waiting() >= options_.max_queue) {
    admission.status = 429;
    admission.message = StrCat(entry.key, ": ", options_.max_queue,
                               " calls are already waiting for a replica with room\n");
    co_return admission;
  }
  auto waiter = Wakeup::Create(co_await asio::this_coro::executor);
  set.AddWaiter(waiter);
  if (entry.desired <= 0) {
    if (hooks_.scale_from_zero) {
      hooks_.scale_from_zero(entry);
    }
    entry.stats->cold_starts.Increment();
  } else if (set.size() > 0 && hooks_.saturated) {
    if (const std::int64_t demand = set.Demand(); demand > entry.desired) {
      hooks_.saturated(entry, demand);
    }
  }
  while (!(admission.replica = set.Acquire()) && Clock::now() < deadline) {
    // A replica passed over as unreachable wakes nobody when its period ends: look again.
    co_await waiter->Wait(
        std::min(deadline, Clock::now() + provider::ReplicaSet::kUnreachablePeriod));
  }
  set.RemoveWaiter(waiter);
  if (!admission.replica) {
    const bool full = set.size() > 0;
    admission.status = full ? 429 : 503;
    admission.message = full ? StrCat("every replica of ", entry.key,
                                      " stayed at its max_inflight until the call's deadline\n")
                             : StrCat("no replica of ", entry.key, " was ready in time\n");
  }
  co_return admission;
}

asio::awaitable<void> Invoker::Invoke(http::ServerExchange& exchange, const RouteMatch& match) {
  std::string key;
  const Started call = Start(match.name, std::chrono::nanoseconds::zero(), &key);
  if (!call.entry) {
    co_await exchange.Respond(404, StrCat("error finding function ", key, ": not found\n"));
    co_return;
  }
  const FunctionEntry& entry = *call.entry;

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
      std::to_chars(echo.start_time, echo.start_time + sizeof(echo.start_time), call.start_unix)
          .ptr -
      echo.start_time);
  head.insert("X-Start-Time", echo.StartTime());
  if (head.find("X-Forwarded-For") == head.end()) {
    head.set("X-Forwarded-For", exchange.remote_address());
  }
  if (head.find("X-Forwarded-Host") == head.end()) {
    head.set("X-Forwarded-Host", http::FieldValue(head, "Host"));
  }
  head.target(match.query.empty() ? match.rest : StrCat(match.rest, "?", match.query));

  Admission admission = co_await Admit(entry, call.deadline);
  unsigned status = 0;
  if (!admission.replica) {
    status = admission.status;
    exchange.response().set("X-OpenFaaS-Internal", "gateway");
    exchange.response().set(http::Field::retry_after, "1");
    if (echo.generated_call_id) {
      exchange.response().set("X-Call-Id", echo.CallId());
    }
    co_await exchange.Respond(status, admission.message);
  } else {
    Rerouter rerouter(*this, entry, std::move(admission.replica), call.deadline);
    http::ProxyOptions proxy;
    proxy.deadline = call.deadline;
    proxy.reroute = &rerouter;
    // One pointer of capture: fits std::function's small buffer, no allocation.
    proxy.on_response_head = [echo = &echo](http::ResponseHead& response) {
      if (echo->generated_call_id) {
        response.set("X-Call-Id", echo->CallId());
      }
      response.insert("X-Start-Time", echo->StartTime());
    };
    http::ProxyResult result = co_await http::Proxy(
        exchange, PoolFor(rerouter.replica(), exchange.connection().executor()), std::move(proxy));
    // The replica that served (or last failed) the call; none when a reroute found none.
    const std::shared_ptr<provider::Replica> replica = rerouter.replica();
    if (replica) {
      entry.replicas->Release(replica);
      Served(entry, *replica);
    }
    status = result.status;
    if (!result.outcome) {
      const Error& error = result.outcome.error();
      if (result.response_started || error.code == ErrorCode::kCancelled) {
        exchange.CloseAfterResponse();
      } else if (error.code == ErrorCode::kDeadlineExceeded) {
        status = 504;
        exchange.response().set("X-OpenFaaS-Internal", "gateway");
        exchange.response().set("X-Timeout-Reason",
                                call.function_limit ? "function-timeout" : "gateway-timeout");
        if (echo.generated_call_id) {
          exchange.response().set("X-Call-Id", echo.CallId());
        }
        co_await exchange.Respond(
            status, StrCat(key, " did not answer within ", FormatGoDuration(call.limit),
                           call.function_limit ? " (the function's exec_timeout or write_timeout)"
                                               : " (the gateway's --upstream-timeout)",
                           "\n"));
      } else {
        status = 502;
        Logf("invoke %s: replica %s: %s", key.c_str(),
             replica ? replica->instance.c_str() : "(none left)", error.message.c_str());
        exchange.response().set("X-OpenFaaS-Internal", "gateway");
        co_await exchange.Respond(status, StrCat("Can't reach service for: ", key, ".\n"));
      }
    }
  }
  Finish(call, status == 0 ? exchange.response_status() : status);
}

asio::awaitable<CallResult> Invoker::Call(CallRequest request) {
  CallResult result;
  std::string key;
  const Started call = Start(request.function, request.timeout, &key);
  if (!call.entry) {
    result.status = 404;
    result.from_gateway = true;
    result.body = StrCat("error finding function ", key, ": not found\n");
    co_return result;
  }
  const FunctionEntry& entry = *call.entry;
  http::RequestHead& head = request.head;
  if (head.target().empty()) {
    head.target("/");
  }
  if (head.find("X-Call-Id") == head.end()) {
    char call_id[36];
    NewUuid(call_id);
    head.set("X-Call-Id", std::string_view(call_id, sizeof(call_id)));
  }
  if (head.find("X-Start-Time") == head.end()) {
    head.set("X-Start-Time", std::to_string(call.start_unix));
  }

  Admission admission = co_await Admit(entry, call.deadline);
  if (!admission.replica) {
    result.status = admission.status;
    result.from_gateway = true;
    result.body = std::move(admission.message);
  } else {
    const std::shared_ptr<provider::Replica>& replica = admission.replica;
    const auto remaining =
        std::chrono::duration_cast<std::chrono::nanoseconds>(call.deadline - Clock::now());
    auto executor = co_await asio::this_coro::executor;
    auto response = co_await http::Fetch(PoolFor(replica, executor), std::move(head),
                                         std::move(request.body), remaining);
    entry.replicas->Release(replica);
    Served(entry, *replica);
    if (response) {
      result.status = response->status;
      result.headers = std::move(response->headers);
      result.body = std::move(response->body);
    } else if (response.error().code == ErrorCode::kDeadlineExceeded) {
      result.status = 504;
      result.from_gateway = true;
      result.body = StrCat(key, " did not answer within ", FormatGoDuration(call.limit), "\n");
    } else {
      result.status = 502;
      result.from_gateway = true;
      result.body = StrCat("Can't reach service for: ", key, ": ", response.error().message, "\n");
    }
  }
  result.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - call.start);
  Finish(call, result.status);
  co_return result;
}

}  // namespace funcd::gateway
