#pragma once

// Autoscaling policy of a function, from its labels (contracts §6.1):
//   com.openfaas.scale.min                initial and minimum replicas (default 1)
//   com.openfaas.scale.max                maximum replicas (default 20); min == max: off
//   com.openfaas.scale.type               rps (default), capacity (in-flight), cpu (millicores)
//   com.openfaas.scale.target             load per replica (defaults: rps 5, capacity 10,
//                                         cpu 500 millicores)
//   com.openfaas.scale.target-proportion  fraction of the target to aim for (default 0.9)
//   com.openfaas.scale.zero               scale to zero when idle (default false)
//   com.openfaas.scale.zero-duration      idle time before scaling to zero (default 15m)
//   com.openfaas.scale.down.window        scale down only to the highest count wanted over
//                                         this window (default 30s, at most 5m)

#include <chrono>
#include <cstdint>

#include "common/result.h"
#include "gateway/api.h"

namespace funcd::gateway {

enum class ScaleType { kRps, kCapacity, kCpu };

struct ScalingPolicy {
  std::int64_t min = 1;
  std::int64_t max = 20;
  ScaleType type = ScaleType::kRps;
  double target = 5;
  double target_proportion = 0.9;
  bool zero = false;
  std::chrono::nanoseconds zero_duration = std::chrono::minutes(15);
  std::chrono::nanoseconds down_window = std::chrono::seconds(30);

  bool autoscaling() const { return min != max; }
};

// Errors: kInvalidArgument naming the label and why (not a number, max below min, ...).
Result<ScalingPolicy> ParseScalingPolicy(const StringMap& labels);

// The replica count the load asks for: ceil(load / (target * proportion)), at least one
// replica while there is any load, clamped to [min, max]. `load` is the function's total
// (requests per second, requests in flight, or millicores).
std::int64_t DesiredReplicas(const ScalingPolicy& policy, double load);

}  // namespace funcd::gateway
