#pragma once

// The autoscaler: every interval, per function with autoscaling on (scale.min != scale.max),
// measures the load of its policy's type and moves the desired replica count toward
// DesiredReplicas(): up at once, down only as far as the highest count wanted over the
// down window (no flapping). Functions with scale.zero=true go to zero replicas after
// zero-duration without calls. Calls waiting for room (every replica at max_inflight) count
// as load: the invoker reports them through Saturated and the count goes up without waiting
// for the next tick. Decisions are logged and exported as metrics.
//
// Run/Tick run on one executor; Saturated may be called from any thread.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/asio.h"
#include "gateway/function_table.h"
#include "gateway/metrics.h"
#include "provider/provider.h"

namespace funcd::gateway {

class Autoscaler {
 public:
  using Clock = std::chrono::steady_clock;
  // Applies a decision (table, provider, store). Called on the autoscaler's executor.
  using ScaleTo = std::function<void(const FunctionEntry& entry, std::int64_t replicas,
                                     const std::string& reason)>;

  Autoscaler(FunctionTable& functions, provider::Provider& provider, GatewayMetrics& metrics,
             ScaleTo scale_to, std::chrono::milliseconds interval = std::chrono::seconds(2));

  // Runs Tick every interval until the executor stops.
  asio::awaitable<void> Run();
  // One evaluation of every function at `now` (exposed for tests).
  void Tick(Clock::time_point now);
  // Calls are waiting for room: scales up to `demand` replicas (within the policy) at once,
  // and keeps that count through the down window. Thread-safe.
  void Saturated(const FunctionEntry& entry, std::int64_t demand, Clock::time_point now);
  // Someone set the count through the API (faas-cli scale): it holds through the down window
  // before the load may take it down again. Thread-safe.
  void ScaledByHand(const FunctionEntry& entry, std::int64_t replicas, Clock::time_point now);

 private:
  struct State {
    std::uint64_t started = 0;  // calls started, at the previous tick
    double cpu_seconds = 0;     // CPU used, at the previous tick
    Clock::time_point at;
    std::deque<std::pair<Clock::time_point, std::int64_t>> wanted;  // for the down window
  };
  double Load(const FunctionEntry& entry, State& state, Clock::time_point now, double seconds);

  FunctionTable& functions_;
  provider::Provider& provider_;
  GatewayMetrics& metrics_;
  const ScaleTo scale_to_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;  // guards states_; Tick and Saturated run on different threads
  std::map<std::string, State> states_;
};

}  // namespace funcd::gateway
