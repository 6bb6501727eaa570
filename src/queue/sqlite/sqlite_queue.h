#pragma once

// The embedded queue: calls in an SQLite file (queue_db.h), scheduled in memory.
//
// Writes go to one writer thread that commits whatever has piled up while the previous
// commit was syncing, in one transaction: concurrent enqueues share one fsync (group commit),
// and an enqueue completes only once its transaction is on disk. Settling a delivery
// (complete, retry, bury) rides on the same batches without being waited for.
//
// The schedule (what is due, per function, round robin between functions) lives in memory
// and is rebuilt from the file at start-up; attempts in progress are not written down, so a
// crash leaves them pending and they are delivered again (at-least-once). Requests are kept
// in memory while they fit a budget and read back from the file otherwise.
//
// Thread-safe (see Queue). One process per file (exclusive lock).

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/wakeup.h"
#include "queue/queue.h"
#include "queue/sqlite/queue_db.h"

namespace funcd::queue::sqlite {

struct SqliteQueueOptions {
  // Requests kept in memory for dispatch, in bytes; beyond, they are read back from disk.
  std::size_t cache_bytes = 64 << 20;
  // A request larger than this is never kept in memory.
  std::size_t cache_message_limit = 1 << 20;
  // Done and cancelled calls stay visible to Status for this long.
  std::chrono::nanoseconds retention = std::chrono::hours(1);
  // Pending calls beyond this make Enqueue fail with kResourceExhausted; 0: no limit.
  std::size_t max_pending = 0;
};

class SqliteQueue final : public Queue {
 public:
  // Opens (or creates) the queue file and loads the pending calls.
  // Errors: kUnavailable (in use by another process, unreadable), kInternal.
  static Result<std::unique_ptr<SqliteQueue>> Open(const std::string& path,
                                                   SqliteQueueOptions options = {});
  // Commits what is pending and closes the file.
  ~SqliteQueue() override;

  asio::awaitable<Result<void>> Enqueue(Message message) override;
  asio::awaitable<std::vector<Delivery>> Next(std::size_t max, AdmitFn admit) override;
  void Wake() override;
  void Complete(Delivery delivery, Outcome outcome) override;
  void Retry(Delivery delivery, std::chrono::nanoseconds delay, Outcome outcome) override;
  void Bury(Delivery delivery, Outcome outcome) override;
  void Release(Delivery delivery) override;
  bool Cancelled(const Delivery& delivery) override;
  bool Finishing(const Delivery& delivery) override;
  asio::awaitable<Result<CallStatus>> Status(std::string call_id) override;
  asio::awaitable<Result<CallState>> Cancel(std::string call_id) override;
  asio::awaitable<Result<std::vector<DeadLetter>>> ListDead(DeadFilter filter) override;
  asio::awaitable<Result<DeadLetter>> GetDead(std::string call_id) override;
  asio::awaitable<Result<std::size_t>> Redrive(DeadFilter filter) override;
  asio::awaitable<Result<std::size_t>> Purge(DeadFilter filter) override;
  std::vector<FunctionDepth> Depths() override;
  void Close() override;
  std::string_view name() const override { return "sqlite"; }

  // Waits until every write submitted so far is committed (tests, shutdown).
  void Flush();
  // Commits pending writes and stops the writer thread; later writes are dropped.
  void Shutdown();

 private:
  class Op;
  template <typename T, typename RunFn, typename AfterFn, typename Handler>
  class AwaitOp;
  template <typename RunFn>
  class FireOp;

  struct Entry {
    std::string call_id;
    std::string key;
    int attempts = 0;
    bool running = false;
    bool cancelled = false;         // while running: discard the result
    bool finishing = false;         // while running: its final answer is being delivered
    std::optional<Message> cached;  // the request, when kept in memory
  };
  struct FunctionQueue {
    std::deque<std::uint64_t> ready;  // due, oldest first (may hold ids since removed)
    std::int64_t waiting = 0;         // queued or retrying
    std::int64_t running = 0;
  };

  SqliteQueue(std::unique_ptr<QueueDb> db, SqliteQueueOptions options);

  // Runs `run(db)` in the next batch; after the commit, `after(result)` on the writer thread
  // (under no lock), then resumes the caller with the result.
  template <typename T, typename Run, typename After>
  asio::awaitable<Result<T>> Submit(Run run, After after);
  // Runs `run(db)` in the next batch; nobody waits.
  template <typename Run>
  void SubmitNoWait(Run run);
  void Push(std::unique_ptr<Op> op);
  // Reads the requests of out[to_load[i]] from disk; drops the deliveries it cannot read
  // (retried later, or buried when the row is gone or corrupt).
  asio::awaitable<std::vector<Delivery>> LoadRequests(std::vector<Delivery> out,
                                                      std::vector<std::size_t> to_load);
  void WriterLoop();
  void PruneIfDue(std::chrono::steady_clock::time_point& next);

  // REQUIRES: mu_ held.
  void AddPendingLocked(std::uint64_t id, std::string call_id, std::string key, int attempts,
                        std::int64_t not_before, std::optional<Message> cached);
  void PromoteDueLocked(std::int64_t now);
  void PickLocked(std::size_t max, const AdmitFn& admit, std::vector<Delivery>& out,
                  std::vector<std::size_t>& to_load);
  void CacheLocked(Entry& entry, std::optional<Message> message);
  void UncacheLocked(Entry& entry);
  // Removes the entry; returns it.
  Entry TakeLocked(std::uint64_t id);
  void NotifyLocked();

  const SqliteQueueOptions options_;

  std::mutex mu_;  // the schedule
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::unordered_multimap<std::string, std::uint64_t> by_call_id_;
  std::map<std::string, FunctionQueue, std::less<>> functions_;
  std::multimap<std::int64_t, std::uint64_t> delayed_;  // due time -> id
  std::string round_robin_;                             // the function served last
  std::size_t cached_bytes_ = 0;
  std::size_t pending_ = 0;
  bool closed_ = false;
  std::shared_ptr<Wakeup> waiter_;

  std::mutex ops_mu_;  // the writer's inbox
  std::condition_variable ops_cv_;
  std::condition_variable flushed_cv_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::uint64_t submitted_ = 0;
  std::uint64_t committed_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  std::unique_ptr<QueueDb> db_;  // the writer thread's
  std::thread writer_;
};

}  // namespace funcd::queue::sqlite
