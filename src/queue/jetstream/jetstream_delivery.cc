// JetStreamQueue: delivery (fetching, marking calls running, handing them to the workers).

#include <algorithm>
#include <latch>

#include "common/libnats.h"
#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/internal.h"
#include "queue/jetstream/jetstream_queue.h"
#include "queue/jetstream/records.h"

namespace funcd::queue::jetstream {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMaxIdleWait{1};
// Fetched messages kept waiting for a worker slot at most.
constexpr std::size_t kMaxWaiting = 256;
// Below this many waiting, Next() fetches up to twice as many: one pull request per batch,
// not per freed worker slot, and the fetch off the path of the handed-out calls.
constexpr std::size_t kPrefetch = 64;

// The longest a fetch of a batch waits when the stream has fewer messages.
constexpr std::chrono::milliseconds kBusyFetchWait{50};

bool NoMessages(natsStatus s) { return s == NATS_NOT_FOUND || s == NATS_TIMEOUT; }

}  // namespace

std::vector<JetStreamQueue::Held> JetStreamQueue::FetchBlocking(std::size_t max,
                                                                std::chrono::milliseconds wait) {
  std::vector<Held> out;
  natsMsgList list{};
  // libnats' simple fetch takes what is there at once (a "no wait" pull request) when asked
  // for more than one message, but when there is nothing it waits for the whole batch. So
  // after an empty fetch ask for one (returns as soon as one comes), else for the batch
  // with a short wait. (natsSubscription_FetchRequest's NoWait is avoided: libnats 3.4.1
  // returned more messages than asked for with it.)
  const bool idle = last_fetch_empty_;
  jsErrCode js_err = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, idle ? 1 : static_cast<int>(max),
                                        (idle ? wait : kBusyFetchWait).count(), &js_err);
  last_fetch_empty_ = s != NATS_OK || list.Count == 0;
  if (s != NATS_OK) {
    if (!NoMessages(s)) {
      Logf("async queue: fetching from %s: %s", options_.stream.c_str(), natsStatus_GetText(s));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server may be back
    }
    natsMsgList_Destroy(&list);
    return out;
  }
  // First deliveries need no record read; the records of the others are read in parallel
  // on the pool, the fetch thread waiting for the whole batch.
  std::vector<natsMsg*> redelivered;
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
    list.Msgs[i] = nullptr;
    if (std::optional<Held> held = PrepareFirstDelivery(msg)) {
      out.push_back(std::move(*held));
    } else {
      redelivered.push_back(msg);
    }
  }
  std::vector<std::optional<Held>> prepared(redelivered.size());
  std::latch done(static_cast<std::ptrdiff_t>(redelivered.size()));
  for (std::size_t i = 0; i < redelivered.size(); ++i) {
    asio::post(pool_, [this, msg = redelivered[i], slot = &prepared[i], &done] {
      *slot = PrepareBlocking(msg);
      done.count_down();
    });
  }
  done.wait();
  for (std::optional<Held>& held : prepared) {
    if (held) {
      out.push_back(std::move(*held));
    }
  }
  natsMsgList_Destroy(&list);
  return out;
}

std::optional<JetStreamQueue::Held> JetStreamQueue::PrepareFirstDelivery(natsMsg* msg) {
  // Delivered before (retried, given back, or lost with its process): the record may say
  // anything, read it.
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
    return std::nullopt;
  }
  const bool first = meta->NumDelivered == 1;
  const std::int64_t stored_at = meta->Timestamp;
  jsMsgMetaData_Destroy(meta);
  const char* revision_text = nullptr;
  if (!first || natsMsgHeader_Get(msg, kRecordRevisionHeader, &revision_text) != NATS_OK) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> revision = ParseUint(revision_text);
  if (!revision || *revision == 0) {
    return std::nullopt;
  }
  std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  Result<Message> message = DecodeFramed(data);
  if (!message) {
    return std::nullopt;  // PrepareBlocking drops it
  }
  // The record as Enqueue wrote it: if it changed since (cancelled, expired), marking the
  // call running fails and reads it.
  Held held;
  held.msg = msg;
  held.record.call_id = message->call_id;
  held.record.function = message->key;
  held.record.state = CallState::kQueued;
  held.record.enqueued_at = message->enqueued_at != 0 ? message->enqueued_at : stored_at;
  held.record.updated_at = stored_at;
  held.revision = *revision;
  held.message = std::move(*message);
  return held;
}

std::optional<JetStreamQueue::Held> JetStreamQueue::PrepareBlocking(natsMsg* msg) {
  std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  Result<Message> message = DecodeFramed(data);
  if (!message) {
    Logf("async queue: dropping an unreadable message: %s", message.error().message.c_str());
    natsMsg_Term(msg, nullptr);
    natsMsg_Destroy(msg);
    return std::nullopt;
  }
  std::uint64_t revision = 0;
  Result<CallStatus> record = GetRecordBlocking(message->call_id, &revision);
  CallStatus status;
  if (record) {
    status = std::move(*record);
    if (status.state == CallState::kCancelled || status.state == CallState::kDone ||
        status.state == CallState::kDead) {
      // Cancelled while waiting, or settled by a process whose ack was lost.
      natsMsg_Ack(msg, nullptr);
      natsMsg_Destroy(msg);
      return std::nullopt;
    }
    if (status.state == CallState::kRunning) {
      status.attempts = std::max(status.attempts - 1, 0);  // its process died mid-attempt
    }
  } else {
    status.call_id = message->call_id;
    status.function = message->key;
    status.enqueued_at = message->enqueued_at;
  }
  Held held;
  held.msg = msg;
  held.record = std::move(status);
  held.revision = record ? revision : 0;
  held.message = std::move(*message);
  return held;
}

void JetStreamQueue::MarkRunning(std::vector<std::uint64_t> tokens,
                                 std::function<void(std::vector<std::uint64_t>)> resume) {
  // Shared by the writes' completions; the last one to finish resumes the caller.
  struct Batch {
    std::mutex mu;
    std::size_t left = 0;
    std::vector<std::uint64_t> dropped;
    std::function<void(std::vector<std::uint64_t>)> resume;
  };
  auto batch = std::make_shared<Batch>();
  batch->left = tokens.size();
  batch->resume = std::move(resume);
  auto finish = [batch](std::optional<std::uint64_t> dropped) {
    std::unique_lock lock(batch->mu);
    if (dropped) {
      batch->dropped.push_back(*dropped);
    }
    if (--batch->left == 0) {
      std::vector<std::uint64_t> out = std::move(batch->dropped);
      lock.unlock();
      batch->resume(std::move(out));
    }
  };
  if (tokens.empty()) {
    batch->resume({});
    return;
  }
  for (std::uint64_t token : tokens) {
    CallStatus running;
    std::uint64_t revision = 0;
    {
      std::lock_guard lock(mu_);
      auto it = out_.find(token);
      if (it != out_.end()) {
        running = it->second.record;
        revision = it->second.revision;
      }
    }
    running.state = CallState::kRunning;
    running.attempts += 1;
    running.updated_at = UnixNanosNow();
    running.next_attempt_at = 0;
    // Compare-and-set against the record as read or written: a cancellation from any process
    // since then wins (the slow path reads the record to tell).
    PutRecordAsync(running, revision, [this, token, running, finish](const PubResult& put) {
      if (put.ok()) {
        {
          std::lock_guard lock(mu_);
          if (auto it = out_.find(token); it != out_.end()) {
            it->second.revision = put.sequence;
          }
        }
        finish(std::nullopt);
        return;
      }
      asio::post(pool_, [this, token, running, finish] {
        finish(MarkRunningSlowBlocking(token, running) ? std::optional<std::uint64_t>(token)
                                                       : std::nullopt);
      });
    });
  }
}

bool JetStreamQueue::MarkRunningSlowBlocking(std::uint64_t token, const CallStatus& running) {
  Result<CallStatus> now = GetRecordBlocking(running.call_id, nullptr);
  if (now && now->state == CallState::kCancelled) {
    return true;
  }
  std::uint64_t revision = 0;
  if (auto put = PutRecordBlocking(running, &revision); !put) {
    Logf("async queue: %s", put.error().message.c_str());
    revision = 0;
  }
  std::lock_guard lock(mu_);
  if (auto it = out_.find(token); it != out_.end()) {
    it->second.revision = revision;
  }
  return false;
}

void JetStreamQueue::DropCancelled(const std::vector<std::uint64_t>& tokens) {
  for (std::uint64_t token : tokens) {
    std::optional<Held> held;
    {
      std::lock_guard lock(mu_);
      held = TakeLocked(token);
    }
    if (held) {
      held->cancelled = true;
      Settle([this, held = std::move(*held)]() mutable {
        FinishBlocking(held, held.record.attempts, Outcome{}, CallState::kCancelled);
      });
    }
  }
}

void JetStreamQueue::StartMarking(std::vector<std::uint64_t> tokens) {
  MarkRunning(tokens, [this, tokens](std::vector<std::uint64_t> dropped) {
    {
      std::lock_guard lock(mu_);
      for (std::uint64_t token : tokens) {
        auto it = marking_.find(token);
        if (it == marking_.end()) {
          continue;
        }
        if (std::find(dropped.begin(), dropped.end(), token) != dropped.end()) {
          UnpickLocked(it->second.message.key);
        } else {
          ready_.push_back(std::move(it->second));
        }
        marking_.erase(it);
      }
      if (waiter_) {
        waiter_->Notify();
      }
    }
    DropCancelled(dropped);
  });
}

void JetStreamQueue::StartFetch(std::size_t want) {
  asio::post(fetch_pool_, [this, want] {
    std::vector<Held> fetched = FetchBlocking(want, options_.fetch_wait);
    {
      std::lock_guard lock(mu_);
      fetching_ = false;
      if (!closed_) {
        for (Held& held : fetched) {
          waiting_.push_back(std::move(held));
        }
        if (waiter_) {
          waiter_->Notify();
        }
        return;
      }
    }
    // Closed meanwhile (shutting down): no Next() takes them any more. They go back to the
    // server now instead of waiting in waiting_ for the destructor, which may have closed
    // the connection by then (they would come back only after the ack wait).
    for (Held& held : fetched) {
      natsMsg_Nak(held.msg, nullptr);
      natsMsg_Destroy(held.msg);
    }
  });
}

void JetStreamQueue::UnpickLocked(const std::string& key) {
  if (auto it = picked_.find(key); it != picked_.end() && --it->second == 0) {
    picked_.erase(it);
  }
}

std::vector<std::uint64_t> JetStreamQueue::PickLocked(std::size_t max, const AdmitFn& admit) {
  std::vector<std::uint64_t> tokens;
  std::vector<Held> kept;
  for (Held& held : waiting_) {
    const std::string& key = held.message.key;
    // Taken for this function: picked and not returned by Next() yet (this loop's too).
    auto picked = picked_.find(key);
    const std::size_t taken = picked == picked_.end() ? 0 : picked->second;
    if (tokens.size() >= max || !admit(key, taken)) {
      kept.push_back(std::move(held));
      continue;
    }
    ++running_[key];
    ++picked_[key];
    const std::uint64_t token = next_token_++;
    Delivery& delivery = marking_[token];
    delivery.token = token;
    delivery.attempt = held.record.attempts;
    delivery.message = held.message;
    tokens.push_back(token);
    out_.emplace(token, std::move(held));
  }
  waiting_ = std::move(kept);
  return tokens;
}

void JetStreamQueue::TakeReadyLocked(std::size_t max, std::vector<Delivery>& out,
                                     std::vector<std::uint64_t>& cancelled) {
  while (!ready_.empty() && out.size() < max) {
    Delivery delivery = std::move(ready_.front());
    ready_.pop_front();
    UnpickLocked(delivery.message.key);
    auto it = out_.find(delivery.token);
    if (it == out_.end()) {
      continue;
    }
    if (it->second.cancelled) {  // cancelled here while it was being marked running
      cancelled.push_back(delivery.token);
      continue;
    }
    out.push_back(std::move(delivery));
  }
}

// Pipelined: each call returns the deliveries marked running so far (the first call waits
// for some); meanwhile it picks more for the free slots and starts marking them, and keeps
// fetched messages in waiting_, so that neither the fetch nor the marking round trip sits
// between a freed worker slot and its next call.
asio::awaitable<std::vector<Delivery>> JetStreamQueue::Next(std::size_t max, AdmitFn admit) {
  const std::shared_ptr<Wakeup> waiter = Wakeup::Create(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    waiter_ = waiter;
  }
  max = std::max<std::size_t>(max, 1);
  std::vector<Delivery> out;
  for (;;) {
    std::vector<std::uint64_t> cancelled;
    std::vector<std::uint64_t> picked;
    std::size_t fetch = 0;
    bool closed = false;
    {
      std::lock_guard lock(mu_);
      closed = closed_;
      if (!closed) {
        TakeReadyLocked(max, out, cancelled);
      }
      if (!closed && out.empty()) {
        const std::size_t pending = marking_.size() + ready_.size();
        const bool room = pending < max;
        if (room) {
          picked = PickLocked(max - pending, admit);
        }
        // Ahead; and further (up to kMaxWaiting) while every waiting message is refused
        // for its function's limit: calls of other functions may be behind them.
        const bool refused = room && picked.empty() && !waiting_.empty();
        if (!fetching_ &&
            (waiting_.size() < kPrefetch || (refused && waiting_.size() < kMaxWaiting))) {
          fetching_ = true;
          fetch = std::min(2 * kPrefetch, kMaxWaiting - waiting_.size());
        }
      }
      if (closed || !out.empty()) {
        waiter_.reset();
      }
    }
    DropCancelled(cancelled);
    if (closed || !out.empty()) {
      co_return out;
    }
    if (!picked.empty()) {
      StartMarking(std::move(picked));
    }
    if (fetch > 0) {
      StartFetch(fetch);
    }
    co_await waiter->Wait(SteadyClock::now() + kMaxIdleWait);
  }
}

std::optional<JetStreamQueue::Held> JetStreamQueue::TakeLocked(std::uint64_t token) {
  auto it = out_.find(token);
  if (it == out_.end()) {
    return std::nullopt;
  }
  Held held = std::move(it->second);
  out_.erase(it);
  if (auto r = running_.find(held.message.key); r != running_.end() && --r->second <= 0) {
    running_.erase(r);
  }
  return held;
}

}  // namespace funcd::queue::jetstream
