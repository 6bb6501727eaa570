#pragma once

// The async workers inside `funcd serve`: take due calls from the queue, invoke the function
// through the gateway's invoker (no extra HTTP hop), post the result to the callback URL,
// then settle the call: done, retry later (backoff, Retry-After), or dead letter.
//
// Concurrency: at most `concurrency` attempts at once overall, and per function at most its
// annotation com.openfaas.queue.max_inflight (a positive integer; none: only the global
// limit). The dispatcher runs on the first I/O context; attempts run round robin on all of
// them, since Invoker::Call must run on an I/O context.
//
// Thread-safe. Settling happens before a slot is freed, so a call is never attempted twice
// at once by one process.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/wakeup.h"
#include "gateway/async_api.h"
#include "gateway/function_table.h"
#include "gateway/invoker.h"
#include "queue/queue.h"
#include "worker/callback.h"
#include "worker/retry_policy.h"

namespace funcd::worker {

inline constexpr std::string_view kMaxInflightAnnotation = "com.openfaas.queue.max_inflight";

struct WorkerOptions {
  std::size_t concurrency = 64;
  RetryPolicy retry;  // defaults; functions override with com.openfaas.retry.*
  CallbackOptions callback;
  // How often queue depths are copied into the metrics.
  std::chrono::nanoseconds metrics_interval = std::chrono::seconds(1);
};

class WorkerPool {
 public:
  // REQUIRES: the arguments outlive the pool.
  WorkerPool(queue::Queue& queue, gateway::Invoker& invoker,
             const gateway::FunctionTable& functions, gateway::AsyncMetrics& metrics,
             WorkerOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts dispatching. REQUIRES: `contexts` non-empty; they outlive the pool's work.
  void Start(std::vector<asio::io_context*> contexts);
  // Stops taking calls (closes the queue). Attempts in progress finish if their contexts
  // keep running; otherwise their calls are delivered again after a restart.
  void Stop();

  std::size_t busy() const { return busy_.load(std::memory_order_relaxed); }

 private:
  asio::awaitable<void> Dispatch();
  asio::awaitable<void> Attempt(queue::Delivery delivery);
  asio::awaitable<void> RefreshMetrics();
  // Under the queue's lock (see AdmitFn).
  bool Admit(std::string_view key, std::size_t taken);
  // An attempt of `key` ended: frees its slots.
  void Finished(const std::string& key);
  // The function's retry policy and per-function limit (0: none).
  RetryPolicy PolicyOf(const std::string& key) const;
  std::size_t LimitOf(std::string_view key) const;

  queue::Queue& queue_;
  gateway::Invoker& invoker_;
  const gateway::FunctionTable& functions_;
  gateway::AsyncMetrics& metrics_;
  const WorkerOptions options_;

  std::vector<asio::io_context*> contexts_;
  std::size_t next_context_ = 0;  // dispatcher only
  std::atomic<std::size_t> busy_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> waiting_for_slot_{false};  // the dispatcher waits for a global slot
  std::atomic<bool> function_full_{false};     // Admit refused a call: wake on Finished
  std::shared_ptr<Wakeup> slot_freed_;

  mutable std::mutex mu_;
  std::map<std::string, std::size_t, std::less<>> running_;  // attempts per function
  std::set<std::string> reported_;  // functions with depth series (metrics coroutine only)
};

}  // namespace funcd::worker
