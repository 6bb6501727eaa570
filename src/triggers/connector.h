#pragma once

// A source of trigger events that functions subscribe to by topic (NATS, MQTT), and the
// small pieces the connectors share.

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/asio.h"

namespace funcd::triggers {

// Picks the I/O executor for the next delivery (round robin over funcd's I/O threads).
// Thread-safe.
using ExecutorPicker = std::function<asio::any_io_executor()>;

class Connector {
 public:
  virtual ~Connector() = default;

  // Makes `function` ("name.namespace") subscribe to exactly `topics` (empty: to nothing),
  // delivered synchronously or (`async`) through the async submitter. Takes effect at once
  // for messages not yet handed to a function; the broker is told in the background.
  // Thread-safe; never blocks on the network.
  virtual void Update(const std::string& function, const std::vector<std::string>& topics,
                      bool async) = 0;

  // Stops delivering (messages arriving later are dropped) and leaves the broker. Blocking;
  // idempotent. The destructor calls it.
  virtual void Stop() = 0;
};

// Bounds the deliveries in flight from one connector: the broker library's thread waits
// while the bound is reached, which pushes back on the broker instead of piling up calls.
// Thread-safe.
class InflightGate {
 public:
  explicit InflightGate(std::size_t limit) : limit_(limit) {}

  // Takes a slot, waiting while all are taken; false once closed.
  bool Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || inflight_ < limit_; });
    if (closed_) {
      return false;
    }
    ++inflight_;
    return true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      --inflight_;
    }
    cv_.notify_one();
  }
  // Wakes every waiter; later Acquire calls fail.
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  const std::size_t limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t inflight_ = 0;
  bool closed_ = false;
};

// Deliveries in flight per connector.
inline constexpr std::size_t kMaxInflightDeliveries = 1024;

}  // namespace funcd::triggers
