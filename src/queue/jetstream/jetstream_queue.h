#pragma once

// The NATS JetStream queue, shared by several funcd processes (WORK IN PROGRESS: see
// STATUS.md beside this file).
//
// Layout on the server:
//   stream FUNCD_ASYNC (work queue, file storage), subjects funcd.async.<function key>: one
//     message per accepted call, the request framed (EncodeFramed). One durable pull
//     consumer, "funcd-workers", explicit ack, shared by every process: a message is handed
//     to one of them at a time. Retry = NAK with a delay; settled = ACK.
//   stream FUNCD_DEAD (limits), subjects funcd.dead.<key>: dead letters (records.h).
//   KV bucket funcd_calls: call id -> call record (state, attempts, last status). The
//     attempt count of a delivery comes from here, not from the delivery count, so that a
//     delivery given back (Release) or lost with its process does not use an attempt.
//
// The hot path (enqueue, marking deliveries running, completing) uses asynchronous JetStream
// publishes: the KV record writes are publishes to $KV.<bucket>.<key>, and their pub acks
// (handled on libnats' pub-ack thread) resume the waiting coroutine or send the message's
// ack, so no thread waits on a round trip. Every blocking libnats call (record reads,
// retries, dead letters, management, the rare paths) runs on the queue's own threads (a pool,
// one thread for fetching, one for heartbeats); coroutines get their results posted back to
// their executor. A delivery whose attempt runs long is kept alive with "in progress" acks
// every ack_wait/3; if its process dies, the server delivers it again after ack_wait
// (at-least-once).
//
// Enqueue writes the record (queued) and then publishes the message with the record's KV
// revision in a header; a first delivery of such a message needs no record read: marking
// it running is a compare-and-set against that revision, which fails (and falls back to
// reading the record) if anything, a cancellation say, changed the record since.
//
// Thread-safe (see Queue).

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
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

struct __natsConnection;
struct __jsCtx;
struct __kvStore;
struct __natsSubscription;
struct __natsMsg;
struct jsPubAck;
struct jsPubAckErr;

namespace funcd::queue::jetstream {

struct JetStreamOptions {
  std::string url;  // nats://HOST:PORT
  std::string stream = "FUNCD_ASYNC";
  std::string dead_stream = "FUNCD_DEAD";
  std::string consumer = "funcd-workers";
  std::string bucket = "funcd_calls";
  std::string subject_prefix = "funcd.async.";
  std::string dead_prefix = "funcd.dead.";
  // Without an ack or an "in progress" for this long, the server delivers a message again.
  // It is the shared consumer's setting: when the consumer exists already with another
  // value, Open adopts that value, or fails if `ack_wait_given` (queue URL ?ack_wait=).
  std::chrono::nanoseconds ack_wait = std::chrono::seconds(30);
  bool ack_wait_given = false;
  // Messages in the stream (calls queued, retrying or running, in every process) beyond
  // which Enqueue fails with kResourceExhausted: the stream's MaxMsgs with "discard new",
  // set by Open for every process sharing the stream. 0: no limit; unset: keep the stream's
  // (none for a new stream). Open raises or removes an existing stream's limit, but refuses
  // to lower it (kFailedPrecondition): nats-server would drop stored calls.
  std::optional<std::int64_t> max_pending;
  // Call records expire from the KV bucket after this long (0: never).
  std::chrono::nanoseconds record_ttl = std::chrono::hours(24);
  // The longest one fetch waits for messages.
  std::chrono::milliseconds fetch_wait{500};
  // Threads for blocking calls (record reads, retries, dead letters, management): each
  // waits on a round trip.
  std::size_t threads = 16;
  // The longest an asynchronous publish (enqueue, record write) waits for its pub ack.
  std::chrono::milliseconds publish_wait{5000};
};

class JetStreamQueue final : public Queue {
 public:
  // Connects, creates (or reuses) the streams, the consumer and the bucket.
  // Errors: kUnavailable (no server, no JetStream), kInvalidArgument (bad URL),
  // kFailedPrecondition (ack_wait or max_pending at odds with the shared consumer or stream).
  static Result<std::unique_ptr<JetStreamQueue>> Open(JetStreamOptions options);
  // Gives back the deliveries still held, waits for pending settlements, disconnects.
  ~JetStreamQueue() override;

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
  std::string_view name() const override { return "jetstream"; }

  // Waits until every settlement submitted so far has been sent (tests).
  void Flush();

 private:
  // A message fetched from the server and not settled yet.
  struct Held {
    __natsMsg* msg = nullptr;    // owned
    CallStatus record;           // the call record as read at fetch (attempts: finished ones)
    std::uint64_t revision = 0;  // the record's KV revision as last read or written (0: none)
    Message message;
    bool cancelled = false;
    bool finishing = false;
  };
  // A dead letter found in the dead-letter stream.
  struct Found {
    std::uint64_t seq = 0;
    DeadLetter dead;
  };

  // What the pub ack of an asynchronous publish said.
  struct PubResult {
    std::uint64_t sequence = 0;  // the stream sequence: a KV record's new revision
    std::string error;           // empty when stored
    // The server's JetStream error code (a jsErrCode) when it refused the message; 0 when
    // stored, or when it failed otherwise (not sent, no pub ack in time, shutting down).
    int js_err = 0;
    bool ok() const { return error.empty(); }
  };
  // Runs on libnats' pub-ack thread (or inline when the publish could not be sent): quick,
  // no blocking calls, no locks held by the caller of PublishAsync.
  using PubDone = std::function<void(const PubResult&)>;

  explicit JetStreamQueue(JetStreamOptions options);
  Result<void> Connect();

  // Publishes `msg` (taken) without waiting; `done` gets its pub ack or error.
  // `expect_revision` != 0: only if the subject's last sequence is that (compare-and-set).
  void PublishAsync(__natsMsg* msg, std::uint64_t expect_revision, PubDone done);
  // Writes a call record asynchronously (compare-and-set when `expect_revision` != 0).
  void PutRecordAsync(const CallStatus& status, std::uint64_t expect_revision, PubDone done);
  static void OnPubAck(__jsCtx* js, __natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  // A failed Enqueue: on the pool, deletes the record it may have written (after the put
  // when that timed out: on the same connection, so in order), then resumes the caller
  // with `error`.
  void FailEnqueue(std::string call_id, Error error, std::function<void(Result<void>)> resume);
  // Fails the publishes whose pub ack is overdue (lost with a connection, say).
  void ExpirePublishes();
  // Waits until `deadline` at most for the pub acks still due; fails the rest.
  void DrainPublishes(std::chrono::steady_clock::time_point deadline);
  // Waits until `deadline` at most for every pub ack due; true when none is left.
  bool WaitPublishes(std::chrono::steady_clock::time_point deadline);
  // A settlement started / finished (Flush waits for them).
  void SettleBegin();
  void SettleEnd();

  // Runs `fn()` on `pool` and resumes the caller on its executor with the result.
  template <typename T, typename Fn>
  asio::awaitable<T> Offload(asio::thread_pool& pool, Fn fn);
  // Fire and forget on the settling pool; counted for Flush().
  template <typename Fn>
  void Settle(Fn fn);

  // On the fetch thread: up to `max` messages, their records read (cancelled ones acked).
  // Takes what is there at once; when nothing is, waits up to `wait` for one message.
  std::vector<Held> FetchBlocking(std::size_t max, std::chrono::milliseconds wait);
  // Fetches `want` more into waiting_ on the fetch thread, then wakes Next().
  void StartFetch(std::size_t want);
  // On the pool: decodes a fetched message and reads its record; nullopt when it is
  // dropped (unreadable: terminated; cancelled or settled already: acked). Takes `msg`.
  std::optional<Held> PrepareBlocking(__natsMsg* msg);
  // On the settling pool: writes the final record (`state`, or kCancelled) and acks.
  void FinishBlocking(Held& held, int attempts, const Outcome& outcome, CallState state);
  // On the fetch thread: a first delivery that carries its record's revision, as a Held
  // without reading the record; nullopt for the others (PrepareBlocking).
  // Takes `msg` only when it returns a Held.
  std::optional<Held> PrepareFirstDelivery(__natsMsg* msg);
  // Marks the records of picked deliveries running (compare-and-set, asynchronously);
  // `resume` gets the tokens of those cancelled meanwhile, once every write is done.
  void MarkRunning(std::vector<std::uint64_t> tokens,
                   std::function<void(std::vector<std::uint64_t>)> resume);
  // MarkRunning for deliveries in marking_: moves them to ready_ (or drops the cancelled
  // ones) when done, and wakes Next().
  void StartMarking(std::vector<std::uint64_t> tokens);
  // Moves up to `max` ready deliveries to `out`; the ones cancelled meanwhile go to
  // `cancelled`. REQUIRES: mu_ held.
  void TakeReadyLocked(std::size_t max, std::vector<Delivery>& out,
                       std::vector<std::uint64_t>& cancelled);
  // One fewer delivery picked and not yet returned for `key`. REQUIRES: mu_ held.
  void UnpickLocked(const std::string& key);
  // On the pool: the compare-and-set of MarkRunning failed; reads the record: true when the
  // call was cancelled, else writes it running.
  bool MarkRunningSlowBlocking(std::uint64_t token, const CallStatus& running);
  // Settles the tokens that MarkRunning found cancelled.
  void DropCancelled(const std::vector<std::uint64_t>& tokens);
  // Moves up to `max` admitted messages from waiting_ to out_ (their deliveries to
  // marking_); returns their tokens. REQUIRES: mu_ held.
  std::vector<std::uint64_t> PickLocked(std::size_t max, const AdmitFn& admit);
  // Writes "cancelled" over the call's record (compare-and-set); returns the state before
  // (kRunning when `running_here`).
  Result<CallState> CancelRecordBlocking(const std::string& call_id, bool running_here);
  Result<CallStatus> GetRecordBlocking(const std::string& call_id, std::uint64_t* revision);
  // Sets *revision (if not null) to the record's new revision.
  Result<void> PutRecordBlocking(const CallStatus& status, std::uint64_t* revision = nullptr);
  Result<std::vector<Found>> ScanDeadBlocking(const DeadFilter& filter, bool with_body);
  void HeartbeatLoop();
  // Takes the held delivery out of the schedule.
  std::optional<Held> TakeLocked(std::uint64_t token);

  const JetStreamOptions options_;
  std::chrono::nanoseconds ack_wait_{0};  // the consumer's; set by Connect, before any thread
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
  __kvStore* kv_ = nullptr;
  __natsSubscription* sub_ = nullptr;

  std::mutex mu_;
  std::unordered_map<std::uint64_t, Held> out_;  // handed to workers
  std::vector<Held> waiting_;                    // fetched, not yet admitted
  // Picked (in out_) but not returned by Next() yet: being marked running, or ready.
  std::unordered_map<std::uint64_t, Delivery> marking_;
  std::deque<Delivery> ready_;
  std::map<std::string, std::size_t, std::less<>> picked_;  // key -> in marking_ or ready_
  bool fetching_ = false;
  bool last_fetch_empty_ = true;                              // fetch thread only
  std::map<std::string, std::int64_t, std::less<>> running_;  // key -> handed out
  std::map<std::string, std::int64_t, std::less<>> stored_;   // key -> messages in the stream
  std::uint64_t next_token_ = 1;
  bool closed_ = false;
  std::shared_ptr<Wakeup> waiter_;

  std::mutex settle_mu_;
  std::condition_variable settled_cv_;
  std::uint64_t settle_submitted_ = 0;
  std::uint64_t settle_done_ = 0;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread heartbeat_;

  // Asynchronous publishes waiting for their pub ack, by message (the library hands the
  // published message back to OnPubAck).
  std::mutex pub_mu_;
  std::condition_variable pub_cv_;
  struct PendingPub {
    PubDone done;
    std::chrono::steady_clock::time_point deadline;
  };
  std::unordered_map<__natsMsg*, PendingPub> pub_pending_;

  asio::thread_pool pool_;
  asio::thread_pool fetch_pool_{1};
};

}  // namespace funcd::queue::jetstream
