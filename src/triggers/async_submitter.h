#pragma once

// The asynchronous path of triggers: a function with com.openfaas.trigger.async=true gets
// its trigger calls through an AsyncSubmitter instead of waiting for the response.
//
// `funcd serve` wires QueueAsyncSubmitter: the durable async queue that /async-function uses,
// whose workers deliver with retries and dead letters (src/worker/). The seam lets tests and
// other deployments put something else there.

#include <string>

#include "common/asio.h"
#include "common/result.h"
#include "gateway/api.h"
#include "gateway/invoker.h"
#include "queue/queue.h"

namespace funcd::triggers {

class AsyncSubmitter {
 public:
  virtual ~AsyncSubmitter() = default;

  // Accepts `request` for asynchronous invocation and returns its call id (the X-Call-Id the
  // function will see; the request carries one already, which implementations keep).
  // Runs on an I/O thread's executor. Errors: kUnavailable, kResourceExhausted (the queue
  // cannot take it now), kInvalidArgument.
  virtual asio::awaitable<Result<std::string>> Submit(gateway::CallRequest request) = 0;
};

// Stores each call durably in `queue` (as POST /async-function/NAME would, without a
// callback URL) and returns once it is stored. Thread-safe.
class QueueAsyncSubmitter final : public AsyncSubmitter {
 public:
  // REQUIRES: `queue` outlives the submitter.
  explicit QueueAsyncSubmitter(
      queue::Queue& queue, std::string default_namespace = std::string(gateway::kDefaultNamespace))
      : queue_(queue), default_namespace_(std::move(default_namespace)) {}

  asio::awaitable<Result<std::string>> Submit(gateway::CallRequest request) override;

 private:
  queue::Queue& queue_;
  const std::string default_namespace_;
};

// The queue message for `request` ("name" or "name.namespace"), enqueued at `now` (Unix
// nanoseconds). Exposed for tests.
queue::Message ToQueueMessage(gateway::CallRequest request, std::string_view default_namespace,
                              std::int64_t now);

}  // namespace funcd::triggers
