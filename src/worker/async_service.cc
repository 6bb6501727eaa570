#include "worker/async_service.h"

#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/jetstream_queue.h"
#include "queue/jetstream/queue_url.h"
#include "queue/sqlite/sqlite_queue.h"

namespace funcd::worker {

Result<std::unique_ptr<queue::Queue>> OpenQueue(const AsyncOptions& options) {
  if (options.queue.empty() || options.queue == "sqlite") {
    queue::sqlite::SqliteQueueOptions sqlite;
    sqlite.retention = options.retention;
    const std::string path = StrCat(options.state_dir, "/queue.db");
    FUNCD_ASSIGN_OR_RETURN(auto opened, queue::sqlite::SqliteQueue::Open(path, sqlite));
    Logf("async queue: sqlite %s", path.c_str());
    return std::unique_ptr<queue::Queue>(std::move(opened));
  }
  if (options.queue.starts_with("nats://")) {
    // Work in progress (src/queue/jetstream/STATUS.md).
    FUNCD_ASSIGN_OR_RETURN(queue::jetstream::JetStreamOptions jetstream,
                           queue::jetstream::ParseQueueUrl(options.queue));
    jetstream.record_ttl =
        std::max<std::chrono::nanoseconds>(options.retention, std::chrono::hours(24));
    FUNCD_ASSIGN_OR_RETURN(auto opened,
                           queue::jetstream::JetStreamQueue::Open(std::move(jetstream)));
    return std::unique_ptr<queue::Queue>(std::move(opened));
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   StrCat("--queue wants sqlite or nats://HOST:PORT, got \"", options.queue, "\""));
}

Result<std::unique_ptr<AsyncService>> AsyncService::Create(AsyncOptions options,
                                                           gateway::Gateway& gateway) {
  std::unique_ptr<AsyncService> service(new AsyncService());
  service->gateway_ = &gateway;
  FUNCD_ASSIGN_OR_RETURN(service->queue_, OpenQueue(options));
  service->metrics_ = std::make_unique<gateway::AsyncMetrics>(gateway.metrics().registry);
  gateway::AsyncApiOptions api;
  api.max_body = options.max_body;
  service->api_ = std::make_unique<gateway::AsyncApi>(*service->queue_, gateway.functions(),
                                                      *service->metrics_, std::move(api));
  WorkerOptions workers;
  workers.concurrency = std::max<std::size_t>(options.workers, 1);
  workers.retry = options.retry;
  service->workers_ =
      std::make_unique<WorkerPool>(*service->queue_, gateway.invoker(), gateway.functions(),
                                   *service->metrics_, std::move(workers));
  gateway.SetAsyncApi(service->api_.get());
  return service;
}

AsyncService::~AsyncService() { Shutdown(); }

void AsyncService::Start(std::vector<asio::io_context*> contexts) {
  workers_->Start(std::move(contexts));
}

asio::awaitable<void> AsyncService::Drain(std::chrono::nanoseconds limit) {
  workers_->Stop();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (workers_->busy() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(kUseAwaitableNoThrow);
  }
  if (const std::size_t left = workers_->busy(); left > 0) {
    Logf("async: %zu attempt(s) still running at shutdown: delivered again after a restart", left);
  }
}

void AsyncService::Shutdown() {
  if (!queue_) {
    return;
  }
  workers_->Stop();
  gateway_->SetAsyncApi(nullptr);
  workers_.reset();  // its timers belong to the contexts, which must outlive them
  queue_.reset();    // commits what is pending
}

}  // namespace funcd::worker
