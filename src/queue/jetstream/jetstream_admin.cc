// JetStreamQueue: call status, cancellation and dead letters (management).

#include "common/libnats.h"
#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/internal.h"
#include "queue/jetstream/jetstream_queue.h"
#include "queue/jetstream/records.h"

namespace funcd::queue::jetstream {

namespace {

bool Matches(const DeadFilter& filter, const CallStatus& status) {
  return (filter.call_id.empty() || filter.call_id == status.call_id) &&
         (filter.function.empty() || filter.function == status.function);
}

}  // namespace

asio::awaitable<Result<CallStatus>> JetStreamQueue::Status(std::string call_id) {
  {
    std::lock_guard lock(mu_);
    for (const auto& [token, held] : out_) {
      if (held.record.call_id == call_id && !held.cancelled) {
        CallStatus status = held.record;
        status.state = CallState::kRunning;
        status.attempts = held.record.attempts + 1;
        status.next_attempt_at = 0;
        co_return status;
      }
    }
  }
  // (A named lambda: g++ 12 mishandles a capturing lambda temporary in a co_await.)
  auto get = [this, call_id] { return GetRecordBlocking(call_id, nullptr); };
  co_return co_await Offload<Result<CallStatus>>(pool_, std::move(get));
}

asio::awaitable<Result<CallState>> JetStreamQueue::Cancel(std::string call_id) {
  bool running_here = false;
  std::vector<natsMsg*> waiting_here;
  {
    std::lock_guard lock(mu_);
    for (auto& [token, held] : out_) {
      if (held.record.call_id != call_id) {
        continue;
      }
      if (held.finishing) {
        co_return MakeError(
            ErrorCode::kFailedPrecondition,
            StrCat("call ", call_id, " is finishing: its result is being delivered"));
      }
      held.cancelled = true;  // its worker discards the result
      running_here = true;
    }
    // Fetched here but waiting for a slot: never handed out.
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->record.call_id == call_id) {
        waiting_here.push_back(it->msg);  // acked once the record says cancelled
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  auto cancel = [this, call_id, running_here, waiting_here]() -> Result<CallState> {
    Result<CallState> result = CancelRecordBlocking(call_id, running_here);
    for (natsMsg* msg : waiting_here) {
      if (result) {
        natsMsg_Ack(msg, nullptr);
      } else {
        natsMsg_Nak(msg, nullptr);
      }
      natsMsg_Destroy(msg);
    }
    return result;
  };
  co_return co_await Offload<Result<CallState>>(pool_, std::move(cancel));
}

Result<CallState> JetStreamQueue::CancelRecordBlocking(const std::string& call_id,
                                                       bool running_here) {
  {
    // Compare-and-set on the record's revision: a worker may be writing it meanwhile.
    for (int tries = 0; tries < 10; ++tries) {
      std::uint64_t revision = 0;
      Result<CallStatus> record = GetRecordBlocking(call_id, &revision);
      if (!record) {
        if (record.error().code == ErrorCode::kNotFound) {
          return MakeError(ErrorCode::kNotFound, StrCat("no async call with id ", call_id));
        }
        return record.error();
      }
      const CallState before = running_here ? CallState::kRunning : record->state;
      if (!running_here && (before == CallState::kDone || before == CallState::kDead ||
                            before == CallState::kCancelled)) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         StrCat("call ", call_id, " is already ", CallStateName(before)));
      }
      record->state = CallState::kCancelled;
      record->updated_at = UnixNanosNow();
      record->next_attempt_at = 0;
      const std::string value = EncodeCallRecord(*record);
      natsStatus s = kvStore_Update(nullptr, kv_, CallKey(call_id).c_str(), value.data(),
                                    static_cast<int>(value.size()), revision);
      if (s == NATS_OK) {
        return before;
      }
    }
    return MakeError(ErrorCode::kUnavailable, StrCat("call ", call_id, " keeps changing"));
  }
}

Result<std::vector<JetStreamQueue::Found>> JetStreamQueue::ScanDeadBlocking(
    const DeadFilter& filter, bool with_body) {
  jsStreamInfo* info = nullptr;
  jsErrCode js_err = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js_, options_.dead_stream.c_str(), nullptr, &js_err);
  if (s != NATS_OK) {
    return NatsError("reading the dead letters", s, js_err);
  }
  const std::uint64_t first = info->State.FirstSeq;
  const std::uint64_t last = info->State.LastSeq;
  const std::uint64_t count = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  std::vector<Found> out;
  if (count == 0) {
    return out;
  }
  // TODO(jetstream): one get per dead letter; an index (call id -> sequence) would avoid
  // scanning for GetDead and filtered lists.
  for (std::uint64_t seq = first; seq <= last && out.size() < filter.limit; ++seq) {
    natsMsg* msg = nullptr;
    s = js_GetMsg(&msg, js_, options_.dead_stream.c_str(), seq, nullptr, &js_err);
    if (s == NATS_NOT_FOUND) {
      continue;  // purged or redriven
    }
    if (s != NATS_OK) {
      return NatsError("reading a dead letter", s, js_err);
    }
    std::string_view data(natsMsg_GetData(msg),
                          static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    Result<DeadLetter> dead = DecodeDeadRecord(data, with_body);
    natsMsg_Destroy(msg);
    if (!dead) {
      Logf("async queue: dead letter #%llu: %s", static_cast<unsigned long long>(seq),
           dead.error().message.c_str());
      continue;
    }
    if (Matches(filter, dead->status)) {
      out.push_back(Found{seq, std::move(*dead)});
    }
  }
  return out;
}

asio::awaitable<Result<std::vector<DeadLetter>>> JetStreamQueue::ListDead(DeadFilter filter) {
  auto list = [this, filter]() -> Result<std::vector<DeadLetter>> {
    FUNCD_ASSIGN_OR_RETURN(std::vector<Found> found, ScanDeadBlocking(filter, false));
    std::vector<DeadLetter> out;
    out.reserve(found.size());
    for (Found& f : found) {
      out.push_back(std::move(f.dead));
    }
    return out;
  };
  co_return co_await Offload<Result<std::vector<DeadLetter>>>(pool_, std::move(list));
}

asio::awaitable<Result<DeadLetter>> JetStreamQueue::GetDead(std::string call_id) {
  auto get = [this, call_id]() -> Result<DeadLetter> {
    DeadFilter filter;
    filter.call_id = call_id;
    filter.limit = 1;
    FUNCD_ASSIGN_OR_RETURN(std::vector<Found> found, ScanDeadBlocking(filter, true));
    if (found.empty()) {
      return MakeError(ErrorCode::kNotFound, StrCat("no dead letter with call id ", call_id));
    }
    return std::move(found.front().dead);
  };
  co_return co_await Offload<Result<DeadLetter>>(pool_, std::move(get));
}

asio::awaitable<Result<std::size_t>> JetStreamQueue::Redrive(DeadFilter filter) {
  auto redrive = [this, filter]() -> Result<std::size_t> {
    FUNCD_ASSIGN_OR_RETURN(std::vector<Found> found, ScanDeadBlocking(filter, true));
    std::size_t redriven = 0;
    for (Found& f : found) {
      CallStatus record = f.dead.status;
      record.state = CallState::kQueued;
      record.attempts = 0;  // a fresh attempt budget
      record.updated_at = UnixNanosNow();
      record.next_attempt_at = record.updated_at;
      FUNCD_RETURN_IF_ERROR(PutRecordBlocking(record));
      const std::string framed = EncodeFramed(f.dead.message);
      const std::string subject = options_.subject_prefix + f.dead.message.key;
      jsErrCode js_err = static_cast<jsErrCode>(0);
      natsStatus s = js_Publish(nullptr, js_, subject.c_str(), framed.data(),
                                static_cast<int>(framed.size()), nullptr, &js_err);
      if (s != NATS_OK) {
        return NatsError("redriving a dead letter", s, js_err);
      }
      js_DeleteMsg(js_, options_.dead_stream.c_str(), f.seq, nullptr, &js_err);
      ++redriven;
    }
    return redriven;
  };
  co_return co_await Offload<Result<std::size_t>>(pool_, std::move(redrive));
}

asio::awaitable<Result<std::size_t>> JetStreamQueue::Purge(DeadFilter filter) {
  auto purge = [this, filter]() -> Result<std::size_t> {
    FUNCD_ASSIGN_OR_RETURN(std::vector<Found> found, ScanDeadBlocking(filter, false));
    std::size_t purged = 0;
    for (const Found& f : found) {
      jsErrCode js_err = static_cast<jsErrCode>(0);
      natsStatus s = js_DeleteMsg(js_, options_.dead_stream.c_str(), f.seq, nullptr, &js_err);
      if (s != NATS_OK && s != NATS_NOT_FOUND) {
        return NatsError("purging a dead letter", s, js_err);
      }
      kvStore_Delete(kv_, CallKey(f.dead.status.call_id).c_str());
      ++purged;
    }
    return purged;
  };
  co_return co_await Offload<Result<std::size_t>>(pool_, std::move(purge));
}

}  // namespace funcd::queue::jetstream
