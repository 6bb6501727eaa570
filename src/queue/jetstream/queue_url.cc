#include "queue/jetstream/queue_url.h"

#include <charconv>
#include <string>

#include "common/config.h"
#include "common/strings.h"

namespace funcd::queue::jetstream {

namespace {

constexpr std::string_view kKnown = "ack_wait, max_pending";

}  // namespace

Result<JetStreamOptions> ParseQueueUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, StrCat("--queue ", url, ": ", why));
  };
  if (!url.starts_with("nats://")) {
    return bad("a JetStream queue wants nats://HOST:PORT[?ack_wait=DURATION&max_pending=N]");
  }
  JetStreamOptions options;
  const std::size_t question = url.find('?');
  options.url = std::string(url.substr(0, question));
  if (options.url == "nats://") {
    return bad("no server (nats://HOST:PORT)");
  }
  if (question == std::string_view::npos) {
    return options;
  }
  bool ack_wait_seen = false;
  for (std::string_view pair : Split(url.substr(question + 1), '&')) {
    if (pair.empty()) {
      continue;  // "?" alone, or "&&"
    }
    const std::size_t equals = pair.find('=');
    const std::string_view name = pair.substr(0, equals);
    const std::string_view value =
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    if (name == "ack_wait") {
      if (ack_wait_seen) {
        return bad("ack_wait is given twice");
      }
      ack_wait_seen = true;
      Result<Duration> wait = ParseGoDuration(value);
      if (!wait || *wait < kMinAckWait) {
        return bad(StrCat("ack_wait wants a duration of at least ", FormatGoDuration(kMinAckWait),
                          " (such as 5s, 1m, 1m30s), got \"", value, "\""));
      }
      options.ack_wait = *wait;
      options.ack_wait_given = true;
    } else if (name == "max_pending") {
      if (options.max_pending) {
        return bad("max_pending is given twice");
      }
      std::int64_t n = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < 0) {
        return bad(
            StrCat("max_pending wants a number of calls (0: no limit), got \"", value, "\""));
      }
      options.max_pending = n;
    } else {
      return bad(StrCat("unknown option \"", name, "\" (known: ", kKnown, ")"));
    }
  }
  return options;
}

}  // namespace funcd::queue::jetstream
