#include "queue/queue.h"

namespace funcd::queue {

std::string_view CallStateName(CallState state) {
  switch (state) {
    case CallState::kQueued:
      return "queued";
    case CallState::kRunning:
      return "running";
    case CallState::kRetrying:
      return "retrying";
    case CallState::kDone:
      return "done";
    case CallState::kDead:
      return "dead";
    case CallState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::int64_t UnixNanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace funcd::queue
