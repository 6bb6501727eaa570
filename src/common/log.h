#pragma once

// Line-oriented logging to stderr in the format of Go's log package
// ("2006/01/02 15:04:05 message"), which OpenFaaS tooling and the certifier parse.
// Thread-safe: each line is written with a single write(2).

#include <cstdarg>
#include <string_view>

namespace funcd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below this level are dropped. Default kInfo; FUNCD_DEBUG=1 lowers it to kDebug.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Writes "timestamp message\n" at info level.
void Logf(const char* format, ...) __attribute__((format(printf, 1, 2)));
void LogAt(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));
void LogLine(std::string_view message);
// Writes the message as is, adding a newline when it lacks one (no timestamp).
void LogRaw(std::string_view message);

#define FUNCD_DLOG(...)                                        \
  do {                                                         \
    if (::funcd::GetLogLevel() <= ::funcd::LogLevel::kDebug) { \
      ::funcd::LogAt(::funcd::LogLevel::kDebug, __VA_ARGS__);  \
    }                                                          \
  } while (false)

}  // namespace funcd
