#include "worker/worker_pool.h"

#include "common/log.h"
#include "common/strings.h"
#include "common/version.h"

namespace funcd::worker {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kExcerptBytes = 1024;

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

const std::string& UserAgent() {
  static const std::string kAgent = StrCat("funcd-queue-worker/", Version());
  return kAgent;
}

// What the attempt ended with, for the queue's record.
queue::Outcome OutcomeOf(const gateway::CallResult& result) {
  queue::Outcome outcome;
  outcome.status = result.status;
  if (result.from_gateway) {
    outcome.error = std::string(TrimSpace(result.body));  // the gateway's own explanation
  } else if (result.status >= 400) {
    outcome.error = StrCat("the function answered ", result.status);
    outcome.body_excerpt = result.body.substr(0, kExcerptBytes);
  }
  return outcome;
}

// The callback's headers (contracts §4.4): the function's response headers, then funcd's.
http::Fields CallbackHeaders(gateway::CallResult& result, const queue::Message& message,
                             unsigned function_status, double seconds, int attempt, int attempts) {
  http::Fields headers;
  if (!result.from_gateway) {
    headers = std::move(result.headers);
    http::StripHopByHop(headers);
    headers.erase(http::Field::content_length);
    headers.erase(http::Field::host);
  }
  headers.set("X-Call-Id", message.call_id);
  headers.set("X-Function-Status", std::to_string(function_status));
  headers.set("X-Function-Name", message.function);
  headers.set("X-Duration-Seconds", FormatFixed6(seconds));
  headers.set("X-Retry", std::to_string(attempt));
  headers.set("X-Retry-Max", std::to_string(std::max(attempts - 1, 0)));
  headers.set(http::Field::user_agent, UserAgent());
  return headers;
}

}  // namespace

WorkerPool::WorkerPool(queue::Queue& queue, gateway::Invoker& invoker,
                       const gateway::FunctionTable& functions, gateway::AsyncMetrics& metrics,
                       WorkerOptions options)
    : queue_(queue),
      invoker_(invoker),
      functions_(functions),
      metrics_(metrics),
      options_(std::move(options)) {}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start(std::vector<asio::io_context*> contexts) {
  FUNCD_CHECK(!contexts.empty());
  contexts_ = std::move(contexts);
  asio::io_context& home = *contexts_.front();
  slot_freed_ = Wakeup::Create(home.get_executor());
  asio::co_spawn(home, Dispatch(), LogExceptions{"async dispatcher"});
  asio::co_spawn(home, RefreshMetrics(), LogExceptions{"async metrics"});
  Logf("async workers: %zu at once, queue %s", options_.concurrency,
       std::string(queue_.name()).c_str());
}

void WorkerPool::Stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  queue_.Close();
  if (slot_freed_) {
    slot_freed_->Notify();
  }
}

std::size_t WorkerPool::LimitOf(std::string_view key) const {
  auto entry = functions_.Find(key);
  if (!entry) {
    return 0;
  }
  const auto& annotations = entry->deployment.annotations;
  auto it = annotations.find(std::string(kMaxInflightAnnotation));
  if (it == annotations.end()) {
    return 0;
  }
  auto limit = ParseUint(TrimSpace(it->second));
  return limit && *limit > 0 ? static_cast<std::size_t>(*limit) : 0;
}

RetryPolicy WorkerPool::PolicyOf(const std::string& key) const {
  auto entry = functions_.Find(key);
  return entry ? PolicyFor(options_.retry, entry->deployment.annotations) : options_.retry;
}

bool WorkerPool::Admit(std::string_view key, std::size_t taken) {
  const std::size_t limit = LimitOf(key);
  if (limit == 0) {
    return true;
  }
  std::size_t running = 0;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(key); it != running_.end()) {
      running = it->second;
    }
  }
  if (running + taken < limit) {
    return true;
  }
  function_full_.store(true, std::memory_order_relaxed);
  return false;
}

void WorkerPool::Finished(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(key);
    if (it != running_.end() && --it->second == 0) {
      running_.erase(it);
    }
  }
  busy_.fetch_sub(1, std::memory_order_relaxed);
  if (stopped_.load()) {
    return;  // the contexts may be going away: wake nobody
  }
  if (waiting_for_slot_.load(std::memory_order_relaxed)) {
    slot_freed_->Notify();
  }
  if (function_full_.exchange(false, std::memory_order_relaxed)) {
    queue_.Wake();  // a call refused for this function's limit may go now
  }
}

asio::awaitable<void> WorkerPool::Dispatch() {
  const queue::AdmitFn admit = [this](std::string_view key, std::size_t taken) {
    return Admit(key, taken);
  };
  while (!stopped_.load()) {
    const std::size_t busy = busy_.load();
    if (busy >= options_.concurrency) {
      waiting_for_slot_.store(true);
      if (busy_.load() >= options_.concurrency) {
        co_await slot_freed_->Wait(Clock::now() + std::chrono::seconds(1));
      }
      waiting_for_slot_.store(false);
      continue;
    }
    const std::size_t room = options_.concurrency - busy;
    std::vector<queue::Delivery> batch = co_await queue_.Next(room, admit);
    if (batch.empty()) {
      break;  // closed
    }
    for (queue::Delivery& delivery : batch) {
      std::string key = delivery.message.key;
      {
        std::lock_guard lock(mu_);
        ++running_[key];
      }
      busy_.fetch_add(1, std::memory_order_relaxed);
      asio::io_context& context = *contexts_[next_context_++ % contexts_.size()];
      asio::co_spawn(context, Attempt(std::move(delivery)),
                     [this, key = std::move(key)](std::exception_ptr error) {
                       if (error) {
                         LogExceptions{"async attempt"}(error);
                       }
                       Finished(key);
                     });
    }
  }
}

asio::awaitable<void> WorkerPool::Attempt(queue::Delivery delivery) {
  const Clock::time_point dequeued = Clock::now();
  queue::Message& message = delivery.message;
  const gateway::AsyncMetrics::Series& series = metrics_.For(message.key);
  series.started->Increment();
  const RetryPolicy policy = PolicyOf(message.key);

  gateway::CallRequest request;
  request.function = message.function;
  request.head.method_string(message.method.empty() ? std::string_view("POST") : message.method);
  request.head.target(message.query.empty() ? message.path
                                            : StrCat(message.path, "?", message.query));
  for (const queue::Header& header : message.headers) {
    request.head.insert(header.name, header.value);
  }
  request.body = std::move(message.body);
  gateway::CallResult result = co_await invoker_.Call(std::move(request));

  queue::Outcome outcome = OutcomeOf(result);
  if (queue_.Cancelled(delivery)) {
    series.cancelled->Increment();
    queue_.Complete(std::move(delivery), std::move(outcome));
    co_return;
  }
  const bool internal =
      result.from_gateway || !http::FieldValue(result.headers, "X-OpenFaaS-Internal").empty();
  const bool retryable =
      policy.Retries(result.status) || (internal && result.status >= 400 && result.status != 404);
  if (retryable && delivery.attempt + 1 < policy.attempts) {
    const std::int64_t now_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
    std::optional<std::chrono::nanoseconds> retry_after;
    if (!result.from_gateway) {  // the gateway's own Retry-After is a hint for sync callers
      retry_after = ParseRetryAfter(http::FieldValue(result.headers, "Retry-After"), now_seconds);
    }
    const std::chrono::nanoseconds delay = RetryDelay(policy, delivery.attempt, retry_after, Rng());
    FUNCD_DLOG("async %s %s: attempt %d got %u, next in %.3fs", message.key.c_str(),
               message.call_id.c_str(), delivery.attempt + 1, result.status,
               std::chrono::duration<double>(delay).count());
    series.retried->Increment();
    queue_.Retry(std::move(delivery), delay, std::move(outcome));
    co_return;
  }

  // The final answer: from here on the call cannot be cancelled. Tell the caller, then settle.
  if (!queue_.Finishing(delivery)) {
    series.cancelled->Increment();
    queue_.Complete(std::move(delivery), std::move(outcome));
    co_return;
  }
  if (!message.callback_url.empty()) {
    // A connection-level failure reaches the callback as 503 (contracts §4.4).
    const unsigned function_status =
        result.from_gateway && result.status == 502 ? 503 : result.status;
    const double seconds = std::chrono::duration<double>(Clock::now() - dequeued).count();
    http::Fields headers = CallbackHeaders(result, message, function_status, seconds,
                                           delivery.attempt, policy.attempts);
    std::string body = result.from_gateway ? std::string() : std::move(result.body);
    CallbackResult callback = co_await PostCallback(message.callback_url, std::move(headers),
                                                    std::move(body), options_.callback);
    (callback.delivered ? series.callbacks_ok : series.callbacks_failed)->Increment();
    if (!callback.delivered) {
      Logf("async %s %s: callback to %s failed after %d tries: %s", message.key.c_str(),
           message.call_id.c_str(), message.callback_url.c_str(), callback.tries,
           callback.error.c_str());
    }
  }
  series.seconds->Observe(static_cast<double>(queue::UnixNanosNow() - message.enqueued_at) / 1e9);
  if (retryable) {
    Logf("async %s %s: dead letter after %d attempt(s), last status %u", message.key.c_str(),
         message.call_id.c_str(), delivery.attempt + 1, result.status);
    series.dead->Increment();
    queue_.Bury(std::move(delivery), std::move(outcome));
  } else {
    (result.status < 400 ? series.succeeded : series.failed)->Increment();
    queue_.Complete(std::move(delivery), std::move(outcome));
  }
}

asio::awaitable<void> WorkerPool::RefreshMetrics() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stopped_.load()) {
    std::set<std::string> seen;
    for (const queue::FunctionDepth& depth : queue_.Depths()) {
      metrics_.depth.WithLabels({depth.function}).Set(static_cast<double>(depth.waiting));
      metrics_.running.WithLabels({depth.function}).Set(static_cast<double>(depth.running));
      seen.insert(depth.function);
    }
    for (const std::string& function : reported_) {
      if (!seen.contains(function)) {
        metrics_.depth.WithLabels({function}).Set(0);
        metrics_.running.WithLabels({function}).Set(0);
      }
    }
    reported_.merge(seen);
    timer.expires_after(options_.metrics_interval);
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
}

}  // namespace funcd::worker
