// JetStreamQueue: asynchronous publishes (pub acks matched to their waiters).

#include "common/libnats.h"
#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/internal.h"
#include "queue/jetstream/jetstream_queue.h"
#include "queue/jetstream/records.h"

namespace funcd::queue::jetstream {

void JetStreamQueue::PublishAsync(natsMsg* msg, std::uint64_t expect_revision, PubDone done) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  // No MaxWait: libnats would then track a timer entry and deliver a timeout message for
  // every publish; ExpirePublishes (on the heartbeat thread) fails the overdue ones instead.
  options.ExpectLastSubjectSeq = expect_revision;
  // Registered before sending: the ack may come back before js_PublishMsgAsync returns.
  natsMsg* const key = msg;
  {
    std::lock_guard lock(pub_mu_);
    pub_pending_.insert_or_assign(
        key, PendingPub{std::move(done), std::chrono::steady_clock::now() + options_.publish_wait});
  }
  natsStatus s = js_PublishMsgAsync(js_, &msg, &options);
  if (s == NATS_OK) {
    return;  // the library owns `msg` now; OnPubAck gives it back
  }
  // Not sent: the message is still ours. Out of the map before it is destroyed, so that a
  // new message at the same address cannot be taken for it.
  PubDone failed;
  {
    std::lock_guard lock(pub_mu_);
    if (auto it = pub_pending_.find(key); it != pub_pending_.end()) {
      failed = std::move(it->second.done);
      pub_pending_.erase(it);
    }
  }
  natsMsg_Destroy(msg);
  pub_cv_.notify_all();
  if (!failed) {
    return;  // expired meanwhile (ExpirePublishes called it)
  }
  PubResult result;
  result.error = NatsError("publishing", s).message;
  failed(result);
}

void JetStreamQueue::PutRecordAsync(const CallStatus& status, std::uint64_t expect_revision,
                                    PubDone done) {
  const std::string subject = StrCat("$KV.", options_.bucket, ".", CallKey(status.call_id));
  const std::string record = EncodeCallRecord(status);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, record.data(),
                                static_cast<int>(record.size()));
  if (s != NATS_OK) {
    PubResult result;
    result.error = NatsError("writing a call record", s).message;
    done(result);
    return;
  }
  PublishAsync(msg, expect_revision, std::move(done));
}

void JetStreamQueue::OnPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* queue = static_cast<JetStreamQueue*>(closure);
  PubDone done;
  {
    std::lock_guard lock(queue->pub_mu_);
    auto it = queue->pub_pending_.find(msg);
    if (it != queue->pub_pending_.end()) {
      done = std::move(it->second.done);
      queue->pub_pending_.erase(it);
    }
  }
  natsMsg_Destroy(msg);  // ours to destroy (before anything may reuse its address)
  if (done) {
    PubResult result;
    if (pa != nullptr) {
      result.sequence = pa->Sequence;
    } else if (pae != nullptr) {
      result.js_err = static_cast<int>(pae->ErrCode);
      result.error =
          StrCat(natsStatus_GetText(pae->Err), " (JetStream error ", static_cast<int>(pae->ErrCode),
                 ")", pae->ErrText != nullptr ? StrCat(": ", pae->ErrText) : "");
    } else {
      result.error = "no pub ack";
    }
    done(result);
  }
  queue->pub_cv_.notify_all();
}

void JetStreamQueue::ExpirePublishes() {
  std::vector<PubDone> expired;
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(pub_mu_);
    // The library keeps such a message until its ack comes (OnPubAck then finds nothing
    // here) or the context goes, so its address is not reused meanwhile.
    std::erase_if(pub_pending_, [&](auto& entry) {
      if (entry.second.deadline > now) {
        return false;
      }
      expired.push_back(std::move(entry.second.done));
      return true;
    });
  }
  if (expired.empty()) {
    return;
  }
  pub_cv_.notify_all();
  Logf("async queue: %zu publishes without a pub ack after %lld ms", expired.size(),
       static_cast<long long>(options_.publish_wait.count()));
  PubResult result;
  result.error = StrCat("no pub ack within ", options_.publish_wait.count(), " ms");
  for (PubDone& done : expired) {
    done(result);
  }
}

bool JetStreamQueue::WaitPublishes(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(pub_mu_);
  return pub_cv_.wait_until(lock, deadline, [&] { return pub_pending_.empty(); });
}

void JetStreamQueue::DrainPublishes(std::chrono::steady_clock::time_point deadline) {
  std::unordered_map<natsMsg*, PendingPub> left;
  {
    std::unique_lock lock(pub_mu_);
    pub_cv_.wait_until(lock, deadline, [&] { return pub_pending_.empty(); });
    left = std::move(pub_pending_);
    pub_pending_.clear();
  }
  if (!left.empty()) {
    Logf("async queue: %zu publishes without a pub ack at shutdown", left.size());
  }
  PubResult result;
  result.error = "shutting down";
  for (auto& [msg, pending] : left) {
    pending.done(result);
  }
}

}  // namespace funcd::queue::jetstream
