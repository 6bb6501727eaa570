#pragma once

// Shared by the files of the JetStream queue (not part of its interface).

#include <boost/asio/async_result.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/asio.h"
#include "common/libnats.h"
#include "common/result.h"
#include "queue/jetstream/jetstream_queue.h"

namespace funcd::queue::jetstream {

// On a message: the KV revision of the call record written at enqueue.
inline constexpr char kRecordRevisionHeader[] = "Funcd-Record-Revision";

// A libnats failure as an Error: kNotFound for NATS_NOT_FOUND, kUnavailable otherwise.
Error NatsError(std::string_view what, natsStatus s, jsErrCode js_err = static_cast<jsErrCode>(0));

// Creates stream `name` (file storage, "discard new") or reuses the existing one; with
// `max_pending`, makes it the stream's message limit (0: none), raising or removing the
// limit of an existing stream. Errors: kFailedPrecondition (it would lower an existing
// stream's limit), kUnavailable (what the server says).
Result<void> EnsureStream(jsCtx* js, const std::string& name, const std::string& subject,
                          jsRetentionPolicy retention, std::optional<std::int64_t> max_pending);

// Creates the shared durable consumer (options.consumer) or reuses the existing one; returns
// the ack wait in effect, which is the existing consumer's. Errors: kFailedPrecondition
// (options.ack_wait_given and the existing consumer has another ack wait), kUnavailable.
Result<std::chrono::nanoseconds> EnsureConsumer(jsCtx* js, const JetStreamOptions& options);

template <typename T, typename Fn>
asio::awaitable<T> JetStreamQueue::Offload(asio::thread_pool& pool, Fn fn) {
  auto initiation = [&pool, &fn](auto handler) {
    // The tracked executor keeps the caller's context alive until the handler ran there.
    auto work = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    asio::post(
        pool, [fn = std::move(fn), handler = std::move(handler), work = std::move(work)]() mutable {
          T result = fn();
          asio::any_io_executor target =
              asio::prefer(work, asio::execution::outstanding_work.untracked);
          asio::post(target,
                     [handler = std::move(handler), result = std::move(result),
                      work = std::move(work)]() mutable { std::move(handler)(std::move(result)); });
        });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      std::move(initiation), asio::use_awaitable);
}

template <typename Fn>
void JetStreamQueue::Settle(Fn fn) {
  SettleBegin();
  asio::post(pool_, [this, fn = std::move(fn)]() mutable {
    fn();
    SettleEnd();
  });
}

// Resumes a suspended coroutine with a T: copyable, callable from any thread, exactly once.
template <typename T>
using Resume = std::function<void(T)>;

// Suspends the calling coroutine and calls `start(resume)` at once; the coroutine resumes on
// its executor with the value passed to `resume` (from a libnats thread, typically a pub-ack
// handler). No thread is blocked meanwhile.
template <typename T, typename Start>
asio::awaitable<T> Suspend(Start start) {
  auto initiation = [&start](auto handler) {
    // The tracked executor keeps the caller's context alive until the handler ran there.
    auto work = asio::prefer(asio::get_associated_executor(handler),
                             asio::execution::outstanding_work.tracked);
    using Handler = decltype(handler);
    using Work = decltype(work);
    struct State {
      std::optional<Handler> handler;
      std::optional<Work> work;
    };
    auto state = std::make_shared<State>();
    state->handler.emplace(std::move(handler));
    state->work.emplace(std::move(work));
    start(Resume<T>([state](T result) {
      // Moved out now: copies of `resume` may outlive the caller's context (RunSync stops
      // it as soon as the coroutine is done), and must not hold its work then.
      auto handler = std::move(*state->handler);
      auto work = std::move(*state->work);
      state->handler.reset();
      state->work.reset();
      asio::any_io_executor target =
          asio::prefer(work, asio::execution::outstanding_work.untracked);
      asio::post(target,
                 [handler = std::move(handler), work = std::move(work),
                  result = std::move(result)]() mutable { std::move(handler)(std::move(result)); });
    }));
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      std::move(initiation), asio::use_awaitable);
}

}  // namespace funcd::queue::jetstream
