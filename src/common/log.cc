#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace funcd {
namespace {

std::atomic<int> g_level{[] {
  const char* debug = std::getenv("FUNCD_DEBUG");
  return (debug != nullptr && (std::strcmp(debug, "1") == 0 || std::strcmp(debug, "true") == 0))
             ? static_cast<int>(LogLevel::kDebug)
             : static_cast<int>(LogLevel::kInfo);
}()};

// Writes all of `data`, retrying on EINTR and short writes.
void WriteAll(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

size_t FormatTimestamp(char* out, size_t size) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  localtime_r(&ts.tv_sec, &tm);
  return strftime(out, size, "%Y/%m/%d %H:%M:%S ", &tm);
}

void VLog(const char* format, va_list args) {
  char stack[1024];
  size_t prefix = FormatTimestamp(stack, sizeof(stack));
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(stack + prefix, sizeof(stack) - prefix - 1, format, copy);
  va_end(copy);
  if (n < 0) {
    return;
  }
  if (static_cast<size_t>(n) < sizeof(stack) - prefix - 1) {
    size_t len = prefix + static_cast<size_t>(n);
    if (len == 0 || stack[len - 1] != '\n') {
      stack[len++] = '\n';
    }
    WriteAll(stack, len);
    return;
  }
  std::string line(stack, prefix);
  line.resize(prefix + static_cast<size_t>(n) + 1);
  std::vsnprintf(line.data() + prefix, static_cast<size_t>(n) + 1, format, args);
  line.resize(prefix + static_cast<size_t>(n));
  if (line.empty() || line.back() != '\n') {
    line.push_back('\n');
  }
  WriteAll(line.data(), line.size());
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

void Logf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  VLog(format, args);
  va_end(args);
}

void LogAt(LogLevel level, const char* format, ...) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  va_list args;
  va_start(args, format);
  VLog(format, args);
  va_end(args);
}

void LogLine(std::string_view message) {
  char prefix[64];
  size_t n = FormatTimestamp(prefix, sizeof(prefix));
  std::string line;
  line.reserve(n + message.size() + 1);
  line.append(prefix, n);
  line.append(message);
  if (line.back() != '\n') {
    line.push_back('\n');
  }
  WriteAll(line.data(), line.size());
}

void LogRaw(std::string_view message) {
  if (!message.empty() && message.back() == '\n') {
    WriteAll(message.data(), message.size());
    return;
  }
  std::string line(message);
  line.push_back('\n');
  WriteAll(line.data(), line.size());
}

}  // namespace funcd
