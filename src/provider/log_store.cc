#include "provider/log_store.h"

#include <algorithm>
#include <chrono>

namespace funcd::provider {

std::int64_t UnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void LogStore::Append(const std::string& key, std::string instance, std::string text) {
  std::lock_guard lock(mu_);
  Stream& stream = streams_[key];
  stream.entries.push_back(
      LogEntry{stream.next_sequence++, UnixNanos(), std::move(instance), std::move(text)});
  while (stream.entries.size() > max_lines_) {
    stream.entries.pop_front();
  }
  for (const auto& follower : stream.followers) {
    follower->Notify();
  }
}

std::vector<LogEntry> LogStore::Query(const std::string& key, const LogQuery& query) const {
  std::lock_guard lock(mu_);
  std::vector<LogEntry> out;
  auto it = streams_.find(key);
  if (it == streams_.end()) {
    return out;
  }
  for (const LogEntry& entry : it->second.entries) {
    if (!query.instance.empty() && entry.instance != query.instance) {
      continue;
    }
    if (query.since && entry.timestamp < *query.since) {
      continue;
    }
    out.push_back(entry);
  }
  if (query.tail && *query.tail > 0 && out.size() > static_cast<std::size_t>(*query.tail)) {
    out.erase(out.begin(), out.end() - *query.tail);
  }
  return out;
}

std::vector<LogEntry> LogStore::After(const std::string& key, std::uint64_t sequence,
                                      const std::string& instance) const {
  std::lock_guard lock(mu_);
  std::vector<LogEntry> out;
  auto it = streams_.find(key);
  if (it == streams_.end()) {
    return out;
  }
  for (const LogEntry& entry : it->second.entries) {
    if (entry.sequence > sequence && (instance.empty() || entry.instance == instance)) {
      out.push_back(entry);
    }
  }
  return out;
}

std::uint64_t LogStore::LastSequence(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(key);
  return it == streams_.end() ? 0 : it->second.next_sequence - 1;
}

void LogStore::Subscribe(const std::string& key, const std::shared_ptr<Wakeup>& follower) {
  std::lock_guard lock(mu_);
  streams_[key].followers.push_back(follower);
}

void LogStore::Unsubscribe(const std::string& key, const std::shared_ptr<Wakeup>& follower) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(key);
  if (it == streams_.end()) {
    return;
  }
  auto& followers = it->second.followers;
  followers.erase(std::remove(followers.begin(), followers.end(), follower), followers.end());
}

void LogStore::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(key);
  if (it != streams_.end()) {
    // Wake followers so that they notice the function is gone; they hold no reference
    // into the stream.
    for (const auto& follower : it->second.followers) {
      follower->Notify();
    }
    streams_.erase(it);
  }
}

}  // namespace funcd::provider
