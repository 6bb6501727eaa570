#include "queue/jetstream/jetstream_queue.h"

#include <algorithm>
#include <boost/asio/async_result.hpp>

#include "common/libnats.h"
#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/internal.h"
#include "queue/jetstream/records.h"

namespace funcd::queue::jetstream {

namespace {

using SteadyClock = std::chrono::steady_clock;

// How often the heartbeat looks for cancellations and refreshes the depths.
constexpr std::chrono::seconds kHeartbeat{1};
// How long the destructor waits for queued settlements and pub acks due before giving up
// on the server.
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
  // libnats is opened here, not at start-up (common/libnats.h).
  if (auto loaded = libnats.Load(); !loaded) {
    return MakeError(loaded.error().code,
                     StrCat("a JetStream queue needs libnats: ", loaded.error().message));
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
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.AckHandler = &JetStreamQueue::OnPubAck;
  js_options.PublishAsync.AckHandlerClosure = this;
  if (s = natsConnection_JetStream(&js_, nc_, &js_options); s != NATS_OK) {
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
  // The settlements queued and the publishes waiting for their pub ack (enqueues, record
  // writes, settlements sent from a pub ack) get a grace period together. When they do not
  // make it in time (the server is gone: the pub acks never come, and each blocking call on
  // the pool would wait for libnats' request timeout in turn) or the connection is down,
  // closing it fails every call in flight or to come at once; the messages not settled are
  // delivered again after the ack wait.
  const auto grace_end = SteadyClock::now() + kShutdownGrace;
  bool settled = false;
  {
    std::unique_lock lock(settle_mu_);
    settled =
        settled_cv_.wait_until(lock, grace_end, [&] { return settle_done_ >= settle_submitted_; });
  }
  const bool published = WaitPublishes(grace_end);
  bool closed = false;
  if (nc_ != nullptr &&
      (!settled || !published || natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED)) {
    Logf(
        "async queue: nats-server unreachable at shutdown: calls not settled are delivered "
        "again after the ack wait");
    natsConnection_Close(nc_);
    closed = true;
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
  // Pub acks still due may hand work to the pool: wait for them first (not at all once the
  // connection is closed: none can come; their waiters fail now, quickly).
  DrainPublishes(closed ? SteadyClock::now() : SteadyClock::now() + options_.publish_wait);
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

void JetStreamQueue::SettleBegin() {
  std::lock_guard lock(settle_mu_);
  ++settle_submitted_;
}

void JetStreamQueue::SettleEnd() {
  {
    std::lock_guard lock(settle_mu_);
    ++settle_done_;
  }
  settled_cv_.notify_all();
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
  auto next_expiry = SteadyClock::now();
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
      // With the server away each read may wait for libnats' timeout: the overdue pub acks
      // (enqueues waiting to be refused) are not held up behind all of them.
      if (SteadyClock::now() >= next_expiry) {
        ExpirePublishes();
        next_expiry = SteadyClock::now() + kHeartbeat;
      }
      Result<CallStatus> record = GetRecordBlocking(call_id, nullptr);
      if (record && record->state == CallState::kCancelled) {
        std::lock_guard lock(mu_);
        if (auto it = out_.find(token); it != out_.end()) {
          it->second.cancelled = true;
        }
      }
    }
    ExpirePublishes();
    next_expiry = SteadyClock::now() + kHeartbeat;
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

Result<void> JetStreamQueue::PutRecordBlocking(const CallStatus& status, std::uint64_t* revision) {
  const std::string record = EncodeCallRecord(status);
  const std::string key = CallKey(status.call_id);
  natsStatus s =
      kvStore_Put(revision, kv_, key.c_str(), record.data(), static_cast<int>(record.size()));
  if (s != NATS_OK) {
    return NatsError(StrCat("writing the record of call ", status.call_id), s);
  }
  return Ok();
}

// ---------------------------------------------------------------------------------------
// Enqueue (delivery: jetstream_delivery.cc)

asio::awaitable<Result<void>> JetStreamQueue::Enqueue(Message message) {
  auto framed = std::make_shared<const std::string>(EncodeFramed(message));
  // The server refuses larger messages; say so instead of passing its error on.
  if (const std::int64_t max = natsConnection_GetMaxPayload(nc_);
      max > 0 && static_cast<std::int64_t>(framed->size()) > max) {
    co_return MakeError(
        ErrorCode::kInvalidArgument,
        StrCat("the request (", framed->size(),
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
  std::string subject = options_.subject_prefix + message.key;
  // The record, then the message with the record's revision; both asynchronous publishes,
  // the second sent from the first one's pub ack. The caller resumes once the stream has
  // stored the message (durable before the 202).
  auto start = [this, record = std::move(record), framed,
                subject = std::move(subject)](Resume<Result<void>> resume) {
    PutRecordAsync(
        record, 0, [this, call_id = record.call_id, framed, subject, resume](const PubResult& put) {
          if (!put.ok()) {
            // A put that timed out may still reach the server (libnats keeps what it could
            // not send while reconnecting): the delete follows it, in order, so that no
            // "queued" record is left behind for a call that was refused.
            FailEnqueue(call_id,
                        MakeError(ErrorCode::kUnavailable,
                                  StrCat("writing the record of call ", call_id, ": ", put.error)),
                        resume);
            return;
          }
          natsMsg* msg = nullptr;
          natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, framed->data(),
                                        static_cast<int>(framed->size()));
          if (s == NATS_OK) {
            s = natsMsgHeader_Set(msg, kRecordRevisionHeader, std::to_string(put.sequence).c_str());
          }
          if (s != NATS_OK) {
            natsMsg_Destroy(msg);
            FailEnqueue(call_id, NatsError("publishing the call", s), resume);
            return;
          }
          PublishAsync(msg, 0, [this, call_id, resume](const PubResult& published) {
            if (published.ok()) {
              resume(Ok());
              return;
            }
            Error error = MakeError(ErrorCode::kUnavailable,
                                    StrCat("publishing call ", call_id, ": ", published.error));
            // The stream's limit (max_pending, "discard new") refuses it: "maximum messages
            // exceeded", which the server reports as this generic store error.
            if (published.js_err == JSStreamStoreFailedErr) {
              error = MakeError(ErrorCode::kResourceExhausted,
                                StrCat("the async queue is full (", error.message, ")"));
            }
            // Not stored (as far as we know): the record goes.
            FailEnqueue(call_id, std::move(error), resume);
          });
        });
  };
  co_return co_await Suspend<Result<void>>(std::move(start));
}

void JetStreamQueue::FailEnqueue(std::string call_id, Error error, Resume<Result<void>> resume) {
  // Off the pub-ack thread (the delete waits for its reply); the caller resumes once the
  // delete is done, so that the refused call's status is "not found" when it hears of it.
  asio::post(pool_, [this, call_id = std::move(call_id), error = std::move(error),
                     resume = std::move(resume)]() mutable {
    if (natsStatus s = kvStore_Delete(kv_, CallKey(call_id).c_str()); s != NATS_OK) {
      Logf("async queue: %s",
           NatsError(StrCat("deleting the record of refused call ", call_id), s).message.c_str());
    }
    resume(std::move(error));
  });
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
  const int attempts = delivery.attempt + 1;
  if (held->cancelled || held->revision == 0) {
    Settle([this, held = std::move(*held), attempts, outcome = std::move(outcome)]() mutable {
      FinishBlocking(held, attempts, outcome, CallState::kDone);
    });
    return;
  }
  // The final record, compare-and-set against the running one this process wrote: a
  // cancellation from another process since then makes it fail, and FinishBlocking (on the
  // pool) reads the record and writes "cancelled". The message is acked once the record is
  // stored, so a crash in between delivers the call again rather than losing its result.
  SettleBegin();
  CallStatus record = held->record;
  record.state = CallState::kDone;
  record.attempts = attempts;
  record.updated_at = UnixNanosNow();
  record.next_attempt_at = 0;
  record.last_status = outcome.status;
  record.last_error = outcome.error;
  const std::uint64_t revision = held->revision;
  PutRecordAsync(record, revision,
                 [this, held = std::move(*held), attempts,
                  outcome = std::move(outcome)](const PubResult& put) mutable {
                   if (put.ok()) {
                     natsMsg_Ack(held.msg, nullptr);
                     natsMsg_Destroy(held.msg);
                     SettleEnd();
                     return;
                   }
                   asio::post(pool_, [this, held = std::move(held), attempts,
                                      outcome = std::move(outcome)]() mutable {
                     FinishBlocking(held, attempts, outcome, CallState::kDone);
                     SettleEnd();
                   });
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
  const int attempts = delivery.attempt + 1;
  CallStatus record = held->record;
  const std::int64_t now = UnixNanosNow();
  record.state = CallState::kRetrying;
  record.attempts = attempts;
  record.updated_at = now;
  record.next_attempt_at = now + delay.count();
  record.last_status = outcome.status;
  record.last_error = outcome.error;
  auto nak = [delay](natsMsg* msg) {
    if (delay.count() > 0) {
      natsMsg_NakWithDelay(msg, Millis(delay), nullptr);
    } else {
      natsMsg_Nak(msg, nullptr);
    }
    natsMsg_Destroy(msg);
  };
  // As Complete: compare-and-set against the running record, the NAK sent from its pub ack;
  // when it fails (cancelled through another gateway, or no revision known) the pool reads
  // the record and either finishes the call as cancelled or writes "retrying" plainly.
  SettleBegin();
  const std::uint64_t revision = held->revision;
  natsMsg* const msg = held->msg;
  auto slow = [this, held = std::move(*held), attempts, record, outcome = std::move(outcome),
               nak]() mutable {
    if (auto now = GetRecordBlocking(record.call_id, nullptr);
        now && now->state == CallState::kCancelled) {
      FinishBlocking(held, attempts, outcome, CallState::kCancelled);
    } else {
      if (auto put = PutRecordBlocking(record); !put) {
        Logf("async queue: %s", put.error().message.c_str());
      }
      nak(held.msg);
    }
    SettleEnd();
  };
  if (revision == 0) {
    asio::post(pool_, std::move(slow));
    return;
  }
  PutRecordAsync(record, revision, [this, msg, nak, slow](const PubResult& put) mutable {
    if (put.ok()) {
      nak(msg);
      SettleEnd();
      return;
    }
    asio::post(pool_, std::move(slow));
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
