#pragma once

// Asynchronous invocation as `funcd serve` runs it: the queue (the embedded SQLite file, or
// NATS JetStream - work in progress), the /async-function and /system/async routes, the
// workers and their metrics, created and torn down together.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "gateway/async_api.h"
#include "gateway/gateway.h"
#include "queue/queue.h"
#include "worker/retry_policy.h"
#include "worker/worker_pool.h"

namespace funcd::worker {

struct AsyncOptions {
  // "sqlite" (STATE_DIR/queue.db) or nats://HOST:PORT (NATS JetStream, shared by several
  // processes; work in progress, see src/queue/jetstream/STATUS.md).
  std::string queue = "sqlite";
  std::string state_dir;
  std::size_t workers = 64;           // attempts at once, over all functions
  std::uint64_t max_body = 10 << 20;  // larger async requests get 413
  RetryPolicy retry;
  // Finished calls stay visible to GET /system/async/calls/ID this long (sqlite).
  std::chrono::nanoseconds retention = std::chrono::hours(1);
};

// Opens the queue named by options.queue. Errors: kInvalidArgument (unknown queue),
// what the backend reports.
Result<std::unique_ptr<queue::Queue>> OpenQueue(const AsyncOptions& options);

class AsyncService {
 public:
  // Opens the queue and registers the routes on `gateway` (which must outlive the service).
  static Result<std::unique_ptr<AsyncService>> Create(AsyncOptions options,
                                                      gateway::Gateway& gateway);
  ~AsyncService();

  // Starts the workers on the gateway's I/O contexts.
  void Start(std::vector<asio::io_context*> contexts);
  // Graceful stop (SIGTERM): takes no more calls and waits, at most `limit`, for the attempts
  // in progress to finish and settle, so that they are not delivered again after a restart.
  // REQUIRES: runs on one of the I/O contexts, which keep running meanwhile.
  asio::awaitable<void> Drain(std::chrono::nanoseconds limit);
  // Stops the workers and closes the queue after committing what is pending. Call after the
  // I/O contexts have stopped and before they are destroyed.
  void Shutdown();

  queue::Queue& queue() { return *queue_; }

 private:
  AsyncService() = default;

  gateway::Gateway* gateway_ = nullptr;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<gateway::AsyncMetrics> metrics_;
  std::unique_ptr<gateway::AsyncApi> api_;
  std::unique_ptr<WorkerPool> workers_;
};

}  // namespace funcd::worker
