#pragma once

// The queue URL of `funcd serve --queue`: nats://HOST:PORT[?OPTION=VALUE&...], options
//   ack_wait=DURATION  Go duration (5s, 1m, 2.5s), at least 1s: without an ack or an
//                      "in progress" for this long, a delivery is given to a worker again
//                      (how fast calls in flight in a dead process come back). Default 30s.
//   max_pending=N      calls queued, retrying or running (the stream's messages) beyond which
//                      /async-function answers 429; 0: no limit. Default: the stream's.
// Several comma-separated servers may precede the options; the query is everything after
// the first '?', so a password given in the URL must not contain one.

#include <string_view>

#include "common/result.h"
#include "queue/jetstream/jetstream_queue.h"

namespace funcd::queue::jetstream {

// The least ack wait accepted: the heartbeat that keeps running attempts alive needs room.
inline constexpr std::chrono::seconds kMinAckWait{1};

// Parses `url` into options (url without the query, ack_wait, max_pending; the rest default).
// Errors: kInvalidArgument naming the URL, the option and what it wants (not nats://, an
// unknown or repeated option, a bad value).
Result<JetStreamOptions> ParseQueueUrl(std::string_view url);

}  // namespace funcd::queue::jetstream
