#include "queue/sqlite/sqlite_queue.h"

#include <algorithm>

#include "common/log.h"
#include "common/strings.h"

namespace funcd::queue::sqlite {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::seconds kPruneInterval{10};
constexpr std::size_t kPruneBatch = 5000;
// The longest Next() sleeps without looking at the clock again.
constexpr std::chrono::seconds kMaxIdleWait{1};

std::size_t MessageBytes(const Message& m) {
  std::size_t size = sizeof(Message) + m.body.size() + m.call_id.size() + m.path.size() +
                     m.query.size() + m.callback_url.size();
  for (const Header& h : m.headers) {
    size += h.name.size() + h.value.size() + sizeof(Header);
  }
  return size;
}

Error Closed() { return MakeError(ErrorCode::kUnavailable, "the async queue is shut down"); }

// For Submit calls that need nothing after the commit.
struct NoAfter {
  template <typename R, typename T>
  void operator()(R&, T&) const {}
};

}  // namespace

// One unit of work for the writer thread.
class SqliteQueue::Op {
 public:
  virtual ~Op() = default;
  // Inside the batch's transaction.
  virtual void Run(QueueDb& db) = 0;
  // After the batch's commit (or its failure), on the writer thread, no lock held.
  virtual void Done(const Result<void>& committed) = 0;
};

template <typename T, typename RunFn, typename AfterFn, typename Handler>
class SqliteQueue::AwaitOp final : public Op {
 public:
  AwaitOp(RunFn run, AfterFn after, Handler handler)
      : run_(std::move(run)),
        after_(std::move(after)),
        handler_(std::move(handler)),
        executor_(asio::prefer(asio::get_associated_executor(handler_),
                               asio::execution::outstanding_work.tracked)) {}

  void Run(QueueDb& db) override { result_.emplace(run_(db)); }

  void Done(const Result<void>& committed) override {
    Result<T> out = Closed();
    if (!committed) {
      out = committed.error();
    } else if (result_) {
      out = std::move(*result_);
      after_(run_, out);
    }
    // The tracked executor travels with the handler: the caller's context keeps its work
    // until the handler has run there, and nothing here touches that context afterwards.
    // (Posting through an untracked copy: a tracked one left here would be released after
    // the handler may have run and its context gone away.)
    asio::any_io_executor work = std::move(executor_);
    const asio::any_io_executor target =
        asio::prefer(work, asio::execution::outstanding_work.untracked);
    asio::post(target, [handler = std::move(handler_), out = std::move(out),
                        work = std::move(work)]() mutable { std::move(handler)(std::move(out)); });
  }

 private:
  RunFn run_;
  AfterFn after_;
  Handler handler_;
  asio::any_io_executor executor_;  // tracks work: the caller's context stays alive for us
  std::optional<Result<T>> result_;
};

template <typename RunFn>
class SqliteQueue::FireOp final : public Op {
 public:
  explicit FireOp(RunFn run) : run_(std::move(run)) {}
  void Run(QueueDb& db) override {
    if (auto done = run_(db); !done) {
      Logf("async queue: %s", done.error().message.c_str());
    }
  }
  void Done(const Result<void>&) override {}

 private:
  RunFn run_;
};

Result<std::unique_ptr<SqliteQueue>> SqliteQueue::Open(const std::string& path,
                                                       SqliteQueueOptions options) {
  FUNCD_ASSIGN_OR_RETURN(std::unique_ptr<QueueDb> db, QueueDb::Open(path));
  FUNCD_ASSIGN_OR_RETURN(std::vector<PendingRow> pending, db->LoadPending());
  std::unique_ptr<SqliteQueue> queue(new SqliteQueue(std::move(db), options));
  {
    std::lock_guard lock(queue->mu_);
    for (PendingRow& row : pending) {
      queue->AddPendingLocked(static_cast<std::uint64_t>(row.id), std::move(row.call_id),
                              std::move(row.key), row.attempts, row.not_before, std::nullopt);
    }
  }
  if (!pending.empty()) {
    Logf("async queue: %zu pending call(s) recovered from %s", pending.size(), path.c_str());
  }
  queue->writer_ = std::thread([q = queue.get()] { q->WriterLoop(); });
  return queue;
}

SqliteQueue::SqliteQueue(std::unique_ptr<QueueDb> db, SqliteQueueOptions options)
    : options_(options), db_(std::move(db)) {}

SqliteQueue::~SqliteQueue() {
  Close();
  Shutdown();
}

// ---------------------------------------------------------------------------------------
// The writer thread

void SqliteQueue::Push(std::unique_ptr<Op> op) {
  {
    std::lock_guard lock(ops_mu_);
    if (!stopped_) {
      ops_.push_back(std::move(op));
      ++submitted_;
    }
  }
  if (op) {  // not taken: the writer is gone
    op->Done(Closed());
    return;
  }
  ops_cv_.notify_one();
}

template <typename T, typename Run, typename After>
asio::awaitable<Result<T>> SqliteQueue::Submit(Run run, After after) {
  auto initiation = [this, &run, &after](auto handler) {
    using Handler = decltype(handler);
    Push(std::make_unique<AwaitOp<T, Run, After, Handler>>(std::move(run), std::move(after),
                                                           std::move(handler)));
  };
  auto operation = asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<T>)>(
      std::move(initiation), asio::use_awaitable);
  co_return co_await std::move(operation);
}

template <typename Run>
void SqliteQueue::SubmitNoWait(Run run) {
  Push(std::make_unique<FireOp<Run>>(std::move(run)));
}

void SqliteQueue::WriterLoop() {
  SteadyClock::time_point next_prune = SteadyClock::now() + kPruneInterval;
  for (;;) {
    std::vector<std::unique_ptr<Op>> batch;
    std::uint64_t batch_end = 0;
    {
      std::unique_lock lock(ops_mu_);
      ops_cv_.wait_until(lock, next_prune, [&] { return !ops_.empty() || stopping_; });
      if (ops_.empty() && stopping_) {
        stopped_ = true;
        break;
      }
      batch.swap(ops_);
      batch_end = submitted_;
    }
    if (!batch.empty()) {
      // Everything that piled up during the previous commit goes into this one.
      Result<void> committed = db_->Begin();
      if (committed) {
        for (auto& op : batch) {
          op->Run(*db_);
        }
        committed = db_->Commit();
      }
      if (!committed) {
        db_->Rollback();
        Logf("async queue: commit of %zu write(s) failed: %s", batch.size(),
             committed.error().message.c_str());
      }
      for (auto& op : batch) {
        op->Done(committed);
      }
      batch.clear();
    }
    {
      std::lock_guard lock(ops_mu_);
      committed_ = std::max(committed_, batch_end);
    }
    flushed_cv_.notify_all();
    PruneIfDue(next_prune);
  }
  flushed_cv_.notify_all();
}

void SqliteQueue::PruneIfDue(SteadyClock::time_point& next) {
  if (SteadyClock::now() < next) {
    return;
  }
  next = SteadyClock::now() + kPruneInterval;
  const std::int64_t before = UnixNanosNow() - options_.retention.count();
  Result<std::size_t> pruned = 0;
  if (auto begun = db_->Begin(); begun) {
    pruned = db_->PruneFinished(before, kPruneBatch);
    if (auto committed = db_->Commit(); !committed) {
      db_->Rollback();
      pruned = committed.error();
    }
  } else {
    pruned = begun.error();
  }
  if (!pruned) {
    Logf("async queue: pruning finished calls: %s", pruned.error().message.c_str());
  } else if (*pruned == kPruneBatch) {
    next = SteadyClock::now();  // more to do: keep going after the next batch
  }
}

void SqliteQueue::Flush() {
  std::unique_lock lock(ops_mu_);
  const std::uint64_t target = submitted_;
  flushed_cv_.wait(lock, [&] { return committed_ >= target || stopped_; });
}

void SqliteQueue::Shutdown() {
  {
    std::lock_guard lock(ops_mu_);
    stopping_ = true;
  }
  ops_cv_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
  }
}

// ---------------------------------------------------------------------------------------
// The schedule

void SqliteQueue::AddPendingLocked(std::uint64_t id, std::string call_id, std::string key,
                                   int attempts, std::int64_t not_before,
                                   std::optional<Message> cached) {
  FunctionQueue& fq = functions_[key];
  auto [it, inserted] = entries_.try_emplace(id);
  if (!inserted) {
    return;  // already scheduled
  }
  Entry& entry = it->second;
  by_call_id_.emplace(call_id, id);
  entry.call_id = std::move(call_id);
  entry.key = std::move(key);
  entry.attempts = attempts;
  CacheLocked(entry, std::move(cached));
  ++fq.waiting;
  ++pending_;
  if (not_before > UnixNanosNow()) {
    delayed_.emplace(not_before, id);
  } else {
    fq.ready.push_back(id);
  }
}

void SqliteQueue::CacheLocked(Entry& entry, std::optional<Message> message) {
  UncacheLocked(entry);
  if (!message || message->body.size() > options_.cache_message_limit) {
    return;
  }
  const std::size_t bytes = MessageBytes(*message);
  if (cached_bytes_ + bytes > options_.cache_bytes) {
    return;  // read back from disk at dispatch
  }
  cached_bytes_ += bytes;
  entry.cached = std::move(message);
}

void SqliteQueue::UncacheLocked(Entry& entry) {
  if (entry.cached) {
    cached_bytes_ -= std::min(cached_bytes_, MessageBytes(*entry.cached));
    entry.cached.reset();
  }
}

SqliteQueue::Entry SqliteQueue::TakeLocked(std::uint64_t id) {
  auto it = entries_.find(id);
  Entry entry = std::move(it->second);
  entries_.erase(it);
  UncacheLocked(entry);
  auto range = by_call_id_.equal_range(entry.call_id);
  for (auto c = range.first; c != range.second; ++c) {
    if (c->second == id) {
      by_call_id_.erase(c);
      break;
    }
  }
  --pending_;
  auto fq = functions_.find(entry.key);
  if (fq != functions_.end()) {
    --(entry.running ? fq->second.running : fq->second.waiting);
    if (fq->second.running == 0 && fq->second.waiting == 0) {
      functions_.erase(fq);  // its ready list holds only stale ids now
    }
  }
  return entry;
}

void SqliteQueue::PromoteDueLocked(std::int64_t now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    const std::uint64_t id = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.running) {
      continue;  // cancelled meanwhile
    }
    functions_[it->second.key].ready.push_back(id);
  }
}

void SqliteQueue::PickLocked(std::size_t max, const AdmitFn& admit, std::vector<Delivery>& out,
                             std::vector<std::size_t>& to_load) {
  std::vector<std::pair<std::string_view, std::size_t>> taken;
  auto taken_of = [&](std::string_view key) -> std::size_t& {
    for (auto& [k, n] : taken) {
      if (k == key) {
        return n;
      }
    }
    return taken.emplace_back(key, 0).second;
  };
  // Round robin between functions, one message each per pass, so that a function with a
  // deep backlog does not starve the others.
  bool progress = true;
  while (out.size() < max && progress && !functions_.empty()) {
    progress = false;
    auto it = functions_.upper_bound(round_robin_);
    for (std::size_t n = functions_.size(); n > 0 && out.size() < max; --n, ++it) {
      if (it == functions_.end()) {
        it = functions_.begin();
      }
      FunctionQueue& fq = it->second;
      while (!fq.ready.empty()) {
        auto e = entries_.find(fq.ready.front());
        if (e != entries_.end() && !e->second.running) {
          break;
        }
        fq.ready.pop_front();  // cancelled or otherwise gone
      }
      if (fq.ready.empty()) {
        continue;
      }
      std::size_t& count = taken_of(it->first);
      if (!admit(it->first, count)) {
        continue;
      }
      const std::uint64_t id = fq.ready.front();
      fq.ready.pop_front();
      Entry& entry = entries_.at(id);
      entry.running = true;
      --fq.waiting;
      ++fq.running;
      ++count;
      Delivery& delivery = out.emplace_back();
      delivery.token = id;
      delivery.attempt = entry.attempts;
      if (entry.cached) {
        cached_bytes_ -= std::min(cached_bytes_, MessageBytes(*entry.cached));
        delivery.message = std::move(*entry.cached);
        entry.cached.reset();
      } else {
        to_load.push_back(out.size() - 1);
      }
      round_robin_ = it->first;
      progress = true;
    }
  }
}

void SqliteQueue::NotifyLocked() {
  if (waiter_) {
    waiter_->Notify();
  }
}

void SqliteQueue::Wake() {
  std::lock_guard lock(mu_);
  NotifyLocked();
}

void SqliteQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  NotifyLocked();
}

std::vector<FunctionDepth> SqliteQueue::Depths() {
  std::lock_guard lock(mu_);
  std::vector<FunctionDepth> out;
  out.reserve(functions_.size());
  for (const auto& [key, fq] : functions_) {
    out.push_back(FunctionDepth{key, fq.waiting, fq.running});
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Enqueue and delivery

namespace {

struct InsertRun {
  Message message;
  std::string meta;
  std::int64_t now;
  Result<std::int64_t> operator()(QueueDb& db) const { return db.Insert(message, meta, now); }
};

struct LoadRun {
  std::vector<std::uint64_t> ids;
  Result<std::vector<Result<Message>>> operator()(QueueDb& db) const {
    std::vector<Result<Message>> out;
    out.reserve(ids.size());
    for (std::uint64_t id : ids) {
      out.push_back(db.LoadMessage(static_cast<std::int64_t>(id)));
    }
    return out;
  }
};

}  // namespace

asio::awaitable<Result<void>> SqliteQueue::Enqueue(Message message) {
  if (options_.max_pending > 0) {
    std::lock_guard lock(mu_);
    if (pending_ >= options_.max_pending) {
      co_return MakeError(ErrorCode::kResourceExhausted,
                          StrCat("the async queue is full (", pending_, " calls waiting)"));
    }
  }
  InsertRun run{std::move(message), {}, UnixNanosNow()};
  run.meta = EncodeMeta(run.message);  // on the caller's thread, not the writer's
  auto after = [this](InsertRun& inserted, Result<std::int64_t>& id) {
    if (!id) {
      return;
    }
    std::lock_guard lock(mu_);
    std::string call_id = inserted.message.call_id;
    std::string key = inserted.message.key;
    AddPendingLocked(static_cast<std::uint64_t>(*id), std::move(call_id), std::move(key), 0,
                     inserted.now, std::move(inserted.message));
    NotifyLocked();
  };
  Result<std::int64_t> id = co_await Submit<std::int64_t>(std::move(run), std::move(after));
  if (!id) {
    co_return std::move(id).error();
  }
  co_return Ok();
}

asio::awaitable<std::vector<Delivery>> SqliteQueue::Next(std::size_t max, AdmitFn admit) {
  // A waiter per call, on the caller's executor: a timer must not outlive its context.
  const std::shared_ptr<Wakeup> waiter = Wakeup::Create(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    waiter_ = waiter;
  }
  // (Not an RAII guard: a frame destroyed unfinished, with its context, must not touch the
  // queue, which may be gone by then.)
  auto unregister = [this] {
    std::lock_guard lock(mu_);
    waiter_.reset();
  };
  for (;;) {
    std::vector<Delivery> out;
    std::vector<std::size_t> to_load;
    std::int64_t next_due = 0;
    bool closed = false;
    {
      std::lock_guard lock(mu_);
      closed = closed_;
      if (!closed) {
        PromoteDueLocked(UnixNanosNow());
        PickLocked(max, admit, out, to_load);
        next_due = delayed_.empty() ? 0 : delayed_.begin()->first;
      }
    }
    if (closed) {
      unregister();
      co_return out;
    }
    if (out.empty()) {
      SteadyClock::time_point deadline = SteadyClock::now() + kMaxIdleWait;
      if (next_due != 0) {
        const std::int64_t wait = std::max<std::int64_t>(next_due - UnixNanosNow(), 0);
        deadline = std::min(deadline, SteadyClock::now() + std::chrono::nanoseconds(wait));
      }
      co_await waiter->Wait(deadline);
      continue;
    }
    if (!to_load.empty()) {
      out = co_await LoadRequests(std::move(out), std::move(to_load));
    }
    if (!out.empty()) {
      unregister();
      co_return out;
    }
  }
}

asio::awaitable<std::vector<Delivery>> SqliteQueue::LoadRequests(std::vector<Delivery> out,
                                                                 std::vector<std::size_t> to_load) {
  // Requests that did not fit in memory: one read for the whole batch.
  LoadRun load;
  for (std::size_t index : to_load) {
    load.ids.push_back(out[index].token);
  }
  Result<std::vector<Result<Message>>> loaded =
      co_await Submit<std::vector<Result<Message>>>(std::move(load), NoAfter{});
  std::vector<bool> drop(out.size(), false);
  for (std::size_t i = 0; i < to_load.size(); ++i) {
    Delivery& delivery = out[to_load[i]];
    Result<Message>* message = loaded ? &(*loaded)[i] : nullptr;
    if (message != nullptr && message->has_value()) {
      delivery.message = std::move(**message);
      continue;
    }
    drop[to_load[i]] = true;
    const Error error = message != nullptr ? message->error() : loaded.error();
    Logf("async queue: cannot read call #%llu: %s", static_cast<unsigned long long>(delivery.token),
         error.message.c_str());
    if (error.code == ErrorCode::kUnavailable) {
      Retry(std::move(delivery), std::chrono::seconds(1), Outcome{});  // the disk may recover
    } else {
      Bury(std::move(delivery), Outcome{0, error.message, ""});
    }
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!drop[i]) {
      if (kept != i) {
        out[kept] = std::move(out[i]);
      }
      ++kept;
    }
  }
  out.resize(kept);
  co_return out;
}

void SqliteQueue::Complete(Delivery delivery, Outcome outcome) {
  RowState state = RowState::kDone;
  {
    std::lock_guard lock(mu_);
    if (!entries_.contains(delivery.token)) {
      return;
    }
    if (TakeLocked(delivery.token).cancelled) {
      state = RowState::kCancelled;
    }
  }
  SubmitNoWait(
      [id = static_cast<std::int64_t>(delivery.token), state, attempts = delivery.attempt + 1,
       outcome = std::move(outcome),
       now = UnixNanosNow()](QueueDb& db) { return db.Finish(id, state, attempts, outcome, now); });
}

void SqliteQueue::Retry(Delivery delivery, std::chrono::nanoseconds delay, Outcome outcome) {
  const std::int64_t now = UnixNanosNow();
  const std::int64_t due = now + delay.count();
  const int attempts = delivery.attempt + 1;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(delivery.token);
    if (it == entries_.end()) {
      return;
    }
    if (it->second.cancelled) {
      TakeLocked(delivery.token);
      SubmitNoWait([id = static_cast<std::int64_t>(delivery.token), attempts,
                    outcome = std::move(outcome), now](QueueDb& db) {
        return db.Finish(id, RowState::kCancelled, attempts, outcome, now);
      });
      return;
    }
    Entry& entry = it->second;
    entry.running = false;
    entry.attempts = attempts;
    FunctionQueue& fq = functions_[entry.key];
    --fq.running;
    ++fq.waiting;
    delayed_.emplace(due, delivery.token);
    NotifyLocked();  // Next() may be sleeping past the new due time
  }
  SubmitNoWait([id = static_cast<std::int64_t>(delivery.token), attempts, due,
                outcome = std::move(outcome),
                now](QueueDb& db) { return db.Reschedule(id, attempts, due, outcome, now); });
}

void SqliteQueue::Bury(Delivery delivery, Outcome outcome) {
  bool cancelled = false;
  {
    std::lock_guard lock(mu_);
    if (!entries_.contains(delivery.token)) {
      return;
    }
    cancelled = TakeLocked(delivery.token).cancelled;
  }
  SubmitNoWait([id = static_cast<std::int64_t>(delivery.token), attempts = delivery.attempt + 1,
                outcome = std::move(outcome), cancelled, now = UnixNanosNow()](QueueDb& db) {
    return cancelled ? db.Finish(id, RowState::kCancelled, attempts, outcome, now)
                     : db.Bury(id, attempts, outcome, now);
  });
}

void SqliteQueue::Release(Delivery delivery) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(delivery.token);
  if (it == entries_.end() || !it->second.running) {
    return;
  }
  Entry& entry = it->second;
  entry.running = false;
  FunctionQueue& fq = functions_[entry.key];
  --fq.running;
  ++fq.waiting;
  fq.ready.push_front(delivery.token);
  CacheLocked(entry, std::move(delivery.message));
  NotifyLocked();
}

bool SqliteQueue::Cancelled(const Delivery& delivery) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(delivery.token);
  return it == entries_.end() || it->second.cancelled;
}

bool SqliteQueue::Finishing(const Delivery& delivery) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(delivery.token);
  if (it == entries_.end() || it->second.cancelled) {
    return false;
  }
  it->second.finishing = true;
  return true;
}

// ---------------------------------------------------------------------------------------
// Management

asio::awaitable<Result<CallStatus>> SqliteQueue::Status(std::string call_id) {
  auto find = [call_id](QueueDb& db) { return db.FindCall(call_id); };
  Result<std::optional<CallRow>> row =
      co_await Submit<std::optional<CallRow>>(std::move(find), NoAfter{});
  if (!row) {
    co_return std::move(row).error();
  }
  if (!row->has_value()) {
    co_return MakeError(ErrorCode::kNotFound, StrCat("no async call with id ", call_id));
  }
  CallStatus status = std::move((*row)->status);
  if ((*row)->state == RowState::kPending) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(static_cast<std::uint64_t>((*row)->id));
    if (it != entries_.end() && it->second.running) {
      status.state = CallState::kRunning;
      status.attempts = it->second.attempts + 1;
      status.next_attempt_at = 0;
    }
  }
  co_return status;
}

asio::awaitable<Result<CallState>> SqliteQueue::Cancel(std::string call_id) {
  std::optional<CallState> before;
  bool finishing = false;
  {
    std::lock_guard lock(mu_);
    std::vector<std::uint64_t> waiting;
    auto range = by_call_id_.equal_range(call_id);
    for (auto it = range.first; it != range.second; ++it) {
      finishing = finishing || entries_.at(it->second).finishing;
    }
    for (auto it = range.first; it != range.second && !finishing; ++it) {
      Entry& entry = entries_.at(it->second);
      if (entry.running) {
        entry.cancelled = true;  // its worker discards the result
        before = CallState::kRunning;
      } else {
        waiting.push_back(it->second);
        if (!before) {
          before = entry.attempts > 0 ? CallState::kRetrying : CallState::kQueued;
        }
      }
    }
    for (std::uint64_t id : waiting) {
      TakeLocked(id);
    }
  }
  if (finishing) {  // its result is being delivered: too late
    co_return MakeError(ErrorCode::kFailedPrecondition,
                        StrCat("call ", call_id, " is finishing: its result is being delivered"));
  }
  if (before) {
    auto cancel = [call_id, now = UnixNanosNow()](QueueDb& db) {
      return db.CancelPending(call_id, now);
    };
    Result<std::size_t> cancelled = co_await Submit<std::size_t>(std::move(cancel), NoAfter{});
    if (!cancelled) {
      co_return std::move(cancelled).error();
    }
    co_return *before;
  }
  auto find = [call_id](QueueDb& db) { return db.FindCall(call_id); };
  Result<std::optional<CallRow>> row =
      co_await Submit<std::optional<CallRow>>(std::move(find), NoAfter{});
  if (!row) {
    co_return std::move(row).error();
  }
  if (!row->has_value()) {
    co_return MakeError(ErrorCode::kNotFound, StrCat("no async call with id ", call_id));
  }
  co_return MakeError(ErrorCode::kFailedPrecondition, StrCat("call ", call_id, " is already ",
                                                             CallStateName((*row)->status.state)));
}

asio::awaitable<Result<std::vector<DeadLetter>>> SqliteQueue::ListDead(DeadFilter filter) {
  auto list = [filter](QueueDb& db) { return db.ListDead(filter, false); };
  co_return co_await Submit<std::vector<DeadLetter>>(std::move(list), NoAfter{});
}

asio::awaitable<Result<DeadLetter>> SqliteQueue::GetDead(std::string call_id) {
  DeadFilter filter;
  filter.call_id = call_id;
  filter.limit = 1;
  auto list = [filter](QueueDb& db) { return db.ListDead(filter, true); };
  Result<std::vector<DeadLetter>> found =
      co_await Submit<std::vector<DeadLetter>>(std::move(list), NoAfter{});
  if (!found) {
    co_return std::move(found).error();
  }
  if (found->empty()) {
    co_return MakeError(ErrorCode::kNotFound, StrCat("no dead letter with call id ", call_id));
  }
  co_return std::move(found->front());
}

asio::awaitable<Result<std::size_t>> SqliteQueue::Redrive(DeadFilter filter) {
  auto redrive = [filter, now = UnixNanosNow()](QueueDb& db) { return db.Redrive(filter, now); };
  auto after = [this](auto&, Result<std::vector<PendingRow>>& rows) {
    if (!rows) {
      return;
    }
    std::lock_guard lock(mu_);
    for (PendingRow& row : *rows) {
      AddPendingLocked(static_cast<std::uint64_t>(row.id), std::move(row.call_id),
                       std::move(row.key), 0, row.not_before, std::nullopt);
    }
    NotifyLocked();
  };
  Result<std::vector<PendingRow>> rows =
      co_await Submit<std::vector<PendingRow>>(std::move(redrive), std::move(after));
  if (!rows) {
    co_return std::move(rows).error();
  }
  co_return rows->size();
}

asio::awaitable<Result<std::size_t>> SqliteQueue::Purge(DeadFilter filter) {
  auto purge = [filter](QueueDb& db) { return db.Purge(filter); };
  co_return co_await Submit<std::size_t>(std::move(purge), NoAfter{});
}

}  // namespace funcd::queue::sqlite
