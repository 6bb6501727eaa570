#include "queue/jetstream/jetstream_queue.h"

#include <nats/nats.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <latch>

#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/internal.h"
#include "queue/jetstream/records.h"

namespace funcd::queue::jetstream {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMaxIdleWait{1};
// Fetched messages kept waiting for a worker slot at most; beyond, Next() stops fetching.
constexpr std::size_t kMaxWaiting = 256;
// How often the heartbeat looks for cancellations and refreshes the depths.
constexpr std::chrono::seconds kHeartbeat{1};
// How long the destructor waits for queued settlements before giving up on the server.
constexpr std::chrono::seconds kShutdownGrace{3};

}  // namespace

Error NatsError(std::string_view what, natsStatus s, jsErrCode js_err) {
  std::string message = StrCat(what, ": ", natsStatus_GetText(s));
  if (js_err != 0) {
    message += StrCat(" (JetStream error ", static_cast<int>(js_err), ")");
  }
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    message += StrCat(": ", last);
  }
  return MakeError(s == NATS_NOT_FOUND ? ErrorCode::kNotFound : ErrorCode::kUnavailable,
                   std::move(message));
}

namespace {

std::int64_t Millis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Set-up and tear-down

Result<std::unique_ptr<JetStreamQueue>> JetStreamQueue::Open(JetStreamOptions options) {
  if (!options.url.starts_with("nats://")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     StrCat("a JetStream queue wants nats://HOST:PORT, got \"", options.url, "\""));
  }
  std::unique_ptr<JetStreamQueue> queue(new JetStreamQueue(std::move(options)));
  FUNCD_RETURN_IF_ERROR(queue->Connect());
  queue->heartbeat_ = std::thread([q = queue.get()] { q->HeartbeatLoop(); });
  return queue;
}

JetStreamQueue::JetStreamQueue(JetStreamOptions options)
    : options_(std::move(options)), pool_(std::max<std::size_t>(options_.threads, 1)) {}

Result<void> JetStreamQueue::Connect() {
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) {
    s = natsOptions_SetURL(opts, options_.url.c_str());
  }
  if (s == NATS_OK) {
    s = natsOptions_SetMaxReconnect(opts, -1);  // a restarted server is normal traffic
  }
  if (s == NATS_OK) {
    s = natsConnection_Connect(&nc_, opts);
  }
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return NatsError(StrCat("connecting to ", options_.url), s);
  }
  if (s = natsConnection_JetStream(&js_, nc_, nullptr); s != NATS_OK) {
    return NatsError("JetStream context", s);
  }
  jsErrCode js_err = static_cast<jsErrCode>(0);

  // Streams and consumer: created by the first process, reused by the others
  // (jetstream_setup.cc). The consumer is created there and bound below, so that destroying
  // the subscription leaves it (and the messages it has not delivered) to the other processes.
  FUNCD_RETURN_IF_ERROR(EnsureStream(js_, options_.stream, options_.subject_prefix + ">",
                                     js_WorkQueuePolicy, options_.max_pending));
  FUNCD_RETURN_IF_ERROR(
      EnsureStream(js_, options_.dead_stream, options_.dead_prefix + ">", js_LimitsPolicy, {}));
  FUNCD_ASSIGN_OR_RETURN(ack_wait_, EnsureConsumer(js_, options_));
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = options_.stream.c_str();
  sub_options.Consumer = options_.consumer.c_str();
  s = js_PullSubscribe(&sub_, js_, (options_.subject_prefix + ">").c_str(),
                       options_.consumer.c_str(), nullptr, &sub_options, &js_err);
  if (s != NATS_OK) {
    return NatsError("subscribing to the consumer", s, js_err);
  }

  if (js_KeyValue(&kv_, js_, options_.bucket.c_str()) != NATS_OK) {
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = options_.bucket.c_str();
    config.History = 1;
    config.TTL = options_.record_ttl.count();
    config.StorageType = js_FileStorage;
    if (s = js_CreateKeyValue(&kv_, js_, &config); s != NATS_OK) {
      // Another process may have created it meanwhile.
      if (js_KeyValue(&kv_, js_, options_.bucket.c_str()) != NATS_OK) {
        return NatsError("creating the call bucket", s);
      }
    }
  }
  Logf("async queue: jetstream %s (stream %s, consumer %s, max message %lld bytes)",
       options_.url.c_str(), options_.stream.c_str(), options_.consumer.c_str(),
       static_cast<long long>(natsConnection_GetMaxPayload(nc_)));
  return Ok();
}

JetStreamQueue::~JetStreamQueue() {
  Close();
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  // The settlements queued get a grace period. When they do not make it in time (the server
  // is gone: each would wait for libnats' request timeout in turn on the pool) or the
  // connection is down, closing it fails every call in flight or to come at once; the
  // messages not settled are delivered again after the ack wait.
  bool settled = false;
  {
    std::unique_lock lock(settle_mu_);
    settled = settled_cv_.wait_for(lock, kShutdownGrace,
                                   [&] { return settle_done_ >= settle_submitted_; });
  }
  if (nc_ != nullptr && (!settled || natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED)) {
    Logf(
        "async queue: nats-server unreachable at shutdown: calls not settled are delivered "
        "again after the ack wait");
    natsConnection_Close(nc_);
  }
  fetch_pool_.join();  // Next() returns within fetch_wait once closed
  if (heartbeat_.joinable()) {
    heartbeat_.join();
  }
  // What was fetched and never handed out goes back at once (the others would be delivered
  // again after ack_wait).
  std::vector<Held> left;
  {
    std::lock_guard lock(mu_);
    left = std::move(waiting_);
    for (auto& [token, held] : out_) {
      left.push_back(std::move(held));
    }
    out_.clear();
  }
  for (Held& held : left) {
    natsMsg_Nak(held.msg, nullptr);
    natsMsg_Destroy(held.msg);
  }
  pool_.join();
  if (nc_ != nullptr && !natsConnection_IsClosed(nc_)) {
    // The last acks out; bounded, the server may be gone already.
    natsConnection_FlushTimeout(nc_, 1000);
  }
  natsSubscription_Destroy(sub_);
  kvStore_Destroy(kv_);
  jsCtx_Destroy(js_);
  natsConnection_Destroy(nc_);
}

// ---------------------------------------------------------------------------------------
// Threads

template <typename Fn>
void JetStreamQueue::Settle(Fn fn) {
  {
    std::lock_guard lock(settle_mu_);
    ++settle_submitted_;
  }
  asio::post(pool_, [this, fn = std::move(fn)]() mutable {
    fn();
    {
      std::lock_guard lock(settle_mu_);
      ++settle_done_;
    }
    settled_cv_.notify_all();
  });
}

void JetStreamQueue::Flush() {
  std::unique_lock lock(settle_mu_);
  const std::uint64_t target = settle_submitted_;
  settled_cv_.wait(lock, [&] { return settle_done_ >= target; });
  lock.unlock();
  natsConnection_Flush(nc_);
}

void JetStreamQueue::HeartbeatLoop() {
  const auto progress_every =
      std::max<std::chrono::nanoseconds>(ack_wait_ / 3, std::chrono::milliseconds(100));
  auto next_progress = SteadyClock::now() + progress_every;
  const std::string filter = options_.subject_prefix + ">";
  for (;;) {
    {
      std::unique_lock lock(stop_mu_);
      if (stop_cv_.wait_for(lock,
                            std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::min<std::chrono::nanoseconds>(kHeartbeat, progress_every)),
                            [&] { return stopping_; })) {
        return;
      }
    }
    // Calls cancelled by any process while their attempt runs here; and "in progress" for
    // every message held, under the lock, so never after its settlement was queued.
    std::vector<std::pair<std::uint64_t, std::string>> running;
    {
      std::lock_guard lock(mu_);
      for (const auto& [token, held] : out_) {
        if (!held.cancelled && !held.finishing) {
          running.emplace_back(token, held.record.call_id);
        }
      }
      if (SteadyClock::now() >= next_progress) {
        for (const auto& [token, held] : out_) {
          natsMsg_InProgress(held.msg, nullptr);
        }
        for (const Held& held : waiting_) {
          natsMsg_InProgress(held.msg, nullptr);
        }
        next_progress = SteadyClock::now() + progress_every;
      }
    }
    for (const auto& [token, call_id] : running) {
      Result<CallStatus> record = GetRecordBlocking(call_id, nullptr);
      if (record && record->state == CallState::kCancelled) {
        std::lock_guard lock(mu_);
        if (auto it = out_.find(token); it != out_.end()) {
          it->second.cancelled = true;
        }
      }
    }
    // Depths: messages per subject, which includes the ones in flight anywhere.
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Stream.Info.SubjectsFilter = filter.c_str();
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, js_, options_.stream.c_str(), &js_options, nullptr) == NATS_OK) {
      std::map<std::string, std::int64_t, std::less<>> stored;
      if (info->State.Subjects != nullptr) {
        for (int i = 0; i < info->State.Subjects->Count; ++i) {
          std::string_view subject = info->State.Subjects->List[i].Subject;
          subject.remove_prefix(std::min(subject.size(), options_.subject_prefix.size()));
          stored[std::string(subject)] =
              static_cast<std::int64_t>(info->State.Subjects->List[i].Msgs);
        }
      }
      jsStreamInfo_Destroy(info);
      std::lock_guard lock(mu_);
      stored_ = std::move(stored);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Records

Result<CallStatus> JetStreamQueue::GetRecordBlocking(const std::string& call_id,
                                                     std::uint64_t* revision) {
  kvEntry* entry = nullptr;
  const std::string key = CallKey(call_id);
  natsStatus s = kvStore_Get(&entry, kv_, key.c_str());
  if (s != NATS_OK) {
    return NatsError(StrCat("reading the record of call ", call_id), s);
  }
  std::string_view value(static_cast<const char*>(kvEntry_Value(entry)),
                         static_cast<std::size_t>(kvEntry_ValueLen(entry)));
  Result<CallStatus> record = DecodeCallRecord(value);
  if (revision != nullptr) {
    *revision = kvEntry_Revision(entry);
  }
  kvEntry_Destroy(entry);
  return record;
}

Result<void> JetStreamQueue::PutRecordBlocking(const CallStatus& status) {
  const std::string record = EncodeCallRecord(status);
  const std::string key = CallKey(status.call_id);
  natsStatus s =
      kvStore_Put(nullptr, kv_, key.c_str(), record.data(), static_cast<int>(record.size()));
  if (s != NATS_OK) {
    return NatsError(StrCat("writing the record of call ", status.call_id), s);
  }
  return Ok();
}

// ---------------------------------------------------------------------------------------
// Enqueue and delivery

asio::awaitable<Result<void>> JetStreamQueue::Enqueue(Message message) {
  auto publish = [this, message = std::move(message)]() -> Result<void> {
    const std::string framed = EncodeFramed(message);
    // The server refuses larger messages; say so instead of passing its error on.
    if (const std::int64_t max = natsConnection_GetMaxPayload(nc_);
        max > 0 && static_cast<std::int64_t>(framed.size()) > max) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          StrCat("the request (", framed.size(),
                 " bytes stored) is larger than the NATS server's max_payload (", max, " bytes)"));
    }
    const std::int64_t now = UnixNanosNow();
    CallStatus record;
    record.call_id = message.call_id;
    record.function = message.key;
    record.state = CallState::kQueued;
    record.enqueued_at = message.enqueued_at != 0 ? message.enqueued_at : now;
    record.updated_at = now;
    record.next_attempt_at = now;
    if (Result<void> put = PutRecordBlocking(record); !put) {
      // A put that timed out may still reach the server (libnats keeps what it could not
      // send while reconnecting): the delete follows it, in order, so that no "queued"
      // record is left behind for a call that was refused.
      kvStore_Delete(kv_, CallKey(record.call_id).c_str());
      return put;
    }
    const std::string subject = options_.subject_prefix + message.key;
    jsErrCode js_err = static_cast<jsErrCode>(0);
    // Returns once the stream has stored it: durable before the 202.
    natsStatus s = js_Publish(nullptr, js_, subject.c_str(), framed.data(),
                              static_cast<int>(framed.size()), nullptr, &js_err);
    if (s != NATS_OK) {
      kvStore_Delete(kv_, CallKey(record.call_id).c_str());
      Error error = NatsError("publishing the call", s, js_err);
      // The stream's limit (max_pending, "discard new") refuses it: "maximum messages
      // exceeded", which the server reports as this generic store error.
      if (js_err == JSStreamStoreFailedErr) {
        error = MakeError(ErrorCode::kResourceExhausted,
                          StrCat("the async queue is full (", error.message, ")"));
      }
      return error;
    }
    return Ok();
  };
  co_return co_await Offload<Result<void>>(pool_, std::move(publish));
}

std::vector<JetStreamQueue::Held> JetStreamQueue::FetchBlocking(std::size_t max,
                                                                std::chrono::milliseconds wait) {
  std::vector<Held> out;
  natsMsgList list{};
  jsErrCode js_err = static_cast<jsErrCode>(0);
  natsStatus s = natsSubscription_Fetch(&list, sub_, static_cast<int>(max), wait.count(), &js_err);
  if (s != NATS_OK) {
    if (s != NATS_TIMEOUT) {
      Logf("async queue: fetching from %s: %s", options_.stream.c_str(), natsStatus_GetText(s));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server may be back
    }
    natsMsgList_Destroy(&list);
    return out;
  }
  // Each message's record is read and rewritten (two round trips): in parallel on the pool,
  // the fetch thread waiting for the whole batch.
  std::vector<std::optional<Held>> prepared(static_cast<std::size_t>(list.Count));
  std::latch done(list.Count);
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
    list.Msgs[i] = nullptr;
    asio::post(pool_, [this, msg, slot = &prepared[static_cast<std::size_t>(i)], &done] {
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

std::vector<std::uint64_t> JetStreamQueue::MarkRunningBlocking(
    const std::vector<std::uint64_t>& tokens) {
  std::vector<std::uint64_t> dropped;
  std::mutex dropped_mu;
  std::latch done(static_cast<std::ptrdiff_t>(tokens.size()));
  for (std::uint64_t token : tokens) {
    CallStatus record;
    std::uint64_t revision = 0;
    {
      std::lock_guard lock(mu_);
      auto it = out_.find(token);
      if (it != out_.end()) {
        record = it->second.record;
        revision = it->second.revision;
      }
    }
    asio::post(pool_, [this, token, record, revision, &dropped, &dropped_mu, &done] {
      CallStatus running = record;
      running.state = CallState::kRunning;
      running.attempts = record.attempts + 1;
      running.updated_at = UnixNanosNow();
      running.next_attempt_at = 0;
      const std::string value = EncodeCallRecord(running);
      const std::string key = CallKey(record.call_id);
      // Compare-and-set against the record read at fetch: a cancellation from any process
      // since then wins.
      natsStatus s = revision != 0 ? kvStore_Update(nullptr, kv_, key.c_str(), value.data(),
                                                    static_cast<int>(value.size()), revision)
                                   : kvStore_Put(nullptr, kv_, key.c_str(), value.data(),
                                                 static_cast<int>(value.size()));
      if (s != NATS_OK) {
        Result<CallStatus> now = GetRecordBlocking(record.call_id, nullptr);
        if (now && now->state == CallState::kCancelled) {
          std::lock_guard lock(dropped_mu);
          dropped.push_back(token);
        } else {
          if (auto put = PutRecordBlocking(running); !put) {
            Logf("async queue: %s", put.error().message.c_str());
          }
        }
      }
      done.count_down();
    });
  }
  done.wait();
  for (std::uint64_t token : dropped) {
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
  return dropped;
}

void JetStreamQueue::PickLocked(std::size_t max, const AdmitFn& admit, std::vector<Delivery>& out) {
  std::vector<std::pair<std::string_view, std::size_t>> taken;
  std::vector<Held> kept;
  for (Held& held : waiting_) {
    std::string_view key = held.message.key;
    auto it =
        std::find_if(taken.begin(), taken.end(), [&](const auto& t) { return t.first == key; });
    if (it == taken.end()) {
      it = taken.insert(taken.end(), {key, 0});
    }
    if (out.size() >= max || !admit(key, it->second)) {
      kept.push_back(std::move(held));
      continue;
    }
    ++it->second;
    ++running_[held.message.key];
    const std::uint64_t token = next_token_++;
    Delivery& delivery = out.emplace_back();
    delivery.token = token;
    delivery.attempt = held.record.attempts;
    delivery.message = held.message;
    out_.emplace(token, std::move(held));
  }
  waiting_ = std::move(kept);
}

asio::awaitable<std::vector<Delivery>> JetStreamQueue::Next(std::size_t max, AdmitFn admit) {
  const std::shared_ptr<Wakeup> waiter = Wakeup::Create(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    waiter_ = waiter;
  }
  auto unregister = [this] {
    std::lock_guard lock(mu_);
    waiter_.reset();
  };
  max = std::max<std::size_t>(max, 1);
  for (;;) {
    std::vector<Delivery> out;
    bool closed = false;
    std::size_t held = 0;
    {
      std::lock_guard lock(mu_);
      closed = closed_;
      if (!closed) {
        PickLocked(max, admit, out);
      }
      held = waiting_.size();
    }
    if (!closed && !out.empty()) {
      // Marked running only now that workers have them (not while they wait for a slot).
      std::vector<std::uint64_t> tokens;
      for (const Delivery& d : out) {
        tokens.push_back(d.token);
      }
      auto mark = [this, tokens] { return MarkRunningBlocking(tokens); };
      std::vector<std::uint64_t> dropped =
          co_await Offload<std::vector<std::uint64_t>>(fetch_pool_, std::move(mark));
      std::erase_if(out, [&](const Delivery& d) {
        return std::find(dropped.begin(), dropped.end(), d.token) != dropped.end();
      });
      if (out.empty()) {
        continue;
      }
    }
    if (closed || !out.empty()) {
      unregister();
      co_return out;
    }
    if (held >= kMaxWaiting) {  // nothing admitted: wait for a free slot
      co_await waiter->Wait(SteadyClock::now() + kMaxIdleWait);
      continue;
    }
    // With messages waiting for a slot, fetch briefly so that a freed slot is seen soon.
    const std::chrono::milliseconds wait =
        held > 0 ? std::chrono::milliseconds(50) : options_.fetch_wait;
    const std::size_t want = std::min(max, kMaxWaiting - held);
    auto fetch = [this, want, wait] {
      std::vector<Held> fetched = FetchBlocking(want, wait);
      // Closed meanwhile (shutting down): this coroutine's executor may never run again, and
      // a result dropped with it would leak the messages; they go back to the server.
      std::lock_guard lock(mu_);
      if (closed_) {
        for (Held& h : fetched) {
          natsMsg_Nak(h.msg, nullptr);
          natsMsg_Destroy(h.msg);
        }
        fetched.clear();
      }
      return fetched;
    };
    std::vector<Held> fetched = co_await Offload<std::vector<Held>>(fetch_pool_, std::move(fetch));
    if (fetched.empty() && held > 0) {
      co_await waiter->Wait(SteadyClock::now() + std::chrono::milliseconds(200));
    }
    std::lock_guard lock(mu_);
    for (Held& h : fetched) {
      waiting_.push_back(std::move(h));
    }
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

// ---------------------------------------------------------------------------------------
// Settling

void JetStreamQueue::Complete(Delivery delivery, Outcome outcome) {
  std::optional<Held> held;
  {
    std::lock_guard lock(mu_);
    held = TakeLocked(delivery.token);
  }
  if (!held) {
    return;
  }
  Settle([this, held = std::move(*held), attempts = delivery.attempt + 1,
          outcome = std::move(outcome)]() mutable {
    FinishBlocking(held, attempts, outcome, CallState::kDone);
  });
}

void JetStreamQueue::FinishBlocking(Held& held, int attempts, const Outcome& outcome,
                                    CallState state) {
  CallStatus record = held.record;
  record.state = held.cancelled ? CallState::kCancelled : state;
  if (!held.cancelled && !held.finishing) {
    // A cancellation from another process since the heartbeat last looked.
    if (auto now = GetRecordBlocking(record.call_id, nullptr);
        now && now->state == CallState::kCancelled) {
      record.state = CallState::kCancelled;
    }
  }
  record.attempts = attempts;
  record.updated_at = UnixNanosNow();
  record.next_attempt_at = 0;
  record.last_status = outcome.status;
  record.last_error = outcome.error;
  if (auto put = PutRecordBlocking(record); !put) {
    Logf("async queue: %s", put.error().message.c_str());
  }
  natsMsg_Ack(held.msg, nullptr);
  natsMsg_Destroy(held.msg);
}

void JetStreamQueue::Retry(Delivery delivery, std::chrono::nanoseconds delay, Outcome outcome) {
  std::optional<Held> held;
  {
    std::lock_guard lock(mu_);
    held = TakeLocked(delivery.token);
  }
  if (!held) {
    return;
  }
  if (held->cancelled) {
    Settle([this, held = std::move(*held), attempts = delivery.attempt + 1,
            outcome = std::move(outcome)]() mutable {
      FinishBlocking(held, attempts, outcome, CallState::kCancelled);
    });
    return;
  }
  Settle([this, held = std::move(*held), attempts = delivery.attempt + 1, delay,
          outcome = std::move(outcome)]() mutable {
    CallStatus record = held.record;
    const std::int64_t now = UnixNanosNow();
    record.state = CallState::kRetrying;
    record.attempts = attempts;
    record.updated_at = now;
    record.next_attempt_at = now + delay.count();
    record.last_status = outcome.status;
    record.last_error = outcome.error;
    if (auto put = PutRecordBlocking(record); !put) {
      Logf("async queue: %s", put.error().message.c_str());
    }
    if (delay.count() > 0) {
      natsMsg_NakWithDelay(held.msg, Millis(delay), nullptr);
    } else {
      natsMsg_Nak(held.msg, nullptr);
    }
    natsMsg_Destroy(held.msg);
  });
}

void JetStreamQueue::Bury(Delivery delivery, Outcome outcome) {
  std::optional<Held> held;
  {
    std::lock_guard lock(mu_);
    held = TakeLocked(delivery.token);
  }
  if (!held) {
    return;
  }
  Settle([this, held = std::move(*held), attempts = delivery.attempt + 1,
          outcome = std::move(outcome)]() mutable {
    if (held.cancelled) {
      FinishBlocking(held, attempts, outcome, CallState::kCancelled);
      return;
    }
    DeadLetter dead;
    dead.status = held.record;
    dead.status.state = CallState::kDead;
    dead.status.attempts = attempts;
    dead.status.updated_at = UnixNanosNow();
    dead.status.next_attempt_at = 0;
    dead.status.last_status = outcome.status;
    dead.status.last_error = outcome.error;
    dead.last_body = outcome.body_excerpt;
    dead.message = std::move(held.message);
    const std::string payload = EncodeDeadRecord(dead);
    const std::string subject = options_.dead_prefix + dead.message.key;
    jsErrCode js_err = static_cast<jsErrCode>(0);
    natsStatus s = js_Publish(nullptr, js_, subject.c_str(), payload.data(),
                              static_cast<int>(payload.size()), nullptr, &js_err);
    if (s != NATS_OK) {
      // Not stored as a dead letter: it comes back for its last attempt again later.
      Logf("async queue: %s", NatsError("storing a dead letter", s, js_err).message.c_str());
      natsMsg_NakWithDelay(held.msg, 1000, nullptr);
      natsMsg_Destroy(held.msg);
      return;
    }
    if (auto put = PutRecordBlocking(dead.status); !put) {
      Logf("async queue: %s", put.error().message.c_str());
    }
    natsMsg_Ack(held.msg, nullptr);
    natsMsg_Destroy(held.msg);
  });
}

void JetStreamQueue::Release(Delivery delivery) {
  std::optional<Held> held;
  {
    std::lock_guard lock(mu_);
    held = TakeLocked(delivery.token);
  }
  if (!held) {
    return;
  }
  Settle([this, held = std::move(*held)]() mutable {
    CallStatus record = held.record;  // attempts: the finished ones, unchanged
    record.state = record.attempts > 0 ? CallState::kRetrying : CallState::kQueued;
    record.updated_at = UnixNanosNow();
    record.next_attempt_at = record.updated_at;
    if (auto put = PutRecordBlocking(record); !put) {
      Logf("async queue: %s", put.error().message.c_str());
    }
    natsMsg_Nak(held.msg, nullptr);
    natsMsg_Destroy(held.msg);
  });
}

bool JetStreamQueue::Cancelled(const Delivery& delivery) {
  std::lock_guard lock(mu_);
  auto it = out_.find(delivery.token);
  return it == out_.end() || it->second.cancelled;
}

bool JetStreamQueue::Finishing(const Delivery& delivery) {
  std::lock_guard lock(mu_);
  auto it = out_.find(delivery.token);
  if (it == out_.end() || it->second.cancelled) {
    return false;
  }
  it->second.finishing = true;
  return true;
}

void JetStreamQueue::Wake() {
  std::lock_guard lock(mu_);
  if (waiter_) {
    waiter_->Notify();
  }
}

void JetStreamQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  if (waiter_) {
    waiter_->Notify();
  }
}

std::vector<FunctionDepth> JetStreamQueue::Depths() {
  std::lock_guard lock(mu_);
  std::map<std::string, FunctionDepth, std::less<>> depths;
  for (const auto& [key, count] : stored_) {
    depths[key].waiting = count;
  }
  for (const auto& [key, count] : running_) {
    FunctionDepth& depth = depths[key];
    depth.running = count;
    depth.waiting = std::max<std::int64_t>(depth.waiting - count, 0);
  }
  std::vector<FunctionDepth> out;
  for (auto& [key, depth] : depths) {
    depth.function = key;
    out.push_back(std::move(depth));
  }
  return out;
}

}  // namespace funcd::queue::jetstream
