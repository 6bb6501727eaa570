#pragma once

// The functions the gateway knows, as the invocation path needs them: one immutable entry
// per function, replaced as a whole on update (the counters and the replica set carry over).
//
// Thread-safe (shared mutex; lookups take the shared side).

#include <atomic>
#include <chrono>
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

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const FunctionEntry>, std::less<>> entries_;
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
