#pragma once

// Shared by the files of the JetStream queue (not part of its interface).

#include <nats/nats.h>

#include <boost/asio/async_result.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/asio.h"
#include "common/result.h"
#include "queue/jetstream/jetstream_queue.h"

namespace funcd::queue::jetstream {

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

}  // namespace funcd::queue::jetstream
