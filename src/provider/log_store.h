#pragma once

// The recent output of every function's replicas (stdout, stderr and runtime events), kept
// in memory per function with a bound, for GET /system/logs: queries by time, tail and
// instance, and followers that are woken as lines arrive.
//
// Thread-safe.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/wakeup.h"

namespace funcd::provider {

struct LogEntry {
  std::uint64_t sequence = 0;  // increasing per function
  std::int64_t timestamp = 0;  // Unix nanoseconds
  std::string instance;
  std::string text;
};

struct LogQuery {
  std::string instance;               // "" = all
  std::optional<std::int64_t> since;  // Unix nanoseconds, inclusive
  std::optional<std::int64_t> tail;   // the last N lines; <= 0 = unlimited
};

class LogStore {
 public:
  explicit LogStore(std::size_t max_lines_per_function = 10000)
      : max_lines_(max_lines_per_function) {}

  // `key` identifies the function ("name.namespace").
  void Append(const std::string& key, std::string instance, std::string text);
  // Entries matching the query, oldest first.
  std::vector<LogEntry> Query(const std::string& key, const LogQuery& query) const;
  // Entries after `sequence` (for followers), oldest first.
  std::vector<LogEntry> After(const std::string& key, std::uint64_t sequence,
                              const std::string& instance) const;
  // The sequence number of the newest entry (0 when none).
  std::uint64_t LastSequence(const std::string& key) const;
  void Subscribe(const std::string& key, const std::shared_ptr<Wakeup>& follower);
  void Unsubscribe(const std::string& key, const std::shared_ptr<Wakeup>& follower);
  void Forget(const std::string& key);

 private:
  struct Stream {
    std::deque<LogEntry> entries;
    std::uint64_t next_sequence = 1;
    std::vector<std::shared_ptr<Wakeup>> followers;
  };
  const std::size_t max_lines_;
  mutable std::mutex mu_;
  std::map<std::string, Stream, std::less<>> streams_;
};

// Now, in Unix nanoseconds.
std::int64_t UnixNanos();

}  // namespace funcd::provider
