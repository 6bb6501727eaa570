#pragma once

// The functions the gateway knows, as the invocation path needs them: one immutable entry
// per function, replaced as a whole on update (the counters and the replica set carry over).
//
// Thread-safe (shared mutex; lookups take the shared side).

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/prometheus.h"
#include "gateway/api.h"
#include "gateway/scaling.h"
#include "provider/provider.h"

namespace funcd::gateway {

// Counters that outlive updates of a function, with its metric series resolved once (label
// lookups lock and allocate; the invocation path should do neither).
struct FunctionStats {
  std::atomic<std::uint64_t> invocations{0};    // completed invocations
  std::atomic<std::uint64_t> started_total{0};  // started invocations (the autoscaler's rps)
  std::atomic<std::int64_t> inflight{0};
  std::atomic<std::int64_t> last_invoked{0};  // Unix nanoseconds

  // REQUIRES: the families outlive the stats.
  FunctionStats(std::string key, prometheus::Family& total, prometheus::Family& seconds,
                prometheus::Family& started, prometheus::Family& inflight_gauge,
                prometheus::Family& cold_starts);

  struct CodeSeries {
    prometheus::Value* total;
    prometheus::HistogramSeries* seconds;
  };
  // The series of one status code, created on first use. Thread-safe.
  CodeSeries ForCode(unsigned code);

  const std::string key;
  prometheus::Value& started;
  prometheus::Value& inflight_gauge;
  prometheus::Value& cold_starts;

 private:
  prometheus::Family& total_;
  prometheus::Family& seconds_;
  std::mutex mu_;
  std::vector<std::pair<unsigned, CodeSeries>> codes_;
};

struct FunctionEntry {
  provider::FunctionRef ref;
  std::string key;  // "name.namespace"
  FunctionDeployment deployment;
  std::int64_t created_at = 0;
  std::int64_t desired = 1;  // desired replicas as last set
  // The function's own time limit (exec_timeout, else write_timeout); zero when none.
  std::chrono::nanoseconds timeout{0};
  ScalingPolicy policy;
  std::shared_ptr<provider::ReplicaSet> replicas;
  std::shared_ptr<FunctionStats> stats;
};

class FunctionTable {
 public:
  std::shared_ptr<const FunctionEntry> Find(std::string_view key) const;
  // Inserts or replaces the entry under entry->key.
  void Put(std::shared_ptr<const FunctionEntry> entry);
  // Removes and returns the entry, or nullptr.
  std::shared_ptr<const FunctionEntry> Erase(const std::string& key);
  // Entries of one namespace ("" = all), ordered by name.
  std::vector<std::shared_ptr<const FunctionEntry>> List(const std::string& namespace_name) const;

  // Change notification: a listener is called after every Put (with the new entry) and every
  // Erase that removed something (with nullptr), on the thread that made the change and never
  // under the table's lock. Changes of one key made on different threads may be reported out
  // of order: a listener that needs the latest state re-reads it with Find(key). Listeners
  // must be cheap and must not add or remove listeners. Observing does not change the table,
  // hence const.
  using Listener = std::function<void(const std::string& key,
                                      const std::shared_ptr<const FunctionEntry>& entry)>;
  // Registers `listener`; returns its id for RemoveListener. Thread-safe.
  std::uint64_t AddListener(Listener listener) const;
  // After return no new call of the listener starts; one already running on another thread
  // may still be finishing. Thread-safe.
  void RemoveListener(std::uint64_t id) const;

 private:
  void Notify(const std::string& key, const std::shared_ptr<const FunctionEntry>& entry) const;

  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const FunctionEntry>, std::less<>> entries_;
  using Listeners = std::vector<std::pair<std::uint64_t, Listener>>;
  mutable std::mutex listeners_mu_;
  mutable std::shared_ptr<const Listeners> listeners_;  // copied on change, read by Notify
  mutable std::uint64_t next_listener_id_ = 1;
};

// A positive integer label, or `fallback` when absent or not a positive integer.
std::int64_t PositiveIntLabel(const StringMap& labels, const std::string& key,
                              std::int64_t fallback);
// com.openfaas.scale.min: the initial and minimum replica count (default 1).
inline std::int64_t MinReplicas(const StringMap& labels) {
  return PositiveIntLabel(labels, "com.openfaas.scale.min", 1);
}

// The function's timeout from its environment (exec_timeout, else write_timeout; integer
// seconds or Go durations); zero when neither is set.
std::chrono::nanoseconds FunctionTimeout(const StringMap& env_vars);

}  // namespace funcd::gateway
