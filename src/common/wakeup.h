#pragma once

// Wakes one waiting coroutine from any thread, without polling: Notify() posts a timer
// cancellation to the waiter's executor. Used for requests held until a replica is ready
// and for log followers. Always owned through std::shared_ptr (Notify keeps it alive).

#include <atomic>
#include <chrono>
#include <memory>

#include "common/asio.h"

namespace funcd {

class Wakeup : public std::enable_shared_from_this<Wakeup> {
 public:
  using Time = std::chrono::steady_clock::time_point;

  static std::shared_ptr<Wakeup> Create(asio::any_io_executor executor) {
    return std::shared_ptr<Wakeup>(new Wakeup(std::move(executor)));
  }

  // Thread-safe. Wakes the current or next Wait.
  void Notify();

  // On the executor given at creation: completes when notified (true) or at `deadline`
  // (false). A notification that came before the call is not lost. Wake-ups can be
  // spurious (false before the deadline): callers re-check their condition and loop.
  asio::awaitable<bool> Wait(Time deadline);

 private:
  explicit Wakeup(asio::any_io_executor executor) : timer_(std::move(executor)) {}

  asio::steady_timer timer_;
  std::atomic<bool> notified_{false};
};

}  // namespace funcd
