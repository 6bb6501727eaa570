#include "watchdog/function_log.h"

#include "common/log.h"

namespace funcd::watchdog {

namespace {

void EmitLine(const LogPipeOptions& options, std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (options.prefix) {
    Logf("%s: %.*s", options.name.c_str(), static_cast<int>(line.size()), line.data());
  } else {
    LogRaw(line);
  }
}

}  // namespace

asio::awaitable<void> LogPipe(asio::posix::stream_descriptor& pipe, LogPipeOptions options) {
  std::string pending;
  char buf[16 * 1024];
  const bool unbuffered = options.max_line < 0;
  const size_t max_line = unbuffered ? 0 : static_cast<size_t>(options.max_line);
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), kUseAwaitableNoThrow);
    if (ec || n == 0) {
      break;
    }
    if (unbuffered) {
      EmitLine(options, std::string_view(buf, n));
      continue;
    }
    pending.append(buf, n);
    size_t start = 0;
    for (;;) {
      size_t newline = pending.find('\n', start);
      if (newline == std::string::npos) {
        break;
      }
      EmitLine(options, std::string_view(pending).substr(start, newline - start));
      start = newline + 1;
    }
    pending.erase(0, start);
    while (pending.size() > max_line) {
      EmitLine(options, std::string_view(pending).substr(0, max_line));
      pending.erase(0, max_line);
    }
  }
  if (!pending.empty()) {
    EmitLine(options, pending);
  }
}

}  // namespace funcd::watchdog
