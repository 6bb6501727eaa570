#pragma once

// The embedded queue's database file (STATE_DIR/queue.db): one table of calls, WAL mode,
// synchronous=FULL (a commit is on disk when it returns), locking_mode=EXCLUSIVE (one funcd
// owns the file; a second one fails to open it instead of sharing it unsafely).
//
// A call's row lives from enqueue to pruning:
//   state 0 (pending)  -> 2 (done) | 3 (dead) | 4 (cancelled);  3 -> 0 on redrive.
// "running" and "retrying" are not stored: an attempt in progress is pending on disk (so a
// crash delivers it again), and a pending row with attempts > 0 is waiting for a retry.
// The request (meta and body) is dropped when a call is done or cancelled; dead letters keep
// theirs for redrive.
//
// Not thread-safe: SqliteQueue's writer thread is the only user.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "queue/queue.h"

namespace funcd::queue::sqlite {

enum class RowState : int { kPending = 0, kDone = 2, kDead = 3, kCancelled = 4 };

// A pending call as the scheduler needs it (no request).
struct PendingRow {
  std::int64_t id = 0;
  std::string call_id;
  std::string key;
  int attempts = 0;
  std::int64_t not_before = 0;  // Unix nanoseconds
};

struct CallRow {
  std::int64_t id = 0;
  RowState state = RowState::kPending;
  CallStatus status;  // state is kQueued/kRetrying for pending rows
};

class QueueDb {
 public:
  // Opens or creates the file, sets the pragmas, creates the schema and takes the exclusive
  // lock. Errors: kUnavailable (cannot open, locked by another process), kInternal.
  static Result<std::unique_ptr<QueueDb>> Open(const std::string& path);
  ~QueueDb();
  QueueDb(const QueueDb&) = delete;
  QueueDb& operator=(const QueueDb&) = delete;

  Result<void> Begin();
  // The transaction is durable when this returns Ok.
  Result<void> Commit();
  void Rollback();

  // A new pending call; returns its row id. `meta` is EncodeMeta(message).
  Result<std::int64_t> Insert(const Message& message, std::string_view meta, std::int64_t now);
  // Done or cancelled: drops the request.
  Result<void> Finish(std::int64_t id, RowState state, int attempts, const Outcome& outcome,
                      std::int64_t now);
  // Still pending, due at `not_before`.
  Result<void> Reschedule(std::int64_t id, int attempts, std::int64_t not_before,
                          const Outcome& outcome, std::int64_t now);
  Result<void> Bury(std::int64_t id, int attempts, const Outcome& outcome, std::int64_t now);

  // Every pending call, oldest first (recovery after a restart).
  Result<std::vector<PendingRow>> LoadPending();
  // The stored request of a pending or dead call. Errors: kNotFound, kInvalidArgument (corrupt).
  Result<Message> LoadMessage(std::int64_t id);

  // The latest row with this call id, if any.
  Result<std::optional<CallRow>> FindCall(std::string_view call_id);
  // Marks the pending rows of this call id cancelled; returns how many.
  Result<std::size_t> CancelPending(std::string_view call_id, std::int64_t now);

  Result<std::vector<DeadLetter>> ListDead(const DeadFilter& filter, bool with_body);
  // Makes matching dead letters pending again with attempts 0; returns them.
  Result<std::vector<PendingRow>> Redrive(const DeadFilter& filter, std::int64_t now);
  Result<std::size_t> Purge(const DeadFilter& filter);
  // Deletes done and cancelled calls last changed before `before`, at most `limit`.
  Result<std::size_t> PruneFinished(std::int64_t before, std::size_t limit);
  // Number of pending rows.
  Result<std::int64_t> CountPending();

 private:
  class Stmt;
  explicit QueueDb(sqlite3* db);
  Result<void> Exec(const char* sql);
  Result<Stmt*> Prepared(int slot, const char* sql);

  sqlite3* db_;
  std::vector<std::unique_ptr<Stmt>> statements_;
};

}  // namespace funcd::queue::sqlite
