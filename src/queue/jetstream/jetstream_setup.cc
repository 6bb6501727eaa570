// The streams and the consumer of the JetStream queue: created by the first process, checked
// and shared by the others (internal.h).

#include "common/config.h"
#include "common/libnats.h"
#include "common/log.h"
#include "common/strings.h"
#include "queue/jetstream/internal.h"

namespace funcd::queue::jetstream {

namespace {

constexpr std::int64_t kMaxAckPending = 20000;

// -1 (no limit) for 0.
std::int64_t StreamLimit(std::int64_t max_pending) { return max_pending > 0 ? max_pending : -1; }

std::string LimitText(std::int64_t max_msgs) {
  return max_msgs > 0 ? StrCat("at most ", max_msgs) : std::string("any number of");
}

// Makes `max_pending` the limit of the existing stream described by `info`, with "discard
// new" so that a full stream refuses new calls rather than dropping old ones. Only raises or
// removes a limit: nats-server (2.9) deletes the oldest messages of a stream whose limit is
// lowered below the messages it holds, whatever the discard policy, which would lose accepted
// calls (other processes may be enqueueing meanwhile, so no count read first makes it safe).
Result<void> LimitStream(jsCtx* js, const jsStreamInfo& info, std::int64_t max_pending) {
  const jsStreamConfig& current = *info.Config;
  const std::int64_t want = StreamLimit(max_pending);
  if (current.MaxMsgs == want && current.Discard == js_DiscardNew) {
    return Ok();
  }
  const bool lowers = want > 0 && (current.MaxMsgs <= 0 || want < current.MaxMsgs);
  if (lowers) {
    const std::string accepted =
        current.MaxMsgs > 0 ? StrCat(current.MaxMsgs, " or more, 0 (no limit) or none (to keep it)")
                            : std::string("0 or none");
    return MakeError(
        ErrorCode::kFailedPrecondition,
        StrCat("max_pending=", max_pending, ": stream ", current.Name, " has ",
               current.MaxMsgs > 0 ? StrCat("a limit of ", current.MaxMsgs, " calls")
                                   : std::string("no limit"),
               ", and funcd only raises or removes it (nats-server drops the oldest calls of a "
               "stream whose limit goes below the calls it holds). Give max_pending=",
               accepted,
               "; to lower it, stop every funcd serve using the queue, let the stream "
               "hold fewer calls than the new limit (nats stream info ",
               current.Name, ") and run nats stream edit ", current.Name,
               " --max-msgs=", max_pending));
  }
  jsStreamConfig config = current;  // its strings stay owned by `info`
  config.MaxMsgs = want;
  config.Discard = js_DiscardNew;
  jsStreamInfo* updated = nullptr;
  jsErrCode js_err = static_cast<jsErrCode>(0);
  natsStatus s = js_UpdateStream(&updated, js, &config, nullptr, &js_err);
  jsStreamInfo_Destroy(updated);
  if (s != NATS_OK) {
    return NatsError(StrCat("setting max_pending on stream ", current.Name), s, js_err);
  }
  if (current.MaxMsgs != want) {
    Logf("async queue: stream %s takes %s calls now (was %s)", current.Name,
         LimitText(want).c_str(), LimitText(current.MaxMsgs).c_str());
  }
  return Ok();
}

}  // namespace

Result<void> EnsureStream(jsCtx* js, const std::string& name, const std::string& subject,
                          jsRetentionPolicy retention, std::optional<std::int64_t> max_pending) {
  jsErrCode js_err = static_cast<jsErrCode>(0);
  // Twice at most: another process may create the stream between our look and our add.
  for (int round = 0; round < 2; ++round) {
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, js, name.c_str(), nullptr, &js_err) == NATS_OK) {
      Result<void> limited = max_pending ? LimitStream(js, *info, *max_pending) : Ok();
      jsStreamInfo_Destroy(info);
      return limited;
    }
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    const char* subjects[] = {subject.c_str()};
    config.Name = name.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Retention = retention;
    config.Storage = js_FileStorage;
    config.Discard = js_DiscardNew;  // a queue refuses new calls, never drops accepted ones
    config.MaxMsgs = StreamLimit(max_pending.value_or(0));
    natsStatus added = js_AddStream(&info, js, &config, nullptr, &js_err);
    jsStreamInfo_Destroy(info);
    if (added == NATS_OK) {
      return Ok();
    }
    if (js_err != JSStreamNameExistErr) {
      return NatsError(StrCat("creating stream ", name), added, js_err);
    }
  }
  return MakeError(ErrorCode::kUnavailable, StrCat("stream ", name, " exists but cannot be read"));
}

Result<std::chrono::nanoseconds> EnsureConsumer(jsCtx* js, const JetStreamOptions& options) {
  jsErrCode js_err = static_cast<jsErrCode>(0);
  jsConsumerInfo* info = nullptr;
  if (js_GetConsumerInfo(&info, js, options.stream.c_str(), options.consumer.c_str(), nullptr,
                         &js_err) != NATS_OK) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = options.consumer.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = options.ack_wait.count();
    config.MaxDeliver = -1;
    config.MaxAckPending = kMaxAckPending;
    natsStatus s = js_AddConsumer(&info, js, options.stream.c_str(), &config, nullptr, &js_err);
    if (s != NATS_OK && js_err != JSConsumerNameExistErr && js_err != JSConsumerExistingActiveErr) {
      return NatsError("creating the consumer", s, js_err);
    }
    if (s != NATS_OK) {  // created by another process meanwhile: read its settings
      s = js_GetConsumerInfo(&info, js, options.stream.c_str(), options.consumer.c_str(), nullptr,
                             &js_err);
      if (s != NATS_OK) {
        return NatsError("reading the consumer", s, js_err);
      }
    }
  }
  const std::chrono::nanoseconds existing(info->Config != nullptr ? info->Config->AckWait
                                                                  : options.ack_wait.count());
  jsConsumerInfo_Destroy(info);
  if (existing == options.ack_wait) {
    return existing;
  }
  // Every process sends "in progress" for its running attempts every ack_wait/3 of the value
  // it started with: changing the shared consumer under running processes would have the
  // server deliver their long attempts again. So a different value is refused.
  if (options.ack_wait_given) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        StrCat("ack_wait=", FormatGoDuration(options.ack_wait), ": the queue's consumer ",
               options.consumer, " (stream ", options.stream, ") has ack_wait ",
               FormatGoDuration(existing),
               ", which every funcd sharing it relies on. Give the same value (or none, to "
               "adopt it); to change it, stop every funcd serve using the queue and delete the "
               "consumer (nats consumer rm ",
               options.stream, " ", options.consumer,
               "): the next funcd creates it again with its value, and the waiting calls stay"));
  }
  Logf("async queue: ack wait %s, as the consumer %s has it", FormatGoDuration(existing).c_str(),
       options.consumer.c_str());
  return existing;
}

}  // namespace funcd::queue::jetstream
