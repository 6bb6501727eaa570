#pragma once

// The Asio and Beast headers funcd uses, and short aliases for them. Beast and Asio are
// compiled once in asio_src.cc (BOOST_*_SEPARATE_COMPILATION).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <exception>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace funcd {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr auto kUseAwaitableNoThrow = asio::as_tuple(asio::use_awaitable);

// Completion handler for co_spawn roots: logs an escaped exception instead of dropping it.
struct LogExceptions {
  std::string_view task;
  void operator()(std::exception_ptr error) const;
};

// Runs `task` on a private io_context until it finishes and returns its result. For tests
// and command-line tools; never on an I/O thread. Work left behind by the task (a
// connection deadline sweep's timer, say) is abandoned, not waited for.
template <typename T>
T RunSync(asio::awaitable<T> task) {
  asio::io_context context;
  std::exception_ptr failure;
  std::optional<T> out;
  asio::co_spawn(context, std::move(task), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) {
      out.emplace(std::move(value));
    }
    context.stop();
  });
  context.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
  return std::move(*out);
}

inline void RunSync(asio::awaitable<void> task) {
  asio::io_context context;
  std::exception_ptr failure;
  asio::co_spawn(context, std::move(task), [&](std::exception_ptr e) {
    failure = e;
    context.stop();
  });
  context.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

}  // namespace funcd
