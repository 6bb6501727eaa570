#include "provider/replica_set.h"

#include <algorithm>

namespace funcd::provider {

std::shared_ptr<Replica> ReplicaSet::Acquire() {
  std::lock_guard lock(mu_);
  std::shared_ptr<Replica> best;
  std::int64_t best_load = 0;
  std::int64_t now = 0;  // read only when a replica is marked unreachable
  for (const auto& replica : replicas_) {
    const std::int64_t load = replica->inflight.load(std::memory_order_relaxed);
    if (replica->max_inflight > 0 && load >= replica->max_inflight) {
      continue;
    }
    if (const std::int64_t until = replica->unreachable_until.load(std::memory_order_relaxed);
        until != 0) {
      if (now == 0) {
        now = std::chrono::steady_clock::now().time_since_epoch().count();
      }
      if (now < until) {
        continue;
      }
      replica->unreachable_until.store(0, std::memory_order_relaxed);
    }
    if (!best || load < best_load) {
      best = replica;
      best_load = load;
    }
  }
  if (best) {
    best->inflight.fetch_add(1, std::memory_order_relaxed);
  }
  return best;
}

void ReplicaSet::Release(const std::shared_ptr<Replica>& replica) {
  const std::int64_t before = replica->inflight.fetch_sub(1, std::memory_order_relaxed);
  if (replica->max_inflight > 0 && before >= replica->max_inflight) {
    std::lock_guard lock(mu_);
    WakeAllLocked();  // a full replica has room again
  }
}

void ReplicaSet::MarkUnreachable(Replica& replica, std::chrono::nanoseconds period) {
  const auto until = std::chrono::steady_clock::now().time_since_epoch() + period;
  replica.unreachable_until.store(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(until).count(),
      std::memory_order_relaxed);
}

void ReplicaSet::Add(std::shared_ptr<Replica> replica) {
  std::lock_guard lock(mu_);
  replicas_.push_back(std::move(replica));
  WakeAllLocked();
}

std::shared_ptr<Replica> ReplicaSet::Remove(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it =
      std::find_if(replicas_.begin(), replicas_.end(), [id](const auto& r) { return r->id == id; });
  if (it == replicas_.end()) {
    return nullptr;
  }
  std::shared_ptr<Replica> removed = std::move(*it);
  replicas_.erase(it);
  return removed;
}

std::vector<std::shared_ptr<Replica>> ReplicaSet::List() const {
  std::lock_guard lock(mu_);
  return replicas_;
}

std::size_t ReplicaSet::size() const {
  std::lock_guard lock(mu_);
  return replicas_.size();
}

std::int64_t ReplicaSet::inflight() const {
  std::lock_guard lock(mu_);
  std::int64_t total = 0;
  for (const auto& r : replicas_) {
    total += r->inflight.load(std::memory_order_relaxed);
  }
  return total;
}

std::int64_t ReplicaSet::Demand() const {
  std::lock_guard lock(mu_);
  std::int64_t capacity_each = 0;
  std::int64_t wanted = static_cast<std::int64_t>(waiters_.size());
  for (const auto& replica : replicas_) {
    if (replica->max_inflight <= 0) {
      return 0;
    }
    capacity_each = std::max(capacity_each, replica->max_inflight);
    wanted += replica->inflight.load(std::memory_order_relaxed);
  }
  return capacity_each == 0 ? 0 : (wanted + capacity_each - 1) / capacity_each;
}

void ReplicaSet::AddWaiter(const std::shared_ptr<Wakeup>& waiter) {
  std::lock_guard lock(mu_);
  waiters_.push_back(waiter);
}

void ReplicaSet::RemoveWaiter(const std::shared_ptr<Wakeup>& waiter) {
  std::lock_guard lock(mu_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
}

std::size_t ReplicaSet::waiting() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

void ReplicaSet::WakeAllLocked() {
  for (const auto& waiter : waiters_) {
    waiter->Notify();
  }
}

}  // namespace funcd::provider
