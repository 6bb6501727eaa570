#pragma once

// Copies a function process's output pipe into the watchdog's log, as of-watchdog does:
// one log line per output line, prefixed with the date and the stream name
// ("2024/01/02 15:04:05 stderr: text") unless prefix_logs=false.

#include <cstdint>
#include <string>

#include "common/asio.h"

namespace funcd::watchdog {

struct LogPipeOptions {
  std::string name;  // "stdout" or "stderr"
  bool prefix = true;
  // Longest line kept whole; longer lines are split. -1 copies chunks as they arrive.
  std::int64_t max_line = 64 * 1024;
};

// Reads `pipe` until end of file. REQUIRES: `pipe` outlives the coroutine.
asio::awaitable<void> LogPipe(asio::posix::stream_descriptor& pipe, LogPipeOptions options);

}  // namespace funcd::watchdog
