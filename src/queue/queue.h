#pragma once

// The asynchronous call queue: durable storage of accepted calls, at-least-once delivery to
// the workers, delayed redelivery for retries, dead letters, call status and cancellation.
//
// Implementations: sqlite/ (embedded, one process owns the file); jetstream/ (NATS
// JetStream, shared by several funcd processes; work in progress, jetstream/STATUS.md). The
// workers (src/worker/) drive a queue; the HTTP handlers (gateway/async_api) enqueue and
// manage.
//
// Delivery protocol: Next() hands out messages; each one is settled exactly once by
// Complete, Retry, Bury or Release. A message that is handed out and never settled (the
// process died) is delivered again after a restart (sqlite; a shared backend would use an
// ack wait).
//
// Thread-safety: every method may be called from any thread, except that at most one
// coroutine may be inside Next() at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "queue/message.h"

namespace funcd::queue {

enum class CallState {
  kQueued,     // waiting for its first attempt
  kRunning,    // an attempt is in progress
  kRetrying,   // waiting for its next attempt (next_attempt_at)
  kDone,       // finished: status is the function's final answer
  kDead,       // used its last attempt; kept as a dead letter
  kCancelled,  // cancelled before it finished
};

std::string_view CallStateName(CallState state);

// What an attempt ended with.
struct Outcome {
  unsigned status = 0;       // the function's (or the gateway's) status; 0: never answered
  std::string error;         // a short description for people ("" on success)
  std::string body_excerpt;  // the first bytes of the response body
};

// A message handed to a worker.
struct Delivery {
  std::uint64_t token = 0;  // the backend's handle
  int attempt = 0;          // 0 on the first attempt: how many attempts came before
  Message message;
};

struct CallStatus {
  std::string call_id;
  std::string function;  // key: "name.namespace"
  CallState state = CallState::kQueued;
  int attempts = 0;                  // attempts made (finished or in progress)
  std::int64_t enqueued_at = 0;      // Unix nanoseconds
  std::int64_t updated_at = 0;       // last change
  std::int64_t next_attempt_at = 0;  // kQueued/kRetrying: when it becomes due
  unsigned last_status = 0;
  std::string last_error;
};

struct DeadLetter {
  CallStatus status;
  std::string last_body;  // excerpt of the last response body
  Message message;        // the stored request (body only in GetDead)
};

// A filter for dead-letter listing, redrive and purge. Empty fields match everything.
struct DeadFilter {
  std::string call_id;
  std::string function;  // key
  std::size_t limit = 1000;
};

struct FunctionDepth {
  std::string function;      // key
  std::int64_t waiting = 0;  // queued or retrying
  std::int64_t running = 0;
};

// Decides whether a worker may take one more message of function `key` now, `taken` of its
// messages being already in the list that Next() is filling. Called under the queue's lock:
// quick, no blocking, no calls back into the queue.
using AdmitFn = std::function<bool(std::string_view key, std::size_t taken)>;

class Queue {
 public:
  virtual ~Queue() = default;

  // Stores the message durably: when this returns Ok, a crash cannot lose it.
  // Errors: kUnavailable (storage failure), kResourceExhausted (queue full),
  // kInvalidArgument (larger than the backend can store: jetstream's max_payload).
  virtual asio::awaitable<Result<void>> Enqueue(Message message) = 0;

  // Up to `max` messages that are due and that `admit` accepts, waiting until there is at
  // least one. Returns an empty list only once the queue is closed.
  // REQUIRES: runs on an io_context executor; one caller at a time.
  virtual asio::awaitable<std::vector<Delivery>> Next(std::size_t max, AdmitFn admit) = 0;
  // Makes a waiting Next() look again (a function's slot was freed).
  virtual void Wake() = 0;

  // Settles a delivery. Fire and forget: durable soon after, never lost or reordered for the
  // same message; a crash before that delivers the message again.
  // The call finished with a final answer (success or a status that is not retried).
  virtual void Complete(Delivery delivery, Outcome outcome) = 0;
  // Deliver again once `delay` has passed (the attempt counts).
  virtual void Retry(Delivery delivery, std::chrono::nanoseconds delay, Outcome outcome) = 0;
  // No attempts left: keep it as a dead letter.
  virtual void Bury(Delivery delivery, Outcome outcome) = 0;
  // Give back without counting an attempt (shutting down, or not runnable yet).
  virtual void Release(Delivery delivery) = 0;
  // True when the call was cancelled while this delivery was out: its result is discarded.
  virtual bool Cancelled(const Delivery& delivery) = 0;
  // The attempt has the call's final answer and is about to deliver it (callback): from now
  // on Cancel refuses the call. False when it was cancelled before (discard the result).
  virtual bool Finishing(const Delivery& delivery) = 0;

  // The latest call with this id. Errors: kNotFound, kUnavailable.
  virtual asio::awaitable<Result<CallStatus>> Status(std::string call_id) = 0;
  // Cancels a queued, retrying or running call; returns its state before. Errors: kNotFound,
  // kFailedPrecondition (already done, dead or cancelled, or finishing), kUnavailable.
  virtual asio::awaitable<Result<CallState>> Cancel(std::string call_id) = 0;

  // Dead letters, oldest first (without request bodies).
  virtual asio::awaitable<Result<std::vector<DeadLetter>>> ListDead(DeadFilter filter) = 0;
  // One dead letter with its request body. Errors: kNotFound.
  virtual asio::awaitable<Result<DeadLetter>> GetDead(std::string call_id) = 0;
  // Queues matching dead letters again with a fresh attempt budget; returns how many.
  virtual asio::awaitable<Result<std::size_t>> Redrive(DeadFilter filter) = 0;
  // Deletes matching dead letters; returns how many.
  virtual asio::awaitable<Result<std::size_t>> Purge(DeadFilter filter) = 0;

  // Waiting and running calls per function (this process's view).
  virtual std::vector<FunctionDepth> Depths() = 0;

  // Stops handing out messages and wakes Next(). Settling calls are still accepted.
  virtual void Close() = 0;

  // "sqlite" or "jetstream".
  virtual std::string_view name() const = 0;
};

// Wall-clock time as Unix nanoseconds.
std::int64_t UnixNanosNow();

}  // namespace funcd::queue
