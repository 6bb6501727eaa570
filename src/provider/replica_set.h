#pragma once

// The replicas of one function that can take requests, as the invoker sees them. The
// runtime adds a replica once it is ready and removes it before stopping it; the invoker
// picks the least busy replica with room (max_inflight) and holds requests while none has.
//
// Thread-safe: the runtime's thread and every I/O thread use it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/wakeup.h"
#include "http/client.h"

namespace funcd::provider {

// When a replica's start was asked for, when its process was spawned and when it was ready
// (the cold-start phases; all equal when unknown).
struct StartTimes {
  std::chrono::steady_clock::time_point requested;
  std::chrono::steady_clock::time_point spawned;
  std::chrono::steady_clock::time_point ready;
};

struct Replica {
  Replica(std::uint64_t id, http::Endpoint endpoint, std::string instance,
          std::int64_t max_inflight, StartTimes start = {})
      : id(id),
        endpoint(std::move(endpoint)),
        instance(std::move(instance)),
        max_inflight(max_inflight),
        start(start) {}

  const std::uint64_t id;           // unique for the life of the server
  const http::Endpoint endpoint;    // where its watchdog listens
  const std::string instance;       // name in logs ("figlet-3")
  const std::int64_t max_inflight;  // 0: no limit
  const StartTimes start;
  std::atomic<std::int64_t> inflight{0};
  std::atomic<bool> served{false};  // set by the first call to complete
  // Steady-clock nanoseconds until which Acquire passes it over (MarkUnreachable); 0: never.
  std::atomic<std::int64_t> unreachable_until{0};
};

class ReplicaSet {
 public:
  // The least loaded replica with room, counting the request as in flight; nullptr when
  // there is none (no replica, or every one at max_inflight).
  std::shared_ptr<Replica> Acquire();
  // Ends a request acquired with Acquire.
  void Release(const std::shared_ptr<Replica>& replica);
  // A replica refused a connection: Acquire passes it over for `period` (the runtime
  // removes it meanwhile if it died). Waiters are not woken when the period ends; they
  // look again at least every kUnreachablePeriod (see gateway::Invoker::Admit).
  static constexpr std::chrono::milliseconds kUnreachablePeriod{200};
  void MarkUnreachable(Replica& replica, std::chrono::nanoseconds period = kUnreachablePeriod);

  // A ready replica joins; waiting requests are woken.
  void Add(std::shared_ptr<Replica> replica);
  // A replica stops taking requests (requests in flight go on). Returns it, or nullptr.
  std::shared_ptr<Replica> Remove(std::uint64_t id);
  std::vector<std::shared_ptr<Replica>> List() const;
  std::size_t size() const;
  std::int64_t inflight() const;
  // The replica count that would give every call in flight or waiting a slot, when every
  // replica caps its calls (max_inflight); 0 when one does not (there is always room).
  std::int64_t Demand() const;

  // Registers a waiter, woken when a replica joins or a full replica frees a slot.
  void AddWaiter(const std::shared_ptr<Wakeup>& waiter);
  void RemoveWaiter(const std::shared_ptr<Wakeup>& waiter);
  std::size_t waiting() const;

 private:
  void WakeAllLocked();

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Replica>> replicas_;
  std::vector<std::shared_ptr<Wakeup>> waiters_;
};

}  // namespace funcd::provider
