#include "gateway/scaling.h"

#include <algorithm>
#include <cmath>

#include "common/config.h"
#include "common/strings.h"

namespace funcd::gateway {

namespace {

constexpr std::string_view kPrefix = "com.openfaas.scale.";
constexpr std::int64_t kMaxReplicas = 100;

Error Invalid(std::string_view label, std::string_view value, std::string_view why) {
  return Error{ErrorCode::kInvalidArgument,
               StrCat("label ", kPrefix, label, "=\"", value, "\": ", why)};
}

}  // namespace

Result<ScalingPolicy> ParseScalingPolicy(const StringMap& labels) {
  ScalingPolicy policy;
  auto get = [&](std::string_view name) -> const std::string* {
    auto it = labels.find(StrCat(kPrefix, name));
    return it == labels.end() ? nullptr : &it->second;
  };
  auto integer = [&](std::string_view name, std::int64_t* out, std::int64_t low) -> Result<void> {
    if (const std::string* v = get(name)) {
      auto n = ParseInt(TrimSpace(*v));
      if (!n || *n < low || *n > kMaxReplicas) {
        return Invalid(name, *v, StrCat("must be a whole number from ", low, " to ", kMaxReplicas));
      }
      *out = *n;
    }
    return Ok();
  };
  auto duration = [&](std::string_view name, std::chrono::nanoseconds* out) -> Result<void> {
    if (const std::string* v = get(name)) {
      std::string_view text = TrimSpace(*v);
      auto seconds = ParseInt(text);
      auto parsed =
          seconds ? Result<Duration>(std::chrono::seconds(*seconds)) : ParseGoDuration(text);
      if (!parsed || *parsed < std::chrono::seconds(0)) {
        return Invalid(name, *v, "must be a duration such as 30s or 15m");
      }
      *out = *parsed;
    }
    return Ok();
  };
  FUNCD_RETURN_IF_ERROR(integer("min", &policy.min, 1));
  FUNCD_RETURN_IF_ERROR(integer("max", &policy.max, 1));
  if (policy.max < policy.min) {
    if (get("max") == nullptr) {
      policy.max = policy.min;  // only min given: the default max is at least min
    } else {
      return Invalid("max", *get("max"), StrCat("is below scale.min (", policy.min, ")"));
    }
  }
  if (const std::string* v = get("type")) {
    const std::string type = ToLower(TrimSpace(*v));
    if (type == "rps") {
      policy.type = ScaleType::kRps;
    } else if (type == "capacity") {
      policy.type = ScaleType::kCapacity;
      policy.target = 10;
    } else if (type == "cpu") {
      policy.type = ScaleType::kCpu;
      policy.target = 500;
    } else {
      return Invalid("type", *v, "must be rps, capacity or cpu");
    }
  }
  if (const std::string* v = get("target")) {
    auto n = ParseInt(TrimSpace(*v));
    if (!n || *n <= 0) {
      return Invalid("target", *v, "must be a positive whole number");
    }
    policy.target = static_cast<double>(*n);
  }
  if (const std::string* v = get("target-proportion")) {
    char* end = nullptr;
    std::string text(TrimSpace(*v));
    double p = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(p > 0) || p > 1) {
      return Invalid("target-proportion", *v, "must be a number above 0 and at most 1");
    }
    policy.target_proportion = p;
  }
  if (const std::string* v = get("zero")) {
    const std::string zero = ToLower(TrimSpace(*v));
    if (zero != "true" && zero != "false") {
      return Invalid("zero", *v, "must be true or false");
    }
    policy.zero = zero == "true";
  }
  FUNCD_RETURN_IF_ERROR(duration("zero-duration", &policy.zero_duration));
  FUNCD_RETURN_IF_ERROR(duration("down.window", &policy.down_window));
  if (policy.down_window > std::chrono::minutes(5)) {
    return Invalid("down.window", *get("down.window"), "must be at most 5m");
  }
  if (const std::string* v = get("factor")) {  // CE alert scaling: a percentage of max
    auto n = ParseInt(TrimSpace(*v));
    if (!n || *n < 1 || *n > 100) {
      return Invalid("factor", *v, "must be a whole number from 1 to 100");
    }
  }
  return policy;
}

std::int64_t DesiredReplicas(const ScalingPolicy& policy, double load) {
  if (!policy.autoscaling()) {
    return policy.min;
  }
  const double per_replica = policy.target * policy.target_proportion;
  std::int64_t desired = static_cast<std::int64_t>(std::ceil(load / per_replica - 1e-9));
  if (load > 0) {
    desired = std::max<std::int64_t>(desired, 1);
  }
  return std::clamp(desired, policy.min, policy.max);
}

}  // namespace funcd::gateway
