#include "gateway/function_table.h"

#include "common/config.h"
#include "common/strings.h"
#include "provider/log_store.h"

namespace funcd::gateway {

FunctionStats::FunctionStats(std::string key, prometheus::Family& total,
                             prometheus::Family& seconds, prometheus::Family& started,
                             prometheus::Family& inflight_gauge, prometheus::Family& cold_starts)
    : key(std::move(key)),
      started(started.WithLabels({this->key})),
      inflight_gauge(inflight_gauge.WithLabels({this->key})),
      cold_starts(cold_starts.WithLabels({this->key})),
      total_(total),
      seconds_(seconds) {
  // A function counts as used when it appears: scale-to-zero waits a full idle period.
  last_invoked = provider::UnixNanos();
}

FunctionStats::CodeSeries FunctionStats::ForCode(unsigned code) {
  std::lock_guard lock(mu_);
  for (const auto& [known, series] : codes_) {
    if (known == code) {
      return series;
    }
  }
  const std::string text = std::to_string(code);
  CodeSeries series{&total_.WithLabels({key, text}), &seconds_.HistogramWithLabels({key, text})};
  codes_.emplace_back(code, series);
  return series;
}

std::shared_ptr<const FunctionEntry> FunctionTable::Find(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

void FunctionTable::Put(std::shared_ptr<const FunctionEntry> entry) {
  std::shared_ptr<const FunctionEntry> added = entry;
  {
    std::unique_lock lock(mu_);
    std::string key = entry->key;
    entries_[std::move(key)] = std::move(entry);
  }
  Notify(added->key, added);
}

std::shared_ptr<const FunctionEntry> FunctionTable::Erase(const std::string& key) {
  std::shared_ptr<const FunctionEntry> entry;
  {
    std::unique_lock lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      return nullptr;
    }
    entry = std::move(it->second);
    entries_.erase(it);
  }
  Notify(key, nullptr);
  return entry;
}

std::uint64_t FunctionTable::AddListener(Listener listener) const {
  std::lock_guard lock(listeners_mu_);
  auto updated =
      listeners_ ? std::make_shared<Listeners>(*listeners_) : std::make_shared<Listeners>();
  const std::uint64_t id = next_listener_id_++;
  updated->emplace_back(id, std::move(listener));
  listeners_ = std::move(updated);
  return id;
}

void FunctionTable::RemoveListener(std::uint64_t id) const {
  std::lock_guard lock(listeners_mu_);
  if (!listeners_) {
    return;
  }
  auto updated = std::make_shared<Listeners>(*listeners_);
  std::erase_if(*updated, [id](const auto& item) { return item.first == id; });
  listeners_ = std::move(updated);
}

void FunctionTable::Notify(const std::string& key,
                           const std::shared_ptr<const FunctionEntry>& entry) const {
  std::shared_ptr<const Listeners> listeners;
  {
    std::lock_guard lock(listeners_mu_);
    listeners = listeners_;
  }
  if (listeners) {
    for (const auto& [id, listener] : *listeners) {
      listener(key, entry);
    }
  }
}

std::vector<std::shared_ptr<const FunctionEntry>> FunctionTable::List(
    const std::string& namespace_name) const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const FunctionEntry>> out;
  for (const auto& [key, entry] : entries_) {
    if (namespace_name.empty() || entry->ref.namespace_name == namespace_name) {
      out.push_back(entry);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->ref < b->ref; });
  return out;
}

std::int64_t PositiveIntLabel(const StringMap& labels, const std::string& key,
                              std::int64_t fallback) {
  auto it = labels.find(key);
  if (it != labels.end()) {
    if (auto n = ParseInt(TrimSpace(it->second)); n && *n > 0) {
      return *n;
    }
  }
  return fallback;
}

std::chrono::nanoseconds FunctionTimeout(const StringMap& env_vars) {
  Environment env;
  for (const auto& [k, v] : env_vars) {
    env.Set(k, v);
  }
  Duration exec = env.GetDuration("exec_timeout", Duration::zero());
  if (exec > Duration::zero()) {
    return exec;
  }
  return env.GetDuration("write_timeout", Duration::zero());
}

}  // namespace funcd::gateway
